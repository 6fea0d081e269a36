package main

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/bench/env"
)

// Ours on Kafka's own group coordinator (JoinKafkaConsumerGroup): the
// classic protocol with franz-go's cooperative-sticky balancer, and KIP-848
// with the broker's uniform assignor (Kafka 4 and kfake; not on 3.9).
func init() {
	systems = append(systems,
		system{"ours on Kafka classic (cooperative-sticky)", startOursKafka(consumergroup.GroupProtocolClassic)},
		system{"ours on Kafka KIP-848 (uniform)", startOursKafka(consumergroup.GroupProtocolConsumer)})
}

// oursKafka is a member of ours on Kafka's coordinator, its Kafka
// connections through a cutter.
type oursKafka struct {
	g    *consumergroup.ConsumerGroup
	cut  *env.Cutter
	done chan struct{}
	stop chan struct{}
}

func startOursKafka(protocol string) func(ctx context.Context, b *bench, topic, group string, idx int, tr *tracker) (member, error) {
	return func(ctx context.Context, b *bench, topic, group string, idx int, tr *tracker) (member, error) {
		m := &oursKafka{cut: env.NewCutter(), done: make(chan struct{}), stop: make(chan struct{})}
		cfg := consumergroup.NewConsumerGroupConfig()
		cfg.GroupProtocol = protocol
		cfg.SessionTimeout = sessionTimeout
		cfg.KafkaOptions = kafkaOpts(b, kgo.Dialer(m.cut.DialContext), kgo.HeartbeatInterval(heartbeat))
		cfg.Logger = groupLogger(idx)
		// The join returns with the first assignment: at hundreds of members
		// (the scale part) a group's first generation takes longer than 20 s
		// (and than JoinTimeout's 30 s) on 2 cores; the cell's bound applies
		// then.
		cfg.JoinTimeout = max(cfg.JoinTimeout, b.scale.timeout)
		dctx, cancel := context.WithTimeout(ctx, max(20*time.Second, b.scale.timeout))
		defer cancel()
		g, err := consumergroup.JoinKafkaConsumerGroup(dctx, group, []string{topic}, b.kafka.Addrs(), cfg)
		if err != nil {
			return nil, err
		}
		m.g = g
		stream := g.Stream()
		go func() {
			defer close(m.done)
			for ev := range stream {
				tr.deliver(idx, ev.Partition, time.Now())
			}
		}()
		return m, nil
	}
}

func (m *oursKafka) owned() []int32 {
	var ps []int32
	for _, tp := range m.g.ClaimedPartitions() {
		ps = append(ps, tp.Partition)
	}
	return ps
}

func (m *oursKafka) leave() {
	select {
	case <-m.stop:
		return
	default:
		close(m.stop)
	}
	m.g.Close()
	<-m.done
}

func (m *oursKafka) crash() { m.cut.Cut() }

func (m *oursKafka) close() { m.leave() }
