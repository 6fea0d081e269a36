package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
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

func runProduce(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "produce", "--topic T [--count N | < lines]")
	bootstrapFlag(fs, c)
	topic := fs.String("topic", "", "the topic (required)")
	count := fs.Int("count", 0, "produce N generated messages, PREFIX<n> (default: one message per line of standard input)")
	prefix := fs.String("value-prefix", "", "with --count: values are PREFIX<n>, n from --start")
	start := fs.Int("start", 0, "with --count: the first n")
	partition := fs.Int("partition", -1, "write every message to this partition (default: spread by key)")
	keySep := fs.String("key-separator", "", "standard input: each line is KEY<separator>VALUE (default: the line is the value, no key)")
	var headers headerFlags
	fs.Var(&headers, "header", "KEY=VALUE header of every message; repeat for several")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *topic == "":
		return bad("--topic is required")
	case len(pos) != 0:
		return bad(fmt.Sprintf("produce takes no argument (got %q): messages come from --count or standard input", pos))
	case set["count"] && *count < 1:
		return bad(fmt.Sprintf("--count must be at least 1, not %d", *count))
	case set["count"] && set["key-separator"]:
		return bad("--key-separator is for standard input, not --count")
	case !set["count"] && (set["value-prefix"] || set["start"]):
		return bad("--value-prefix and --start go with --count")
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
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, _, err := c.kafka(ctx, z, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	record := func(key, value []byte) *kgo.Record {
		r := &kgo.Record{Topic: *topic, Key: key, Value: value, Headers: headers}
		if *partition >= 0 {
			r.Partition = int32(*partition)
		}
		return r
	}
	const batch = 1000
	produced := 0
	send := func(recs []*kgo.Record) error {
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %q: %w", *topic, err)
		}
		produced += len(recs)
		return nil
	}
	if set["count"] {
		for i := 0; i < *count; i += batch {
			var recs []*kgo.Record
			for j := i; j < min(i+batch, *count); j++ {
				n := strconv.Itoa(*start + j)
				recs = append(recs, record([]byte(n), []byte(*prefix+n)))
			}
			if err := send(recs); err != nil {
				return err
			}
		}
	} else {
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		var recs []*kgo.Record
		for line := 1; sc.Scan(); line++ {
			text := sc.Text()
			var key []byte
			if *keySep != "" {
				k, v, ok := strings.Cut(text, *keySep)
				if !ok {
					return fmt.Errorf("standard input line %d: no key separator %q in it (%d messages produced before)", line, *keySep, produced)
				}
				key, text = []byte(k), v
			}
			recs = append(recs, record(key, []byte(text)))
			if len(recs) == batch {
				if err := send(recs); err != nil {
					return err
				}
				recs = nil
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("standard input: %w", err)
		}
		if len(recs) > 0 {
			if err := send(recs); err != nil {
				return err
			}
		}
		if produced == 0 {
			return errors.New("standard input held no line: nothing produced (use --count N to generate messages)")
		}
	}
	out := struct {
		Topic    string `json:"topic"`
		Produced int    `json:"produced"`
	}{*topic, produced}
	return newPrinter(e, c).print(out, func(t *tableWriter) { t.line("produced %d messages to %s", produced, *topic) })
}
