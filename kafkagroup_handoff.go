package consumergroup

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// franz-go's callbacks: what Kafka's coordinator assigned starts delivering,
// what it revoked is handed over (the engine's hand-off, then a commit,
// before franz-go lets the rebalance go on), what was lost stops at once.

// onAssigned starts delivering what the coordinator assigned. franz-go
// calls it before it fetches those partitions, from their committed
// offsets (or ConsumeResetOffset): the engine starts each at the first
// record fetched.
func (kc *kafkaCoordinator) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	// The answer that assigned (SyncGroup, or KIP-848's heartbeat) did
	// not fence the member.
	kc.hearPending()
	if !kc.wait() {
		return
	}
	kc.firstJoin(nil) // franz-go calls it after every join, even assigning nothing
	tps := flatten(assigned)
	if len(tps) == 0 {
		return
	}
	g := kc.g
	// A partition this member held before starts at its committed offset,
	// read here: franz-go may resume it from where it had fetched it then
	// (see groupPositioner.behind). The others start where franz-go starts
	// them, the committed offset it fetches itself (or ConsumeResetOffset):
	// the first record fetched. Reading theirs too kept franz-go's
	// heartbeat waiting on the answer (this callback runs on its loop): at
	// 500 members on 10,000 partitions on kfake, p50 1.1 s, p99 4.9 s, and
	// the coordinator fenced members whose heartbeat came too late (KIP-848
	// took 58 s to settle). Read without kc.mu (watch goes on meanwhile),
	// after any commit under way (kc.commitMu).
	kc.mu.Lock()
	var again []TopicPartition
	for _, tp := range tps {
		if kc.known[tp] {
			again = append(again, tp)
		}
	}
	kc.mu.Unlock()
	var committed map[string]map[int32]int64
	if len(again) > 0 {
		t0 := time.Now()
		kc.commitMu.Lock()
		var err error
		committed, err = kc.committedOf(ctx, again)
		kc.commitMu.Unlock()
		if err != nil {
			g.log.Warn("assigned: reading the committed offsets", "err", err)
		}
		logWait(g.log, "hand-off: read the committed offsets", time.Since(t0), "partitions", partitionList(again))
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	gen := kc.generation()
	g.notify(&Notification{Type: REBALANCE_START, Generation: gen})
	starts := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		delete(kc.suspended, tp)
		if kc.held[tp] != 0 {
			continue
		}
		kc.take(tp)
		starts[tp] = offsetUnknown
		if off, ok := committed[tp.Topic][tp.Partition]; ok {
			starts[tp] = off
			kc.lastCommit[tp] = off
		}
	}
	kc.eng.assigned(starts)
	kc.publish()
	g.obs.joined()
	g.log.Debug("assigned", "generation", gen, "partitions", partitionList(tps))
	g.notify(&Notification{Type: REBALANCE_OK, Generation: gen, Claimed: tps})
}

// onRevoked hands revoked partitions over: stop delivering them, wait for
// the unit in the application's hands (HandoffTimeout), commit their
// processed offsets synchronously, and only then return: franz-go holds
// the rebalance (classic) or the revocation's acknowledgement (KIP-848)
// until it does. During Close, the unit in hand counts as processed. The
// partitions leave held before the commit, which waits on Kafka without
// kc.mu (see kafkagroup_commit.go).
func (kc *kafkaCoordinator) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if !kc.wait() {
		return
	}
	g := kc.g
	if g.ctx.Err() == nil {
		// The answer that revoked (REBALANCE_IN_PROGRESS, or KIP-848's
		// new assignment) did not fence the member (a fence goes to
		// onLost); KIP-848 sends no heartbeat until the revocation
		// returns.
		kc.hearPending()
	}
	kc.mu.Lock()
	var tps []TopicPartition
	offsets := make(map[TopicPartition]int64)
	for _, tp := range flatten(revoked) {
		if off, ok := kc.suspended[tp]; ok {
			// Stopped by watch and not lost after all: commit what
			// was processed before.
			offsets[tp] = off
			delete(kc.suspended, tp)
		}
		if kc.held[tp] != 0 {
			tps = append(tps, tp)
		}
	}
	if len(tps) == 0 && len(offsets) == 0 {
		kc.mu.Unlock()
		return
	}
	gen := kc.generation()
	if len(tps) > 0 {
		g.notify(&Notification{Type: REBALANCE_START, Generation: gen})
		maps.Copy(offsets, g.handOff(kc.eng, tps, gen, g.ctx.Err() != nil))
	}
	plan := kc.planLocked(offsets, false)
	for _, tp := range tps {
		delete(kc.held, tp)
		delete(kc.lastCommit, tp)
	}
	kc.mu.Unlock()
	tc := time.Now()
	if err := kc.commitRetry(ctx, plan); err != nil {
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: gen, Err: fmt.Errorf("commit on revocation: %w", err)})
	}
	logWait(g.log, "hand-off: committed on revocation", time.Since(tc), "partitions", partitionList(tps))
	kc.mu.Lock()
	kc.publish()
	kc.mu.Unlock()
	g.log.Debug("revoked", "generation", gen, "partitions", partitionList(tps))
	if len(tps) > 0 {
		g.notify(&Notification{Type: REBALANCE_OK, Generation: gen, Released: tps})
	}
}

// onLost stops delivering at once and commits nothing: the member was
// fenced (session timed out, generation or epoch moved on, unknown
// member); another member may own the partitions already.
func (kc *kafkaCoordinator) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	// The answer that fenced the member is not heard (see OnBrokerWrite):
	// forgotten before franz-go sends its next group request.
	kc.pending.Store(0)
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
	kc.g.log.Warn("lost the group's partitions: stopped them, nothing committed", "partitions", partitionList(tps))
	kc.g.notify(&Notification{Type: REBALANCE_ERROR, Generation: kc.generation(), Err: fmt.Errorf(
		"%w: %w: Kafka's group coordinator fenced this member (session timed out, or its generation or epoch is over): %d partitions stopped, nothing committed for them",
		ErrSessionExpired, ErrNotOwner, len(tps))})
}

// dropLocked stops tps at once; kc.mu is held.
func (kc *kafkaCoordinator) dropLocked(tps []TopicPartition) {
	kc.eng.lost(tps)
	for _, tp := range tps {
		delete(kc.held, tp)
		delete(kc.lastCommit, tp)
	}
	kc.publish()
}

// publish refreshes what Claims and ID read. kc.mu is held.
func (kc *kafkaCoordinator) publish() {
	held := slices.Collect(maps.Keys(kc.held))
	sortPartitions(held)
	id, _ := kc.cl.GroupMetadata()
	kc.g.member.set(id, held)
	kc.g.obs.held(held)
}
