package consumergroup

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ConsumerGroup is one member of a consumer group: it reads the partitions
// the group assigns it, of one or more topics, and hands them over when the
// group changes. Create it with JoinConsumerGroup (or NewConsumerGroup with
// your own clients) and Close it when done.
//
// Messages are delivered through exactly one of Next/Poll (the pull API:
// the application asks for the next message or batch), Stream, Batches or
// Checkout (the seed's), whichever is called first. Delivery is at least once: no message is lost;
// graceful rebalances and Close deliver nothing twice, but for a message
// still in the application's hands when a hand-off's HandoffTimeout runs
// out (announced by HANDOFF_TIMEOUT); after a crash, what was processed but
// not yet committed (at most CommitInterval's worth) is delivered again to
// the partition's next owner.
type ConsumerGroup struct {
	name   string
	topics []string     // the topics listed; nil with a pattern
	sub    subscription // the topics, or ConsumerGroupConfig.TopicPattern
	// matched: with a pattern, the matching topics as the coordinator last
	// learned them (ZooKeeper's published assignment); nil on Kafka's
	// coordinator, where the client knows them (GetConsumeTopics).
	matched  atomic.Pointer[[]string]
	cfg      ConsumerGroupConfig
	log      *slog.Logger
	client   *kgo.Client // fetches: directly (ZooKeeper) or as the Kafka group's member
	ownCl    bool
	admin    *kadm.Client
	listener chan<- *Notification
	dropped  atomic.Int64

	eng   *pump       // the delivery engine; coordinators drive it as a deliverer (see ConsumerGroup.deliverer)
	share *shareGroup // set on a share group (JoinKafkaShareGroup), which has no eng and no coord
	coord coordinator // ZooKeeper's or Kafka's: owns the membership and its state
	obs   *observer   // metrics and health

	ctx     context.Context // canceled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // run, pump, the coordinator's goroutines
	done    chan struct{}  // closed when run has returned
	closeMu sync.Mutex
	closed  bool

	member membership // what ID and Claims return, set by the coordinator
}

// membership is the member's place in the group as the application reads
// it (ID, Claims, ClaimedPartitions). The coordinator owns the state and
// publishes a copy here; readers never wait for the coordinator.
type membership struct {
	mu   sync.Mutex // guards the fields below; taken inside the coordinators' locks, never around them
	id   string     // current member id, "" between sessions
	held []TopicPartition
}

// set publishes the member's id and the partitions it holds (sorted).
func (m *membership) set(id string, held []TopicPartition) {
	m.mu.Lock()
	m.id, m.held = id, held
	m.mu.Unlock()
}

// setID publishes the member's id alone.
func (m *membership) setID(id string) {
	m.mu.Lock()
	m.id = id
	m.mu.Unlock()
}

// setHeld publishes the partitions the member holds alone (sorted).
func (m *membership) setHeld(held []TopicPartition) {
	m.mu.Lock()
	m.held = held
	m.mu.Unlock()
}

// get returns the published id and a copy of the held partitions.
func (m *membership) get() (string, []TopicPartition) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id, slices.Clone(m.held)
}

// newMember returns a member not started yet.
func newMember(client *kgo.Client, group string, topics []string, listener chan<- *Notification, cfg ConsumerGroupConfig) *ConsumerGroup {
	g := &ConsumerGroup{
		name:     group,
		topics:   slices.Compact(slices.Sorted(slices.Values(topics))),
		sub:      staticSubscription(slices.Compact(slices.Sorted(slices.Values(topics)))),
		cfg:      cfg,
		log:      cfg.Logger,
		client:   client,
		admin:    kadm.NewClient(client),
		done:     make(chan struct{}),
		listener: listener,
		obs:      newObserver(group, cfg.Metrics),
	}
	if cfg.TopicPattern != "" {
		g.sub = patternSubscription(cfg.TopicPattern)
	}
	if g.listener == nil {
		g.listener = cfg.Notifications
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.log = g.log.With("group", group)
	return g
}

// startEngine creates the group's context, canceled by Close, and its
// delivery engine, positioned by pos. The coordinator is made next, with
// the engine (g.eng), and started by run.
func (g *ConsumerGroup) startEngine(pos positioner) {
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.eng = newPump(g.ctx, pos, g.log, g.goFunc, g.obs)
}

// run starts the coordinator's run on a goroutine of the group's; Done is
// closed when it returns.
func (g *ConsumerGroup) run(coord coordinator) {
	g.coord = coord
	g.goFunc(func() {
		defer close(g.done)
		coord.run(g.ctx)
	})
}

// notify sends n to the listener without blocking.
func (g *ConsumerGroup) notify(n *Notification) {
	n.Src = g
	g.obs.notified(n)
	if n.Type == REBALANCE_ERROR {
		g.log.Warn("rebalance error", "generation", n.Generation, "err", n.Err)
	}
	if g.listener == nil {
		return
	}
	select {
	case g.listener <- n:
	default:
		g.dropped.Add(1)
	}
}

// DroppedNotifications returns how many notifications were dropped because
// the listener's channel was full.
func (g *ConsumerGroup) DroppedNotifications() int64 { return g.dropped.Load() }

// Name returns the group's name.
func (g *ConsumerGroup) Name() string { return g.name }

// ID returns the member's current consumer id ("" while it has no session).
// It changes each time the member registers again after losing its session.
func (g *ConsumerGroup) ID() string {
	id, _ := g.member.get()
	return id
}

// Claims returns the partitions this member holds, of its first topic (as
// the seed, which had one topic per group). See ClaimedPartitions for all,
// and for a group subscribed by pattern, which has no first topic (Claims
// returns nil).
func (g *ConsumerGroup) Claims() []int32 {
	if len(g.topics) == 0 {
		return nil
	}
	var ps []int32
	for _, tp := range g.ClaimedPartitions() {
		if tp.Topic == g.topics[0] {
			ps = append(ps, tp.Partition)
		}
	}
	return ps
}

// ClaimedPartitions returns the partitions this member holds, sorted.
func (g *ConsumerGroup) ClaimedPartitions() []TopicPartition {
	_, held := g.member.get()
	return held
}

// Offset returns the committed offset of partition of the group's first
// topic: the next offset to consume. See OffsetOf (a group subscribed by
// pattern has no first topic: Offset returns ErrInvalidArgument).
func (g *ConsumerGroup) Offset(partition int32) (int64, error) {
	if g.share != nil {
		return 0, g.share.refuse("Offset", "no member commits offsets; Kafka keeps each message's state")
	}
	if len(g.topics) == 0 {
		return 0, errPatternFirstTopic("Offset", "OffsetOf")
	}
	return g.OffsetOf(context.Background(), g.topics[0], partition)
}

// OffsetOf returns the committed offset of a partition.
func (g *ConsumerGroup) OffsetOf(ctx context.Context, topic string, partition int32) (int64, error) {
	if g.share != nil {
		return 0, g.share.refuse("OffsetOf", "no member commits offsets; Kafka keeps each message's state (kadm's DescribeShareGroupOffsets reads the group's start offsets)")
	}
	return g.coord.offset(ctx, TopicPartition{Topic: topic, Partition: partition})
}

// Commit commits offset, the next offset to consume (the last processed
// message's plus one), for partition of the group's first topic, by hand.
// The member must hold the partition: the commit is fenced like every other
// (ErrNotOwner otherwise). See CommitOffset (a group subscribed by pattern
// has no first topic: Commit returns ErrInvalidArgument).
func (g *ConsumerGroup) Commit(partition int32, offset int64) error {
	if g.share != nil {
		return g.share.refuse("Commit", "acknowledge messages instead (MarkDone, Release, Reject)")
	}
	if len(g.topics) == 0 {
		return errPatternFirstTopic("Commit", "CommitOffset")
	}
	return g.CommitOffset(context.Background(), g.topics[0], partition, offset)
}

// CommitOffset commits offset for a partition this member holds (see
// Commit). Later automatic commits start from it.
func (g *ConsumerGroup) CommitOffset(ctx context.Context, topic string, partition int32, offset int64) error {
	if g.share != nil {
		return g.share.refuse("CommitOffset", "acknowledge messages instead (MarkDone, Release, Reject)")
	}
	tp := TopicPartition{Topic: topic, Partition: partition}
	t0, offsets := time.Now(), map[TopicPartition]int64{tp: offset}
	err := g.coord.commit(ctx, offsets)
	g.obs.committed(offsets, t0, err)
	if err != nil {
		return err
	}
	g.eng.setProcessed(tp, offset)
	return nil
}

// EventsBehindLatest returns, for each partition of the group's first
// topic, its lag (PartitionLag); see Lag (a group subscribed by pattern
// has no first topic: EventsBehindLatest returns ErrInvalidArgument).
func (g *ConsumerGroup) EventsBehindLatest() (map[int32]int64, error) {
	if g.share != nil {
		return nil, g.share.refuse("EventsBehindLatest", "no member commits offsets (kadm's DescribeShareGroupOffsets reports the group's lag)")
	}
	if len(g.topics) == 0 {
		return nil, errPatternFirstTopic("EventsBehindLatest", "Lag")
	}
	lag, err := g.Lag(context.Background())
	return lag[g.topics[0]], err
}

// Lag returns, per topic and partition of the group's topics, its lag as
// PartitionLag defines it: the log end offset minus the committed offset,
// the whole log from its start when nothing is committed. A group
// subscribed by pattern reports the topics it matches as its member last
// learned them.
func (g *ConsumerGroup) Lag(ctx context.Context) (map[string]map[int32]int64, error) {
	if g.share != nil {
		return nil, g.share.refuse("Lag", "no member commits offsets (kadm's DescribeShareGroupOffsets reports the group's lag)")
	}
	topics := g.subscribedTopics()
	if len(topics) == 0 {
		return map[string]map[int32]int64{}, nil
	}
	ends, err := g.admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: list end offsets: %w", err)
	}
	starts, err := g.admin.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: list start offsets: %w", err)
	}
	committed, cerr := g.coord.committed(ctx)
	if committed == nil {
		return nil, cerr
	}
	out := make(map[string]map[int32]int64)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = make(map[int32]int64)
		}
		out[o.Topic][o.Partition] = PartitionLag(committedOr(committed, o.Topic, o.Partition), listedOr(starts, o.Topic, o.Partition), o.Offset)
	})
	return out, cerr
}

// committedOr returns the committed offset of topic/partition, -1 when
// there is none.
func committedOr(committed map[string]map[int32]int64, topic string, partition int32) int64 {
	if c, ok := committed[topic][partition]; ok {
		return c
	}
	return -1
}

// listedOr returns the listed offset of topic/partition, -1 when it was
// not listed or its listing failed.
func listedOr(l kadm.ListedOffsets, topic string, partition int32) int64 {
	if o, ok := l.Lookup(topic, partition); ok && o.Err == nil {
		return o.Offset
	}
	return -1
}

// Close leaves the group gracefully: it stops delivering, commits what was
// delivered (the message in hand counts as processed), releases its
// partitions, deregisters, closes Stream or Batches, and returns when
// nothing of the group is left running. It is idempotent. The clients given
// to NewConsumerGroup are not closed.
func (g *ConsumerGroup) Close() error {
	g.closeMu.Lock()
	defer g.closeMu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	if g.share != nil {
		return g.share.close()
	}
	g.eng.shutdown()
	g.cancel()
	g.wg.Wait()
	g.obs.closed()
	g.eng.closeOutputs()
	g.coord.close()
	if g.ownCl {
		g.client.Close()
	}
	return nil
}

// Done returns a channel closed when the member has left the group (after
// Close).
func (g *ConsumerGroup) Done() <-chan struct{} { return g.done }

// goFunc runs f on a goroutine owned by the group: Close waits for it.
func (g *ConsumerGroup) goFunc(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}

// subscribedTopics returns the topics the member consumes, sorted: the
// listed ones, or those its pattern matches as the coordinator last
// learned them.
func (g *ConsumerGroup) subscribedTopics() []string {
	if !g.sub.byPattern() {
		return g.topics
	}
	if p := g.matched.Load(); p != nil {
		return *p
	}
	return slices.Sorted(slices.Values(g.client.GetConsumeTopics()))
}
