package consumergroup

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The acquisition locks of the records a share group member holds.
//
// Kafka refuses a partition's acknowledgements as a whole when one of them
// names a record the member no longer holds (its lock ran out: the broker
// released it, maybe to another member): INVALID_RECORD_STATE, and the
// valid acknowledgements sent with it are lost too (their records come
// again, one delivery nearer the delivery-count limit). franz-go cannot
// send an acknowledgement again, so the member never lets a lock run out
// with the record's acknowledgement still to send:
//
//   - every record held and not finished is renewed when two thirds of its
//     lock have passed: the records waiting in the buffer always (they are
//     the member's own read-ahead, and a renewal keeps their delivery count
//     where a release would spend one), the unit in the application's hands
//     unless ShareManualRenew;
//   - a record that is not renewed (ShareManualRenew, or a broker before
//     Kafka 4.2, which cannot renew) is released while its lock still holds,
//     a sixth of it before the end, so that the release is valid: Kafka
//     delivers it again, MarkDone and the others return ErrLockExpired;
//   - franz-go sends acknowledgements with the next fetch, or within a
//     second: renewals, these releases, and acknowledgements of records
//     whose lock ends within that second plus the margin are sent at once
//     (hurryAcks);
//   - franz-go fetches only while the member polls (MaxConcurrentFetches(0))
//     and each poll takes everything fetched, so no record waits in
//     franz-go's buffer where it cannot be renewed; a record that comes with
//     too little of its lock left is released on its own (poll, isolate).

// Bounds of the lock keeper's tick: a tenth of the lock.
const (
	shareTickMin = 10 * time.Millisecond
	shareTickMax = time.Second
)

// shareAckDelay is how long franz-go may keep an acknowledgement before
// sending it (its ack timer) when no fetch carries it.
const shareAckDelay = time.Second

// keepLocks renews and releases the locks held, watches the coordinator's
// silence (sharegroup_watch.go) and, with a TopicPattern, the topics
// matching it (TOPICS_CHANGED, every CommitInterval, as on Kafka's
// coordinator), until ctx ends (Close).
func (sg *shareGroup) keepLocks(ctx context.Context) {
	t := time.NewTimer(shareTickMax)
	defer t.Stop()
	var topics topicsFollower
	var followed time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		sg.watchSilence(now)
		if sg.g.sub.byPattern() && now.Sub(followed) >= sg.g.cfg.CommitInterval {
			topics.follow(sg.g, sg.cl, 0)
			followed = now
		}
		t.Reset(sg.tendLocks(now))
	}
}

// tendLocks renews what is due and releases what cannot be renewed in
// time, at now; it returns when to look again.
func (sg *shareGroup) tendLocks(now time.Time) time.Duration {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	tick := shareTickMax
	hurry := false
	look := func(h *heldRecord, renew bool) {
		if h.status != 0 || h.deadline.IsZero() || h.lockDur <= 0 {
			return
		}
		tick = min(tick, max(h.lockDur/10, shareTickMin))
		left := h.deadline.Sub(now)
		switch {
		case renew && left < h.lockDur/3 && sg.renewLocked(h, now):
			hurry = true
		case left < shareReleaseLead(h.lockDur):
			sg.expireLocked(h)
			hurry = true
		}
	}
	for _, h := range sg.hand {
		look(h, sg.autoRenew && sg.canRenew)
	}
	for _, h := range sg.ahead {
		look(h, sg.canRenew)
	}
	for _, h := range sg.buf {
		look(h, sg.canRenew)
	}
	sg.flushAcceptsLocked() // what was accepted since the last tick
	if hurry {
		sg.hurryAcks()
	}
	return tick
}

// shareReleaseLead is how long before its lock runs out a record that
// was not renewed is released: the release must reach Kafka while the
// lock holds.
func shareReleaseLead(lockDur time.Duration) time.Duration {
	return lockDur / 6
}

// hurryAcks makes franz-go send the acknowledgements marked so far now,
// not with its next fetch or at its ack timer: FlushAcks with a context
// already done signals every broker's flush and returns without waiting.
func (sg *shareGroup) hurryAcks() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = sg.cl.FlushAcks(ctx)
}

// renewLocked asks Kafka to extend h's lock (Kafka 4.2+), and counts on it
// from now; it reports whether it asked. franz-go sends at most one
// renewal of a record at a time; a renewal asked while one is in flight
// does nothing, and the deadline known is not moved then.
func (sg *shareGroup) renewLocked(h *heldRecord, now time.Time) bool {
	if h.lockDur <= 0 || !sg.canRenew {
		return false
	}
	if !h.renewAt.IsZero() && now.Sub(h.renewAt) < h.lockDur/3 {
		return false // the last renewal is recent: let it land
	}
	sg.cl.MarkAcks(kgo.AckRenew, h.r)
	h.renewAt = now
	h.deadline = now.Add(h.lockDur)
	sg.renewedLocked(h)
	return true
}

// expireLocked releases h, whose lock is about to run out before it was
// finished: nothing more is acknowledged of it (MarkDone and the others
// return ErrLockExpired), and the listener hears of it (LOCK_EXPIRED).
func (sg *shareGroup) expireLocked(h *heldRecord) {
	h.expired = true
	sg.ackLocked(h, kgo.AckRelease)
	sg.expiredLocked(h)
	sg.g.log.Warn("share group: a message's acquisition lock was about to run out before it was acknowledged; released, Kafka delivers it again",
		"topic", h.topic, "partition", h.partition, "offset", h.offset, "delivery", h.delivery, "in_hand", h.ev != nil)
	sg.g.notify(&Notification{Type: LOCK_EXPIRED, Topic: h.topic, Partition: h.partition, Offset: h.offset})
}
