package consumergroup_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// batchLog checks the batches every member receives: one topic-partition
// each, offsets increasing, and, across members, each batch of a partition
// starting right after the previous one (none skipped, none repeated), and
// never a batch of a partition while another member processes one of it.
type batchLog struct {
	mu         sync.Mutex
	next       map[cg.TopicPartition]int64  // first offset the next batch must have
	inHand     map[cg.TopicPartition]string // member processing a batch of the partition
	violations []string
	batches    map[string]int // per member
}

func newBatchLog() *batchLog {
	return &batchLog{next: map[cg.TopicPartition]int64{}, inHand: map[cg.TopicPartition]string{}, batches: map[string]int{}}
}

// start checks batch b, received by member, and marks its partition in hand.
func (bl *batchLog) start(member string, b *cg.EventBatch) {
	tp := cg.TopicPartition{Topic: b.Topic, Partition: b.Partition}
	bl.mu.Lock()
	defer bl.mu.Unlock()
	bl.batches[member]++
	bad := func(format string, args ...any) {
		bl.violations = append(bl.violations, fmt.Sprintf("%s: batch %s/%d: ", member, b.Topic, b.Partition)+fmt.Sprintf(format, args...))
	}
	if len(b.Events) == 0 {
		bad("empty")
		return
	}
	if other, busy := bl.inHand[tp]; busy {
		bad("received while %s was processing a batch of the partition", other)
	}
	bl.inHand[tp] = member
	for i, ev := range b.Events {
		if ev.Topic != b.Topic || ev.Partition != b.Partition {
			bad("event %d is of %s/%d", i, ev.Topic, ev.Partition)
		}
		if i > 0 && ev.Offset <= b.Events[i-1].Offset {
			bad("offset %d follows %d", ev.Offset, b.Events[i-1].Offset)
		}
	}
	if first := b.Events[0].Offset; first != bl.next[tp] {
		bad("starts at offset %d, want %d (the previous batch's end)", first, bl.next[tp])
	}
	bl.next[tp] = b.Events[len(b.Events)-1].Offset + 1
}

// end marks the batch's partition as no longer in member's hands.
func (bl *batchLog) end(member string, b *cg.EventBatch) {
	tp := cg.TopicPartition{Topic: b.Topic, Partition: b.Partition}
	bl.mu.Lock()
	defer bl.mu.Unlock()
	if bl.inHand[tp] == member {
		delete(bl.inHand, tp)
	}
}

// consumeBatches reads m's batches until Close closes the channel, hands
// every event to the ledger as member m, and closes m.done at the end. When
// leave is closed, the loop itself closes the group between two batches, as
// the seed's example does: Close counts the batch in hand as processed, so
// it must not be processing one; Close's result goes to closed.
func consumeBatches(m *testMember, batches <-chan *cg.EventBatch, l *ledger, bl *batchLog, leave <-chan struct{}, closed chan<- error) {
	go func() {
		defer close(m.done)
		for {
			select {
			case b, ok := <-batches:
				if !ok {
					return
				}
				bl.start(m.name, b)
				for i := range b.Events {
					l.handle(m, &b.Events[i])
				}
				bl.end(m.name, b)
			case <-leave:
				leave = nil
				closed <- m.group.Close()
			}
		}
	}()
}

// batchFetchOpts keep fetching responsive: a partition claimed while a
// fetch is in flight waits for it.
var batchFetchOpts = []kgo.Opt{kgo.FetchMaxWait(50 * time.Millisecond), kgo.MetadataMinAge(50 * time.Millisecond)}

// TestBatchesGracefulChanges: members consuming with Batches receive every
// message exactly once, in batches of one topic-partition in offset order,
// while a second member joins and the first leaves, with messages flowing;
// the committed offsets are the last processed plus one.
func TestBatchesGracefulChanges(t *testing.T) { forEachKind(t, testBatchesGracefulChanges) }

func testBatchesGracefulChanges(t *testing.T, kind testenv.Kind) {
	topics := map[string]int32{"b1": 4, "b2": 2}
	total := int32(0)
	for _, n := range topics {
		total += n
	}
	c := startClusterKind(t, kind, topics)
	b1, b2, group := c.topic("b1"), c.topic("b2"), c.group("g")
	l := newLedger()
	bl := newBatchLog()
	cfg := groupConfig()
	cfg.KafkaOptions = batchFetchOpts

	// a: created by JoinConsumerGroupTopics, chroot in the address.
	a := &testMember{name: "a", done: make(chan struct{})}
	g, err := cg.JoinConsumerGroupTopics(testCtx(t), group, []string{b1, b2}, c.joinAddrs(cfg), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	a.group = g
	batches := g.Batches()
	if batches == nil {
		t.Fatal("Batches() = nil on a new group")
	}
	if again := g.Batches(); again != batches {
		t.Fatal("a second Batches() returned another channel")
	}
	if s := g.Stream(); s != nil {
		t.Fatal("Stream() after Batches() is not nil")
	}
	called := false
	if err := g.Checkout(func(*cg.PartitionConsumer) error { called = true; return nil }); !errors.Is(err, cg.ErrInvalidArgument) || called {
		t.Fatalf("Checkout after Batches = %v (callback called: %v), want ErrInvalidArgument", err, called)
	}
	leave, closed := make(chan struct{}), make(chan error, 1)
	consumeBatches(a, batches, l, bl, leave, closed)

	c.produce(b1, topics["b1"], 1000)
	c.produce(b2, topics["b2"], 500)
	l.waitProcessed(t, 1500)

	// b joins, created by NewConsumerGroupTopics, while messages flow.
	b := joinBatches(t, c, "b", group, []string{b1, b2}, cfg, l, bl)
	c.produce(b1, topics["b1"], 2000)
	c.produce(b2, topics["b2"], 1000)
	l.waitProcessed(t, 4500)
	waitHolds(t, b, int(total)/2, "b's share after it joined")
	c.produce(b1, topics["b1"], 1000)
	l.waitProcessed(t, 5500)

	// a leaves while messages flow.
	close(leave)
	c.produce(b1, topics["b1"], 2000)
	c.produce(b2, topics["b2"], 1000)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("a's Close did not return")
	}
	waitClosed(t, a.done, "a's loop end")
	waitHolds(t, b, int(total), "every partition after a left")
	c.produce(b1, topics["b1"], 1000)
	l.waitProcessed(t, 9500)
	b.close(t)

	bl.mu.Lock()
	violations := bl.violations
	perMember := fmt.Sprint(bl.batches)
	bl.mu.Unlock()
	if len(violations) > 0 {
		t.Errorf("%d bad batches: %s", len(violations), strings.Join(violations[:min(10, len(violations))], "; "))
	}
	l.mu.Lock()
	var dups []string
	for seq := range 9500 {
		if n := l.count[seq]; n != 1 {
			dups = append(dups, fmt.Sprintf("%d×%d by %v", seq, n, l.by[seq]))
		}
	}
	sort.Strings(dups)
	overlaps := l.overlaps
	bProcessed := len(l.perMember["b"])
	l.mu.Unlock()
	if len(dups) > 0 {
		t.Errorf("%d messages not processed exactly once: %s", len(dups), strings.Join(dups[:min(10, len(dups))], ", "))
	}
	if len(overlaps) > 0 {
		t.Errorf("partitions processed by two members at once: %v", overlaps)
	}
	if bProcessed != int(total) {
		t.Errorf("b processed messages of %d partitions, want all %d", bProcessed, total)
	}
	t.Logf("batches per member: %s", perMember)
	checkClean(t, c, group, l)
}

// joinBatches starts a member created with NewConsumerGroupTopics, with its
// own ZK and client, that consumes with Batches.
func joinBatches(t *testing.T, c *cluster, name, group string, topics []string, cfg *cg.ConsumerGroupConfig, l *ledger, bl *batchLog) *testMember {
	t.Helper()
	m := &testMember{name: name, events: make(chan *cg.Notification, 1000), done: make(chan struct{})}
	m.zk = dialZK(t, c.chroot)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.kafka.Addrs()...)}, batchFetchOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	m.client = cl
	g, err := cg.NewConsumerGroupTopics(testCtx(t), cl, m.zk, group, topics, m.events, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	m.group = g
	batches := g.Batches()
	if g.Stream() != nil {
		t.Fatal("Stream() after Batches() is not nil")
	}
	consumeBatches(m, batches, l, bl, nil, nil)
	return m
}

// waitHolds waits, on m's notifications, until m holds n partitions.
func waitHolds(t *testing.T, m *testMember, n int, what string) {
	t.Helper()
	deadline := time.After(testTimeout)
	for len(m.group.ClaimedPartitions()) != n {
		select {
		case <-m.events:
		case <-deadline:
			t.Fatalf("%s: %s holds %v, want %d partitions", what, m.name, m.group.ClaimedPartitions(), n)
		}
	}
}
