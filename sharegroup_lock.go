package consumergroup

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The acquisition locks of the records a share group member holds: the
// lock keeper renews the lock of the unit in the application's hands when
// two thirds of it have passed (unless ShareManualRenew), and releases a
// record whose lock ran out, in hand or in the buffer, so that franz-go
// never accepts it late at the next poll: Kafka delivers it again.

// Bounds of the lock keeper's tick: a tenth of the shortest lock held.
const (
	shareTickMin = 10 * time.Millisecond
	shareTickMax = time.Second
)

// keepLocks renews and expires the locks held, and watches the
// coordinator's silence (sharegroup_watch.go), until ctx ends (Close).
func (sg *shareGroup) keepLocks(ctx context.Context) {
	t := time.NewTimer(shareTickMax)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		sg.watchSilence(now)
		t.Reset(sg.tendLocks(now))
	}
}

// tendLocks renews what is due and expires what ran out, at now; it
// returns when to look again.
func (sg *shareGroup) tendLocks(now time.Time) time.Duration {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	tick := shareTickMax
	look := func(h *heldRecord, inHand bool) {
		if h.status != 0 || h.deadline.IsZero() {
			return
		}
		tick = min(tick, max(h.lockDur/10, shareTickMin))
		switch {
		case !now.Before(h.deadline):
			sg.expireLocked(h)
		case inHand && sg.autoRenew && h.deadline.Sub(now) < h.lockDur/3:
			sg.renewLocked(h, now)
		}
	}
	for _, h := range sg.hand {
		look(h, true)
	}
	for _, h := range sg.ahead {
		look(h, false)
	}
	for _, h := range sg.buf {
		look(h, false)
	}
	return tick
}

// renewLocked asks Kafka to extend h's lock (Kafka 4.2+), and counts on it
// from now. franz-go sends at most one renewal of a record at a time; a
// renewal asked while one is in flight does nothing, and the deadline
// known is not moved then.
func (sg *shareGroup) renewLocked(h *heldRecord, now time.Time) {
	if h.lockDur <= 0 {
		return
	}
	if !h.renewAt.IsZero() && now.Sub(h.renewAt) < h.lockDur/3 {
		return // the last renewal is recent: let it land
	}
	sg.cl.MarkAcks(kgo.AckRenew, h.r)
	h.renewAt = now
	h.deadline = now.Add(h.lockDur)
	sg.renewedLocked(h)
}

// expireLocked releases h, whose lock ran out before it was finished:
// nothing more is acknowledged of it (MarkDone and the others return
// ErrLockExpired), and the listener hears of it (LOCK_EXPIRED).
func (sg *shareGroup) expireLocked(h *heldRecord) {
	h.expired = true
	sg.ackLocked(h, kgo.AckRelease)
	sg.expiredLocked(h)
	sg.g.log.Warn("share group: a message's acquisition lock ran out before it was acknowledged; released, Kafka delivers it again",
		"topic", h.topic, "partition", h.partition, "offset", h.offset, "delivery", h.delivery, "in_hand", h.ev != nil)
	sg.g.notify(&Notification{Type: LOCK_EXPIRED, Topic: h.topic, Partition: h.partition, Offset: h.offset})
}
