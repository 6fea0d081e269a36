package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/term"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// demoOpts are the demo's flags.
type demoOpts struct {
	messages   int
	partitions int
	members    int
	duration   time.Duration
	work       time.Duration
	plain      bool
	kafka      string // kfake or apache
	serve      string // web view's address, "" for none (demo_serve.go)
}

func runDemo(ctx context.Context, e *env, args []string) error {
	fs, _ := newFlags(e, "demo", "")
	var o demoOpts
	fs.IntVar(&o.messages, "messages", 20000, "messages to produce")
	fs.IntVar(&o.partitions, "partitions", 16, "partitions of the topic at the start")
	fs.IntVar(&o.members, "members", 3, "members at the start")
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "give up after this long")
	fs.DurationVar(&o.work, "work", 100*time.Microsecond, "processing time of one message")
	fs.StringVar(&o.kafka, "kafka", "kfake", "the Kafka to run on: kfake (in-process, 3 brokers) or apache (a real Apache Kafka 3.9 broker in ZooKeeper mode; make demo fetches it)")
	fs.BoolVar(&o.plain, "plain", false, "plain lines instead of the live view (the default when stdout is not a terminal)")
	serve := fs.Bool("serve", false, "also run groupctl serve's web view of the demo and print its URL")
	fs.StringVar(&o.serve, "listen", "127.0.0.1:0", "the web view's address with --serve")
	pos, err := parse(fs, nil, args)
	if err != nil {
		return err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	switch {
	case len(pos) != 0:
		return bad("demo takes no argument")
	case o.messages < 100:
		return bad("--messages must be at least 100")
	case o.partitions < 2:
		return bad("--partitions must be at least 2")
	case o.members < 2:
		return bad("--members must be at least 2 (one leaves, one crashes)")
	case o.duration <= 0 || o.work < 0:
		return bad("--duration must be positive and --work not negative")
	case o.kafka != "kfake" && o.kafka != "apache":
		return bad(fmt.Sprintf("--kafka %q: want kfake or apache", o.kafka))
	}
	if f, ok := e.stdout.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		o.plain = true
	}
	if err := testenv.Installed(); err != nil {
		return err
	}
	if o.kafka == "apache" {
		if _, _, err := testenv.ApacheInstalled(testenv.KindKafka39); err != nil {
			return fmt.Errorf("%w (make demo ARGS=\"--kafka apache\" fetches it)", err)
		}
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	d := &demo{o: o, e: e, start: time.Now(), count: map[int]int{}, firstBy: map[int]string{}, where: map[int]location{}}
	defer d.cleanup()
	if err := d.setup(ctx); err != nil {
		return err
	}
	if *serve {
		linger, err := d.serve(parent, o.serve)
		if err != nil {
			return err
		}
		defer linger()
	}
	err = d.run(ctx)
	d.stopView()
	s := d.summary()
	s.Interrupted = err != nil
	d.printSummary(s)
	if err != nil {
		return err
	}
	if s.Lost > 0 {
		return codeError{fmt.Errorf("%d messages lost", s.Lost), exitError}
	}
	return nil
}

// location is where a message was read.
type location struct {
	tp  consumergroup.TopicPartition
	off int64
}

// demo is one run of the demo.
type demo struct {
	o     demoOpts
	e     *env
	start time.Time

	zk        *testenv.ZooKeeper
	kafka     testenv.Cluster
	stopKafka func() error
	producer  *kgo.Client
	admin     *kadm.Client
	watcher   *consumergroup.ZK
	produced  int
	parts     int32

	mu       sync.Mutex
	members  []*demoMember
	count    map[int]int    // sequence number to times processed
	firstBy  map[int]string // sequence number to the member that processed it first
	where    map[int]location
	distinct int
	events   []string // what happened, for the plain output and the summary
	phase    string
	crash    *crashInfo
	rebal    []rebalance

	viewStop chan struct{}
	viewDone chan struct{}
}

// crashInfo is what the crashed member had processed and committed when its
// session ended: what may be delivered twice.
type crashInfo struct {
	member    string
	committed map[consumergroup.TopicPartition]int64
	processed map[consumergroup.TopicPartition]int64
}

// rebalance is one change of the group and how long the group took to own
// and deliver every partition again.
type rebalance struct {
	what string
	took time.Duration
}

const demoTopic = "demo"
const demoGroup = "demo-group"

func (d *demo) logf(format string, args ...any) {
	msg := fmt.Sprintf("[%6.2fs] ", time.Since(d.start).Seconds()) + fmt.Sprintf(format, args...)
	d.mu.Lock()
	d.events = append(d.events, msg)
	d.mu.Unlock()
	if d.o.plain {
		fmt.Fprintln(d.e.stdout, msg)
	}
}

func (d *demo) setup(ctx context.Context) error {
	var err error
	if d.zk, err = testenv.StartZooKeeper(); err != nil {
		return fmt.Errorf("start ZooKeeper: %w", err)
	}
	d.logf("ZooKeeper %s started (Debian's package, a temporary data dir)", d.zk.Addr())
	d.parts = int32(d.o.partitions)
	if err := d.startKafka(ctx); err != nil {
		return fmt.Errorf("start Kafka: %w", err)
	}
	d.producer, err = kgo.NewClient(kgo.SeedBrokers(d.kafka.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return err
	}
	d.admin = kadm.NewClient(d.producer)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d.watcher, err = consumergroup.DialZK(wctx, consumergroup.ZKConfig{Servers: []string{d.zk.Addr()}})
	return err
}

// startKafka starts the demo's Kafka, registered in its ZooKeeper, with
// the topic created.
func (d *demo) startKafka(ctx context.Context) error {
	if d.o.kafka == "kfake" {
		k, err := testenv.StartKafka([]string{d.zk.Addr()}, "", 3, map[string]int32{demoTopic: d.parts})
		if err != nil {
			return err
		}
		d.kafka, d.stopKafka = k, k.Close
		d.logf("Kafka (kfake, 3 brokers) at %v, registered in ZooKeeper; topic %q with %d partitions", k.Addrs(), demoTopic, d.parts)
		return nil
	}
	started := time.Now()
	a, err := testenv.StartApache(testenv.KindKafka39, []string{d.zk.Addr()}, "")
	if err != nil {
		return err
	}
	d.kafka, d.stopKafka = a, a.Close
	if err := a.CreateTopic(ctx, demoTopic, d.parts); err != nil {
		return err
	}
	d.logf("Kafka (Apache Kafka %s, one broker in ZooKeeper mode, started in %v) at %v, registered in ZooKeeper by itself; topic %q with %d partitions",
		a.Version(), time.Since(started).Round(time.Millisecond), a.Addrs(), demoTopic, d.parts)
	return nil
}

func (d *demo) cleanup() {
	d.mu.Lock()
	members := slices.Clone(d.members)
	d.mu.Unlock()
	for _, m := range members {
		m.close()
	}
	if d.watcher != nil {
		d.watcher.Close()
	}
	if d.producer != nil {
		d.producer.Close()
	}
	if d.stopKafka != nil {
		d.stopKafka()
	}
	if d.zk != nil {
		d.zk.Close()
	}
}

// run is the scenario: members consume while the group changes.
func (d *demo) run(ctx context.Context) error {
	d.startView()
	n := d.o.messages
	share := func(f float64) int { return int(float64(n) * f) }

	d.setPhase("producing")
	if err := d.produce(ctx, share(0.3), true); err != nil {
		return err
	}
	d.setPhase("members join")
	for i := range d.o.members {
		if _, err := d.join(ctx, memberName(i)); err != nil {
			return err
		}
	}
	if err := d.change(ctx, "start", func() error { return nil }); err != nil {
		return err
	}
	steps := []struct {
		phase string
		frac  float64
		act   func() error
	}{
		{"a member joins", 0.2, func() error { _, err := d.join(ctx, memberName(d.o.members)); return err }},
		{"a member leaves gracefully", 0.2, func() error { return d.leave(memberName(0)) }},
		{"a member crashes", 0.15, func() error { return d.crashMember(ctx, memberName(1)) }},
		{"partitions are added", 0.15, func() error { return d.addPartitions(ctx) }},
	}
	for i, s := range steps {
		if err := d.produce(ctx, share(s.frac)/2, false); err != nil {
			return err
		}
		d.setPhase(s.phase)
		if err := d.change(ctx, s.phase, s.act); err != nil {
			return err
		}
		rest := share(s.frac) - share(s.frac)/2
		if i == len(steps)-1 {
			rest = n - d.produced // what is left
		}
		if err := d.produce(ctx, rest, false); err != nil {
			return err
		}
	}
	d.setPhase("draining")
	return d.waitDistinct(ctx, d.produced)
}

func memberName(i int) string { return string(rune('a' + i)) }

func (d *demo) setPhase(p string) {
	d.mu.Lock()
	d.phase = p
	d.mu.Unlock()
	d.logf("phase: %s", p)
}

// produce writes n sequence-numbered messages round-robin over the
// partitions.
func (d *demo) produce(ctx context.Context, n int, bar bool) error {
	const batch = 500
	for done := 0; done < n; {
		k := min(batch, n-done)
		recs := make([]*kgo.Record, k)
		for i := range recs {
			seq := d.produced + i
			recs[i] = &kgo.Record{Topic: demoTopic, Partition: int32(seq) % d.parts, Key: []byte(strconv.Itoa(seq)), Value: []byte(strconv.Itoa(seq))}
		}
		if err := d.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		d.mu.Lock()
		d.produced += k
		d.mu.Unlock()
		done += k
		if bar && d.o.plain && (done == n || done%(batch*10) == 0) {
			fmt.Fprintf(d.e.stdout, "produced %d/%d %s\n", done, n, progressBar(done, n, 30))
		}
	}
	return nil
}

// change runs act and measures how long the group takes to be stable again:
// every partition owned by the member the assignment names.
func (d *demo) change(ctx context.Context, what string, act func() error) error {
	start := time.Now()
	if err := act(); err != nil {
		return err
	}
	time.Sleep(5 * time.Millisecond) // let the change reach ZooKeeper before looking
	for {
		desc, err := consumergroup.DescribeGroup(ctx, d.watcher, nil, demoGroup)
		if err == nil && desc.State == consumergroup.StateStable && allOwned(desc, d.parts) {
			took := time.Since(start)
			d.mu.Lock()
			d.rebal = append(d.rebal, rebalance{what, took})
			d.mu.Unlock()
			d.logf("%s: group stable again after %v (generation %d)", what, took.Round(time.Millisecond), desc.Generation)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: the group did not become stable: %w", what, ctx.Err())
		case <-time.After(10 * time.Millisecond): // the demo polls what it shows
		}
	}
}

func allOwned(desc *consumergroup.GroupDescription, parts int32) bool {
	owned := int32(0)
	for _, p := range desc.Partitions {
		if p.Owner != "" {
			owned++
		}
	}
	return owned >= parts
}

func (d *demo) addPartitions(ctx context.Context) error {
	total := d.parts + d.parts/2
	if err := d.kafka.AddPartitions(ctx, demoTopic, total); err != nil {
		return err
	}
	for {
		d.producer.ForceMetadataRefresh()
		parts, err := d.admin.ListTopics(ctx, demoTopic)
		if err == nil && len(parts[demoTopic].Partitions) == int(total) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(100 * time.Millisecond) // let the producer's metadata catch up
	d.mu.Lock()
	d.parts = total
	d.mu.Unlock()
	d.logf("partitions added: %s has %d", demoTopic, total)
	return nil
}

// waitDistinct waits until n distinct messages were processed.
func (d *demo) waitDistinct(ctx context.Context, n int) error {
	for {
		d.mu.Lock()
		got := d.distinct
		d.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processed %d of %d messages: %w", got, n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// demoSummary is the demo's result.
type demoSummary struct {
	Produced, Processed, Lost    int
	Duplicates, FromCrash        int
	Unexplained, MembersAtTheEnd int
	CrashWindow                  int64
	Interrupted                  bool
	Rebalances                   []rebalance
	Elapsed                      time.Duration
}

func (d *demo) summary() demoSummary {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := demoSummary{Produced: d.produced, Processed: d.distinct, Rebalances: d.rebal, Elapsed: time.Since(d.start)}
	for seq := range d.produced {
		n := d.count[seq]
		if n == 0 {
			s.Lost++
			continue
		}
		if n == 1 {
			continue
		}
		s.Duplicates += n - 1
		l := d.where[seq]
		if c := d.crash; c != nil && d.firstBy[seq] == c.member && l.off >= c.committed[l.tp] && l.off <= c.processed[l.tp] {
			s.FromCrash += n - 1
		} else {
			s.Unexplained += n - 1
		}
	}
	if c := d.crash; c != nil {
		for tp, p := range c.processed {
			if p >= c.committed[tp] {
				s.CrashWindow += p - c.committed[tp] + 1
			}
		}
	}
	for _, m := range d.members {
		if m.state == "active" {
			s.MembersAtTheEnd++
		}
	}
	return s
}

func (d *demo) printSummary(s demoSummary) {
	w := d.e.stdout
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Summary")
	fmt.Fprintf(w, "  produced             %d\n", s.Produced)
	fmt.Fprintf(w, "  processed (distinct) %d\n", s.Processed)
	if s.Interrupted {
		fmt.Fprintf(w, "  not yet processed    %d (interrupted before the end: not lost, still in Kafka)\n", s.Lost)
	} else {
		fmt.Fprintf(w, "  lost                 %d\n", s.Lost)
	}
	fmt.Fprintf(w, "  duplicates           %d (from the crash: %d, inside its uncommitted window of %d; unexplained: %d)\n", s.Duplicates, s.FromCrash, s.CrashWindow, s.Unexplained)
	fmt.Fprintln(w, "  rebalances (from the change until every partition is owned and delivering again):")
	rb := slices.Clone(s.Rebalances)
	for _, r := range rb {
		fmt.Fprintf(w, "    %-28s %v\n", r.what, r.took.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  elapsed              %v\n", s.Elapsed.Round(time.Millisecond))
	if s.Interrupted {
		fmt.Fprintln(w, "  result               interrupted")
	} else if s.Lost == 0 {
		fmt.Fprintln(w, "  result               nothing lost")
	} else {
		fmt.Fprintf(w, "  result               %d MESSAGES LOST\n", s.Lost)
	}
}

// sortedTPs returns the keys of m, sorted.
func sortedTPs[V any](m map[consumergroup.TopicPartition]V) []consumergroup.TopicPartition {
	out := make([]consumergroup.TopicPartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

var errCrashed = errors.New("crashed")
