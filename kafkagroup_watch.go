package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's coordinator ends a member's session when it has not heard from
// it for the session timeout, and gives its partitions to others; franz-go
// learns of it only at its next answered heartbeat (OnPartitionsLost). A
// member cut off from the coordinator would go on delivering what it had
// fetched meanwhile, while another member already has the partitions. As
// the ZooKeeper coordinator does for its session, the member stops on its
// own: when no request to the coordinator has been answered for two thirds
// of the session timeout, it stops every partition (suspends them) and
// reports ErrSessionExpired. If the coordinator answers again before the
// session timeout could have run out, the member still holds them and
// resumes them where it had processed; otherwise franz-go's
// OnPartitionsLost follows and the group assigns them afresh.
//
// A classic member waiting for a rebalance in JoinGroup or SyncGroup sends
// no heartbeat, and the coordinator answers only when every member has
// joined: behind a member whose revocation waits for HandoffTimeout, that
// is longer than the session timeout. The coordinator keeps a member that
// awaits its join or sync (Kafka's rule; kfake does not: see docs/DESIGN.md),
// so the silence of a join under way is not the coordinator's: watch asks
// it (DescribeGroups, on another connection than the join's) and counts as
// heard a description, in a rebalance, that lists this member.

// OnBrokerE2E records when a heartbeat or SyncGroup that the coordinator
// answered was sent (pending: its answer may fence the member; onAssigned
// or the next heartbeat's write counts it), and that a join or sync is no
// longer under way: kgo.HookBrokerE2E. franz-go's hooks give timings,
// not the answer, and franz-go reads the answer after this hook returns.
func (kc *kafkaCoordinator) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	switch kmsg.Key(key) {
	case kmsg.JoinGroup:
		kc.joinSent.Store(0)
		return
	case kmsg.SyncGroup:
		kc.joinSent.Store(0)
	case kmsg.Heartbeat, kmsg.ConsumerGroupHeartbeat:
	default:
		return
	}
	if e2e.WriteErr != nil || e2e.ReadErr != nil {
		return
	}
	kc.pending.Store(kc.stamp(time.Now().Add(-(e2e.ReadWait + e2e.TimeToRead))))
}

// OnBrokerWrite records when a JoinGroup or SyncGroup was written, and
// counts the pending heartbeat answer as heard once the next heartbeat is
// written: kgo.HookBrokerWrite (onAssigned and onRevoked count it too).
// franz-go sends one heartbeat at a time, the next only once it took the
// previous answer; an answer that fenced the member (UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, FENCED_MEMBER_EPOCH) is followed by onLost, which
// drops the pending answer, before any later group request: a fenced
// member never counts as heard, so neither watch nor the lease take it for
// alive. The price: an answer counts a heartbeat interval late, which the
// lease (two thirds of the session timeout) absorbs while the heartbeat
// interval stays under a third of the session timeout, as Kafka advises.
func (kc *kafkaCoordinator) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		return
	}
	switch kmsg.Key(key) {
	case kmsg.JoinGroup, kmsg.SyncGroup:
		kc.joinSent.Store(kc.stamp(time.Now()))
	case kmsg.Heartbeat, kmsg.ConsumerGroupHeartbeat:
		kc.hearPending()
	}
}

// hearPending counts the pending answer as heard: franz-go took it and
// was not fenced.
func (kc *kafkaCoordinator) hearPending() {
	if sent := kc.pending.Swap(0); sent != 0 {
		kc.hear(kc.at(sent))
	}
}

// hear records that the coordinator answered a request sent at sent.
func (kc *kafkaCoordinator) hear(sent time.Time) {
	n := kc.stamp(sent)
	for {
		old := kc.heard.Load()
		if old >= n || kc.heard.CompareAndSwap(old, n) {
			return
		}
	}
}

var (
	_ kgo.HookBrokerE2E        = (*kafkaCoordinator)(nil)
	_ kgo.HookBrokerWrite      = (*kafkaCoordinator)(nil)
	_ kgo.HookGroupManageError = (*kafkaCoordinator)(nil)
)

// probeJoin asks the coordinator, while a join or sync of this member has
// been under way and unanswered for a third of the session timeout, whether
// it holds this member in a rebalance; if so, the coordinator is heard
// (as of the question). At most one question per sixth of the session
// timeout, each bounded by a sixth of it and by the moment watch would stop
// the partitions: an unanswered question never delays that. Called by
// watch, without kc.mu.
func (kc *kafkaCoordinator) probeJoin() {
	sent := kc.joinSent.Load()
	if sent == 0 || time.Since(kc.at(sent)) < kc.session/3 || time.Since(kc.probed) < kc.session/6 {
		return
	}
	silent := time.Since(kc.at(kc.heard.Load()))
	limit := min(kc.session/6, kc.session*2/3-silent)
	if silent < kc.session/3 || limit <= 0 {
		return
	}
	id, _ := kc.cl.GroupMetadata()
	if id == "" {
		return
	}
	kc.probed = time.Now()
	ctx, cancel := context.WithTimeout(kc.g.ctx, limit)
	defer cancel()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{kc.g.name}
	asked := time.Now()
	resp, err := req.RequestWith(ctx, kc.cl)
	if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
		kc.g.log.Debug("join under way: the coordinator did not describe the group", "err", err)
		return
	}
	d := resp.Groups[0]
	if d.State != "PreparingRebalance" && d.State != "CompletingRebalance" {
		return
	}
	for _, m := range d.Members {
		if m.MemberID == id {
			kc.hear(asked)
			kc.g.log.Debug("join under way: the coordinator holds this member in its rebalance", "state", d.State,
				"waiting", time.Since(kc.at(sent)).Round(time.Millisecond))
			return
		}
	}
}

// OnGroupManageError reports an error that ended a group session (after
// OnPartitionsLost): kgo.HookGroupManageError. franz-go joins again. A
// refusal of the first join (see refusal), such as INVALID_SESSION_TIMEOUT,
// is JoinKafkaConsumerGroup's error instead; another error before the
// first assignment is reported and named by the join's error if
// JoinTimeout runs out.
func (kc *kafkaCoordinator) OnGroupManageError(err error) {
	if !kc.wait() || kc.g.ctx.Err() != nil {
		return
	}
	if !kc.joinedOnce.Load() {
		kc.lastJoinErr.Store(joinErr{err})
		if refusal(err) && kc.firstJoin(kc.joinRefused(err)) {
			return
		}
	}
	kc.g.notify(&Notification{Type: REBALANCE_ERROR, Generation: kc.generation(), Err: kafkaErr("group session", err)})
}

// joinRefused is JoinKafkaConsumerGroup's error for err, which ended the
// first join; a refusal of a configured value names the field.
func (kc *kafkaCoordinator) joinRefused(err error) error {
	err = fmt.Errorf("consumergroup: join Kafka group %q: the first join failed: %w", kc.g.name, err)
	if errors.Is(err, kerr.InvalidSessionTimeout) {
		return fmt.Errorf("%w: ConsumerGroupConfig.SessionTimeout %v is outside the broker's group.min.session.timeout.ms..group.max.session.timeout.ms: %w",
			ErrInvalidArgument, kc.g.cfg.SessionTimeout, err)
	}
	return err
}

// joinErr is an error of a join under way, for kafkaCoordinator.lastJoinErr.
type joinErr struct{ err error }

// refusal reports whether err, which ended a join, is the broker's refusal
// of what the member asks (a session timeout out of its range, a group or
// protocol it refuses, an authorization): joining again cannot succeed.
// Errors that heal are not: retriable ones, the network's, and the group's
// own transient states (a static member's instance id still held by its
// previous session until that one times out, a rebalance or a generation
// moving on).
func refusal(err error) bool {
	var ke *kerr.Error
	if !errors.As(err, &ke) || ke.Retriable {
		return false
	}
	for _, transient := range []*kerr.Error{
		kerr.UnreleasedInstanceID, kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.RebalanceInProgress,
		kerr.MemberIDRequired, kerr.FencedMemberEpoch, kerr.StaleMemberEpoch, kerr.FencedInstanceID,
	} {
		if ke.Code == transient.Code {
			return false
		}
	}
	return true
}

// watch suspends the held partitions when the coordinator has been silent
// too long, and resumes them when it answers in time. It runs on its own
// goroutine (startWatch) and never holds kc.mu while it waits on Kafka.
func (kc *kafkaCoordinator) watch() {
	if kc.session <= 0 {
		return
	}
	if kc.heard.Load() == 0 {
		return // not joined yet
	}
	kc.probeJoin()
	kc.mu.Lock()
	resume, unknown := kc.checkLocked()
	kc.mu.Unlock()
	if !resume {
		return
	}
	var starts map[TopicPartition]int64
	if len(unknown) > 0 {
		starts = kc.resumeOffsets(unknown)
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.resumeLocked(starts)
}

// checkLocked suspends the held partitions when the coordinator has been
// silent too long; else it reports whether the suspended ones are due to
// resume, and which of them need their offset read (nothing processed).
// kc.mu is held.
func (kc *kafkaCoordinator) checkLocked() (resume bool, unknown []TopicPartition) {
	// Read after the lock: a revocation holds it while it waits for the
	// message in hand (up to HandoffTimeout), and franz-go's heartbeats go
	// on meanwhile.
	heard := kc.at(kc.heard.Load())
	if len(kc.held) > 0 && time.Since(heard) > kc.session*2/3 {
		kc.suspendLocked(heard)
		return false, nil
	}
	if !kc.resumeDueLocked(heard) {
		return false, nil
	}
	for tp, off := range kc.suspended {
		if off < 0 {
			unknown = append(unknown, tp)
		}
	}
	return true, unknown
}

// suspendLocked stops every held partition, keeping its processed offset
// for a resume. kc.mu is held.
func (kc *kafkaCoordinator) suspendLocked(heard time.Time) {
	g := kc.g
	tps := slices.Collect(maps.Keys(kc.held))
	sortPartitions(tps)
	processed := kc.eng.processed()
	for _, tp := range tps {
		off, ok := processed[tp]
		if !ok || off < 0 {
			off = -1
			if c, ok := kc.lastCommit[tp]; ok {
				off = c
			}
		}
		kc.suspended[tp] = off
	}
	kc.suspendedAt, kc.answeredAt = heard, time.Time{}
	kc.dropLocked(tps)
	g.log.Warn("no answer from Kafka's group coordinator: stopped every partition", "silent", time.Since(heard), "partitions", len(tps))
	g.notify(&Notification{Type: REBALANCE_ERROR, Generation: kc.generation(), Err: fmt.Errorf(
		"%w: no answer from Kafka's group coordinator for %v (session timeout %v): %d partitions stopped",
		ErrSessionExpired, time.Since(heard).Round(time.Millisecond), kc.session, len(tps))})
}

// resumeDueLocked reports whether the suspended partitions resume: the
// coordinator answered a request sent after the suspension, recently
// enough to renew the lease, and not so late that the session may have
// ended. kc.mu is held.
func (kc *kafkaCoordinator) resumeDueLocked(heard time.Time) bool {
	if len(kc.suspended) == 0 || !heard.After(kc.suspendedAt) || time.Since(heard) > kc.session*2/3 {
		return false // no answer since, or one too old to renew the lease
	}
	if kc.answeredAt.IsZero() {
		kc.answeredAt = time.Now()
	}
	// The session may have ended: a fenced member hears so at its next
	// heartbeat (OnPartitionsLost). If the coordinator goes on answering
	// without fencing it (a restarted broker that kept the group), the
	// member still holds them.
	return heard.Sub(kc.suspendedAt) < kc.session*5/6 || time.Since(kc.answeredAt) >= kc.session/2
}

// resumeLocked resumes the suspended partitions, if still due, each where
// it was processed, else at starts' offset (read by resumeOffsets), else
// where franz-go is. kc.mu is held.
func (kc *kafkaCoordinator) resumeLocked(starts map[TopicPartition]int64) {
	if !kc.resumeDueLocked(kc.at(kc.heard.Load())) {
		return // lost or assigned again meanwhile
	}
	resumed := make(map[TopicPartition]int64, len(kc.suspended))
	for tp, off := range kc.suspended {
		if off < 0 {
			off = offsetUnknown
			if o, ok := starts[tp]; ok {
				off = o
			}
		}
		resumed[tp] = off
		kc.take(tp)
		if off >= 0 {
			kc.lastCommit[tp] = off // what a resumed partition commits from: no rewind
		}
	}
	clear(kc.suspended)
	kc.eng.assigned(resumed)
	kc.publish()
	kc.g.log.Info("Kafka's group coordinator answers again in time: resumed the partitions", "partitions", len(resumed))
}

// lease is the engine's lease (engine_lease.go) on Kafka's coordinator:
// two thirds of the session timeout from the sending of the latest group
// request the coordinator answered, watch's own rule, checked at every
// hand-out rather than when watch runs. Before the coordinator answered
// anything, nothing is valid (nothing was assigned either: onAssigned
// counts the answer that assigned). Without a session timeout (KIP-848
// with none configured), no lease. heard is an instant on the monotonic
// clock (stamp): a wall clock stepped back or forward moves nothing.
func (kc *kafkaCoordinator) lease() time.Time {
	if kc.session <= 0 {
		return time.Now().Add(time.Hour)
	}
	heard := kc.heard.Load()
	if heard == 0 {
		return time.Time{}
	}
	return kc.at(heard).Add(kc.session * 2 / 3)
}

// resumeOffsets is where partitions suspended before anything of them was
// delivered resume: their committed offsets, else (OffsetOldest) the log's
// start; those that cannot be read are left out (offsetUnknown: where
// franz-go is). Called without kc.mu.
func (kc *kafkaCoordinator) resumeOffsets(tps []TopicPartition) map[TopicPartition]int64 {
	ctx, cancel := context.WithTimeout(kc.g.ctx, kc.session)
	defer cancel()
	out := make(map[TopicPartition]int64, len(tps))
	all, _ := kc.committedOf(ctx, tps)
	var uncommitted []TopicPartition
	for _, tp := range tps {
		if off, ok := all[tp.Topic][tp.Partition]; ok {
			out[tp] = off
		} else {
			uncommitted = append(uncommitted, tp)
		}
	}
	if len(uncommitted) == 0 || kc.g.cfg.InitialOffset != OffsetOldest {
		return out
	}
	// The start offsets of these partitions only: a member holding 20 of
	// a topic's 10,000 partitions lists 20 (kadm's ListStartOffsets lists
	// the whole topic).
	starts, err := listOffsets(ctx, kc.cl, uncommitted, -2)
	if err != nil {
		return out
	}
	for _, tp := range uncommitted {
		if o, ok := starts.Lookup(tp.Topic, tp.Partition); ok && o.Err == nil {
			out[tp] = o.Offset
		}
	}
	return out
}

// stamp returns t as the coordinator keeps instants in its atomics: the
// monotonic time since the coordinator was made, plus one (0: none; an
// instant before it counts as its making: nothing was sent before). A
// wall-clock time (time.Unix) would move with the wall clock: a clock
// stepped back would lengthen the lease by the step.
func (kc *kafkaCoordinator) stamp(t time.Time) int64 { return max(int64(t.Sub(kc.epoch)), 0) + 1 }

// at returns the instant n (stamp) on the monotonic clock.
func (kc *kafkaCoordinator) at(n int64) time.Time { return kc.epoch.Add(time.Duration(n - 1)) }
