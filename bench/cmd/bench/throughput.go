package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tpPartitions is the partition count of the throughput topics.
const tpPartitions = 16

// counter counts messages, possibly from several goroutines, and notes
// when the first and the last expected one arrived.
type counter struct {
	target int64
	n      atomic.Int64
	first  atomic.Int64 // unix ns
	last   atomic.Int64
	cpu0   atomic.Int64 // the process's CPU time (user+system, ns) at the first message
	cpu1   atomic.Int64 // and at the last
	done   chan struct{}
}

// processCPU returns the CPU time this process used so far (user and
// system, every thread).
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// gcCPU returns the garbage collector's CPU time so far (an estimate of
// the runtime's, updated at each cycle).
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * 1e9)
}

func newCounter(target int) *counter {
	return &counter{target: int64(target), done: make(chan struct{})}
}

// add counts k messages and reports whether the target is reached.
func (c *counter) add(k int) bool {
	if k == 0 {
		return c.n.Load() >= c.target
	}
	v := c.n.Add(int64(k))
	if v == int64(k) {
		c.first.Store(time.Now().UnixNano())
		c.cpu0.Store(processCPU())
	}
	if v >= c.target {
		if v-int64(k) < c.target {
			c.last.Store(time.Now().UnixNano())
			c.cpu1.Store(processCPU())
			close(c.done)
		}
		return true
	}
	return false
}

// consumer reads topic until c reaches its target, then stops.
type consumer struct {
	name string
	run  func(ctx context.Context, b *bench, topic, group string, c *counter) error
	slow bool // run once even when tries > 1
}

var consumers = []consumer{
	{"raw franz-go (direct partitions)", runRaw, false},
	{"ours: Next()", runNext(onZooKeeper), false},
	{"ours: Poll()", runPoll(onZooKeeper), false},
	{"ours: PollRecords()", runPollRecords, false},
	{"ours: Stream()", runStream, false},
	{"ours: Batches()", runBatches(onZooKeeper), false},
	{"ours: Checkout (100 ms)", runCheckout, true},
	{"franz-go group (cooperative-sticky)", runKgoGroup, false},
	{"sarama ConsumerGroup", runSarama, false},
}

// tpResult is one consumer's reading of one backlog.
type tpResult struct {
	name    string
	msgs    int
	size    int
	startup time.Duration // from the start to the first message
	elapsed time.Duration // from the first message to the last
	mallocs uint64        // heap allocations of the whole process, start to last
	bytes   uint64        // bytes allocated on the heap by the whole process, start to last
	gcCPU   time.Duration // the garbage collector's CPU time (runtime/metrics), start to last
	cpu     time.Duration // CPU time of the whole process, first message to last
	stalled bool          // stopped delivering before the end: msgs is what it delivered
	notRun  bool          // left out by -filter
}

// stallAfter is how long a consumer may deliver nothing before it counts as
// stalled.
const stallAfter = 15 * time.Second

// cpuPerMsg is the process's CPU time per message, in ns.
func (r tpResult) cpuPerMsg() float64 { return float64(r.cpu.Nanoseconds()) / float64(r.msgs) }

func (r tpResult) rate() float64 {
	if r.elapsed <= 0 || r.stalled {
		return 0
	}
	return float64(r.msgs) / r.elapsed.Seconds()
}

// selected reports whether the consumer named name is to run.
func (b *bench) selected(name string) bool {
	if len(b.only) == 0 {
		return true
	}
	for _, w := range b.only {
		if w != "" && strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func throughput(ctx context.Context, b *bench) error {
	var sb strings.Builder
	sb.WriteString("## 1. Throughput: one consumer reading a backlog\n\n")
	fmt.Fprintf(&sb, "%d messages in %d partitions, produced beforehand; each consumer reads them all from the oldest "+
		"(a fresh group each), after one unreported warm-up reading by the raw consumer. Rate from the first message to "+
		"the last, the best of %d runs (Checkout: one run); start-up (from the start to the first message: joining, claiming) apart. "+
		"Allocations: the process's heap allocations (runtime.MemStats.Mallocs, kfake's included when it runs in this process) from the start "+
		"to the last message, per message. CPU: the process's CPU time (user and system, getrusage) from the first message to the last, "+
		"per message (kfake's included when it runs in this process): less sensitive than the rate to other load on the machine.\n\n", b.sz.messages, tpPartitions, b.sz.tries)
	results := map[int][]tpResult{}
	for _, size := range b.sizes {
		topic := fmt.Sprintf("tp-%d", size)
		b.logf("throughput: producing %d messages of %d bytes", b.sz.messages, size)
		if err := b.kafka.CreateTopic(ctx, topic, tpPartitions); err != nil {
			return err
		}
		t0 := time.Now()
		if err := produceBacklog(ctx, b, topic, size, b.sz.messages); err != nil {
			return err
		}
		b.logf("throughput: produced in %v", time.Since(t0).Round(time.Millisecond))
		// The first reading of a fresh backlog is slower, whoever reads it
		// (kfake and the runtime warming up): one reading unreported.
		if _, err := measure(ctx, b, consumers[0], topic, fmt.Sprintf("tp-%d-warmup", size), size, "", ""); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		for i, c := range consumers {
			if i > 0 && !b.selected(c.name) {
				results[size] = append(results[size], tpResult{name: c.name, notRun: true})
				continue
			}
			tries := b.sz.tries
			if c.slow {
				tries = 1
			}
			var best tpResult
			for try := range tries {
				group := fmt.Sprintf("tp-%d-%d-%d", size, i, try)
				prof := ""
				if b.prof != "" {
					prof = fmt.Sprintf("%s-%d-%d", b.prof, size, i)
				}
				mprof := ""
				if memprofile != "" {
					mprof = fmt.Sprintf("%s-%d-%d", memprofile, size, i)
				}
				r, err := measure(ctx, b, c, topic, group, size, prof, mprof)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				if r.stalled {
					b.logf("throughput: %-38s %5d B: STALLED after %d of %d messages", c.name, size, r.msgs, b.sz.messages)
				} else {
					b.logf("throughput: %-38s %5d B: %9.0f msg/s, %.2f allocs/msg, %.0f B/msg, %.0f ns CPU/msg (GC %.0f), start-up %v", c.name, size, r.rate(),
						float64(r.mallocs)/float64(r.msgs), float64(r.bytes)/float64(r.msgs), r.cpuPerMsg(), float64(r.gcCPU.Nanoseconds())/float64(r.msgs), r.startup.Round(time.Millisecond))
				}
				if try == 0 || (!r.stalled && (best.stalled || r.rate() > best.rate())) {
					best = r
				}
			}
			results[size] = append(results[size], best)
		}
		if err := b.kafka.DeleteTopic(ctx, topic); err != nil {
			b.logf("throughput: deleting %s: %v", topic, err)
		}
	}
	for _, size := range b.sizes {
		rs := results[size]
		raw := rs[0].rate()
		fmt.Fprintf(&sb, "### %d-byte messages\n\n", size)
		var rows [][]string
		for _, r := range rs {
			if r.notRun {
				rows = append(rows, []string{r.name, "not run (-filter)", "", "", "", "", "", ""})
				continue
			}
			if r.stalled {
				rows = append(rows, []string{r.name, fmt.Sprintf("stalled: delivered %d of %d, then nothing for %v", r.msgs, b.sz.messages, stallAfter),
					"", "", "", "", "", ""})
				continue
			}
			rows = append(rows, []string{r.name, fmt.Sprintf("%.0f", r.rate()),
				fmt.Sprintf("%.1f", r.rate()*float64(size)/1e6),
				fmt.Sprintf("%.2f", float64(r.mallocs)/float64(r.msgs)),
				fmt.Sprintf("%.2f×", r.rate()/raw),
				fmt.Sprintf("%.0f", r.cpuPerMsg()),
				fmt.Sprintf("%.2f×", r.cpuPerMsg()/rs[0].cpuPerMsg()),
				ms(r.startup)})
		}
		sb.WriteString(table([]string{"consumer", "msg/s", "MB/s", "allocs/msg", "vs raw", "CPU ns/msg", "CPU vs raw", "start-up ms"}, rows))
		sb.WriteString("\n")
	}
	b.rep.section(sb.String())

	if len(b.only) > 0 || len(b.sizes) < 2 {
		return nil // some consumers or sizes did not run: no targets
	}
	// Targets, on each size: issue 13's for the pull API and Stream, the
	// earlier ones for Batches and against sarama.
	byName := func(rs []tpResult, name string) tpResult {
		for _, r := range rs {
			if r.name == name {
				return r
			}
		}
		panic("bench: no consumer " + name)
	}
	for _, t := range []struct {
		name string
		min  float64
	}{{"ours: Poll()", 0.95}, {"ours: Next()", 0.8}, {"ours: Stream()", 0.7}, {"ours: Batches()", 0.95}} {
		for _, size := range b.sizes {
			rs := results[size]
			x := byName(rs, t.name).rate() / rs[0].rate()
			b.rep.target(fmt.Sprintf("%s ≥ %.2g× raw (%d B)", strings.TrimPrefix(t.name, "ours: "), t.min, size), x >= t.min, "%.2f×", x)
		}
	}
	for _, size := range b.sizes {
		rs := results[size]
		sarama := byName(rs, "sarama ConsumerGroup").rate()
		for _, n := range []string{"ours: Stream()", "ours: Batches()"} {
			r := byName(rs, n).rate()
			b.rep.target(fmt.Sprintf("%s ≥ 2× sarama (%d B)", strings.TrimPrefix(n, "ours: "), size), r >= 2*sarama, "%.2f×", r/sarama)
		}
	}
	var extra []string
	met := true
	for _, size := range b.sizes {
		rs := results[size]
		for _, n := range []string{"ours: Poll()", "ours: Batches()"} {
			r := byName(rs, n)
			d := float64(r.mallocs)/float64(r.msgs) - float64(rs[0].mallocs)/float64(rs[0].msgs)
			extra = append(extra, fmt.Sprintf("%s %+.3f at %d B", strings.TrimPrefix(n, "ours: "), d, size))
			met = met && d < 0.05
		}
	}
	b.rep.target("no allocation per message in the batch paths (Poll's and Batches' allocs/msg minus raw's < 0.05)", met, "%s", strings.Join(extra, ", "))
	return nil
}

// produceBacklog writes n messages of size bytes, spread over the
// partitions, as fast as kfake takes them.
func produceBacklog(ctx context.Context, b *bench, topic string, size, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.kafka.Addrs()...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20-1024),
		kgo.MaxBufferedRecords(100_000), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	value := make([]byte, size)
	_, _ = rand.Read(value)
	var failed atomic.Pointer[error]
	for i := 0; i < n && failed.Load() == nil; i++ {
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if e := failed.Load(); e != nil {
		return *e
	}
	return nil
}

// measure runs one consumer over the backlog.
// With mprof, the heap profiles before and after the run are written to
// mprof.before and mprof.after (the last run's of each consumer stays).
func measure(ctx context.Context, b *bench, c consumer, topic, group string, size int, prof, mprof string) (tpResult, error) {
	cnt := newCounter(b.sz.messages)
	if prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return tpResult{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return tpResult{}, err
		}
		defer pprof.StopCPUProfile()
	}
	runtime.GC()
	if err := writeHeap(mprof, ".before"); err != nil {
		return tpResult{}, err
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	gc0 := gcCPU()
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.run(cctx, b, topic, group, cnt) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastN, lastAt := int64(0), time.Now()
wait:
	for {
		select {
		case <-cnt.done:
			break wait
		case err := <-errc:
			if err == nil {
				err = errors.New("stopped before reading every message")
			}
			return tpResult{}, err
		case <-cctx.Done():
			return tpResult{}, cctx.Err()
		case now := <-tick.C:
			if n := cnt.n.Load(); n != lastN {
				lastN, lastAt = n, now
			} else if now.Sub(lastAt) > stallAfter {
				// Report it and go on with the next consumer.
				cancel()
				select {
				case <-errc:
				case <-time.After(30 * time.Second):
				}
				return tpResult{name: c.name, msgs: int(n), size: size, stalled: true}, nil
			}
		}
	}
	runtime.ReadMemStats(&m1)
	gc1 := gcCPU()
	if mprof != "" {
		runtime.GC() // the heap profile shows the allocations up to the last collection
		if err := writeHeap(mprof, ".after"); err != nil {
			return tpResult{}, err
		}
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		return tpResult{}, err
	}
	first, last := time.Unix(0, cnt.first.Load()), time.Unix(0, cnt.last.Load())
	return tpResult{name: c.name, msgs: b.sz.messages, size: size, startup: first.Sub(start), elapsed: last.Sub(first),
		mallocs: m1.Mallocs - m0.Mallocs, bytes: m1.TotalAlloc - m0.TotalAlloc, gcCPU: gc1 - gc0, cpu: time.Duration(cnt.cpu1.Load() - cnt.cpu0.Load())}, nil
}

// kafkaOpts are the client options every franz-go consumer here shares,
// those JoinConsumerGroup sets.
func kafkaOpts(b *bench, more ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(b.kafka.Addrs()...), kgo.FetchMaxWait(250 * time.Millisecond)}, more...)
}

// saramaVersion is the protocol version sarama speaks to kfake.
var saramaVersion = sarama.V2_8_0_0

func (saramaCounter) Setup(sarama.ConsumerGroupSession) error { return nil }

func (saramaCounter) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// memprofile is -memprofile (measure's mprof).
var memprofile string

// writeHeap writes the heap profile to name+suffix; nothing without a name.
func writeHeap(name, suffix string) error {
	if name == "" {
		return nil
	}
	f, err := os.Create(name + suffix)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
