package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/term"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
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
	serveOn    bool   // --serve: run the web view (demo_serve.go)
	serve      string // the web view's address
	output     string
	zookeeper  string // an existing ZooKeeper, instead of starting one
	chroot     string
	// libraryDefaults runs the members with the library's defaults.
	libraryDefaults bool
	coordinator     string // zookeeper or kafka (demo_kafka.go)
	protocol        string // with --coordinator kafka: classic or consumer
	groupType       string // consumer, or share (demo_share.go)
}

// runDemo is demo: it reads the flags, checks that what it starts is
// installed, starts ZooKeeper, Kafka and the members (setup), runs the
// story (run) for at most --duration, and prints its summary.
func runDemo(ctx context.Context, e *env, args []string) error {
	o, err := parseDemo(e, args)
	if err != nil {
		return err
	}
	if o.groupType == groupTypeShare {
		return runShareDemo(ctx, e, o)
	}
	if err := o.prepare(); err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	d := newDemo(o, e)
	defer d.cleanup()
	d.settings.print(d.progress, o)
	if err := d.setup(ctx); err != nil {
		return err
	}
	if o.serveOn {
		linger, err := d.serve(parent, o.serve)
		if err != nil {
			return err
		}
		defer linger()
	}
	err = d.run(ctx)
	d.stopView()
	return d.finish(err)
}

// parseDemo reads the demo's flags and checks them. The output is plain
// (lines, not a view that redraws) unless standard output is a terminal
// and the output is a table.
func parseDemo(e *env, args []string) (demoOpts, error) {
	var o demoOpts
	fs := demoFlags(&o)
	pos, err := parse(fs, nil, args)
	if err != nil {
		return o, err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	switch {
	case len(pos) != 0:
		return o, bad("demo takes no argument")
	case o.messages < 100:
		return o, bad("--messages must be at least 100")
	case o.partitions < 2:
		return o, bad("--partitions must be at least 2")
	case o.members < 2:
		return o, bad("--members must be at least 2 (one leaves, one crashes)")
	case o.duration <= 0 || o.work < 0:
		return o, bad("--duration must be positive and --work not negative")
	case o.kafka != "kfake" && o.kafka != "apache":
		return o, bad(fmt.Sprintf("--kafka %q: want kfake or apache", o.kafka))
	case o.coordinator != coordZooKeeper && o.coordinator != coordKafka:
		return o, bad(fmt.Sprintf("--coordinator %q: want zookeeper or kafka", o.coordinator))
	case o.protocol != consumergroup.GroupProtocolClassic && o.protocol != consumergroup.GroupProtocolConsumer:
		return o, bad(fmt.Sprintf("--group-protocol %q: want classic or consumer", o.protocol))
	case o.output != "table" && o.output != "json":
		return o, bad(fmt.Sprintf("--output must be table or json, not %q", o.output))
	}
	if err := o.checkGroupType(fs); err != nil {
		return o, bad(err.Error())
	}
	if f, ok := e.stdout.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) || o.output == "json" {
		o.plain = true
	}
	return o, nil
}

// prepare checks that what the demo starts is installed (ZooKeeper unless
// --zookeeper, Apache Kafka with --kafka apache), and, on an existing
// ZooKeeper, names a chroot of this run's own unless --chroot does.
func (o *demoOpts) prepare() error {
	if o.zookeeper == "" {
		if err := testenv.Installed(); err != nil {
			return err
		}
	} else if o.chroot == "" {
		o.chroot = fmt.Sprintf("/consumergroup-demo-%d", time.Now().Unix())
	}
	if o.kafka == "apache" {
		if _, _, err := testenv.ApacheInstalled(testenv.KindKafka39); err != nil {
			return fmt.Errorf("%w (make demo ARGS=\"--kafka apache\" fetches it)", err)
		}
	}
	return nil
}

// newDemo returns a run of the demo, starting now. Its progress lines go
// to standard output, or to standard error with --output json.
func newDemo(o demoOpts, e *env) *demo {
	d := &demo{o: o, e: e, start: time.Now(), count: map[int]int{}, firstBy: map[int]string{}, where: map[int]location{},
		delivered: map[consumergroup.TopicPartition]map[string]time.Time{}, settings: newDemoSettings(o.libraryDefaults), progress: e.stdout}
	if o.output == "json" {
		d.progress = e.stderr
	}
	return d
}

// finish prints the summary of the run that ended with err (an
// interrupted run's too), and returns err, or, when messages were lost, an
// error of exit status 1.
func (d *demo) finish(err error) error {
	s := d.summary()
	s.Interrupted = err != nil
	if d.o.output == "json" {
		if jerr := d.printSummaryJSON(s); jerr != nil {
			return jerr
		}
	} else {
		d.printSummary(s)
	}
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
	o        demoOpts
	e        *env
	start    time.Time
	settings demoSettings
	progress io.Writer // where the plain lines go: stdout, or stderr with --output json

	zk        *testenv.ZooKeeper // nil with --zookeeper
	zkAddr    string             // the ZooKeeper servers, comma-separated, and the chroot
	zkServer  string             // the first ZooKeeper server, the members' proxies' target
	kafka     testenv.Cluster
	stopKafka func() error
	producer  *kgo.Client
	admin     *kadm.Client
	watcher   *zookeeper.Client
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
	// delivered is, for each partition, when each member was last given
	// one of its messages: a moved partition delivers again once its new
	// owner is given one.
	delivered map[consumergroup.TopicPartition]map[string]time.Time

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
	what       string
	took       time.Duration
	generation int
	moved      int
}

const demoTopic = "demo"

const demoGroup = "demo-group"

func (d *demo) logf(format string, args ...any) {
	msg := fmt.Sprintf("[%6.2fs] ", time.Since(d.start).Seconds()) + fmt.Sprintf(format, args...)
	d.mu.Lock()
	d.events = append(d.events, msg)
	d.mu.Unlock()
	if d.o.plain {
		fmt.Fprintln(d.progress, msg)
	}
}

func (d *demo) setup(ctx context.Context) error {
	var err error
	servers := strings.Split(d.o.zookeeper, ",")
	if d.o.zookeeper == "" {
		if d.zk, err = testenv.StartZooKeeper(); err != nil {
			return fmt.Errorf("start ZooKeeper: %w", err)
		}
		servers = []string{d.zk.Addr()}
		d.zkAddr = d.zk.Addr() + d.o.chroot
		d.logf("ZooKeeper %s started (%s, a temporary data dir)", d.zkAddr, d.zk.Source())
	} else {
		d.zkAddr = d.o.zookeeper + d.o.chroot
		d.logf("ZooKeeper at %s (--zookeeper; the demo deletes %s at the end)", d.zkAddr, d.o.chroot)
	}
	d.zkServer = servers[0]
	d.logf("while it runs: groupctl describe %s --zookeeper %s", demoGroup, d.zkAddr)
	d.parts = int32(d.o.partitions)
	if err := d.startKafka(ctx, servers); err != nil {
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
	d.watcher, err = zookeeper.Dial(wctx, zookeeper.Config{Servers: servers, Chroot: d.o.chroot})
	if err != nil {
		return fmt.Errorf("ZooKeeper at %s: %w", d.zkAddr, err)
	}
	return nil
}

// startKafka starts the demo's Kafka, registered in its ZooKeeper, with
// the topic created.
func (d *demo) startKafka(ctx context.Context, servers []string) error {
	if d.o.kafka == "kfake" {
		k, err := testenv.StartKafka(servers, d.o.chroot, 3, map[string]int32{demoTopic: d.parts})
		if err != nil {
			return err
		}
		d.kafka, d.stopKafka = k, k.Close
		d.logf("Kafka (kfake, 3 brokers) at %v, registered in ZooKeeper; topic %q with %d partitions", k.Addrs(), demoTopic, d.parts)
		return nil
	}
	started := time.Now()
	a, err := testenv.StartApache(testenv.KindKafka39, servers, d.o.chroot)
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
		if d.o.zookeeper != "" && d.o.chroot != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := d.watcher.DeleteAll(ctx, "/"); err != nil {
				fmt.Fprintf(d.e.stderr, "groupctl demo: deleting %s: %v\n", d.zkAddr, err)
			}
			cancel()
		}
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
			fmt.Fprintf(d.progress, "produced %d/%d %s\n", done, n, progressBar(done, n, 30))
		}
	}
	return nil
}

// change runs act and measures how long the group takes to deliver again:
// every partition owned by the member the assignment names, and every
// partition that changed owner delivering: its new owner was given one of
// its messages (the backlog's, or, for a partition read to its end, one
// produced to it once it is owned).
func (d *demo) change(ctx context.Context, what string, act func() error) error {
	start := time.Now()
	before := d.owners(ctx)
	var genBefore int
	if d.kafkaDemo() {
		_, genBefore, _ = d.kafkaOwners()
	}
	if err := act(); err != nil {
		return err
	}
	time.Sleep(5 * time.Millisecond) // let the change reach ZooKeeper before looking
	var after map[int32]string
	var gen int
	for after == nil {
		if d.kafkaDemo() {
			// Stable, and in a generation after the change's: the members'
			// notifications of the new generation may come after their
			// partitions (ClaimedPartitions) already look settled.
			if owners, g, stable := d.kafkaOwners(); stable && g > genBefore {
				after, gen = owners, g
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: the group did not become stable: %w", what, ctx.Err())
			case <-time.After(10 * time.Millisecond): // the demo polls what it shows
			}
			continue
		}
		desc, err := consumergroup.DescribeGroup(ctx, d.watcher, nil, demoGroup)
		if err == nil && desc.State == consumergroup.StateStable && allOwned(desc, d.parts) {
			after, gen = ownerNames(desc, d.names()), desc.Generation
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: the group did not become stable: %w", what, ctx.Err())
		case <-time.After(10 * time.Millisecond): // the demo polls what it shows
		}
	}
	var moved []int32
	for p, owner := range after {
		if before[p] != owner {
			moved = append(moved, p)
		}
	}
	slices.Sort(moved)
	if err := d.produceTo(ctx, moved); err != nil {
		return err
	}
	for _, p := range moved {
		tp := consumergroup.TopicPartition{Topic: demoTopic, Partition: p}
		for {
			d.mu.Lock()
			at := d.delivered[tp][after[p]]
			d.mu.Unlock()
			if at.After(start) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: partition %d was not delivered by its new owner %s: %w", what, p, after[p], ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	took := time.Since(start)
	d.mu.Lock()
	d.rebal = append(d.rebal, rebalance{what, took, gen, len(moved)})
	d.mu.Unlock()
	d.logf("%s: group stable and delivering again after %v (generation %d; %d partitions moved, each delivered by its new owner)",
		what, took.Round(time.Millisecond), gen, len(moved))
	return nil
}

// owners returns each partition's owner's name ("" for none).
func (d *demo) owners(ctx context.Context) map[int32]string {
	if d.kafkaDemo() {
		owners, _, _ := d.kafkaOwners()
		return owners
	}
	desc, err := consumergroup.DescribeGroup(ctx, d.watcher, nil, demoGroup)
	if err != nil {
		return map[int32]string{}
	}
	return ownerNames(desc, d.names())
}

func ownerNames(desc *consumergroup.GroupDescription, names map[string]string) map[int32]string {
	out := map[int32]string{}
	for _, p := range desc.Partitions {
		if p.Topic == demoTopic && p.Owner != "" {
			out[p.Partition] = names[p.Owner]
		}
	}
	return out
}

// produceTo writes one sequence-numbered message to each of parts.
func (d *demo) produceTo(ctx context.Context, parts []int32) error {
	if len(parts) == 0 {
		return nil
	}
	d.mu.Lock()
	first := d.produced
	d.mu.Unlock()
	recs := make([]*kgo.Record, len(parts))
	for i, p := range parts {
		seq := strconv.Itoa(first + i)
		recs[i] = &kgo.Record{Topic: demoTopic, Partition: p, Key: []byte(seq), Value: []byte(seq)}
	}
	if err := d.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	d.mu.Lock()
	d.produced += len(parts)
	d.mu.Unlock()
	return nil
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
	if d.kafkaDemo() {
		d.logf("(Kafka's coordinator has no watch on a topic: its members find the new partitions at their next metadata refresh, every MetadataInterval, %v)", d.settings.config().MetadataInterval)
	}
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
