package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// The demo of a share group (--group-type share, issue 22): a queue on
// Kafka 4's share groups (JoinKafkaShareGroup), on kfake. More members than
// partitions all get work; every poisonEvery-th message fails twice (its
// handler releases it: delivered again with its count + 1) and is rejected
// at its third delivery; every slowEvery-th message takes longer than the
// record lock, which the group renews; a member joins, one leaves
// gracefully, one crashes (its Kafka connections cut: its locks run out at
// the broker). The summary says nothing was lost and accounts for every
// redelivery and every message processed twice.

const (
	groupTypeConsumer = "consumer"
	groupTypeShare    = "share"
)

// The share demo's broker settings (kfake's group.share.* configs) and its
// story's rhythm.
const (
	shareDemoLock  = 3 * time.Second // the record lock: a crashed member's records come back after it
	shareDemoLimit = 5               // Kafka's delivery-count limit: above the handler's 3 attempts
	poisonEvery    = 997             // every poisonEvery-th message fails twice, then is rejected
	poisonTries    = 3               // deliveries of a poison message: released twice, rejected at the third
	slowEvery      = 1000            // every slowEvery-th message takes slowWork
	slowWork       = shareDemoLock * 3 / 2
)

// checkGroupType checks --group-type and, for a share group, the flags
// that do not apply to it, and gives it its own defaults (4 members on 2
// partitions) where --members and --partitions were not given.
func (o *demoOpts) checkGroupType(fs *flag.FlagSet) error {
	switch o.groupType {
	case groupTypeConsumer:
		return nil
	case groupTypeShare:
	default:
		return fmt.Errorf("--group-type %q: want consumer or share", o.groupType)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"coordinator", "group-protocol", "zookeeper", "chroot", "library-defaults", "serve", "listen"} {
		if set[name] {
			return fmt.Errorf("--%s does not apply to --group-type share (a share group lives on Kafka's coordinator, on kfake here)", name)
		}
	}
	if set["kafka"] && o.kafka != "kfake" {
		return fmt.Errorf("--kafka %s: --group-type share runs on kfake (the demo's Apache Kafka is 3.9, without share groups)", o.kafka)
	}
	if !set["members"] {
		o.members = 4
	}
	if !set["partitions"] {
		o.partitions = 2
	}
	return nil
}

// shareDemo is one run of the share group demo.
type shareDemo struct {
	o        demoOpts
	e        *env
	start    time.Time
	progress io.Writer

	cluster  *kfake.Cluster
	producer *kgo.Client

	mu         sync.Mutex
	members    []*shareDemoMember
	produced   int
	deliveries map[int][]shareDelivery // sequence number to its deliveries, in order
	processed  map[int][]string        // sequence number to the members that processed it
	rejected   map[int]bool
	crashed    string // the crashed member's name
	left       string // the member that left gracefully
	events     []string
	// unexplained describes the duplicates and redeliveries the summary
	// cannot put down to the poison messages, the crash or a Close.
	unexplained []string
}

// shareDelivery is one delivery of a message to a member.
type shareDelivery struct {
	member string
	count  int32 // its DeliveryCount
}

// shareDemoMember is one member of the demo's share group.
type shareDemoMember struct {
	name  string
	group *consumergroup.ConsumerGroup
	cut   *demoCutter
	done  chan struct{} // its loop ended
	once  sync.Once

	// Guarded by shareDemo.mu.
	state     string // active, left, crashed
	processed int

	counts consumergroup.ShareCounts // at its end: written in close's once, read after close
}

// runShareDemo is demo --group-type share.
func runShareDemo(ctx context.Context, e *env, o demoOpts) error {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	d := &shareDemo{o: o, e: e, start: time.Now(), progress: e.stdout,
		deliveries: map[int][]shareDelivery{}, processed: map[int][]string{}, rejected: map[int]bool{}}
	if o.output == "json" {
		d.progress = e.stderr
	}
	defer d.cleanup()
	d.printSettings()
	if err := d.setup(); err != nil {
		return err
	}
	err := d.run(ctx)
	return d.finish(ctx, err)
}

func (d *shareDemo) logf(format string, args ...any) {
	msg := fmt.Sprintf("[%6.2fs] ", time.Since(d.start).Seconds()) + fmt.Sprintf(format, args...)
	d.mu.Lock()
	d.events = append(d.events, msg)
	d.mu.Unlock()
	fmt.Fprintln(d.progress, msg)
}

// printSettings prints what the share demo runs with.
func (d *shareDemo) printSettings() {
	w := d.progress
	fmt.Fprintln(w, "A share group (Kafka 4's queues, KIP-932) on kfake, through JoinKafkaShareGroup:")
	fmt.Fprintf(w, "  members / partitions / messages   %d / %d / %d (more members than partitions: all get work)\n", d.o.members, d.o.partitions, d.o.messages)
	fmt.Fprintf(w, "  record lock (broker)              %v (a crashed member's messages come back after it)\n", shareDemoLock)
	fmt.Fprintf(w, "  delivery-count limit (broker)     %d\n", shareDemoLimit)
	fmt.Fprintf(w, "  poison messages                   every %dth: released at deliveries 1 and 2, rejected at %d\n", poisonEvery, poisonTries)
	fmt.Fprintf(w, "  slow messages                     every %dth: %v of work, longer than the lock: the group renews it\n", slowEvery, slowWork)
	fmt.Fprintf(w, "  work per message                  %v\n\n", d.o.work)
}

// setup starts kfake with share groups and the demo's topic, and the
// producer.
func (d *shareDemo) setup() error {
	var err error
	d.cluster, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(d.o.partitions), demoTopic),
		kfake.BrokerConfigs(map[string]string{
			"group.share.record.lock.duration.ms": strconv.Itoa(int(shareDemoLock.Milliseconds())),
			"share.record.lock.sweep.interval.ms": "100",
			"group.share.delivery.count.limit":    strconv.Itoa(shareDemoLimit),
			"group.share.heartbeat.interval.ms":   "250",
			"group.share.session.timeout.ms":      "3000",
		}))
	if err != nil {
		return fmt.Errorf("start kfake: %w", err)
	}
	d.logf("Kafka (kfake, share groups) at %v; topic %q with %d partitions", d.cluster.ListenAddrs(), demoTopic, d.o.partitions)
	d.producer, err = kgo.NewClient(kgo.SeedBrokers(d.cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond))
	return err
}

func (d *shareDemo) cleanup() {
	d.mu.Lock()
	members := slices.Clone(d.members)
	d.mu.Unlock()
	for _, m := range members {
		m.close()
	}
	if d.producer != nil {
		d.producer.Close()
	}
	if d.cluster != nil {
		d.cluster.Close()
	}
}

// run is the story: a backlog, members join, one more joins, one leaves,
// one crashes, the rest is produced and drained.
func (d *shareDemo) run(ctx context.Context) error {
	n := d.o.messages
	part := func(f float64) int { return int(float64(n) * f) }
	if err := d.produce(ctx, part(0.3)); err != nil {
		return err
	}
	for i := range d.o.members {
		if err := d.join(ctx, memberName(i)); err != nil {
			return err
		}
	}
	steps := []struct {
		what string
		act  func() error
	}{
		{"a member joins", func() error { return d.join(ctx, memberName(d.o.members)) }},
		{"a member leaves gracefully", func() error { return d.leave(memberName(0)) }},
		{"a member crashes", func() error { return d.crash(memberName(1)) }},
	}
	for _, s := range steps {
		if err := d.produce(ctx, part(0.2)); err != nil {
			return err
		}
		if err := d.waitFinished(ctx, d.produced/2); err != nil {
			return err
		}
		d.logf("phase: %s", s.what)
		if err := s.act(); err != nil {
			return err
		}
	}
	if err := d.produce(ctx, n-d.produced); err != nil {
		return err
	}
	d.logf("phase: draining (every message processed or rejected)")
	return d.waitFinished(ctx, n)
}

// produce writes n sequence-numbered messages round-robin over the
// partitions.
func (d *shareDemo) produce(ctx context.Context, n int) error {
	for done := 0; done < n; {
		k := min(500, n-done)
		recs := make([]*kgo.Record, k)
		for i := range recs {
			seq := d.produced + i
			recs[i] = &kgo.Record{Topic: demoTopic, Partition: int32(seq % d.o.partitions), Value: []byte(strconv.Itoa(seq))}
		}
		if err := d.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		d.mu.Lock()
		d.produced += k
		d.mu.Unlock()
		done += k
	}
	return nil
}

// waitFinished waits until n distinct messages were processed or rejected.
func (d *shareDemo) waitFinished(ctx context.Context, n int) error {
	for {
		d.mu.Lock()
		finished := len(d.processed) + len(d.rejected)
		d.mu.Unlock()
		if finished >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processed or rejected %d of %d messages: %w", finished, n, ctx.Err())
		case <-time.After(20 * time.Millisecond): // the demo polls what it shows
		}
	}
}

// join starts a member: JoinKafkaShareGroup, its Kafka connections through
// a cutter (so that it can crash), and its loop.
func (d *shareDemo) join(ctx context.Context, name string) error {
	m := &shareDemoMember{name: name, cut: &demoCutter{conns: map[net.Conn]bool{}}, done: make(chan struct{}), state: "active"}
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.KafkaOptions = []kgo.Opt{kgo.Dialer(m.cut.DialContext), kgo.FetchMaxWait(100 * time.Millisecond)}
	if path := os.Getenv("GROUPCTL_DEMO_LOG"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			cfg.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})).With("member", name)
		}
	}
	g, err := consumergroup.JoinKafkaShareGroup(ctx, demoGroup, []string{demoTopic}, d.cluster.ListenAddrs(), cfg)
	if err != nil {
		return fmt.Errorf("member %s: %w", name, err)
	}
	m.group = g
	d.mu.Lock()
	d.members = append(d.members, m)
	d.mu.Unlock()
	go d.consume(m)
	d.logf("member %s joined", name)
	return nil
}

// consume is a member's loop: Next, and the handler.
func (d *shareDemo) consume(m *shareDemoMember) {
	defer close(m.done)
	for {
		ev, err := m.group.Next(context.Background())
		if err != nil {
			return // ErrClosed: the member left or crashed
		}
		d.handle(m, ev)
	}
}

// handle is the processing of one message: a poison message fails (it is
// released) until its poisonTries-th delivery, which rejects it; a slow one
// works past its lock (the group renews it); the others are accepted.
func (d *shareDemo) handle(m *shareDemoMember, ev *consumergroup.ConsumerEvent) {
	seq, err := strconv.Atoi(string(ev.Value))
	if err != nil {
		d.logf("member %s: message %s/%d@%d holds %q, not a sequence number", m.name, ev.Topic, ev.Partition, ev.Offset, ev.Value)
		return
	}
	d.mu.Lock()
	d.deliveries[seq] = append(d.deliveries[seq], shareDelivery{m.name, ev.DeliveryCount})
	d.mu.Unlock()
	switch {
	case seq%poisonEvery == poisonEvery-1 && ev.DeliveryCount < poisonTries:
		d.finish1(m, seq, ev, m.group.Release(ev), "release")
		return
	case seq%poisonEvery == poisonEvery-1:
		d.finish1(m, seq, ev, m.group.Reject(ev), "reject")
		return
	case seq%slowEvery == slowEvery-1:
		time.Sleep(slowWork) // the work of a slow message, past its lock
	case d.o.work > 0:
		time.Sleep(d.o.work) // the work of processing a message
	}
	d.finish1(m, seq, ev, m.group.MarkDone(ev), "accept")
}

// finish1 records what the handler did with message seq.
func (d *shareDemo) finish1(m *shareDemoMember, seq int, ev *consumergroup.ConsumerEvent, err error, what string) {
	if err != nil {
		if !errors.Is(err, consumergroup.ErrClosed) {
			d.logf("member %s: %s of message %d (delivery %d): %v", m.name, what, seq, ev.DeliveryCount, err)
		}
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch what {
	case "accept":
		d.processed[seq] = append(d.processed[seq], m.name)
		m.processed++
	case "reject":
		d.rejected[seq] = true
	}
}

func (d *shareDemo) member(name string) (*shareDemoMember, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.members {
		if m.name == name && m.state == "active" {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no active member %s", name)
}

// leave closes a member gracefully: the message in hand is accepted, the
// ones fetched and not handed out are released (delivered again, unseen),
// its acknowledgements are flushed.
func (d *shareDemo) leave(name string) error {
	m, err := d.member(name)
	if err != nil {
		return err
	}
	m.close()
	d.mu.Lock()
	m.state, d.left = "left", name
	d.mu.Unlock()
	d.logf("member %s left gracefully", name)
	return nil
}

// crash cuts a member's Kafka connections: its acknowledgements not yet
// sent are lost with it, and the broker gives its messages to the others
// once their locks run out.
func (d *shareDemo) crash(name string) error {
	m, err := d.member(name)
	if err != nil {
		return err
	}
	m.cut.cut()
	d.mu.Lock()
	m.state, d.crashed = "crashed", name
	d.mu.Unlock()
	d.logf("member %s crashed: its Kafka connections are cut; its messages come back once their locks (%v) run out", name, shareDemoLock)
	go m.close() // nothing it acknowledges reaches Kafka any more
	return nil
}

// close ends the member (once) and keeps its counts.
func (m *shareDemoMember) close() {
	m.once.Do(func() {
		m.group.Close()
		<-m.done
		counts, _ := m.group.ShareCounts()
		m.counts = counts
	})
}
