package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Commits to Kafka's coordinator: the periodic one, on revocation and Close
// (retried while a rebalance completes), a manual one; reading the group's
// committed offsets.
//
// No commit holds kc.mu while it waits on Kafka: what to send is read under
// kc.mu (plan), sent without it (send), and what Kafka took is recorded
// under kc.mu again (apply). watch and franz-go's callbacks thus never wait
// behind a commit sent into a silent Kafka. kc.commitMu serializes commits
// from their plan to their apply: a revocation removes its partitions from
// held before it commits, and commits under commitMu, so a commit that
// planned them before is answered before the revocation's commit is sent,
// and none plans them after it. No commit of a partition runs after its
// revocation returned.

// commitPlan is what one commit sends: the offsets, and the tenure (see
// kafkaCoordinator.held) of each partition when they were read; 0 when not
// held.
type commitPlan struct {
	offsets map[TopicPartition]int64
	tenure  map[TopicPartition]uint64
}

// planLocked is the commit of offsets: those known (not negative) that
// differ from the last commit, or every known one when force. kc.mu is
// held.
func (kc *kafkaCoordinator) planLocked(offsets map[TopicPartition]int64, force bool) commitPlan {
	p := commitPlan{offsets: make(map[TopicPartition]int64), tenure: make(map[TopicPartition]uint64)}
	for tp, off := range offsets {
		if off < 0 {
			continue
		}
		if c, ok := kc.lastCommit[tp]; ok && c == off && !force {
			continue
		}
		p.offsets[tp] = off
		p.tenure[tp] = kc.held[tp]
	}
	return p
}

// commitProcessed commits the processed offsets of the held partitions
// that moved since the last commit.
func (kc *kafkaCoordinator) commitProcessed(ctx context.Context) {
	kc.commitMu.Lock()
	defer kc.commitMu.Unlock()
	kc.mu.Lock()
	offsets := kc.eng.processed()
	for tp := range offsets {
		if kc.held[tp] == 0 {
			delete(offsets, tp)
		}
	}
	plan := kc.planLocked(offsets, false)
	kc.mu.Unlock()
	if err := kc.commitSync(ctx, plan); err != nil && ctx.Err() == nil {
		kc.g.notify(&Notification{Type: REBALANCE_ERROR, Generation: kc.generation(), Err: err})
	}
}

// commitSync sends plan, waits for the answer and records what Kafka took
// as the last commit of the partitions still held in the same tenure.
// kc.commitMu is held, kc.mu is not. What Kafka took is removed from
// plan.offsets. Fencing errors match ErrNotOwner.
func (kc *kafkaCoordinator) commitSync(ctx context.Context, plan commitPlan) error {
	if len(plan.offsets) == 0 {
		return nil
	}
	took, err := kc.send(ctx, plan.offsets)
	kc.mu.Lock()
	for tp, off := range took {
		delete(plan.offsets, tp)
		if t := kc.held[tp]; t != 0 && t == plan.tenure[tp] {
			kc.lastCommit[tp] = off
		}
	}
	kc.mu.Unlock()
	return err
}

// send commits offsets and returns those Kafka took. No lock of kc's is
// held.
func (kc *kafkaCoordinator) send(ctx context.Context, offsets map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	req := make(map[string]map[int32]kgo.EpochOffset)
	for tp, off := range offsets {
		if req[tp.Topic] == nil {
			req[tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		req[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	var errs []error
	took := make(map[TopicPartition]int64, len(offsets))
	t0 := time.Now()
	unknown := make(map[TopicPartition]error)
	kc.cl.CommitOffsetsSync(ctx, req, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			errs = append(errs, kafkaErr(fmt.Sprintf("commit %d offsets", len(offsets)), err))
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				tp := TopicPartition{Topic: t.Topic, Partition: p.Partition}
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					if kc.g.sub.byPattern() && topicGone(err) {
						unknown[tp] = err // deleted, maybe: asked below
						continue
					}
					errs = append(errs, kafkaErr(fmt.Sprintf("commit %s/%d", tp.Topic, tp.Partition), err))
					continue
				}
				if off, ok := offsets[tp]; ok {
					took[tp] = off
				}
			}
		}
	})
	kc.deleted(unknown, offsets, took)
	err := errors.Join(errs...)
	kc.g.obs.committed(offsets, t0, err)
	kc.g.log.Debug("committed", "offsets", offsets, "errs", len(errs))
	return took, err
}

// commitRetry is commitSync for a revocation or Close: a commit refused
// because a rebalance is completing (REBALANCE_IN_PROGRESS, the classic
// protocol while the group waits for its leader's SyncGroup) or because the
// member's epoch moved on meanwhile (STALE_MEMBER_EPOCH, KIP-848 before
// KIP-1251: the next heartbeat brings the new epoch, which the next try
// uses) is tried again, for at most HandoffTimeout; what was committed is
// not sent again. It takes kc.commitMu; kc.mu is not held.
func (kc *kafkaCoordinator) commitRetry(ctx context.Context, plan commitPlan) error {
	kc.commitMu.Lock()
	defer kc.commitMu.Unlock()
	deadline := time.Now().Add(kc.g.cfg.HandoffTimeout)
	for {
		err := kc.commitSync(ctx, plan)
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
// then by the coordinator's generation or epoch. Unchanged offsets are
// committed too.
func (kc *kafkaCoordinator) commit(ctx context.Context, offsets map[TopicPartition]int64) error {
	kc.commitMu.Lock()
	defer kc.commitMu.Unlock()
	kc.mu.Lock()
	for tp := range offsets {
		if kc.held[tp] == 0 {
			kc.mu.Unlock()
			return fmt.Errorf("consumergroup: commit %s/%d: %w", tp.Topic, tp.Partition, ErrNotOwner)
		}
	}
	plan := kc.planLocked(offsets, true)
	kc.mu.Unlock()
	return kc.commitSync(ctx, plan)
}

func (kc *kafkaCoordinator) offset(ctx context.Context, tp TopicPartition) (int64, error) {
	all, err := kc.committedOf(ctx, []TopicPartition{tp})
	if err != nil {
		return 0, err
	}
	off, ok := all[tp.Topic][tp.Partition]
	if !ok {
		return 0, fmt.Errorf("consumergroup: offset of %s/%d in group %q: %w", tp.Topic, tp.Partition, kc.g.name, ErrNoNode)
	}
	return off, nil
}

// committedOf returns the committed offsets of tps (those without one are
// absent): an OffsetFetch of those partitions only. A member assigned 20
// partitions of a group of 10,000 read the group's every offset at each
// assignment (kadm's FetchOffsets): at 500 members, 500 answers of 10,000
// offsets per rebalance, where 10,000 in all are enough.
func (kc *kafkaCoordinator) committedOf(ctx context.Context, tps []TopicPartition) (map[string]map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = kc.g.name
	topics, parts := byTopic(tps)
	for i, t := range topics {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = t, parts[i]
		req.Topics = append(req.Topics, rt)
	}
	fail := func(err error) (map[string]map[int32]int64, error) {
		return nil, fmt.Errorf("consumergroup: fetch the offsets of group %q: %w", kc.g.name, err)
	}
	resp, err := req.RequestWith(ctx, kc.cl)
	if err != nil {
		return fail(err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fail(err)
	}
	out := make(map[string]map[int32]int64)
	add := func(topic string, p int32, at int64, code int16) {
		if code != 0 || at < 0 {
			return
		}
		if out[topic] == nil {
			out[topic] = make(map[int32]int64)
		}
		out[topic][p] = at
	}
	// franz-go answers in the request's version's shape: per group from v8
	// on, per topic before.
	if len(resp.Groups) > 0 {
		g := resp.Groups[0]
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return fail(err)
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				add(t.Topic, p.Partition, p.Offset, p.ErrorCode)
			}
		}
		return out, nil
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			add(t.Topic, p.Partition, p.Offset, p.ErrorCode)
		}
	}
	return out, nil
}

// committed returns every committed offset of the group (Lag).
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

// retriableCommit reports whether a refused commit may succeed when tried
// again by the same member.
func retriableCommit(err error) bool {
	return errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.StaleMemberEpoch)
}

// deleted handles the commits refused for an unknown topic in a group
// subscribed by pattern: the topic was deleted (franz-go gives it up at its
// next metadata refreshes: TOPICS_CHANGED). They are not reported and not
// tried again: they count as taken. Metadata cannot confirm it: the client
// answers from a cache that still shows the topic for a while. Were the
// topic still there, the partition's next commit or its next owner would
// start from the offset committed before: messages delivered again, none
// lost. kc.mu is not held.
func (kc *kafkaCoordinator) deleted(unknown map[TopicPartition]error, sent, took map[TopicPartition]int64) {
	for tp, err := range unknown {
		kc.g.log.Info("commit refused: the topic was deleted; giving it up", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		took[tp] = sent[tp] // not tried again
	}
}

// topicGone reports whether a commit was refused because its topic does
// not exist (any more).
func topicGone(err error) bool {
	return errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID)
}
