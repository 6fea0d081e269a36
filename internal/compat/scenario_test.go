package compat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/internal/zk"
)

// The scenario's topic and group.
const (
	topic      = "compat"
	group      = "compat-group"
	partitions = 8
	perRound   = 400 // messages produced before each of the two memberships
)

// waitTimeout bounds each wait of the scenario: a join and a rebalance on
// 2 busy cores, against a JVM that may still be warming up.
const waitTimeout = time.Minute

// run is one scenario on one target.
type run struct {
	t        *testing.T
	e        *env
	conn     *zk.Conn // a raw connection, to read the layout as other tools do
	producer *kgo.Client
	produced map[int32]int64 // messages produced per partition: the log ends

	mu   sync.Mutex
	seen map[int]int // times each produced sequence number was delivered
	bad  []string    // deliveries that break the scenario's expectations
}

// member is one member of the group, consuming with Next on a goroutine of
// its own until Close.
type member struct {
	name string
	g    *cg.ConsumerGroup
	done chan struct{}
	err  error // Next's last error other than ErrClosed; read after done
	left bool  // leave ran: the test's goroutine only
}

// scenario: two members join and share the partitions, consume and commit;
// one leaves (the other takes its partitions), one joins (it takes some), everything produced is
// delivered exactly once (every change is graceful), and the nodes that
// Burrow and Kafka's own tools read (ids, owners, offsets) say so at each
// step, byte for byte as Kafka's own consumer wrote them. Where Burrow is
// installed, it reads the group's offsets too: scenario says whether it did.
// Then a group of widePartitions is described and read (readWideGroup):
// batched reads where the server takes them, never a request that would
// close the connection where it does not.
func scenario(t *testing.T, e *env) (burrowRead bool) {
	r := newRun(t, e)
	bw := r.startBurrow()
	r.produce(perRound)
	a, b := r.join("a"), r.join("b")
	r.waitLayout("a and b share the partitions", a, b)
	r.waitDelivered(perRound)
	r.waitOffsets("a and b commit")

	r.leave(a)
	r.waitLayout("b holds every partition after a left", b)
	r.produce(perRound)
	c := r.join("c")
	r.waitLayout("b and c share the partitions after a left and c joined", b, c)
	r.waitDelivered(2 * perRound)
	r.waitOffsets("b and c commit")

	r.leave(b)
	r.leave(c)
	r.waitLayout("every member left")
	if err := r.offsetsMatch(); err != nil {
		t.Fatalf("after every member left: %v", err)
	}
	r.checkExactlyOnce()
	r.readWideGroup()
	if bw != nil {
		r.waitFor("Burrow reads the group's offsets", func() error { return r.burrowOffsetsMatch(bw) })
	}
	return bw != nil
}

func newRun(t *testing.T, e *env) *run {
	producer, err := kgo.NewClient(kgo.SeedBrokers(e.kafka.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	return &run{t: t, e: e, conn: testenv.RawZKAt(t, e.servers), producer: producer,
		produced: map[int32]int64{}, seen: map[int]int{}}
}

// produce writes n messages, the next sequence numbers, over the
// partitions in turn.
func (r *run) produce(n int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var total int64
	for _, c := range r.produced {
		total += c
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		seq := int(total) + i
		p := int32(seq % partitions)
		recs[i] = &kgo.Record{Topic: topic, Partition: p, Value: []byte(strconv.Itoa(seq))}
		r.produced[p]++
	}
	if err := r.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		r.t.Fatalf("produce: %v", err)
	}
}

// join adds a member, consuming with Next and counting each message.
func (r *run) join(name string) *member {
	r.t.Helper()
	cfg := cg.NewConsumerGroupConfig()
	cfg.ZookeeperTimeout = 10 * time.Second
	cfg.CommitInterval = 100 * time.Millisecond
	cfg.MetadataInterval = 200 * time.Millisecond
	cfg.Logger = testenv.Logger()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	g, err := cg.JoinConsumerGroupTopics(ctx, group, []string{topic}, []string{r.e.servers[0] + r.e.chroot}, cfg)
	if err != nil {
		r.t.Fatalf("member %s: join: %v", name, err)
	}
	m := &member{name: name, g: g, done: make(chan struct{})}
	r.t.Cleanup(func() { r.leave(m) })
	go func() {
		defer close(m.done)
		for {
			ev, err := g.Next(context.Background())
			if err != nil {
				if !errors.Is(err, cg.ErrClosed) {
					m.err = err
				}
				return
			}
			r.record(m, ev)
		}
	}()
	return m
}

// record counts a delivery.
func (r *run) record(m *member, ev *cg.ConsumerEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq, err := strconv.Atoi(string(ev.Value))
	if err != nil || ev.Topic != topic || ev.Partition != int32(seq%partitions) {
		r.bad = append(r.bad, fmt.Sprintf("member %s: %s/%d@%d holds %q", m.name, ev.Topic, ev.Partition, ev.Offset, ev.Value))
		return
	}
	r.seen[seq]++
}

// leave closes m and waits for its loop to end; later calls do nothing.
func (r *run) leave(m *member) {
	r.t.Helper()
	if m.left {
		return
	}
	m.left = true
	if err := m.g.Close(); err != nil {
		r.t.Errorf("member %s: close: %v", m.name, err)
	}
	select {
	case <-m.done:
	case <-time.After(waitTimeout):
		r.t.Fatalf("member %s: Next did not return within %v of Close", m.name, waitTimeout)
	}
	if m.err != nil {
		r.t.Errorf("member %s: Next: %v", m.name, m.err)
	}
}

// waitFor polls cond until it returns nil, failing the test with its last
// error after waitTimeout.
func (r *run) waitFor(what string, cond func() error) {
	r.t.Helper()
	testenv.WaitFor(r.t, waitTimeout, what, cond)
}

// waitLayout waits until members hold every partition between them, each
// some, none twice, and the ids and owners nodes say exactly that.
func (r *run) waitLayout(what string, members ...*member) {
	r.t.Helper()
	r.waitFor(what, func() error {
		holder := map[int32]*member{}
		for _, m := range members {
			held := m.g.ClaimedPartitions()
			if len(held) == 0 {
				return fmt.Errorf("member %s holds nothing", m.name)
			}
			for _, tp := range held {
				if other, ok := holder[tp.Partition]; ok || tp.Topic != topic {
					return fmt.Errorf("%v held by %s and %v", tp, m.name, other)
				}
				holder[tp.Partition] = m
			}
		}
		if len(members) > 0 && len(holder) != partitions {
			return fmt.Errorf("%d of %d partitions held", len(holder), partitions)
		}
		return r.layoutMatches(members, holder)
	})
}

// waitDelivered waits until every one of the first n messages was delivered.
func (r *run) waitDelivered(n int) {
	r.t.Helper()
	r.waitFor(fmt.Sprintf("%d messages delivered", n), func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for seq := range n {
			if r.seen[seq] == 0 {
				return fmt.Errorf("message %d not delivered (%d distinct of %d)", seq, len(r.seen), n)
			}
		}
		return nil
	})
}

// waitOffsets waits until the offsets nodes hold the log ends.
func (r *run) waitOffsets(what string) {
	r.t.Helper()
	r.waitFor(what, r.offsetsMatch)
}

// checkExactlyOnce fails the test unless every message produced was
// delivered exactly once: every change of the scenario is graceful.
func (r *run) checkExactlyOnce() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bad {
		r.t.Error(b)
	}
	var twice []int
	for seq, n := range r.seen {
		if n != 1 {
			twice = append(twice, seq)
		}
	}
	slices.Sort(twice)
	if len(twice) > 0 || len(r.seen) != 2*perRound {
		r.t.Fatalf("%d distinct messages delivered of %d; delivered more than once: %v", len(r.seen), 2*perRound, twice)
	}
}
