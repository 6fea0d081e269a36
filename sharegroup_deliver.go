package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// How a share group hands records out and acknowledges them.
//
// franz-go accepts, at each PollRecords, every record of the previous poll
// that was not acknowledged yet. So the member polls only once every record
// of the previous poll is finished (acknowledged by the member, or released
// because its lock ran out): a record still in the application's hands, or
// still in the buffer, is never accepted by a poll. With Next and Poll that
// holds by construction (the buffer is empty and the unit in hand was
// finished when the application asks for more); the Stream and Batches
// goroutine waits for it (see takeAhead).

// heldRecord is one record the member acquired. Its fields are guarded by
// shareGroup.mu.
type heldRecord struct {
	sg        *shareGroup
	topic     string
	partition int32
	offset    int64
	delivery  int32          // the record's delivery count
	r         *kgo.Record    // nil once finished: nothing more is acknowledged
	ev        *ConsumerEvent // the event handed out (nil before)
	lockDur   time.Duration  // the lock's length, as seen at the fetch
	deadline  time.Time      // when the lock runs out as the member knows it (renewals move it); zero: unknown
	status    kgo.AckStatus  // 0: unfinished; AckAccept, AckRelease, AckReject: finished
	expired   bool           // the lock ran out before it was finished (then released)
	renewAt   time.Time      // the last renewal sent
}

// shareUnit is what the application takes at once: one event (Next,
// Stream) or a batch (Poll, Batches).
type shareUnit struct {
	recs []*heldRecord
	ev   *ConsumerEvent
	b    *EventBatch
}

// errShareClosed is ErrClosed for the share group's deliveries.
var errShareClosed = fmt.Errorf("consumergroup: share group: %w", ErrClosed)

// choose sets the delivery mode if none is set, and reports whether it is
// m; the first Stream or Batches starts the goroutine that feeds it.
func (sg *shareGroup) choose(m int) bool {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	if sg.mode != modeNone {
		return sg.mode == m
	}
	sg.mode = m
	switch m {
	case modeStream:
		sg.stream = make(chan *ConsumerEvent)
	case modeBatches:
		sg.batches = make(chan *EventBatch)
	default:
		return true
	}
	if sg.closed {
		sg.closeOutputsLocked() // Stream and Batches return a closed channel after Close
		return true
	}
	sg.g.goFunc(func() { sg.feed(sg.g.ctx, m == modeBatches) })
	return true
}

// next finishes the unit in hand (accepted unless marked) and returns the
// next one, polling when the buffer is empty: Next and Poll.
func (sg *shareGroup) next(ctx context.Context, batch bool) (shareUnit, error) {
	sg.pullMu.Lock()
	defer sg.pullMu.Unlock()
	for {
		sg.mu.Lock()
		if sg.closed {
			sg.mu.Unlock()
			return shareUnit{}, errShareClosed
		}
		sg.finishHandLocked(kgo.AckAccept)
		u, ok := sg.takeLocked(batch)
		if ok {
			sg.hand = u.recs
		}
		sg.mu.Unlock()
		if ok {
			sg.delivered(u)
			return u, nil
		}
		if err := ctx.Err(); err != nil {
			return shareUnit{}, err
		}
		if err := sg.poll(ctx); err != nil {
			return shareUnit{}, err
		}
	}
}

// feed runs Stream or Batches: it sends the next unit, and once the loop
// has taken it, finishes the one before (accepted unless marked).
func (sg *shareGroup) feed(ctx context.Context, batch bool) {
	for {
		u, err := sg.takeAhead(ctx, batch)
		if err != nil {
			return
		}
		sent := false
		if batch {
			select {
			case sg.batches <- u.b:
				sent = true
			case <-ctx.Done():
			}
		} else {
			select {
			case sg.stream <- u.ev:
				sent = true
			case <-ctx.Done():
			}
		}
		sg.mu.Lock()
		if !sent {
			// Never reached the application: released at once (Close).
			for _, h := range u.recs {
				sg.ackLocked(h, kgo.AckRelease)
			}
			sg.ahead = nil
			sg.mu.Unlock()
			return
		}
		sg.finishHandLocked(kgo.AckAccept)
		sg.hand, sg.ahead = u.recs, nil
		sg.mu.Unlock()
		sg.delivered(u)
	}
}

// takeAhead returns the next unit while the application may still hold
// the previous one: from the buffer, or, when it is empty, from a poll made
// once every record of the previous poll is finished (the unit in hand
// included: marked, or taken past when the next is received).
func (sg *shareGroup) takeAhead(ctx context.Context, batch bool) (shareUnit, error) {
	sg.pullMu.Lock()
	defer sg.pullMu.Unlock()
	for {
		sg.mu.Lock()
		if sg.closed {
			sg.mu.Unlock()
			return shareUnit{}, errShareClosed
		}
		u, ok := sg.takeLocked(batch)
		if ok {
			sg.ahead = u.recs // the lock keeper expires them if they wait long
		}
		wait := sg.change
		sg.waiting = true
		pending := !ok && sg.unfinishedLocked()
		sg.mu.Unlock()
		switch {
		case ok:
			return u, nil
		case pending:
			if err := sg.waitFinished(ctx, wait); err != nil {
				return shareUnit{}, err
			}
		default:
			if err := sg.poll(ctx); err != nil {
				return shareUnit{}, err
			}
		}
	}
}

// waitFinished waits for a record to be finished (wait closes), or ctx's
// end. A wait longer than a lock is logged once: a Stream or Batches loop
// that never marks the last message of a fetch holds the next fetch back.
func (sg *shareGroup) waitFinished(ctx context.Context, wait <-chan struct{}) error {
	t := time.NewTimer(shareStallWarning)
	defer t.Stop()
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	sg.stallOnce.Do(func() {
		sg.g.log.Warn("share group: the next fetch waits for the message in hand to be finished: with Stream or Batches, call MarkDone (MarkBatchDone), Release or Reject on the last message of each fetch, or use Next or Poll")
	})
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shareStallWarning is how long the Stream or Batches goroutine waits for
// the unit in hand before it logs why (waitFinished).
const shareStallWarning = 30 * time.Second

// unfinishedLocked reports whether a record of the last poll is not
// finished yet.
func (sg *shareGroup) unfinishedLocked() bool {
	for _, h := range sg.polled {
		if h.status == 0 {
			return true
		}
	}
	return false
}

// takeLocked takes the next unit from the buffer: one record, or every
// record left of the first record's partition (batch). Records whose lock
// ran out in the buffer were released already (sharegroup_lock.go) and are
// skipped.
func (sg *shareGroup) takeLocked(batch bool) (shareUnit, bool) {
	for len(sg.buf) > 0 && sg.buf[0].status != 0 {
		sg.buf = sg.buf[1:]
	}
	if len(sg.buf) == 0 {
		return shareUnit{}, false
	}
	if !batch {
		h := sg.buf[0]
		sg.buf = sg.buf[1:]
		ev := &ConsumerEvent{}
		sg.fill(ev, h)
		return shareUnit{recs: []*heldRecord{h}, ev: ev}, true
	}
	first := sg.buf[0].r
	var recs, rest []*heldRecord
	for _, h := range sg.buf {
		switch {
		case h.status != 0:
		case h.topic == first.Topic && h.partition == first.Partition:
			recs = append(recs, h)
		default:
			rest = append(rest, h)
		}
	}
	sg.buf = rest
	b := &EventBatch{Topic: first.Topic, Partition: first.Partition, Events: make([]ConsumerEvent, len(recs))}
	for i, h := range recs {
		sg.fill(&b.Events[i], h)
	}
	return shareUnit{recs: recs, b: b}, true
}

// fill fills ev with h's record and ties the two.
func (sg *shareGroup) fill(ev *ConsumerEvent, h *heldRecord) {
	fillEvent(ev, h.r)
	ev.DeliveryCount = h.delivery
	ev.AcquisitionDeadline = h.r.AcquisitionDeadline()
	ev.held = h
	h.ev = ev
}

// poll polls franz-go (every record of the previous poll is finished: see
// the top of the file) and buffers what came: all of it, so that no
// acquired record waits in franz-go's buffer, where the lock keeper could
// not renew it.
func (sg *shareGroup) poll(ctx context.Context) error {
	g := sg.g
	pctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(g.ctx, cancel) // Close ends the wait
	sg.mu.Lock()
	sg.flushAcceptsLocked() // the previous poll's, at once
	sg.mu.Unlock()
	fetches := sg.cl.PollRecords(pctx, -1)
	stop()
	cancel()
	recs, late := sg.hold(fetches)
	g.obs.polled(len(recs), sg.cl)
	if len(late) > 0 {
		sg.isolate(late)
	}
	sg.mu.Lock()
	for _, h := range recs {
		if !h.expired {
			sg.buf = append(sg.buf, h)
		}
	}
	sg.polled = recs
	sg.acquiredLocked(recs)
	closed := sg.closed
	sg.mu.Unlock()
	if closed || g.ctx.Err() != nil || fetches.IsClientClosed() {
		return errShareClosed // what came is released by Close
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	failed := false
	fetches.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		failed = true
		g.log.Warn("share group fetch error", "topic", t, "partition", p, "err", err)
		g.notify(&Notification{Type: REBALANCE_ERROR, Topic: t, Partition: p, Err: fmt.Errorf("share group %q: fetch: %w", g.name, err)})
	})
	if failed && len(recs) == 0 {
		// An error alone: wait a little before polling again.
		t := time.NewTimer(shareErrorBackoff)
		defer t.Stop()
		select {
		case <-t.C:
		case <-pctx.Done():
		case <-g.ctx.Done():
		}
	}
	return nil
}

// hold makes a heldRecord of each record polled; late are those that came
// with too little of their lock left to be acknowledged safely. The lock's
// length is the longest seen (a record that waited in franz-go's buffer
// shows less): renewals extend a lock by it.
func (sg *shareGroup) hold(fetches kgo.Fetches) (recs, late []*heldRecord) {
	now := time.Now()
	n := fetches.NumRecords()
	recs = make([]*heldRecord, 0, n)
	slab := make([]heldRecord, n) // one allocation for the poll's records
	fetches.EachRecord(func(r *kgo.Record) {
		h := &slab[len(recs)]
		*h = heldRecord{sg: sg, r: r, deadline: r.AcquisitionDeadline(),
			topic: r.Topic, partition: r.Partition, offset: r.Offset, delivery: r.DeliveryCount()}
		if !h.deadline.IsZero() {
			sg.lockDur = max(sg.lockDur, h.deadline.Sub(now))
		}
		recs = append(recs, h)
	})
	for _, h := range recs {
		if h.deadline.IsZero() {
			continue
		}
		h.lockDur = sg.lockDur
		if h.deadline.Sub(now) < shareReleaseLead(h.lockDur) {
			late = append(late, h)
		}
	}
	return recs, late
}

// isolate releases records that came with too little of their lock left
// (they waited in franz-go's buffer: a fetch still in flight when the last
// poll returned): it may have run out already, and Kafka would then refuse,
// with their release, every acknowledgement of their partition sent in the
// same request. So the acknowledgements pending are sent first, then the
// releases alone, in one request; Kafka's refusal of those (it released
// the records already) is expected, not counted (acked).
func (sg *shareGroup) isolate(late []*heldRecord) {
	ctx, cancel := context.WithTimeout(sg.g.ctx, shareCloseTimeout)
	defer cancel()
	sg.mu.Lock()
	sg.flushAcceptsLocked()
	sg.mu.Unlock()
	_ = sg.cl.FlushAcks(ctx)
	rs := make([]*kgo.Record, len(late))
	sg.mu.Lock()
	for i, h := range late {
		rs[i] = h.r
		h.expired, h.status, h.r = true, kgo.AckRelease, nil
		sg.ackedLocked(h, kgo.AckRelease)
		sg.expiredLocked(h)
		sg.g.notify(&Notification{Type: LOCK_EXPIRED, Topic: h.topic, Partition: h.partition, Offset: h.offset})
	}
	sg.isolating.Store(true)
	sg.cl.MarkAcks(kgo.AckRelease, rs...)
	sg.mu.Unlock()
	sg.g.log.Warn("share group: messages came with their acquisition locks (nearly) run out, having waited in franz-go's buffer; released, Kafka delivers them again",
		"messages", len(late), "topic", late[0].topic, "partition", late[0].partition, "offset", late[0].offset, "delivery", late[0].delivery)
	_ = sg.cl.FlushAcks(ctx)
	sg.isolating.Store(false)
}

// shareErrorBackoff is how long a poll that returned errors and no records
// waits before the next.
const shareErrorBackoff = 250 * time.Millisecond

// finishHandLocked finishes the unit in hand with status, but for the
// records already finished (marked, or expired), and empties the hand.
func (sg *shareGroup) finishHandLocked(status kgo.AckStatus) {
	for _, h := range sg.hand {
		if h.status == 0 {
			sg.ackLocked(h, status)
		}
	}
	sg.hand = nil
}

// ackLocked acknowledges h with status (a terminal one) and wakes whoever
// waits for records to be finished. An accept whose lock has time left
// waits in sg.accepts, marked with the others at once (flushAcceptsLocked:
// at the next poll, the lock keeper's next tick, Close): one franz-go call
// for many records instead of one each.
func (sg *shareGroup) ackLocked(h *heldRecord, status kgo.AckStatus) {
	if h.status != 0 {
		return
	}
	left := time.Until(h.deadline)
	switch {
	case status == kgo.AckAccept && (h.deadline.IsZero() || left > shareTickMax+shareAckDelay+shareReleaseLead(h.lockDur)):
		sg.accepts = append(sg.accepts, h.r)
	default:
		sg.cl.MarkAcks(status, h.r)
		if !h.deadline.IsZero() && left < shareTickMax+shareAckDelay+shareReleaseLead(h.lockDur) {
			sg.flushAcceptsLocked()
			sg.hurryAcks() // franz-go's ack timer could send it after the lock ran out
		}
	}
	h.status, h.r = status, nil
	sg.ackedLocked(h, status)
	sg.wakeLocked()
}

// flushAcceptsLocked marks the accepts waiting in sg.accepts, at once.
func (sg *shareGroup) flushAcceptsLocked() {
	if len(sg.accepts) == 0 {
		return
	}
	sg.cl.MarkAcks(kgo.AckAccept, sg.accepts...)
	clear(sg.accepts)
	sg.accepts = sg.accepts[:0]
}

// wakeLocked wakes the goroutines waiting for a change (a record finished,
// Close), if one waits.
func (sg *shareGroup) wakeLocked() {
	if !sg.waiting {
		return
	}
	sg.waiting = false
	close(sg.change)
	sg.change = make(chan struct{})
}

// mark finishes ev with status (MarkDone: AckAccept, Release, Reject), or
// renews its lock (AckRenew); what names the call in errors.
func (sg *shareGroup) mark(ev *ConsumerEvent, status kgo.AckStatus, what string) error {
	if ev == nil {
		return fmt.Errorf("%w: %s: nil message", ErrInvalidArgument, what)
	}
	h := ev.held
	if h == nil || h.sg != sg || h.ev != ev {
		return fmt.Errorf("%w: %s: the message of topic %q partition %d at offset %d was not handed out by share group %q (a copy, another group's, or not delivered yet): pass the *ConsumerEvent that Next, Stream, Poll or Batches returned",
			ErrInvalidArgument, what, ev.Topic, ev.Partition, ev.Offset, sg.g.name)
	}
	sg.mu.Lock()
	defer sg.mu.Unlock()
	switch {
	case h.expired:
		return fmt.Errorf("%w: %s: topic %q partition %d offset %d (delivery %d): released, Kafka delivers it again",
			ErrLockExpired, what, ev.Topic, ev.Partition, ev.Offset, ev.DeliveryCount)
	case h.status == kgo.AckAccept && status == kgo.AckAccept:
		return nil // marked already: nothing more to do
	case h.status != 0:
		return fmt.Errorf("%w: %s: topic %q partition %d offset %d was finished already (%s)",
			ErrInvalidArgument, what, ev.Topic, ev.Partition, ev.Offset, h.status)
	case status == kgo.AckRenew && !sg.canRenew:
		return fmt.Errorf("%w: %s: the brokers do not renew locks (ShareAcknowledge v2, Kafka 4.2+)", ErrShareGroupsUnavailable, what)
	case status == kgo.AckRenew:
		if sg.renewLocked(h, time.Now()) {
			sg.hurryAcks()
		}
		return nil
	}
	sg.ackLocked(h, status)
	return nil
}

// markBatch accepts every message of b (MarkBatchDone).
func (sg *shareGroup) markBatch(b *EventBatch) error {
	if b == nil {
		return fmt.Errorf("%w: MarkBatchDone: nil batch", ErrInvalidArgument)
	}
	var errs []error
	for i := range b.Events {
		if err := sg.mark(&b.Events[i], kgo.AckAccept, "MarkBatchDone"); err != nil && !errors.Is(err, ErrLockExpired) {
			return err
		} else if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeOutputs closes the Stream or Batches channel (Close, after the
// goroutine feeding it has returned).
func (sg *shareGroup) closeOutputs() {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	sg.closeOutputsLocked()
}

func (sg *shareGroup) closeOutputsLocked() {
	if sg.outClosed {
		return
	}
	sg.outClosed = true
	if sg.stream != nil {
		close(sg.stream)
	}
	if sg.batches != nil {
		close(sg.batches)
	}
}
