package consumergroup

import "fmt"

// MarkDone tells the group that the application has finished ev, a
// message it received from Stream (or from Next): from then on ev counts as
// processed. Neither a hand-off of its partition nor the periodic commit
// waits for the loop to take the next message any more: on a quiet topic,
// a rebalance proceeds at once and the committed offset (and the lag)
// includes ev within CommitInterval.
//
// Without MarkDone, Stream's rule holds: a message counts as processed when
// the loop takes the next one (see Stream). Call it once the message's work
// is complete, from any goroutine; messages received before ev count as
// processed with it. Marking a message that counts as processed already
// (or one of a partition given up since) does nothing. It returns an error
// matching ErrInvalidArgument for nil, or when the group delivers through
// Batches or Checkout (use MarkBatchDone with Batches).
func (g *ConsumerGroup) MarkDone(ev *ConsumerEvent) error {
	if ev == nil {
		return fmt.Errorf("%w: MarkDone: nil message", ErrInvalidArgument)
	}
	if m := g.eng.mode(); m == modeBatches || m == modeCheckout {
		return fmt.Errorf("%w: MarkDone: the group delivers through %s; use MarkBatchDone with Batches", ErrInvalidArgument, modeName(m))
	}
	g.eng.markDone(ev)
	return nil
}

// MarkBatchDone is MarkDone for a batch received from Batches (or from
// Poll): the whole batch counts as processed.
func (g *ConsumerGroup) MarkBatchDone(b *EventBatch) error {
	if b == nil {
		return fmt.Errorf("%w: MarkBatchDone: nil batch", ErrInvalidArgument)
	}
	if m := g.eng.mode(); m == modeStream || m == modeCheckout {
		return fmt.Errorf("%w: MarkBatchDone: the group delivers through %s; use MarkDone with Stream", ErrInvalidArgument, modeName(m))
	}
	g.eng.markDone(b)
	return nil
}

// modeName names a delivery mode in errors.
func modeName(m int) string {
	switch m {
	case modeStream:
		return "Stream"
	case modeBatches:
		return "Batches"
	case modeCheckout:
		return "Checkout"
	case modePull:
		return "Next/Poll"
	}
	return "nothing yet"
}

// mode returns the delivery mode chosen (modeNone before the first call).
func (p *pump) mode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.modeVal
}

// markDone counts the unit holding x (a *ConsumerEvent or an *EventBatch)
// as processed, with every unit taken before it, and wakes a hand-off that
// waits for it. A unit the pump has sent but not yet recorded (it records
// after a blocking send returns) is marked when it records it (lateDone).
func (p *pump) markDone(x any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.markLocked(x) {
		return
	}
	p.lateDone = x
}

// markLateLocked applies a mark made before its unit was recorded.
func (p *pump) markLateLocked() {
	if p.markLocked(p.lateDone) {
		p.lateDone = nil
	}
}

// markLocked marks x processed if it is a unit the application took or
// holds (pull); false when x is not known (yet).
func (p *pump) markLocked(x any) bool {
	if u := p.pullHand; u.ps != nil && u.holds(x) {
		u.ps.processed = max(u.ps.processed, u.end)
		p.pullHand = unit{}
		p.cond.Broadcast()
		return true
	}
	taken := len(p.out) - len(p.stream) - len(p.batches)
	for i := range min(taken, len(p.out)) {
		if !p.out[i].holds(x) {
			continue
		}
		for _, u := range p.out[:i+1] {
			u.ps.processed = max(u.ps.processed, u.end)
		}
		n := copy(p.out, p.out[i+1:])
		clear(p.out[n:])
		p.out = p.out[:n]
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
	}
	return false
}
