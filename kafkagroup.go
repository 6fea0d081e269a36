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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinKafkaConsumerGroup joins group name as a new member consuming topics,
// coordinated by Kafka's own group coordinator (no ZooKeeper): Kafka 4, or
// any cluster whose tools should see the group (kafka-consumer-groups.sh,
// kadm, Kafka UIs). brokers are Kafka's bootstrap addresses. The group's
// offsets live in __consumer_offsets. ctx bounds joining, not the group's
// life: Close ends that. A nil config means NewConsumerGroupConfig().
//
// The returned *ConsumerGroup is the same as JoinConsumerGroup's, with the
// same delivery and the same guarantees (see ConsumerGroup); the group
// protocol is ConsumerGroupConfig.GroupProtocol's, run by franz-go's group
// consumer. Fields of the config that only apply to ZooKeeper must be left
// empty (Validate for this constructor names them).
func JoinKafkaConsumerGroup(ctx context.Context, name string, topics []string, brokers []string, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
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
		if err := checkAddr(b); err != nil {
			return nil, fmt.Errorf("%w: JoinKafkaConsumerGroup: brokers[%d]: %v", ErrInvalidArgument, i, err)
		}
	}
	// The topics must exist, and KIP-848 needs brokers that speak it
	// (franz-go would fall back to classic silently): ask first, with a
	// client that joins nothing.
	probe, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, cfg.KafkaOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: kafka client: %w", err)
	}
	err = checkKafka(ctx, probe, topics, cfg.groupProtocol())
	probe.Close()
	if err != nil {
		return nil, err
	}
	kc := &kafkaCoordinator{
		ready:      make(chan struct{}),
		held:       make(map[TopicPartition]bool),
		lastCommit: make(map[TopicPartition]int64),
		suspended:  make(map[TopicPartition]int64),
		protocol:   cfg.groupProtocol(),
	}
	client, err := kgo.NewClient(kc.options(name, topics, brokers, cfg)...)
	if err != nil {
		close(kc.ready)
		return nil, fmt.Errorf("consumergroup: kafka client: %w", err)
	}
	g := newMember(client, name, topics, nil, cfg)
	g.ownCl = true
	kc.g, kc.cl = g, client
	kc.session = cfg.SessionTimeout
	if kc.protocol == GroupProtocolClassic {
		if d, ok := client.OptValue(kgo.SessionTimeout).(time.Duration); ok && d > 0 {
			kc.session = d
		}
	}
	g.start(groupPositioner{client}, kc)
	close(kc.ready)
	return g, nil
}

// checkKafka checks that topics exist and, for KIP-848, that the brokers
// support it.
func checkKafka(ctx context.Context, cl *kgo.Client, topics []string, protocol string) error {
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("consumergroup: read topics from Kafka: %w", err)
	}
	for _, t := range topics {
		d, ok := details[t]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("%w: %q does not exist in Kafka", ErrUnknownTopic, t)
		}
		if d.Err != nil {
			return fmt.Errorf("consumergroup: metadata of topic %q: %w", t, d.Err)
		}
	}
	if protocol != GroupProtocolConsumer {
		return nil
	}
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("consumergroup: ask the brokers' API versions: %w", err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == kmsg.ConsumerGroupHeartbeat.Int16() && k.MaxVersion >= 1 {
			return nil
		}
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
	g        *ConsumerGroup
	cl       *kgo.Client
	protocol string
	session  time.Duration // how long the coordinator keeps a silent member
	ready    chan struct{} // closed once g and cl are set

	heard    atomic.Int64 // unix nanos: when the last request answered by the coordinator was sent
	joinSent atomic.Int64 // unix nanos: when the JoinGroup or SyncGroup now unanswered was written; 0 when none
	probed   time.Time    // watch's last probe of a join under way (run's goroutine only)

	// mu serializes franz-go's callbacks, the periodic commit and watch:
	// the deliverer is never called concurrently, and no commit of a
	// partition can run after its revocation returned.
	mu          sync.Mutex
	held        map[TopicPartition]bool  // assigned and delivered
	lastCommit  map[TopicPartition]int64 // last committed offsets of held partitions
	suspended   map[TopicPartition]int64 // stopped by watch, with their processed offsets
	suspendedAt time.Time                // the last answer before watch suspended
	answeredAt  time.Time                // when watch first saw an answer after suspendedAt
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
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(reset),
		// A partition assigned while a fetch waits starts with the next
		// fetch: a short wait keeps hand-offs fast (default 5 s).
		kgo.FetchMaxWait(fetchMaxWait),
		// Partitions added to a topic are seen at the next refresh.
		kgo.MetadataMaxAge(cfg.MetadataInterval),
		kgo.OnPartitionsAssigned(kc.onAssigned),
		kgo.OnPartitionsRevoked(kc.onRevoked),
		kgo.OnPartitionsLost(kc.onLost),
		kgo.WithHooks(kc),
	}
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

// onAssigned starts delivering what the coordinator assigned. franz-go
// calls it before it fetches those partitions, from their committed
// offsets (or ConsumeResetOffset): the engine starts each at the first
// record fetched.
func (kc *kafkaCoordinator) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	if !kc.wait() {
		return
	}
	tps := flatten(assigned)
	if len(tps) == 0 {
		return
	}
	g := kc.g
	kc.mu.Lock()
	defer kc.mu.Unlock()
	gen := kc.generation()
	g.notify(&Notification{Type: REBALANCE_START, Generation: gen})
	// Each partition starts at its committed offset, read here: franz-go
	// may resume a partition this member held before from where it had
	// fetched it then (see groupPositioner.behind). Without one, where
	// franz-go starts it (ConsumeResetOffset): the first record fetched.
	t0 := time.Now()
	committed, err := kc.committed(ctx)
	if err != nil {
		g.log.Warn("assigned: reading the committed offsets", "err", err)
	}
	logWait(g.log, "hand-off: read the committed offsets", time.Since(t0), "partitions", tps)
	starts := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		delete(kc.suspended, tp)
		if kc.held[tp] {
			continue
		}
		kc.held[tp] = true
		starts[tp] = offsetUnknown
		if off, ok := committed[tp.Topic][tp.Partition]; ok {
			starts[tp] = off
			kc.lastCommit[tp] = off
		}
	}
	g.deliverer().assigned(starts)
	kc.publish()
	g.obs.joined()
	g.log.Debug("assigned", "generation", gen, "partitions", tps)
	g.notify(&Notification{Type: REBALANCE_OK, Generation: gen, Claimed: tps})
}

// onRevoked hands revoked partitions over: stop delivering them, wait for
// the unit in the application's hands (HandoffTimeout), commit their
// processed offsets synchronously, and only then return: franz-go holds
// the rebalance (classic) or the revocation's acknowledgement (KIP-848)
// until it does. During Close, the unit in hand counts as processed.
func (kc *kafkaCoordinator) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if !kc.wait() {
		return
	}
	g := kc.g
	kc.mu.Lock()
	defer kc.mu.Unlock()
	var tps []TopicPartition
	offsets := make(map[TopicPartition]int64)
	for _, tp := range flatten(revoked) {
		if off, ok := kc.suspended[tp]; ok {
			// Stopped by watch and not lost after all: commit what
			// was processed before.
			offsets[tp] = off
			delete(kc.suspended, tp)
		}
		if kc.held[tp] {
			tps = append(tps, tp)
		}
	}
	if len(tps) == 0 && len(offsets) == 0 {
		return
	}
	gen := kc.generation()
	if len(tps) > 0 {
		g.notify(&Notification{Type: REBALANCE_START, Generation: gen})
		var processed map[TopicPartition]int64
		var limit time.Duration // what the wait was bounded by; 0 when closing
		t0 := g.obs.handoff()
		if g.ctx.Err() != nil {
			processed = g.deliverer().closing(tps)
		} else {
			limit = g.cfg.HandoffTimeout
			processed = g.handOff(g.deliverer(), tps, gen)
		}
		g.obs.handedOff(tps, t0, limit)
		maps.Copy(offsets, processed)
	}
	tc := time.Now()
	if err := kc.commitRetry(ctx, offsets); err != nil {
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: gen, Err: fmt.Errorf("commit on revocation: %w", err)})
	}
	logWait(g.log, "hand-off: committed on revocation", time.Since(tc), "partitions", tps)
	for _, tp := range tps {
		delete(kc.held, tp)
		delete(kc.lastCommit, tp)
	}
	kc.publish()
	g.log.Debug("revoked", "generation", gen, "partitions", tps)
	if len(tps) > 0 {
		g.notify(&Notification{Type: REBALANCE_OK, Generation: gen, Released: tps})
	}
}

// onLost stops delivering at once and commits nothing: the member was
// fenced (session timed out, generation or epoch moved on, unknown
// member); another member may own the partitions already.
func (kc *kafkaCoordinator) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	if !kc.wait() {
		return
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	tps := slices.Collect(maps.Keys(kc.held))
	clear(kc.suspended)
	if len(tps) == 0 && len(lost) == 0 {
		return
	}
	sortPartitions(tps)
	kc.dropLocked(tps)
	kc.g.log.Warn("lost the group's partitions: stopped them, nothing committed", "partitions", tps)
	kc.g.notify(&Notification{Type: REBALANCE_ERROR, Generation: kc.generation(), Err: fmt.Errorf(
		"%w: %w: Kafka's group coordinator fenced this member (session timed out, or its generation or epoch is over): %d partitions stopped, nothing committed for them",
		ErrSessionExpired, ErrNotOwner, len(tps))})
}

// dropLocked stops tps at once; kc.mu is held.
func (kc *kafkaCoordinator) dropLocked(tps []TopicPartition) {
	kc.g.deliverer().lost(tps)
	for _, tp := range tps {
		delete(kc.held, tp)
		delete(kc.lastCommit, tp)
	}
	kc.publish()
}

// publish refreshes the snapshot read by Claims and ID. kc.mu is held.
func (kc *kafkaCoordinator) publish() {
	held := slices.Collect(maps.Keys(kc.held))
	sortPartitions(held)
	id, _ := kc.cl.GroupMetadata()
	g := kc.g
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = held
	g.id = id
	clear(g.commits)
	maps.Copy(g.commits, kc.lastCommit)
	g.obs.held(held)
}

// run commits what was processed every CommitInterval and watches the
// coordinator's answers, until ctx ends; then it leaves: the last commit
// (the unit in hand counting as processed), then the leave.
func (kc *kafkaCoordinator) run(ctx context.Context) {
	g := kc.g
	commit := time.NewTicker(g.cfg.CommitInterval)
	defer commit.Stop()
	watch := time.NewTicker(max(kc.session/kafkaWatchDivisor, kafkaWatchMin))
	defer watch.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-commit.C:
			kc.commitProcessed(ctx)
		case <-watch.C:
			kc.watch()
		}
	}
	lctx, cancel := context.WithTimeout(context.Background(), g.cfg.HandoffTimeout+kc.session)
	defer cancel()
	g.log.Debug("leaving")
	kc.mu.Lock()
	tps := slices.Collect(maps.Keys(kc.held))
	sortPartitions(tps)
	offsets := g.deliverer().closing(tps)
	for tp, off := range kc.suspended {
		offsets[tp] = off
	}
	clear(kc.suspended)
	if err := kc.commitRetry(lctx, offsets); err != nil {
		g.log.Warn("leaving: commit", "err", err)
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: kc.generation(), Err: fmt.Errorf("commit on Close: %w", err)})
	}
	clear(kc.held)
	clear(kc.lastCommit)
	kc.publish()
	kc.mu.Unlock()
	// Revocations during the leave find nothing held: committed above.
	g.log.Debug("leaving: committed, sending LeaveGroup")
	if err := kc.cl.LeaveGroupContext(lctx); err != nil {
		g.log.Warn("leaving the group", "err", err)
	}
	g.log.Info("left")
}

// commitProcessed commits the processed offsets of the held partitions
// that moved since the last commit.
func (kc *kafkaCoordinator) commitProcessed(ctx context.Context) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	offsets := kc.g.deliverer().processed()
	for tp := range offsets {
		if !kc.held[tp] {
			delete(offsets, tp)
		}
	}
	if err := kc.commitSync(ctx, offsets); err != nil && ctx.Err() == nil {
		kc.g.notify(&Notification{Type: REBALANCE_ERROR, Generation: kc.generation(), Err: err})
	}
}

// commitSync commits offsets that differ from the last commit, skipping
// unknown ones (nothing fetched yet), and waits for the answer. kc.mu is
// held. Fencing errors match ErrNotOwner.
func (kc *kafkaCoordinator) commitSync(ctx context.Context, offsets map[TopicPartition]int64) error {
	req := make(map[string]map[int32]kgo.EpochOffset)
	n := 0
	for tp, off := range offsets {
		if off < 0 {
			continue
		}
		if c, ok := kc.lastCommit[tp]; ok && c == off {
			continue
		}
		if req[tp.Topic] == nil {
			req[tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		req[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
		n++
	}
	if n == 0 {
		return nil
	}
	var errs []error
	t0 := time.Now()
	sent := make(map[TopicPartition]int64, n)
	for t, ps := range req {
		for p, o := range ps {
			sent[TopicPartition{t, p}] = o.Offset
		}
	}
	defer func() { kc.g.obs.committed(sent, t0, errors.Join(errs...)) }()
	kc.cl.CommitOffsetsSync(ctx, req, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			errs = append(errs, kafkaErr(fmt.Sprintf("commit %d offsets", n), err))
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				tp := TopicPartition{t.Topic, p.Partition}
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					errs = append(errs, kafkaErr(fmt.Sprintf("commit %s/%d", tp.Topic, tp.Partition), err))
					continue
				}
				if kc.held[tp] {
					kc.lastCommit[tp] = req[t.Topic][p.Partition].Offset
				}
			}
		}
	})
	kc.publishCommits()
	kc.g.log.Debug("committed", "offsets", sent, "errs", len(errs))
	return errors.Join(errs...)
}

// commitRetry is commitSync for a revocation or Close: a commit refused
// because a rebalance is completing (REBALANCE_IN_PROGRESS, the classic
// protocol while the group waits for its leader's SyncGroup) or because the
// member's epoch moved on meanwhile (STALE_MEMBER_EPOCH, KIP-848 before
// KIP-1251: the next heartbeat brings the new epoch, which the next try
// uses) is tried again, for at most HandoffTimeout; what was committed is
// not sent again. kc.mu is held.
func (kc *kafkaCoordinator) commitRetry(ctx context.Context, offsets map[TopicPartition]int64) error {
	deadline := time.Now().Add(kc.g.cfg.HandoffTimeout)
	for {
		err := kc.commitSync(ctx, offsets)
		if err == nil || !retriableCommit(err) || time.Now().After(deadline) {
			return err
		}
		kc.g.log.Debug("commit on revocation: a rebalance is completing, trying again", "err", err)
		t := time.NewTimer(commitRetryBackoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// publishCommits refreshes the committed offsets' snapshot. kc.mu is held.
func (kc *kafkaCoordinator) publishCommits() {
	kc.g.mu.Lock()
	defer kc.g.mu.Unlock()
	clear(kc.g.commits)
	maps.Copy(kc.g.commits, kc.lastCommit)
}

// kafkaErr wraps a Kafka error of op; the coordinator's fencing errors
// match ErrNotOwner.
func kafkaErr(op string, err error) error {
	switch {
	case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.UnknownMemberID),
		errors.Is(err, kerr.FencedMemberEpoch), errors.Is(err, kerr.StaleMemberEpoch),
		errors.Is(err, kerr.FencedInstanceID), errors.Is(err, kerr.RebalanceInProgress):
		return fmt.Errorf("consumergroup: %s: %w: %w", op, ErrNotOwner, err)
	}
	return fmt.Errorf("consumergroup: %s: %w", op, err)
}

// commit is a manual commit: fenced by our own record of what is held,
// then by the coordinator's generation or epoch.
func (kc *kafkaCoordinator) commit(ctx context.Context, offsets map[TopicPartition]int64) error {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	for tp := range offsets {
		if !kc.held[tp] {
			return fmt.Errorf("consumergroup: commit %s/%d: %w", tp.Topic, tp.Partition, ErrNotOwner)
		}
	}
	for tp := range offsets {
		delete(kc.lastCommit, tp) // commit even when unchanged
	}
	return kc.commitSync(ctx, offsets)
}

func (kc *kafkaCoordinator) offset(ctx context.Context, tp TopicPartition) (int64, error) {
	all, err := kc.committed(ctx)
	if err != nil {
		return 0, err
	}
	off, ok := all[tp.Topic][tp.Partition]
	if !ok {
		return 0, fmt.Errorf("consumergroup: offset of %s/%d in group %q: %w", tp.Topic, tp.Partition, kc.g.name, ErrNoNode)
	}
	return off, nil
}

func (kc *kafkaCoordinator) committed(ctx context.Context) (map[string]map[int32]int64, error) {
	resp, err := kc.g.admin.FetchOffsets(ctx, kc.g.name)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: fetch the offsets of group %q: %w", kc.g.name, err)
	}
	out := make(map[string]map[int32]int64)
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = make(map[int32]int64)
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out, nil
}

func (kc *kafkaCoordinator) close() {}

// flatten turns franz-go's partition map into sorted topic-partitions.
func flatten(m map[string][]int32) []TopicPartition {
	var tps []TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			tps = append(tps, TopicPartition{t, p})
		}
	}
	sortPartitions(tps)
	return tps
}

// retriableCommit reports whether a refused commit may succeed when tried
// again by the same member.
func retriableCommit(err error) bool {
	return errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.StaleMemberEpoch)
}
