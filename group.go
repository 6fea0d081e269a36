package consumergroup

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/assign"
	"github.com/consumergroup/consumergroup/internal/layout"
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
	name     string
	topics   []string
	cfg      ConsumerGroupConfig
	log      *slog.Logger
	strategy assign.Strategy
	zk       *ZK // the ZooKeeper coordinator's; nil on Kafka's
	ownZK    bool
	client   *kgo.Client
	ownCl    bool
	admin    *kadm.Client
	listener chan<- *Notification
	dropped  atomic.Int64

	eng   *pump          // the delivery engine; coordinators drive it as a deliverer (see ConsumerGroup.deliverer)
	coord coordinator    // ZooKeeper's or Kafka's
	obs   *observer      // metrics and health
	dual  *dualCommitter // DualCommit's copies to Kafka; nil without

	ctx     context.Context // canceled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // run, pump, claimers
	done    chan struct{}  // closed when run has returned
	closeMu sync.Mutex
	closed  bool

	mu      sync.Mutex // guards the fields below: a snapshot for readers
	id      string     // current consumer id, "" between sessions
	held    []TopicPartition
	commits map[TopicPartition]int64 // last committed offsets of held partitions
}

// JoinConsumerGroup joins group name as a new member consuming topic, with
// ZooKeeper at zookeeper: it discovers Kafka's brokers there (unless
// config.Brokers lists them). As in Kafka's zookeeper.connect, the last
// address may end with the chroot: "zk1:2181", "zk2:2181/kafka". A nil
// config means NewConsumerGroupConfig().
func JoinConsumerGroup(name string, topic string, zookeeper []string, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	return JoinConsumerGroupTopics(context.Background(), name, []string{topic}, zookeeper, config)
}

// JoinConsumerGroupTopics is JoinConsumerGroup for several topics, with a
// context that bounds joining (not the group's life: Close ends that).
func JoinConsumerGroupTopics(ctx context.Context, name string, topics []string, zookeeper []string, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	cfg, err := prepareConfig(name, topics, config)
	if err != nil {
		return nil, err
	}
	if err := cfg.validateZK(); err != nil {
		return nil, err
	}
	if len(zookeeper) == 0 {
		return nil, fmt.Errorf("%w: no ZooKeeper address", ErrInvalidArgument)
	}
	zookeeper, chroot := splitChroot(zookeeper)
	if chroot != "" {
		if own, _ := layout.NormalizeChroot(cfg.ZookeeperChroot); own != "" && own != chroot {
			return nil, fmt.Errorf("%w: chroot %q in the ZooKeeper address and ConsumerGroupConfig.ZookeeperChroot %q differ", ErrInvalidArgument, chroot, cfg.ZookeeperChroot)
		}
		cfg.ZookeeperChroot = chroot
	}
	dctx, cancel := context.WithTimeout(ctx, max(cfg.ZookeeperTimeout, time.Second))
	defer cancel()
	z, err := DialZK(dctx, ZKConfig{
		Servers:        zookeeper,
		Chroot:         cfg.ZookeeperChroot,
		SessionTimeout: cfg.ZookeeperTimeout,
		Auth:           cfg.ZookeeperAuth,
		ACL:            cfg.ZookeeperACL,
		BrokerListener: cfg.BrokerListener,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	brokers := cfg.Brokers
	if len(brokers) == 0 {
		brokers, err = z.Brokers(dctx)
		if len(brokers) == 0 {
			z.Close()
			return nil, fmt.Errorf("consumergroup: discover Kafka brokers in ZooKeeper: %w", err)
		}
	}
	// A partition claimed while a fetch waits starts with the next fetch:
	// a short wait keeps hand-offs fast (franz-go's default is 5 s).
	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.FetchMaxWait(fetchMaxWait)}, cfg.KafkaOptions...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		z.Close()
		return nil, fmt.Errorf("consumergroup: kafka client: %w", err)
	}
	g, err := newGroup(ctx, client, z, name, topics, nil, cfg)
	if err != nil {
		client.Close()
		z.Close()
		return nil, err
	}
	g.ownZK, g.ownCl = true, true
	return g, nil
}

// NewConsumerGroup creates a member of group name consuming topic with a
// franz-go client and a ZK of the caller's, which stay the caller's to
// close after the group. The client must not consume anything itself (no
// ConsumeTopics, ConsumePartitions, ConsumerGroup or regex): the group adds
// and removes partitions as it claims and releases them. Notifications go
// to listener, when not nil, without ever blocking (see Notification).
//
// A partition the group adds while the client waits in a fetch starts with
// the next fetch: give the client a short kgo.FetchMaxWait (JoinConsumerGroup
// uses 250 ms) so that hand-offs stay fast.
func NewConsumerGroup(client *kgo.Client, zoo *ZK, name string, topic string, listener chan *Notification, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	return NewConsumerGroupTopics(context.Background(), client, zoo, name, []string{topic}, listener, config)
}

// NewConsumerGroupTopics is NewConsumerGroup for several topics.
func NewConsumerGroupTopics(ctx context.Context, client *kgo.Client, zoo *ZK, name string, topics []string, listener chan *Notification, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	if client == nil || zoo == nil {
		return nil, fmt.Errorf("%w: NewConsumerGroup needs a client and a ZK", ErrInvalidArgument)
	}
	if g, _ := client.OptValue(kgo.ConsumerGroup).(string); g != "" {
		return nil, fmt.Errorf("%w: the client is a member of Kafka group %q: give a client without kgo.ConsumerGroup", ErrInvalidArgument, g)
	}
	for _, opt := range []struct {
		name string
		fn   any
	}{{"kgo.ConsumeTopics", kgo.ConsumeTopics}, {"kgo.ConsumePartitions", kgo.ConsumePartitions}, {"kgo.ConsumeRegex", kgo.ConsumeRegex}} {
		if set(client.OptValue(opt.fn)) {
			return nil, fmt.Errorf("%w: the client consumes by itself (%s): give a client without it; the group adds and removes partitions", ErrInvalidArgument, opt.name)
		}
	}
	cfg, err := prepareConfig(name, topics, config)
	if err != nil {
		return nil, err
	}
	if err := cfg.validateZK(); err != nil {
		return nil, err
	}
	return newGroup(ctx, client, zoo, name, topics, listener, cfg)
}

func prepareConfig(name string, topics []string, config *ConsumerGroupConfig) (ConsumerGroupConfig, error) {
	if config == nil {
		config = NewConsumerGroupConfig()
	}
	if err := config.Validate(); err != nil {
		return ConsumerGroupConfig{}, err
	}
	if err := layout.CheckName("group", name); err != nil {
		return ConsumerGroupConfig{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if len(topics) == 0 {
		return ConsumerGroupConfig{}, fmt.Errorf("%w: no topic to consume", ErrInvalidArgument)
	}
	for _, t := range topics {
		if err := layout.CheckName("topic", t); err != nil {
			return ConsumerGroupConfig{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
	}
	return *config, nil
}

// newGroup starts a member coordinated through ZooKeeper.
func newGroup(ctx context.Context, client *kgo.Client, z *ZK, name string, topics []string, listener chan *Notification, cfg ConsumerGroupConfig) (*ConsumerGroup, error) {
	var l chan<- *Notification
	if listener != nil {
		l = listener
	}
	g := newMember(client, name, topics, l, cfg)
	g.zk = z
	if !cfg.IgnoreMigration {
		if err := z.checkMigration(ctx, name); err != nil {
			return nil, err
		}
	}
	// The topics must exist: in ZooKeeper or in Kafka.
	if _, err := g.partitionCounts(ctx, nil); err != nil {
		return nil, err
	}
	if cfg.DualCommit {
		g.dual = newDualCommitter(g)
	}
	g.start(directPositioner{client}, &zkCoordinator{g: g})
	if g.dual != nil {
		g.goFunc(g.dual.run)
	}
	return g, nil
}

// newMember returns a member not started yet.
func newMember(client *kgo.Client, group string, topics []string, listener chan<- *Notification, cfg ConsumerGroupConfig) *ConsumerGroup {
	name := cfg.Strategy
	if name == "" {
		name = StrategyRange // ZooKeeper's default
	}
	strategy, _ := assign.ByName(name) // checked by Validate
	g := &ConsumerGroup{
		name:     group,
		topics:   slices.Compact(slices.Sorted(slices.Values(topics))),
		cfg:      cfg,
		log:      cfg.Logger,
		strategy: strategy,
		client:   client,
		admin:    kadm.NewClient(client),
		done:     make(chan struct{}),
		commits:  make(map[TopicPartition]int64),
		listener: listener,
		obs:      newObserver(group, cfg.Metrics),
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

// start starts the engine, positioned by pos, and the coordinator's run.
func (g *ConsumerGroup) start(pos positioner, coord coordinator) {
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if g.zk != nil {
		g.obs.watch(g)
	}
	g.eng = newPump(g.ctx, pos, g.log, g.goFunc, g.obs)
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
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.id
}

// Claims returns the partitions this member holds, of its first topic (as
// the seed, which had one topic per group). See ClaimedPartitions for all.
func (g *ConsumerGroup) Claims() []int32 {
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
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.held)
}

// Offset returns the committed offset of partition of the group's first
// topic: the next offset to consume. See OffsetOf.
func (g *ConsumerGroup) Offset(partition int32) (int64, error) {
	return g.OffsetOf(context.Background(), g.topics[0], partition)
}

// OffsetOf returns the committed offset of a partition.
func (g *ConsumerGroup) OffsetOf(ctx context.Context, topic string, partition int32) (int64, error) {
	return g.coord.offset(ctx, TopicPartition{topic, partition})
}

// Commit commits offset, the next offset to consume (the last processed
// message's plus one), for partition of the group's first topic, by hand.
// The member must hold the partition: the commit is fenced like every other
// (ErrNotOwner otherwise). See CommitOffset.
func (g *ConsumerGroup) Commit(partition int32, offset int64) error {
	return g.CommitOffset(context.Background(), g.topics[0], partition, offset)
}

// CommitOffset commits offset for a partition this member holds (see
// Commit). Later automatic commits start from it.
func (g *ConsumerGroup) CommitOffset(ctx context.Context, topic string, partition int32, offset int64) error {
	tp := TopicPartition{topic, partition}
	t0, offsets := time.Now(), map[TopicPartition]int64{tp: offset}
	err := g.coord.commit(ctx, offsets)
	g.obs.committed(offsets, t0, err)
	if err != nil {
		return err
	}
	g.eng.setProcessed(tp, offset)
	g.mu.Lock()
	g.commits[tp] = offset
	g.mu.Unlock()
	return nil
}

// EventsBehindLatest returns, for each partition of the group's first
// topic, its lag (PartitionLag).
func (g *ConsumerGroup) EventsBehindLatest() (map[int32]int64, error) {
	lag, err := g.Lag(context.Background())
	return lag[g.topics[0]], err
}

// Lag returns, per topic and partition of the group's topics, its lag as
// PartitionLag defines it: the log end offset minus the committed offset,
// the whole log from its start when nothing is committed.
func (g *ConsumerGroup) Lag(ctx context.Context) (map[string]map[int32]int64, error) {
	ends, err := g.admin.ListEndOffsets(ctx, g.topics...)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: list end offsets: %w", err)
	}
	starts, err := g.admin.ListStartOffsets(ctx, g.topics...)
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

// splitChroot splits a chroot suffix off the last address, as Kafka's
// zookeeper.connect writes it: ["a:2181", "b:2181/kafka"].
func splitChroot(servers []string) ([]string, string) {
	out := slices.Clone(servers)
	last := out[len(out)-1]
	if i := strings.IndexByte(last, '/'); i >= 0 {
		out[len(out)-1] = last[:i]
		return out, strings.TrimRight(last[i:], "/")
	}
	return out, ""
}

// set reports whether an option value read with kgo's OptValue is set: a
// non-empty map or slice, or true.
func set(v any) bool {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Map, reflect.Slice:
		return rv.Len() > 0
	case reflect.Bool:
		return rv.Bool()
	}
	return false
}

// goFunc runs f on a goroutine owned by the group: Close waits for it.
func (g *ConsumerGroup) goFunc(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}
