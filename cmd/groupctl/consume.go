package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// consumeFlags are consume's own flags.
type consumeFlags struct {
	group, topics, from  string
	fromOffset, fromTime string
	partition            int
	maxN                 int
	commitEvery, session time.Duration
	format               string
	protocol             string // --group-protocol, with --bootstrap-server
}

func runConsume(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "consume", "--topic T[,T...] (--group G | --from-offset N | --from-time TIME)")
	var f consumeFlags
	bootstrapFlag(fs, c)
	fs.StringVar(&f.group, "group", "", "the group to join: partitions are shared with its other members, offsets committed")
	fs.StringVar(&f.protocol, "group-protocol", "", "with --bootstrap-server: the group protocol, classic (default) or consumer (KIP-848, Kafka 4+)")
	fs.StringVar(&f.topics, "topic", "", "topics, comma-separated (required)")
	fs.StringVar(&f.from, "from", "oldest", "where partitions without a committed offset start: oldest or newest")
	fs.StringVar(&f.fromOffset, "from-offset", "", "read without a group from offset N of each partition (bounded by the log)")
	fs.StringVar(&f.fromTime, "from-time", "", "read without a group from the first message at or after TIME (RFC 3339 or Unix milliseconds)")
	fs.IntVar(&f.partition, "partition", -1, "without a group: read only this partition")
	fs.IntVar(&f.maxN, "max", 0, "stop after this many messages (0: until interrupted)")
	fs.DurationVar(&f.commitEvery, "commit-interval", time.Second, "how often processed offsets are committed")
	fs.DurationVar(&f.session, "session-timeout", 6*time.Second, "ZooKeeper session timeout (with --bootstrap-server: the group's): how long a crashed consumer keeps its partitions")
	fs.StringVar(&f.format, "format", "", "print each message as this template: {topic} {partition} {offset} {key} {value} {headers} {timestamp}, \\t and \\n (default: tab-separated topic, partition, offset, key, value)")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.topics == "" {
		return bad("--topic is required")
	}
	if len(pos) != 0 {
		return bad("consume takes no argument")
	}
	if f.maxN < 0 {
		return bad(fmt.Sprintf("--max must be at least 0, not %d", f.maxN))
	}
	if set["partition"] && f.partition < 0 {
		return bad(fmt.Sprintf("--partition must be at least 0, not %d", f.partition))
	}
	if f.from != "oldest" && f.from != "newest" {
		return bad(fmt.Sprintf("--from must be oldest or newest, not %q", f.from))
	}
	reader := f.fromOffset != "" || f.fromTime != ""
	switch {
	case f.group == "" && !reader:
		return bad("give --group, or --from-offset or --from-time to read without a group")
	case f.group != "" && (reader || f.partition >= 0):
		return bad("--from-offset, --from-time and --partition read without a group: drop --group (a group starts at its committed offsets; reset them with reset-offsets)")
	case f.fromOffset != "" && f.fromTime != "":
		return bad("give --from-offset or --from-time, not both")
	case f.protocol != "" && c.bootstrap == "":
		return bad("--group-protocol is for groups of Kafka's coordinator: it needs --bootstrap-server")
	case f.protocol != "" && f.protocol != consumergroup.GroupProtocolClassic && f.protocol != consumergroup.GroupProtocolConsumer:
		return bad(fmt.Sprintf("--group-protocol must be classic or consumer, not %q", f.protocol))
	}
	var ts []string
	for _, t := range strings.Split(f.topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, t)
		}
	}
	p := newEventPrinter(e, c, f.format)
	if reader {
		return readTopics(ctx, e, c, &f, ts, p, bad)
	}
	if c.onKafka() {
		return consumeKafkaGroup(ctx, e, c, &f, ts, p, bad)
	}
	return consumeGroup(ctx, e, c, &f, ts, p, bad)
}

// config is the member's configuration the flags give, on either
// coordinator (the session timeout is the caller's).
func (f *consumeFlags) config() *consumergroup.ConsumerGroupConfig {
	cfg := consumergroup.NewConsumerGroupConfig()
	if f.from == "newest" {
		cfg.InitialOffset = consumergroup.OffsetNewest
	}
	cfg.CommitInterval = f.commitEvery
	return cfg
}

// consumeGroup joins the group and prints what it is given.
func consumeGroup(ctx context.Context, e *env, c *common, f *consumeFlags, ts []string, p eventPrinter, bad func(string) error) error {
	cfg := f.config()
	cfg.ZookeeperTimeout = f.session
	if err := cfg.Validate(); err != nil {
		return bad(err.Error())
	}
	jctx, cancel := c.withTimeout(ctx)
	z, err := c.dialSession(jctx, f.session)
	if err != nil {
		cancel()
		return err
	}
	defer z.Close()
	// A short fetch wait keeps hand-offs fast (see NewConsumerGroup).
	cl, _, err := c.kafka(jctx, z, kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		cancel()
		return err
	}
	defer cl.Close()
	events := make(chan *consumergroup.Notification, 16)
	g, err := consumergroup.NewConsumerGroupTopics(jctx, cl, z, f.group, ts, events, cfg)
	cancel()
	if err != nil {
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
	fmt.Fprintf(e.stderr, "joined group %s as %s\n", f.group, id)
	return printGroup(ctx, e, f, g, events, p)
}

// printGroup prints what the member g is given until interrupted or
// --max, then leaves the group gracefully.
func printGroup(ctx context.Context, e *env, f *consumeFlags, g *consumergroup.ConsumerGroup, events <-chan *consumergroup.Notification, p eventPrinter) error {
	stream := g.Stream()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return g.Close() // graceful: commits what was printed
		case n := <-events:
			if n.Type == consumergroup.HANDOFF_TIMEOUT {
				// The message printed last of a partition that moved was
				// not followed by another within the hand-off timeout:
				// it counts as not processed, and its new owner prints it
				// again (see HandoffTimeout).
				fmt.Fprintf(e.stderr, "groupctl consume: hand-off timed out; its new owner delivers again: %s/%d@%d\n", n.Topic, n.Partition, n.Offset)
			}
			if n.Type == consumergroup.REBALANCE_ERROR && errors.Is(n.Err, consumergroup.ErrSessionExpired) {
				// As a crash: what was printed since the last commit
				// is printed again by the partitions' next owners.
				fmt.Fprintf(e.stderr, "groupctl consume: session lost, joining again; what was printed since the last commit is delivered again: %v\n", n.Err)
			}
		case ev, ok := <-stream:
			if !ok {
				return nil
			}
			if err := p.print(shown{ev.Topic, ev.Partition, ev.Offset, ev.Key, ev.Value, ev.Headers, ev.Timestamp}); err != nil {
				return err
			}
			n++
			if f.maxN > 0 && n >= f.maxN {
				return g.Close()
			}
		}
	}
}

// readTopics reads topics without a group, from --from-offset or
// --from-time, committing nothing.
func readTopics(ctx context.Context, e *env, c *common, f *consumeFlags, ts []string, p eventPrinter, bad func(string) error) error {
	var start kgo.Offset
	if f.fromOffset != "" {
		n, err := strconv.ParseInt(f.fromOffset, 10, 64)
		if err != nil || n < 0 {
			return bad(fmt.Sprintf("--from-offset %q is not a non-negative integer", f.fromOffset))
		}
		start = kgo.NewOffset().At(n)
	} else {
		at, err := parseTime("--from-time", f.fromTime)
		if err != nil {
			return bad(err.Error())
		}
		start = kgo.NewOffset().AfterMilli(at.UnixMilli())
	}
	dctx, cancel := c.withTimeout(ctx)
	var z *zookeeper.Client
	if !c.onKafka() {
		var err error
		if z, err = c.dial(dctx); err != nil {
			cancel()
			return err
		}
		defer z.Close()
	}
	var opts []kgo.Opt
	if f.partition >= 0 {
		parts := map[string]map[int32]kgo.Offset{}
		for _, t := range ts {
			parts[t] = map[int32]kgo.Offset{int32(f.partition): start}
		}
		opts = append(opts, kgo.ConsumePartitions(parts))
	} else {
		opts = append(opts, kgo.ConsumeTopics(ts...), kgo.ConsumeResetOffset(start))
	}
	cl, admin, err := c.kafka(dctx, z, opts...)
	if err != nil {
		cancel()
		return err
	}
	defer cl.Close()
	err = checkReadable(dctx, admin, ts, f.partition, bad)
	cancel()
	if err != nil {
		return err
	}
	n := 0
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, part int32, err error) {
			ferr = fmt.Errorf("fetch %s/%d: %w", t, part, err)
		})
		if ferr != nil {
			return ferr
		}
		for it := fetches.RecordIter(); !it.Done(); {
			r := it.Next()
			var hs []consumergroup.Header
			for _, h := range r.Headers {
				hs = append(hs, consumergroup.Header{Key: h.Key, Value: h.Value})
			}
			if err := p.print(shown{r.Topic, r.Partition, r.Offset, r.Key, r.Value, hs, r.Timestamp}); err != nil {
				return err
			}
			n++
			if f.maxN > 0 && n >= f.maxN {
				return nil
			}
		}
	}
}

// checkReadable checks that the topics exist and, partition given (not
// -1), have it: the client would wait for them without a word. A
// partition a topic lacks is a usage error, as reset-offsets says it.
func checkReadable(ctx context.Context, admin *kadm.Client, ts []string, partition int, bad func(string) error) error {
	ends, err := admin.ListEndOffsets(ctx, ts...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	var missing []string
	for _, t := range ts {
		// A topic the metadata lacks is listed as partition -1, its error.
		if o, ok := ends.Lookup(t, -1); ok && errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("%w: %q", consumergroup.ErrUnknownTopic, t)
		}
		for _, o := range ends[t] {
			if o.Err != nil {
				return fmt.Errorf("%s/%d: %w", t, o.Partition, o.Err)
			}
		}
		if _, ok := ends.Lookup(t, int32(partition)); partition >= 0 && !ok {
			missing = append(missing, fmt.Sprintf("%s:%d", t, partition))
		}
	}
	if len(missing) > 0 {
		return bad("no such partition: " + strings.Join(missing, ", "))
	}
	return nil
}

// shown is one message to print.
type shown struct {
	topic     string
	partition int32
	offset    int64
	key       []byte
	value     []byte
	headers   []consumergroup.Header
	timestamp time.Time
}

// eventPrinter prints messages: tab-separated, JSON lines, or --format.
type eventPrinter struct {
	e      *env
	json   bool
	format string
}

func newEventPrinter(e *env, c *common, format string) eventPrinter {
	r := strings.NewReplacer(`\t`, "\t", `\n`, "\n")
	return eventPrinter{e: e, json: c.output == "json" && format == "", format: r.Replace(format)}
}

func (p eventPrinter) print(m shown) error {
	switch {
	case p.json:
		hs := map[string]string{}
		for _, h := range m.headers {
			hs[h.Key] = string(h.Value)
		}
		b, err := json.Marshal(struct {
			Topic     string            `json:"topic"`
			Partition int32             `json:"partition"`
			Offset    int64             `json:"offset"`
			Key       string            `json:"key"`
			Value     string            `json:"value"`
			Headers   map[string]string `json:"headers"`
			Timestamp string            `json:"timestamp"`
		}{m.topic, m.partition, m.offset, string(m.key), string(m.value), hs, m.timestamp.UTC().Format(time.RFC3339Nano)})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.e.stdout, "%s\n", b)
		return err
	case p.format != "":
		hs := make([]string, len(m.headers))
		for i, h := range m.headers {
			hs[i] = h.Key + ":" + string(h.Value)
		}
		r := strings.NewReplacer("{topic}", m.topic, "{partition}", strconv.Itoa(int(m.partition)),
			"{offset}", strconv.FormatInt(m.offset, 10), "{key}", string(m.key), "{value}", string(m.value),
			"{headers}", strings.Join(hs, ","), "{timestamp}", m.timestamp.UTC().Format(time.RFC3339Nano))
		_, err := fmt.Fprint(p.e.stdout, r.Replace(p.format))
		if err == nil && !strings.HasSuffix(p.format, "\n") {
			_, err = fmt.Fprintln(p.e.stdout)
		}
		return err
	}
	_, err := fmt.Fprintf(p.e.stdout, "%s\t%d\t%d\t%s\t%s\n", m.topic, m.partition, m.offset, quote(m.key), quote(m.value))
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
