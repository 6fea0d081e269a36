package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

func runConsume(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "consume", "--group G --topic T[,T...]")
	group := fs.String("group", "", "the group to join (required)")
	topics := fs.String("topic", "", "topics, comma-separated (required)")
	from := fs.String("from", "oldest", "where partitions without a committed offset start: oldest or newest")
	maxN := fs.Int("max", 0, "stop after this many messages (0: until interrupted)")
	commitEvery := fs.Duration("commit-interval", time.Second, "how often processed offsets are committed")
	session := fs.Duration("session-timeout", 6*time.Second, "ZooKeeper session timeout: how long a crashed consumer keeps its partitions")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	if *group == "" || *topics == "" {
		return bad("--group and --topic are required")
	}
	if len(pos) != 0 {
		return bad("consume takes no argument")
	}
	cfg := consumergroup.NewConsumerGroupConfig()
	switch *from {
	case "oldest":
		cfg.InitialOffset = consumergroup.OffsetOldest
	case "newest":
		cfg.InitialOffset = consumergroup.OffsetNewest
	default:
		return bad(fmt.Sprintf("--from must be oldest or newest, not %q", *from))
	}
	cfg.CommitInterval = *commitEvery
	cfg.ZookeeperTimeout = *session
	servers, chroot, err := c.servers()
	if err != nil {
		return err
	}
	cfg.ZookeeperChroot = chroot
	if c.brokers != "" {
		cfg.Brokers = strings.Split(c.brokers, ",")
	}
	if err := cfg.Validate(); err != nil {
		return bad(err.Error())
	}
	var ts []string
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, t)
		}
	}
	jctx, cancel := c.withTimeout(ctx)
	g, err := consumergroup.JoinConsumerGroupTopics(jctx, *group, ts, servers, cfg)
	cancel()
	if err != nil {
		if strings.Contains(err.Error(), "connect to zookeeper") {
			return fmt.Errorf("%w: %v", errUnreachable, err)
		}
		return err
	}
	defer g.Close()
	// The member registers in the background: its id comes a moment later.
	id := g.ID()
	for deadline := time.Now().Add(c.timeout); id == "" && ctx.Err() == nil && time.Now().Before(deadline); id = g.ID() {
		time.Sleep(10 * time.Millisecond)
	}
	if id == "" {
		id = "(not registered yet)"
	}
	fmt.Fprintf(e.stderr, "joined group %s as %s\n", *group, id)
	stream := g.Stream()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return g.Close() // graceful: commits what was printed
		case ev, ok := <-stream:
			if !ok {
				return nil
			}
			if err := printEvent(e, c, ev); err != nil {
				return err
			}
			n++
			if *maxN > 0 && n >= *maxN {
				return g.Close()
			}
		}
	}
}

// printEvent prints one message: "topic partition offset key value", or a
// JSON line.
func printEvent(e *env, c *common, ev *consumergroup.ConsumerEvent) error {
	if c.output == "json" {
		b, err := json.Marshal(struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
			Key       string `json:"key"`
			Value     string `json:"value"`
			Timestamp string `json:"timestamp"`
		}{ev.Topic, ev.Partition, ev.Offset, string(ev.Key), string(ev.Value), ev.Timestamp.UTC().Format(time.RFC3339Nano)})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintf(e.stdout, "%s\t%d\t%d\t%s\t%s\n", ev.Topic, ev.Partition, ev.Offset, quote(ev.Key), quote(ev.Value))
	return err
}

// quote keeps one message on one line.
func quote(b []byte) string {
	s := string(b)
	if strings.ContainsAny(s, "\t\n\r") {
		return strconv.Quote(s)
	}
	return s
}

func runProduce(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "produce", "--topic T [--count N]")
	topic := fs.String("topic", "", "the topic (required)")
	count := fs.Int("count", 1, "how many messages")
	prefix := fs.String("value-prefix", "", "values are PREFIX<n>, n from --start")
	start := fs.Int("start", 0, "the first n")
	partition := fs.Int("partition", -1, "write every message to this partition (default: spread by key)")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	if *topic == "" || *count < 1 || len(pos) != 0 {
		return usageError{msg: "--topic is required, --count must be at least 1, and produce takes no argument", usage: usageText(fs)}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	z, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer z.Close()
	opts := []kgo.Opt{kgo.ProducerLinger(5 * time.Millisecond)}
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, _, err := c.kafka(ctx, z, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	const batch = 1000
	for i := 0; i < *count; i += batch {
		var recs []*kgo.Record
		for j := i; j < min(i+batch, *count); j++ {
			n := strconv.Itoa(*start + j)
			r := &kgo.Record{Topic: *topic, Key: []byte(n), Value: []byte(*prefix + n)}
			if *partition >= 0 {
				r.Partition = int32(*partition)
			}
			recs = append(recs, r)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %q: %w", *topic, err)
		}
	}
	out := struct {
		Topic    string `json:"topic"`
		Produced int    `json:"produced"`
	}{*topic, *count}
	return newPrinter(e, c).print(out, func(t *tableWriter) { t.line("produced %d messages to %s", *count, *topic) })
}
