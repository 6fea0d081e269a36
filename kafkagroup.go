package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consumergroup/consumergroup/internal/layout"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinKafkaConsumerGroup joins group name as a new member consuming topics
// (nil when config.TopicPattern subscribes by pattern), coordinated by
// Kafka's own group coordinator (no ZooKeeper): Kafka 4, or any cluster
// whose tools should see the group (kafka-consumer-groups.sh, kadm, Kafka
// UIs). brokers are Kafka's bootstrap addresses. The group's
// offsets live in __consumer_offsets. ctx bounds joining, not the group's
// life: Close ends that. A nil config means NewConsumerGroupConfig().
//
// The returned *ConsumerGroup is the same as JoinConsumerGroup's, with the
// same delivery and the same guarantees (see ConsumerGroup); the group
// protocol is ConsumerGroupConfig.GroupProtocol's, run by franz-go's group
// consumer. Fields of the config that only apply to ZooKeeper must be left
// empty (Validate for this constructor names them).
func JoinKafkaConsumerGroup(ctx context.Context, name string, topics []string, brokers []string, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	if ctx == nil {
		return nil, errNilContext("JoinKafkaConsumerGroup")
	}
	cfg, err := prepareConfig(name, topics, config)
	if err != nil {
		return nil, err
	}
	if err := cfg.validateKafka(); err != nil {
		return nil, err
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("%w: JoinKafkaConsumerGroup: no broker address", ErrInvalidArgument)
	}
	for i, b := range brokers {
		if err := layout.CheckAddr(b); err != nil {
			return nil, fmt.Errorf("%w: JoinKafkaConsumerGroup: brokers[%d]: %v", ErrInvalidArgument, i, err)
		}
	}
	// The join, bounded by ctx and by JoinTimeout: the topics, then the
	// first join's outcome.
	jctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	defer cancel()
	// The topics must exist, and KIP-848 needs brokers that speak it
	// (franz-go would fall back to classic silently): ask first, with a
	// client that joins nothing.
	probe, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, cfg.KafkaOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: kafka client: %w", err)
	}
	matching, err := checkKafka(jctx, probe, topics, &cfg)
	probe.Close()
	if err != nil {
		return nil, joinFailed(ctx, jctx, name, cfg.JoinTimeout, err)
	}
	g, kc, err := startKafkaMember(name, topics, brokers, cfg)
	if err != nil {
		return nil, err
	}
	if !matching {
		// A pattern that matches no topic yet: franz-go joins once one
		// appears (its metadata, every MetadataInterval).
		g.log.Info("no topic matches the pattern yet: joining once one does", "pattern", cfg.TopicPattern)
		return g, nil
	}
	if err := kc.awaitJoin(jctx); err != nil {
		kc.abandoned.Store(true) // a short leave: the broker may not answer
		g.Close()
		return nil, joinFailed(ctx, jctx, name, cfg.JoinTimeout, err)
	}
	return g, nil
}

// defaultMetadataMinAge is franz-go's default kgo.MetadataMinAge.
const defaultMetadataMinAge = 5 * time.Second

// startKafkaMember creates the member's client and starts the member.
func startKafkaMember(name string, topics, brokers []string, cfg ConsumerGroupConfig) (*ConsumerGroup, *kafkaCoordinator, error) {
	kc := &kafkaCoordinator{
		ready:      make(chan struct{}),
		joined:     make(chan error, 1),
		held:       make(map[TopicPartition]uint64),
		lastCommit: make(map[TopicPartition]int64),
		suspended:  make(map[TopicPartition]int64),
		known:      make(map[TopicPartition]bool),
		protocol:   cfg.groupProtocol(),
		epoch:      time.Now(),
	}
	client, err := kgo.NewClient(kc.options(name, topics, brokers, cfg)...)
	if err != nil {
		close(kc.ready)
		return nil, nil, fmt.Errorf("consumergroup: kafka client: %w", err)
	}
	g := newMember(client, name, topics, nil, cfg)
	g.ownCl = true
	kc.g, kc.cl = g, client
	kc.session = cfg.SessionTimeout
	if kc.protocol == GroupProtocolClassic {
		if d, ok := client.OptValue(kgo.SessionTimeout).(time.Duration); ok && d > 0 {
			kc.session = d
		}
		// A heartbeat's answer counts once the next is sent (see
		// OnBrokerWrite): the lease needs them well within its two thirds.
		if hb, ok := client.OptValue(kgo.HeartbeatInterval).(time.Duration); ok && hb > kc.session/3 {
			g.log.Warn("kgo.HeartbeatInterval is over a third of the session timeout: the member may stop its partitions for a coordinator that answers (docs/DESIGN.md, Kafka's lease)",
				"heartbeat", hb, "session", kc.session)
		}
	}
	g.startEngine(groupPositioner{client})
	kc.eng = g.deliverer()
	kc.eng.setLease(kc.lease)
	g.run(kc)
	close(kc.ready)
	return g, kc, nil
}

// joinFailed is the error of a join that failed with err: it says when
// JoinTimeout ran out (matching context.DeadlineExceeded), or ctx ended.
func joinFailed(ctx, jctx context.Context, name string, timeout time.Duration, err error) error {
	if jctx.Err() != nil && ctx.Err() == nil {
		return fmt.Errorf("consumergroup: join Kafka group %q: not joined within ConsumerGroupConfig.JoinTimeout (%v): %w (%v)",
			name, timeout, context.DeadlineExceeded, err)
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("consumergroup: join Kafka group %q: %w (%v)", name, ctx.Err(), err)
	}
	return err
}

// awaitJoin waits for the outcome of the first join: nil once the
// coordinator assigned (maybe nothing), the error that ended it (a
// refusal such as INVALID_SESSION_TIMEOUT), or ctx's end.
func (kc *kafkaCoordinator) awaitJoin(ctx context.Context) error {
	select {
	case err := <-kc.joined:
		return err
	case <-ctx.Done():
		if last, ok := kc.lastJoinErr.Load().(joinErr); ok {
			return fmt.Errorf("consumergroup: join Kafka group %q: no assignment yet: %w (last error: %v)", kc.g.name, ctx.Err(), last.err)
		}
		return fmt.Errorf("consumergroup: join Kafka group %q: no assignment yet: %w", kc.g.name, ctx.Err())
	}
}

// firstJoin records the first join's outcome, once: err nil when the
// coordinator assigned. It reports whether this was the first.
func (kc *kafkaCoordinator) firstJoin(err error) bool {
	if !kc.joinedOnce.CompareAndSwap(false, true) {
		return false
	}
	kc.joined <- err
	return true
}

// checkKafka checks that topics exist and, for KIP-848, that the brokers
// support it. matching: some topic is subscribed (a pattern may match none
// yet, and the member then joins once one appears).
func checkKafka(ctx context.Context, cl *kgo.Client, topics []string, cfg *ConsumerGroupConfig) (matching bool, err error) {
	versions, err := brokerVersions(ctx, cl)
	if err != nil {
		return false, err
	}
	return checkKafkaWith(ctx, cl, versions, topics, cfg)
}

// brokerVersions asks the brokers' API versions (those of the broker the
// client asks).
func brokerVersions(ctx context.Context, cl *kgo.Client) (*kmsg.ApiVersionsResponse, error) {
	versions, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(versions.ErrorCode)
	}
	if err != nil {
		return nil, fmt.Errorf("consumergroup: ask the brokers' API versions: %w", err)
	}
	return versions, nil
}

// checkKafkaWith is checkKafka with the brokers' API versions already
// asked.
func checkKafkaWith(ctx context.Context, cl *kgo.Client, versions *kmsg.ApiVersionsResponse, topics []string, cfg *ConsumerGroupConfig) (matching bool, err error) {
	if cfg.TopicPattern == "" && offers(versions, kmsg.DescribeTopicPartitions, 0) {
		if done, err := topicsExist(ctx, cl, topics); done {
			if err != nil {
				return false, err
			}
			return len(topics) > 0, checkProtocol(versions, cfg.groupProtocol())
		}
	}
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return false, fmt.Errorf("consumergroup: read topics from Kafka: %w", err)
	}
	matching = len(topics) > 0
	if cfg.TopicPattern != "" {
		sub := patternSubscription(cfg.TopicPattern)
		for t, d := range details {
			matching = matching || (d.Err == nil && !d.IsInternal && sub.matches(t))
		}
	}
	for _, t := range topics {
		if err := topicErr(t, details[t].Err, details[t].Topic != ""); err != nil {
			return false, err
		}
	}
	return matching, checkProtocol(versions, cfg.groupProtocol())
}

// topicErr is the join's error for topic t, answered with err (nil:
// described) or not at all (!answered).
func topicErr(t string, err error, answered bool) error {
	if !answered || errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("%w: %q does not exist in Kafka", ErrUnknownTopic, t)
	}
	if err != nil {
		return fmt.Errorf("consumergroup: metadata of topic %q: %w", t, err)
	}
	return nil
}

// topicsExist checks that topics exist with DescribeTopicPartitions
// (KIP-966, Kafka 3.8+), asking for one partition of each: a Metadata
// answer names every partition, and a joining member of a fleet need not
// read 10,000 of them twice (its client reads them once to consume). done
// is false when a request failed (a broker of an older version, say): the
// caller asks Metadata instead.
func topicsExist(ctx context.Context, cl *kgo.Client, topics []string) (done bool, err error) {
	// One request per topic: the partition limit counts across topics,
	// so a second topic would come back as a cursor, not an answer.
	errs := make([]error, len(topics))
	var failed atomic.Bool
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, t := range topics {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			req := kmsg.NewPtrDescribeTopicPartitionsRequest()
			rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
			rt.Topic = t
			req.Topics = append(req.Topics, rt)
			req.ResponsePartitionLimit = 1
			resp, err := req.RequestWith(ctx, cl)
			if err != nil {
				failed.Store(true)
				return
			}
			answered := false
			for _, d := range resp.Topics {
				if d.Topic != nil && *d.Topic == t {
					answered = true
					errs[i] = topicErr(t, kerr.ErrorForCode(d.ErrorCode), true)
				}
			}
			if !answered {
				errs[i] = topicErr(t, nil, false)
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return false, nil
	}
	for _, err := range errs {
		if err != nil {
			return true, err
		}
	}
	return true, nil
}

// offers reports whether the brokers' API versions include key at version v.
func offers(versions *kmsg.ApiVersionsResponse, key kmsg.Key, v int16) bool {
	for _, k := range versions.ApiKeys {
		if k.ApiKey == key.Int16() && k.MinVersion <= v && v <= k.MaxVersion {
			return true
		}
	}
	return false
}

// checkProtocol checks, for KIP-848, that the brokers support it.
func checkProtocol(versions *kmsg.ApiVersionsResponse, protocol string) error {
	if protocol != GroupProtocolConsumer || offers(versions, kmsg.ConsumerGroupHeartbeat, 1) {
		return nil
	}
	return fmt.Errorf("%w: ConsumerGroupConfig.GroupProtocol: %q needs brokers with KIP-848 (Kafka 4.0+, ConsumerGroupHeartbeat v1); these do not offer it: use %q",
		ErrInvalidArgument, GroupProtocolConsumer, GroupProtocolClassic)
}

// kafkaCoordinator coordinates the group through Kafka's group coordinator,
// with franz-go's group consumer running the protocol (classic with the
// cooperative-sticky balancer, or KIP-848 with a server-side assignor).
// Our part is the hand-off in franz-go's callbacks, the commits, and
// noticing a coordinator gone silent (see watch). See docs/DESIGN.md for
// the callback guarantees relied on.
type kafkaCoordinator struct {
	g        *ConsumerGroup // identity, config, notifications, observer, goroutines
	eng      deliverer      // the engine, through the seam
	cl       *kgo.Client
	protocol string
	session  time.Duration // how long the coordinator keeps a silent member
	ready    chan struct{} // closed once g, eng and cl are set

	joined      chan error   // the first join's outcome (see awaitJoin), sent once
	joinedOnce  atomic.Bool  // the first join's outcome was sent
	abandoned   atomic.Bool  // the first join failed: leave without waiting long
	lastJoinErr atomic.Value // joinErr: the last error before the first assignment

	heard    atomic.Int64   // stamp (kafkagroup_watch.go): when the last request answered by the coordinator, not fencing the member, was sent
	pending  atomic.Int64   // stamp: when the heartbeat last answered was sent, until that answer is known not to fence (see OnBrokerWrite); 0 when none
	joinSent atomic.Int64   // stamp: when the JoinGroup or SyncGroup now unanswered was written; 0 when none
	epoch    time.Time      // the monotonic origin of heard, pending and joinSent (stamp)
	probed   time.Time      // watch's last probe of a join under way (watch's goroutine only)
	topics   topicsFollower // with a pattern: TOPICS_CHANGED (run's goroutine only)

	// commitMu serializes commits from their plan to their apply (see
	// kafkagroup_commit.go). Taken before mu, never inside it; held while
	// a commit waits on Kafka.
	commitMu sync.Mutex

	// mu serializes franz-go's callbacks, the commits' plans and applies,
	// and watch: the deliverer is never called concurrently. Never held
	// while waiting on Kafka (a revocation holds it while the engine waits
	// for the unit in hand, at most HandoffTimeout).
	mu          sync.Mutex
	held        map[TopicPartition]uint64 // assigned and delivered, with their tenure: a number new at each take (tenures)
	tenures     uint64                    // the last tenure given
	lastCommit  map[TopicPartition]int64  // last committed offsets of held partitions
	suspended   map[TopicPartition]int64  // stopped by watch, with their processed offsets
	known       map[TopicPartition]bool   // assigned to this member before (take): franz-go may resume them from where it fetched them then
	suspendedAt time.Time                 // the last answer before watch suspended
	answeredAt  time.Time                 // when watch first saw an answer after suspendedAt
}

// options are the group client's options: ours, then the user's
// KafkaOptions.
func (kc *kafkaCoordinator) options(name string, topics, brokers []string, cfg ConsumerGroupConfig) []kgo.Opt {
	reset := kgo.NewOffset().AtStart()
	if cfg.InitialOffset == OffsetNewest {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(name),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(reset),
		// A partition assigned while a fetch waits starts with the next
		// fetch: a short wait keeps hand-offs fast (default 5 s).
		kgo.FetchMaxWait(fetchMaxWait),
		// Records are recycled once copied into events (engine_recycle.go).
		kgo.WithPools(recordsPool),
		// Partitions added to a topic (and, with a pattern, topics
		// created or deleted) are seen at the next refresh. franz-go
		// refuses a max age below its min age (5 s by default): a
		// shorter MetadataInterval lowers both.
		kgo.MetadataMaxAge(cfg.MetadataInterval),
		kgo.MetadataMinAge(min(cfg.MetadataInterval, defaultMetadataMinAge)),
		kgo.OnPartitionsAssigned(kc.onAssigned),
		kgo.OnPartitionsRevoked(kc.onRevoked),
		kgo.OnPartitionsLost(kc.onLost),
		kgo.WithHooks(kc),
	}
	opts = append(opts, consumeOptions(topics, &cfg)...)
	sticky := cfg.Strategy == "" || cfg.Strategy == StrategySticky
	switch kc.protocol {
	case GroupProtocolConsumer:
		// The first balancer names the server-side assignor: sticky is
		// Kafka's "uniform", range is "range".
		if sticky {
			opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()))
		} else {
			opts = append(opts, kgo.Balancers(kgo.RangeBalancer()))
		}
		opts = append(opts, kgo.ServerSideBalancer())
	default:
		opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.SessionTimeout(cfg.SessionTimeout))
	}
	if cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(cfg.InstanceID))
	}
	return append(opts, cfg.KafkaOptions...)
}

// wait waits until the group is set up; false when it never was.
func (kc *kafkaCoordinator) wait() bool {
	<-kc.ready
	return kc.g != nil
}

// generation is franz-go's generation (classic) or member epoch (KIP-848).
func (kc *kafkaCoordinator) generation() int {
	_, gen := kc.cl.GroupMetadata()
	return int(gen)
}

// run commits what was processed every CommitInterval, with watch on a
// goroutine of its own (a commit waiting on a silent Kafka must not delay
// it), until ctx ends; then it leaves: the last commit (the unit in hand
// counting as processed), then the leave.
func (kc *kafkaCoordinator) run(ctx context.Context) {
	g := kc.g
	stopWatch := kc.startWatch(ctx)
	commit := time.NewTicker(g.cfg.CommitInterval)
	defer commit.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-commit.C:
			kc.commitProcessed(ctx)
			if g.sub.byPattern() {
				kc.topics.follow(g, kc.cl, kc.generation())
			}
		}
	}
	stopWatch()
	kc.leave()
}

// startWatch runs watch every session timeout / kafkaWatchDivisor until
// ctx ends; the function it returns waits for that.
func (kc *kafkaCoordinator) startWatch(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(kc.session/kafkaWatchDivisor, kafkaWatchMin))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				kc.watch()
			}
		}
	}()
	return func() { <-done }
}

// take records tp as held in a new tenure. kc.mu is held.
func (kc *kafkaCoordinator) take(tp TopicPartition) {
	kc.tenures++
	kc.held[tp] = kc.tenures
	kc.known[tp] = true
}

// leave commits what was processed (the unit in hand counting) and leaves
// the group.
func (kc *kafkaCoordinator) leave() {
	g := kc.g
	leave := g.cfg.HandoffTimeout + kc.session
	if kc.abandoned.Load() {
		leave = abandonedLeave
	}
	lctx, cancel := context.WithTimeout(context.Background(), leave)
	defer cancel()
	g.log.Debug("leaving")
	kc.mu.Lock()
	tps := slices.Collect(maps.Keys(kc.held))
	sortPartitions(tps)
	offsets := kc.eng.closing(tps)
	for tp, off := range kc.suspended {
		offsets[tp] = off
	}
	plan := kc.planLocked(offsets, false)
	clear(kc.suspended)
	clear(kc.held)
	clear(kc.lastCommit)
	kc.mu.Unlock()
	// Revocations during the leave find nothing held: committed here.
	if err := kc.commitRetry(lctx, plan); err != nil {
		g.log.Warn("leaving: commit", "err", err)
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: kc.generation(), Err: fmt.Errorf("commit on Close: %w", err)})
	}
	kc.mu.Lock()
	kc.publish()
	kc.mu.Unlock()
	g.log.Debug("leaving: committed, sending LeaveGroup")
	if err := kc.cl.LeaveGroupContext(lctx); err != nil {
		g.log.Warn("leaving the group", "err", err)
	}
	g.log.Info("left")
}

func (kc *kafkaCoordinator) close() {}

// flatten turns franz-go's partition map into sorted topic-partitions.
func flatten(m map[string][]int32) []TopicPartition {
	var tps []TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			tps = append(tps, TopicPartition{Topic: t, Partition: p})
		}
	}
	sortPartitions(tps)
	return tps
}
