package consumergroup

import "time"

// The one rule of the engine: what counts as processed, and how long a
// hand-off waits for it. Every delivery mode calls it; nothing else moves a
// partition's processed offset (pstate.processed: the next offset to
// commit, everything before it processed) but where a partition starts
// (add, stale) and a manual commit (setProcessed).
//
// A unit (a Stream message, a Batches batch, what Next or Poll returned,
// what a checkout's Fetch sent) is in the application's hands from when
// it was taken until it counts as processed:
//
//   - Stream, Batches: when the application takes the next unit from the
//     channel (settleLocked: the channel's length tells what was taken), or
//     marks it done (MarkDone, MarkBatchDone: markDone), with every unit
//     taken before it;
//   - Next, Poll: at the next call (pulledLocked), or MarkDone/MarkBatchDone;
//   - Checkout: when the callback returns nil (checkedInLocked);
//   - every mode: at Close (closing: countInHandLocked).
//
// A hand-off (revoked) stops the partitions first, so that no unit of
// theirs is queued or offered any more, then waits for the unit of theirs
// in hand, if any, at most HandoffTimeout (waitProcessed). Past it the
// unit does not count (forfeitLocked): the offsets committed stop before
// it, its partition's next owner delivers it again (at least once; the
// application may still be on it), and a checkout's checkin commits
// nothing. While the application waits inside Next or Poll it holds
// nothing: the wait ends at once.

// count counts the partition's messages before end as processed.
func (ps *pstate) count(end int64) { ps.processed = max(ps.processed, end) }

// settleLocked counts as processed every unit the application took before
// the one it took last (Stream, Batches). Units queued in the channel are
// the last of out; a unit sent and not yet recorded in out is counted as
// queued too, which only makes the count lower.
func (p *pump) settleLocked() {
	c := &p.ch
	taken := len(c.out) - len(c.stream) - len(c.batches)
	if taken <= 1 {
		return
	}
	for _, u := range c.out[:taken-1] {
		u.ps.count(u.end)
	}
	// Shift down rather than reslice: out stays a few units long, and a
	// slice whose start keeps moving would be reallocated every few sends.
	n := copy(c.out, c.out[taken-1:])
	clear(c.out[n:])
	c.out = c.out[:n]
}

// settleSentLocked runs after send put a unit into the output channel
// (Stream, Batches) and recorded it in out, when a hand-off waits, a mark
// waits for the unit (lateDone) or out is settleEvery long (send checks,
// so that the call is made only then). A mark made before the unit was
// recorded applies now; a waiting hand-off looks again. Whoever reads out
// settles it first: here it is only kept short, not at every message.
func (p *pump) settleSentLocked() {
	if p.ch.lateDone != nil {
		p.markLateLocked()
	}
	if p.waiters > 0 {
		p.settleLocked()
		p.cond.Broadcast()
	} else if len(p.ch.out) >= settleEvery {
		p.settleLocked()
	}
}

// pulledLocked counts the unit Next or Poll returned last as processed:
// the application called again. It reports whether a hand-off waits, for
// the caller to wake it (cond.Broadcast): without that call it is inlined
// in takePulled, and a call of Next costs no call more.
func (p *pump) pulledLocked() (wake bool) {
	u := p.pull.hand
	if u.ps == nil {
		return false
	}
	u.ps.count(u.end)
	p.pull.hand = unit{}
	return p.waiters > 0
}

// checkedInLocked ends the checkout of ps. With commit, what Fetch sent
// counts as processed unless a hand-off's wait ran out meanwhile (the
// checkout is no longer counted: forfeitLocked); it returns the processed
// offset, and whether it moved.
func (p *pump) checkedInLocked(ps *pstate, commit bool) (int64, bool) {
	counted := p.co.inflight == ps
	if counted {
		p.co.inflight = nil
		p.cond.Broadcast()
	}
	if !commit || !counted {
		return 0, false
	}
	moved := p.co.inEnd > ps.processed
	ps.count(p.co.inEnd)
	return ps.processed, moved
}

// markDone counts the unit holding x (a *ConsumerEvent or an *EventBatch)
// as processed, with every unit taken before it, and wakes a hand-off that
// waits for it. A unit the pump is sending (it records it after a blocking
// send returns) is marked when it records it (lateDone). It returns false
// when x is not a unit the group handed out (see knownLocked).
func (p *pump) markDone(x any) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.markLocked(x) {
		return true
	}
	if p.ch.sending.holds(x) {
		p.ch.lateDone = x
		return true
	}
	return p.knownLocked(x)
}

// knownLocked reports whether x, not a unit in the application's hands,
// may still be one the group handed out, which marking leaves as it is: of
// a partition given up since, or counted as processed already. Any other x
// (a copy of a unit in hand, another group's, one of a partition never
// held, one not delivered yet) is not the group's.
func (p *pump) knownLocked(x any) bool {
	var tp TopicPartition
	var first int64
	switch x := x.(type) {
	case *ConsumerEvent:
		tp, first = TopicPartition{Topic: x.Topic, Partition: x.Partition}, x.Offset
	case *EventBatch:
		if len(x.Events) == 0 {
			return false // the group hands out no empty batch
		}
		tp, first = TopicPartition{Topic: x.Topic, Partition: x.Partition}, x.Events[0].Offset
	default:
		return false
	}
	if ps := p.parts[tp]; ps != nil {
		return first < ps.processed
	}
	return p.parked[tp]
}

// markLateLocked applies a mark made before its unit was recorded.
func (p *pump) markLateLocked() {
	if p.markLocked(p.ch.lateDone) {
		p.ch.lateDone = nil
	}
}

// markLocked marks x processed if it is a unit the application took or
// holds (pull); false when x is not known (yet).
//
// Every unit of out is searched, not only those the channel's length says
// were taken: a pointer reaches the application only through the channel,
// so holding it means it was taken. The count from the length is one too
// low while a blocked send put the next unit into the channel and has not
// recorded it yet (see settleLocked): the unit taken last then looks
// queued.
func (p *pump) markLocked(x any) bool {
	if u := p.pull.hand; u.ps != nil && u.holds(x) {
		u.ps.count(u.end)
		p.pull.hand = unit{}
		p.cond.Broadcast()
		return true
	}
	c := &p.ch
	for i := range c.out {
		if !c.out[i].holds(x) {
			continue
		}
		for _, u := range c.out[:i+1] {
			u.ps.count(u.end)
		}
		n := copy(c.out, c.out[i+1:])
		clear(c.out[n:])
		c.out = c.out[:n]
		p.cond.Broadcast()
		return true
	}
	return false
}

// holds reports whether the unit is x's.
func (u unit) holds(x any) bool {
	switch x := x.(type) {
	case *ConsumerEvent:
		return u.ev == x
	case *EventBatch:
		return u.b == x
	case *RecordBatch:
		return u.rb == x
	}
	return false
}

// setProcessed records a manual commit.
func (p *pump) setProcessed(tp TopicPartition, off int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps := p.parts[tp]; ps != nil {
		ps.processed = off
	}
}

// processedOffsets returns the processed offsets of the partitions held.
func (p *pump) processedOffsets() map[TopicPartition]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settleLocked()
	out := make(map[TopicPartition]int64, len(p.parts))
	for tp, ps := range p.parts {
		out[tp] = ps.processed
	}
	return out
}

// inHand is the unit of a partition being given up that the application
// holds: a Stream message, a batch, or what a checkout sent.
type inHand struct {
	tp     TopicPartition
	offset int64 // its first message's offset
}

// holding returns the unit of states in the application's hands, nil when
// none. The states were stopped: none of their units is queued any more.
func (p *pump) holding(states []*pstate) *inHand {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.settleLocked()
	return p.inHandLocked(states)
}

// waitProcessed waits until the unit in the application's hands, if it is
// of one of states, is processed, at most timeout. It returns the states'
// processed offsets, and the unit still in hand at the timeout (nil when
// none). That unit does not count as processed (forfeitLocked). With
// countInHand (Close), it counts as processed.
func (p *pump) waitProcessed(states []*pstate, timeout time.Duration, countInHand bool) (map[TopicPartition]int64, *inHand) {
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiters++
	defer func() { p.waiters-- }()
	for {
		p.settleLocked()
		held := p.inHandLocked(states)
		if held == nil {
			return processedOf(states), nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			if countInHand {
				p.countInHandLocked(states)
				return processedOf(states), nil
			}
			p.forfeitLocked(states)
			return processedOf(states), held
		}
		// The pump wakes us when it sends; the application taking a
		// queued unit wakes nobody: look again within a millisecond.
		t := time.AfterFunc(min(left, time.Millisecond), func() {
			p.mu.Lock()
			p.cond.Broadcast()
			p.mu.Unlock()
		})
		p.cond.Wait()
		t.Stop()
	}
}

// processedOf returns the processed offsets of states.
func processedOf(states []*pstate) map[TopicPartition]int64 {
	out := make(map[TopicPartition]int64, len(states))
	for _, ps := range states {
		out[ps.tp] = ps.processed
	}
	return out
}

// inHandLocked returns the unit of states that may still be in the
// application's hands, nil when none.
func (p *pump) inHandLocked(states []*pstate) *inHand {
	if co := p.co.inflight; contains(states, co) {
		return &inHand{co.tp, co.processed}
	}
	if u := p.pull.hand; contains(states, u.ps) {
		return &inHand{u.ps.tp, u.first()}
	}
	for _, u := range p.ch.out {
		if !contains(states, u.ps) {
			continue
		}
		return &inHand{u.ps.tp, u.first()}
	}
	return nil
}

// countInHandLocked counts the units of states in the application's hands
// as processed (Close: the application finishes them).
func (p *pump) countInHandLocked(states []*pstate) {
	for _, u := range p.ch.out {
		if contains(states, u.ps) {
			u.ps.count(u.end)
		}
	}
	if co := p.co.inflight; contains(states, co) {
		co.count(p.co.inEnd)
		p.co.inflight = nil
		p.cond.Broadcast()
	}
	if u := p.pull.hand; contains(states, u.ps) {
		u.ps.count(u.end)
		p.pull.hand = unit{}
	}
}

// forfeitLocked gives up on the unit of states in hand at the timeout: it
// does not count, and a checkout's checkin commits nothing (see
// checkedInLocked). Stream, Batches and Next/Poll need nothing more: the
// offsets already stop before the unit.
func (p *pump) forfeitLocked(states []*pstate) {
	if contains(states, p.co.inflight) {
		p.co.inflight = nil
		p.cond.Broadcast()
	}
}

// first is the offset of the unit's first message.
func (u unit) first() int64 {
	switch {
	case u.ev != nil:
		return u.ev.Offset
	case u.b != nil && len(u.b.Events) > 0:
		return u.b.Events[0].Offset
	case u.rb != nil && len(u.rb.Records) > 0:
		return u.rb.Records[0].Offset
	}
	return u.end - 1
}

func contains(states []*pstate, ps *pstate) bool {
	if ps == nil {
		return false
	}
	for _, s := range states {
		if s == ps {
			return true
		}
	}
	return false
}
