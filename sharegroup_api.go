package consumergroup

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The calls of share groups only (Release, Reject, Renew), and the share
// group's side of the calls every group has: each ConsumerGroup method
// that means something on a share group starts with
//
//	if g.share != nil { return g.share.... }
//
// and the others refuse (refuse, ErrShareGroup).

// Release hands ev, a message of a share group that the application holds,
// back to Kafka: it is delivered again, to any member of the group, with its
// DeliveryCount + 1 (until the group's delivery-count limit,
// share.delivery.count.limit, archives it). Use it when the message cannot
// be processed now but may be later.
//
// ev must be the *ConsumerEvent the group handed out (from Next, Stream,
// or within a batch of Poll or Batches), not finished yet: a message
// accepted already (MarkDone, or taken past) or rejected is refused with
// ErrInvalidArgument. A message whose lock ran out returns ErrLockExpired
// (it was released already). On a consumer group it returns an error
// matching ErrNotShareGroup.
func (g *ConsumerGroup) Release(ev *ConsumerEvent) error {
	if g.share == nil {
		return g.notShare("Release")
	}
	return g.share.mark(ev, kgo.AckRelease, "Release")
}

// Reject archives ev, a message of a share group that the application
// holds: Kafka never delivers it again, to any member (a poison message).
// Kafka 4.4 offers to copy archived messages to a dead-letter topic (the
// group config errors.deadletterqueue.topic.name, with the cluster's
// share.version at 2: see docs/USAGE.md). The rules of ev are Release's.
func (g *ConsumerGroup) Reject(ev *ConsumerEvent) error {
	if g.share == nil {
		return g.notShare("Reject")
	}
	return g.share.mark(ev, kgo.AckReject, "Reject")
}

// Renew extends the acquisition lock of ev, a message of a share group that
// the application holds, by the group's lock duration from now (Kafka
// 4.2+): Kafka does not deliver it to another member meanwhile. The group
// renews the message in hand by itself unless
// ConsumerGroupConfig.ShareManualRenew is set: Renew is for that case, and
// for messages of a batch held longer than the unit in hand. Renewals are
// best effort (a broker connection lost drops the lock): processing must
// stay idempotent. A renewal asked while the previous one of ev is still
// in flight does nothing. The rules of ev are Release's.
func (g *ConsumerGroup) Renew(ev *ConsumerEvent) error {
	if g.share == nil {
		return g.notShare("Renew")
	}
	return g.share.mark(ev, kgo.AckRenew, "Renew")
}

// notShare is the error of a share group's call on a consumer group.
func (g *ConsumerGroup) notShare(what string) error {
	return fmt.Errorf("%w: %s: group %q is a consumer group, whose messages are committed by offset (use MarkDone); share groups are joined with JoinKafkaShareGroup",
		ErrNotShareGroup, what, g.name)
}

// refuse is the error of a call that a share group does not offer.
func (sg *shareGroup) refuse(what, instead string) error {
	return fmt.Errorf("%w: %s: %q is a share group: %s", ErrShareGroup, what, sg.g.name, instead)
}

// pull is Next (batch false) and Poll (true) on a share group.
func (sg *shareGroup) pull(ctx context.Context, what string, batch bool) (shareUnit, error) {
	if ctx == nil {
		return shareUnit{}, fmt.Errorf("%w: %s: nil context", ErrInvalidArgument, what)
	}
	if !sg.choose(modePull) {
		return shareUnit{}, fmt.Errorf("%w: Next and Poll cannot be used with %s", ErrInvalidArgument, modeName(sg.modeNow()))
	}
	return sg.next(ctx, batch)
}

// streamOut is Stream on a share group: nil when another mode was chosen.
func (sg *shareGroup) streamOut() <-chan *ConsumerEvent {
	if !sg.choose(modeStream) {
		return nil
	}
	return sg.stream
}

// batchesOut is Batches on a share group: nil when another mode was
// chosen.
func (sg *shareGroup) batchesOut() <-chan *EventBatch {
	if !sg.choose(modeBatches) {
		return nil
	}
	return sg.batches
}

// modeNow returns the delivery mode chosen.
func (sg *shareGroup) modeNow() int {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	return sg.mode
}
