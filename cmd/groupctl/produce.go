package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/zookeeper"
)

// headerFlags is a repeatable --header KEY=VALUE.
type headerFlags []kgo.RecordHeader

func (h *headerFlags) String() string { return fmt.Sprint(len(*h)) }

func (h *headerFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*h = append(*h, kgo.RecordHeader{Key: k, Value: []byte(val)})
	return nil
}

// runProduce is produce: it reads the flags, connects to Kafka, produces
// the generated messages (--count) or standard input's lines, and prints
// how many it produced.
func runProduce(ctx context.Context, e *env, args []string) error {
	o, c, err := parseProduce(e, args)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var z *zookeeper.Client // nil with --bootstrap-server
	if !c.onKafka() {
		if z, err = c.dial(ctx); err != nil {
			return err
		}
		defer z.Close()
	}
	opts := []kgo.Opt{kgo.ProducerLinger(5 * time.Millisecond)}
	if o.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, _, err := c.kafka(ctx, z, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	pr := &producer{o: o, cl: cl}
	if o.generate {
		err = pr.generated(ctx)
	} else {
		err = pr.lines(ctx, e.stdin)
	}
	if err != nil {
		return err
	}
	out := struct {
		Topic    string `json:"topic"`
		Produced int    `json:"produced"`
	}{o.topic, pr.produced}
	return newPrinter(e, c).print(out, func(t *tableWriter) { t.line("produced %d messages to %s", pr.produced, o.topic) })
}

// produceOpts are produce's flags.
type produceOpts struct {
	topic     string
	generate  bool // --count was given: generated messages, not standard input's
	count     int
	prefix    string
	start     int
	partition int // -1: spread by key
	keySep    string
	headers   headerFlags
}

// parseProduce reads produce's flags and checks them together.
func parseProduce(e *env, args []string) (*produceOpts, *common, error) {
	fs, c := newFlags(e, "produce", "--topic T [--count N | < lines]")
	o := &produceOpts{}
	bootstrapFlag(fs, c)
	fs.StringVar(&o.topic, "topic", "", "the topic (required)")
	fs.IntVar(&o.count, "count", 0, "produce N generated messages, PREFIX<n> (default: one message per line of standard input)")
	fs.StringVar(&o.prefix, "value-prefix", "", "with --count: values are PREFIX<n>, n from --start")
	fs.IntVar(&o.start, "start", 0, "with --count: the first n")
	fs.IntVar(&o.partition, "partition", -1, "write every message to this partition (default: spread by key)")
	fs.StringVar(&o.keySep, "key-separator", "", "standard input: each line is KEY<separator>VALUE (default: the line is the value, no key)")
	fs.Var(&o.headers, "header", "KEY=VALUE header of every message; repeat for several")
	pos, err := parse(fs, c, args)
	if err != nil {
		return nil, nil, err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.generate = set["count"]
	switch {
	case o.topic == "":
		return nil, nil, bad("--topic is required")
	case len(pos) != 0:
		return nil, nil, bad(fmt.Sprintf("produce takes no argument (got %q): messages come from --count or standard input", pos))
	case set["count"] && o.count < 1:
		return nil, nil, bad(fmt.Sprintf("--count must be at least 1, not %d", o.count))
	case set["count"] && set["key-separator"]:
		return nil, nil, bad("--key-separator is for standard input, not --count")
	case !set["count"] && (set["value-prefix"] || set["start"]):
		return nil, nil, bad("--value-prefix and --start go with --count")
	}
	return o, c, nil
}

// produceBatch is how many records a producer sends at once.
const produceBatch = 1000

// producer sends records to the topic of its options, a batch at a time,
// counting them.
type producer struct {
	o        *produceOpts
	cl       *kgo.Client
	produced int // records sent
}

// record is one record of key and value, with the headers and partition of
// the options.
func (pr *producer) record(key, value []byte) *kgo.Record {
	r := &kgo.Record{Topic: pr.o.topic, Key: key, Value: value, Headers: pr.o.headers}
	if pr.o.partition >= 0 {
		r.Partition = int32(pr.o.partition)
	}
	return r
}

// send produces recs and waits for them to be written.
func (pr *producer) send(ctx context.Context, recs []*kgo.Record) error {
	if err := pr.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce to %q: %w", pr.o.topic, err)
	}
	pr.produced += len(recs)
	return nil
}

// generated produces --count messages: key n, value PREFIX<n>, n from
// --start.
func (pr *producer) generated(ctx context.Context) error {
	for i := 0; i < pr.o.count; i += produceBatch {
		var recs []*kgo.Record
		for j := i; j < min(i+produceBatch, pr.o.count); j++ {
			n := strconv.Itoa(pr.o.start + j)
			recs = append(recs, pr.record([]byte(n), []byte(pr.o.prefix+n)))
		}
		if err := pr.send(ctx, recs); err != nil {
			return err
		}
	}
	return nil
}

// lines produces a message of each line of in: the line is the value, or,
// with --key-separator, KEY<separator>VALUE. No line at all is an error.
func (pr *producer) lines(ctx context.Context, in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var recs []*kgo.Record
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		var key []byte
		if pr.o.keySep != "" {
			k, v, ok := strings.Cut(text, pr.o.keySep)
			if !ok {
				return fmt.Errorf("standard input line %d: no key separator %q in it (%d messages produced before)", line, pr.o.keySep, pr.produced)
			}
			key, text = []byte(k), v
		}
		recs = append(recs, pr.record(key, []byte(text)))
		if len(recs) == produceBatch {
			if err := pr.send(ctx, recs); err != nil {
				return err
			}
			recs = nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("standard input: %w", err)
	}
	if len(recs) > 0 {
		if err := pr.send(ctx, recs); err != nil {
			return err
		}
	}
	if pr.produced == 0 {
		return errors.New("standard input held no line: nothing produced (use --count N to generate messages)")
	}
	return nil
}
