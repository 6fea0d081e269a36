package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// consumeKafkaGroup joins a group of Kafka's coordinator
// (JoinKafkaConsumerGroup) and prints what it is given.
func consumeKafkaGroup(ctx context.Context, e *env, c *common, f *consumeFlags, ts []string, p eventPrinter, bad func(string) error) error {
	cfg := f.config()
	cfg.SessionTimeout = f.session
	cfg.GroupProtocol = f.protocol
	sec, err := c.sec.opts(c.getenv)
	if err != nil {
		return bad(err.Error())
	}
	// A short fetch wait keeps hand-offs fast (see NewConsumerGroup).
	cfg.KafkaOptions = append(sec, kgo.FetchMaxWait(250*time.Millisecond), kgo.DialTimeout(min(c.timeout, probeTimeout)),
		// Classic: franz-go's heartbeat (3 s by default) must be shorter
		// than a short --session-timeout.
		kgo.HeartbeatInterval(min(3*time.Second, f.session/3)))
	events := make(chan *consumergroup.Notification, 16)
	cfg.Notifications = events
	if err := cfg.Validate(); err != nil {
		return bad(err.Error())
	}
	brokers := splitAddrs(c.bootstrap)
	jctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if err := reachAny(jctx, brokers, min(c.timeout, probeTimeout)); err != nil {
		return fmt.Errorf("%w: %s: %v", errUnreachable, c.kafkaWhere(), err)
	}
	g, err := consumergroup.JoinKafkaConsumerGroup(jctx, f.group, ts, brokers, cfg)
	if err != nil {
		if errors.Is(err, consumergroup.ErrInvalidArgument) {
			return bad(err.Error())
		}
		return err
	}
	defer g.Close()
	cancel()
	protocol := f.protocol
	if protocol == "" {
		protocol = consumergroup.GroupProtocolClassic
	}
	fmt.Fprintf(e.stderr, "joined group %s of %s (protocol %s)\n", f.group, c.kafkaWhere(), protocol)
	return printGroup(ctx, e, f, g, events, p)
}
