package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Share groups (KIP-932, Kafka 4.2+): the members of a share group read the
// same partitions together; Kafka hands each record to one member under a
// time-limited acquisition lock, and the member acknowledges it: accepted
// (done), released (delivered again, to any member, with its delivery count
// + 1) or rejected (archived, never delivered again). A record whose lock
// runs out, or whose member leaves or dies, is delivered again. franz-go's
// share consumer runs the protocol (kgo.ShareGroup); this file joins and
// leaves, sharegroup_deliver.go hands records to the application and
// acknowledges them, sharegroup_lock.go renews and expires the locks of the
// records held, sharegroup_observe.go counts.
//
// A share group is a *ConsumerGroup whose share field is set: the methods
// that mean the same for the application (Next, Poll, Stream, Batches,
// MarkDone, MarkBatchDone, Close, Health, notifications, Metrics) dispatch
// to the shareGroup at their top; the partition engine (pump) and the
// coordinators are not used: no partition is owned, nothing committed.

// JoinKafkaShareGroup joins share group name as a new member consuming
// topics (Kafka 4.2+ with share groups enabled: the cluster's share.version
// feature at 1 or more). brokers are Kafka's bootstrap addresses. ctx
// bounds joining, not the group's life: Close ends that. A nil config means
// NewConsumerGroupConfig().
//
// The *ConsumerGroup returned delivers as every group does (Next, Poll,
// Stream, Batches), with a share group's rules:
//
//   - Taking the next message (or batch) accepts the previous one, unless it
//     was marked otherwise (Kafka's implicit acknowledgement); MarkDone
//     (MarkBatchDone) accepts at once; Release hands a message back, to be
//     delivered again to any member with its DeliveryCount + 1; Reject
//     archives it: never delivered again.
//   - Each message is locked for this member until its AcquisitionDeadline.
//     The group renews the locks of the messages it holds when two thirds
//     of a lock have passed (Kafka 4.2+): those waiting in its buffer, and
//     the message in hand (see ConsumerGroupConfig.ShareManualRenew); Renew
//     renews by hand. A message that is not renewed is released shortly
//     before its lock runs out, never acknowledged late (Kafka would refuse
//     its partition's other acknowledgements with it): LOCK_EXPIRED, Kafka
//     delivers it again, and MarkDone, Release, Reject and Renew of it
//     return ErrLockExpired.
//   - With Stream and Batches, the next fetch waits until every message of
//     the previous one is finished (taken past, or marked): call MarkDone
//     (MarkBatchDone) on the last message of a fetch, or use Next or Poll,
//     which need no marks.
//   - Close accepts the message in hand (as on every group, it counts as
//     processed), releases the messages fetched but not handed out, flushes
//     the acknowledgements and leaves the group.
//
// Refused on a share group, with an error matching ErrShareGroup: Checkout,
// PollRecords, MarkRecordsDone, Commit, CommitOffset, Offset, OffsetOf, Lag
// and EventsBehindLatest (no partition is owned, no offset committed by
// members: Kafka keeps each message's state). Claims and ClaimedPartitions
// return nothing, for the same reason.
//
// The fields of config that do not apply are refused, naming them:
// ZooKeeper's, Strategy, GroupProtocol, InstanceID, DualCommit, and
// CheckoutInterval, HandoffTimeout, CommitInterval and SessionTimeout when
// changed from their defaults. InitialOffset applies: where the group starts
// reading a partition it never read (Kafka's share.auto.offset.reset, a
// group config): the join sets it unless it is set already (the operator's
// value wins). The record lock duration and the delivery-count limit are
// group configs too (share.record.lock.duration.ms,
// share.delivery.count.limit), the operator's.
//
// Brokers without share groups (Kafka 3.9, or a 4.x cluster whose
// share.version is not enabled) are refused with an error matching
// ErrShareGroupsUnavailable; the name of a group of another type (classic,
// consumer, streams) with ErrInvalidArgument. ID returns "" (franz-go does
// not tell the share member's id).
//
// The group is the broker's queue: messages are not in order, and each is
// delivered at least once. A message reaches the application twice only when
// its lock ran out, it was released, its member died or lost its connection
// holding it, or Kafka refused an acknowledgement (ShareCounts says which).
// Graceful joins and leaves deliver nothing twice.
func JoinKafkaShareGroup(ctx context.Context, name string, topics []string, brokers []string, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	if ctx == nil {
		return nil, errNilContext("JoinKafkaShareGroup")
	}
	cfg, err := prepareConfig(name, topics, config)
	if err != nil {
		return nil, err
	}
	if err := cfg.validateShare(); err != nil {
		return nil, err
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("%w: JoinKafkaShareGroup: no broker address", ErrInvalidArgument)
	}
	for i, b := range brokers {
		if err := layout.CheckAddr(b); err != nil {
			return nil, fmt.Errorf("%w: JoinKafkaShareGroup: brokers[%d]: %v", ErrInvalidArgument, i, err)
		}
	}
	jctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	defer cancel()
	// The probe asks before the member's client exists (the group's start
	// must be set before a member fetches). It is a share client with no
	// topic, which never joins: franz-go refuses the share options of
	// KafkaOptions (kgo.ShareMaxRecords, ...) on a client without ShareGroup.
	probe, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ShareGroup(name)}, cfg.KafkaOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: kafka client: %w", err)
	}
	var matching, renew bool
	versions, err := brokerVersions(jctx, probe)
	if err == nil {
		matching, err = checkKafkaWith(jctx, probe, versions, topics, &cfg)
	}
	if err == nil {
		renew, err = checkShare(versions)
	}
	if err == nil {
		err = checkShareName(jctx, probe, name, cfg.Logger)
	}
	if err == nil {
		err = shareStart(jctx, probe, name, cfg)
	}
	probe.Close()
	if err != nil {
		return nil, joinFailed(ctx, jctx, name, cfg.JoinTimeout, err)
	}
	g, sg, err := startShareMember(name, topics, brokers, cfg, renew)
	if err != nil {
		return nil, err
	}
	if !matching {
		return g, nil // a pattern matching no topic yet: franz-go joins once one appears
	}
	if err := sg.awaitJoin(jctx); err != nil {
		g.Close()
		return nil, joinFailed(ctx, jctx, name, cfg.JoinTimeout, err)
	}
	return g, nil
}

// shareMaxRecords is what one fetch asks for (kgo.ShareMaxRecords; each poll
// takes all franz-go holds): franz-go's and Kafka's default. Smaller
// fetches cost much more CPU (the broker sends whole record batches, which
// franz-go decodes whole: docs/BENCHMARKS.md); the records behind a slow
// message wait for it, renewed (sharegroup_lock.go). A kgo.ShareMaxRecords
// in KafkaOptions overrides it.
const shareMaxRecords = 500

// shareGroup is a member of a share group: its franz-go share consumer and
// the state of the records it holds (see sharegroup_deliver.go).
type shareGroup struct {
	g          *ConsumerGroup // identity, config, notifications, observer, goroutines
	cl         *kgo.Client
	maxRecords int
	autoRenew  bool          // the unit in hand is renewed (not ShareManualRenew)
	canRenew   bool          // the brokers renew locks (Kafka 4.2+)
	lockDur    time.Duration // the longest lock seen at a poll; owned by the poller (pullMu)
	sm         ShareMetrics  // g.cfg.Metrics as ShareMetrics, or nil

	ready     chan struct{} // closed once g and cl are set: the hooks wait for it
	joined    chan struct{} // closed at the first heartbeat answered
	joinOnce  sync.Once
	lastErr   atomic.Value // error: the last group error before the join
	heardAt   atomic.Int64 // unix nanos: the last heartbeat answered (sharegroup_watch.go)
	hbEvery   atomic.Int64 // nanoseconds between the last two heartbeats answered
	silent    atomic.Bool  // the coordinator's silence was reported (once until heard again)
	failing   atomic.Bool  // a heartbeat failure was reported (once until heard again)
	stallOnce sync.Once    // the warning of a Stream loop that holds the next fetch back
	isolating atomic.Bool  // the late records' releases are being sent alone (isolate)

	// pullMu serializes the takes (Next, Poll, the Stream and Batches
	// goroutine); it is held while polling franz-go, taken outside mu.
	pullMu sync.Mutex

	//////////////
	// mu block //
	//////////////

	// mu guards the fields below, and every held record's state. Taken
	// inside pullMu, never around it; under it the member calls franz-go's
	// MarkAcks (which takes only franz-go's per-partition ack lock, and
	// runs ShareAckCallback on a goroutine of its own), notify and the
	// observer (their own locks), and ShareMetrics. franz-go's callbacks
	// (acked, the hooks) take it, never inside a lock of franz-go's that
	// MarkAcks takes.
	mu        sync.Mutex
	mode      int                 // modeNone, modePull, modeStream, modeBatches
	closed    bool                // Close began: hand nothing out
	buf       []*heldRecord       // fetched, not handed out yet, in order
	hand      []*heldRecord       // the unit in the application's hands (one record, or a batch)
	ahead     []*heldRecord       // Stream, Batches: the unit taken, being sent
	polled    []*heldRecord       // every record of the last poll (franz-go accepts the unfinished ones at the next)
	change    chan struct{}       // closed and replaced when a record is finished, if waiting
	waiting   bool                // a goroutine waits on change
	accepts   []*kgo.Record       // accepted, not marked to franz-go yet (ackLocked)
	stream    chan *ConsumerEvent // Stream's, set once by choose
	batches   chan *EventBatch    // Batches', set once by choose
	outClosed bool                // stream or batches closed
	counts    ShareCounts
}

// startShareMember creates the member's share consumer and starts the
// member: its lock keeper (sharegroup_lock.go).
func startShareMember(name string, topics, brokers []string, cfg ConsumerGroupConfig, renew bool) (*ConsumerGroup, *shareGroup, error) {
	sg := &shareGroup{
		ready:     make(chan struct{}),
		joined:    make(chan struct{}),
		change:    make(chan struct{}),
		autoRenew: !cfg.ShareManualRenew,
		canRenew:  renew,
	}
	sg.sm, _ = cfg.Metrics.(ShareMetrics)
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ShareGroup(name),
		kgo.ShareMaxRecords(shareMaxRecords),
		kgo.MaxConcurrentFetches(0), // fetch only while polling: see sharegroup_lock.go
		kgo.MetadataMaxAge(cfg.MetadataInterval),
		kgo.WithHooks(sg),
		kgo.ShareAckCallback(sg.acked),
	}
	opts = append(opts, consumeOptions(topics, &cfg)...)
	client, err := kgo.NewClient(append(opts, cfg.KafkaOptions...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("consumergroup: kafka client: %w", err)
	}
	sg.maxRecords = shareMaxRecords
	if n, ok := client.OptValue(kgo.ShareMaxRecords).(int32); ok && n > 0 {
		sg.maxRecords = int(n)
	}
	g := newMember(client, name, topics, nil, cfg)
	g.ownCl = true
	g.share = sg
	sg.g, sg.cl = g, client
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.obs.health.setNoPartitions(false) // a share member owns none, and needs none
	g.goFunc(func() { sg.keepLocks(g.ctx) })
	close(sg.ready)
	return g, sg, nil
}

// awaitJoin waits for the coordinator's first answer to the member's
// heartbeat, or ctx's end.
func (sg *shareGroup) awaitJoin(ctx context.Context) error {
	select {
	case <-sg.joined:
		return nil
	case <-ctx.Done():
		if err, ok := sg.lastErr.Load().(error); ok {
			return fmt.Errorf("consumergroup: join share group %q: %w (last error: %v)", sg.g.name, ctx.Err(), err)
		}
		return fmt.Errorf("consumergroup: join share group %q: no answer from the group coordinator: %w", sg.g.name, ctx.Err())
	}
}

// acked is franz-go's report of acknowledgements sent: a partition whose
// acknowledgements Kafka refused is logged and counted (AckErrors): its
// records are delivered again when their locks run out.
func (sg *shareGroup) acked(_ *kgo.Client, results kgo.ShareAckResults) {
	<-sg.ready
	for _, r := range results {
		if r.Err == nil {
			continue
		}
		if sg.isolating.Load() && errors.Is(r.Err, kerr.InvalidRecordState) {
			sg.g.log.Info("share group: Kafka had released already the messages released late", "topic", r.Topic, "partition", r.Partition)
			continue
		}
		sg.mu.Lock()
		sg.counts.AckErrors++
		sg.report(r.Topic, r.Partition, ShareCounts{AckErrors: 1})
		sg.mu.Unlock()
		sg.g.log.Warn("share group: Kafka refused acknowledgements; their records are delivered again", "topic", r.Topic, "partition", r.Partition, "err", r.Err)
	}
}

// checkShare checks that the brokers offer share groups: the
// ShareGroupHeartbeat API, and the share.version feature enabled when the
// broker lists its finalized features. It reports whether they renew
// locks (ShareAcknowledge v2, KIP-1222: Kafka 4.2+).
func checkShare(resp *kmsg.ApiVersionsResponse) (renew bool, err error) {
	heartbeat := false
	for _, k := range resp.ApiKeys {
		heartbeat = heartbeat || k.ApiKey == kmsg.ShareGroupHeartbeat.Int16()
		renew = renew || k.ApiKey == kmsg.ShareAcknowledge.Int16() && k.MaxVersion >= 2
	}
	if !heartbeat {
		return false, fmt.Errorf("%w: they do not offer ShareGroupHeartbeat: share groups need Kafka 4.0+ (production-ready in 4.2) with the share.version feature enabled (kafka-features.sh upgrade --feature share.version=1)",
			ErrShareGroupsUnavailable)
	}
	if len(resp.FinalizedFeatures) == 0 {
		return renew, nil
	}
	for _, f := range resp.FinalizedFeatures {
		if f.Name == "share.version" && f.MaxVersionLevel >= 1 {
			return renew, nil
		}
	}
	return false, fmt.Errorf("%w: the cluster's share.version feature is not enabled: kafka-features.sh upgrade --feature share.version=1 (or format with --feature share.version=1)",
		ErrShareGroupsUnavailable)
}

// checkShareName refuses a name that a group of another type holds: Kafka
// answers the share member's heartbeats with GROUP_ID_NOT_FOUND, which
// franz-go retries without end, so the member would wait for ever. A
// listing that fails (no right to describe the cluster) is logged and
// skipped.
func checkShareName(ctx context.Context, cl *kgo.Client, name string, log *slog.Logger) error {
	groups, err := kadm.NewClient(cl).ListGroupsByType(ctx, []string{"classic", "consumer", "streams"})
	if err != nil {
		if log != nil {
			log.Warn("share group: could not list the cluster's groups to check the name is free", "group", name, "err", err)
		}
		return ctx.Err()
	}
	if g, ok := groups[name]; ok {
		typ := g.GroupType
		if typ == "" {
			typ = "consumer"
		}
		return fmt.Errorf("%w: JoinKafkaShareGroup: %q is the name of a %s group: a share group needs a name of its own", ErrInvalidArgument, name, typ)
	}
	return nil
}

// shareAutoOffsetReset is the group config where a share group starts a
// partition it never read.
const shareAutoOffsetReset = "share.auto.offset.reset"

// shareStart sets the group's share.auto.offset.reset from InitialOffset,
// unless the group sets it already. A failure is logged, not fatal: the
// group then starts where Kafka's default (latest) or the operator says.
func shareStart(ctx context.Context, cl *kgo.Client, group string, cfg ConsumerGroupConfig) error {
	log := cfg.Logger
	want := "earliest"
	if cfg.InitialOffset == OffsetNewest {
		want = "latest"
	}
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dr := kmsg.NewDescribeConfigsRequestResource()
	dr.ResourceType, dr.ResourceName, dr.ConfigNames = kmsg.ConfigResourceTypeGroupConfig, group, []string{shareAutoOffsetReset}
	dreq.Resources = append(dreq.Resources, dr)
	dresp, err := dreq.RequestWith(ctx, cl)
	if err == nil && len(dresp.Resources) == 1 {
		err = kerr.ErrorForCode(dresp.Resources[0].ErrorCode)
		for _, c := range dresp.Resources[0].Configs {
			if err == nil && c.Name == shareAutoOffsetReset && c.Source == kmsg.ConfigSourceGroupConfig {
				if log != nil && c.Value != nil && *c.Value != want {
					log.Info("share group: share.auto.offset.reset is set on the group; InitialOffset does not change it", "group", group, "value", *c.Value)
				}
				return nil
			}
		}
	}
	if err == nil {
		areq := kmsg.NewPtrIncrementalAlterConfigsRequest()
		ar := kmsg.NewIncrementalAlterConfigsRequestResource()
		ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = shareAutoOffsetReset, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(want)
		ar.Configs = append(ar.Configs, c)
		areq.Resources = append(areq.Resources, ar)
		var aresp *kmsg.IncrementalAlterConfigsResponse
		if aresp, err = areq.RequestWith(ctx, cl); err == nil && len(aresp.Resources) == 1 {
			err = kerr.ErrorForCode(aresp.Resources[0].ErrorCode)
		}
	}
	if err != nil && log != nil {
		log.Warn("share group: could not set share.auto.offset.reset from InitialOffset; the group starts where the broker's setting says (latest by default)",
			"group", group, "want", want, "err", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// shareCloseTimeout bounds Close's flush of acknowledgements and its leave.
const shareCloseTimeout = 10 * time.Second

// close leaves the group: the unit in hand is accepted (it counts as
// processed), what was fetched and not handed out is released, the
// acknowledgements are flushed, and the client leaves the group.
func (sg *shareGroup) close() error {
	g := sg.g
	sg.mu.Lock()
	sg.closed = true
	sg.wakeLocked()
	sg.mu.Unlock()
	g.cancel()
	g.wg.Wait() // the lock keeper, the Stream or Batches goroutine
	// A Next or Poll under way returns once it sees closed; wait for it so
	// that nothing is handed out after the flush.
	sg.pullMu.Lock()
	sg.mu.Lock()
	sg.finishHandLocked(kgo.AckAccept)
	for _, h := range sg.buf {
		sg.ackLocked(h, kgo.AckRelease)
	}
	sg.buf = nil
	sg.flushAcceptsLocked()
	sg.mu.Unlock()
	sg.pullMu.Unlock()
	timeout := shareCloseTimeout
	select {
	case <-sg.joined:
	default:
		timeout = abandonedLeave // the join failed: the broker may not answer
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := sg.cl.FlushAcks(ctx); err != nil {
		g.log.Warn("share group: flushing acknowledgements on Close", "err", err)
	}
	if err := sg.cl.LeaveGroupContext(ctx); err != nil {
		g.log.Warn("share group: leaving", "err", err)
	}
	g.obs.closed()
	sg.closeOutputs()
	sg.cl.Close()
	close(g.done)
	g.log.Info("left")
	return nil
}
