package consumergroup

import (
	"context"
	"time"
)

// The coordinator's lease: nothing is handed to the application unless the
// coordinator was heard within the safe part of the session, checked on
// the monotonic clock at the moment of handing out (docs/DESIGN.md,
// Fencing: the lease). A member frozen (SIGSTOP, a GC pause, a VM
// migration) or cut off past it may already have lost its partitions to
// another member without knowing yet: the ZooKeeper coordinator learns of
// its session's end only once its client runs again and hears so, which
// can take a second after waking (go-zookeeper's reconnect), and the
// engine would deliver what it had fetched meanwhile.
//
// The hand-out points, each under pump.mu, in the critical section that
// records the unit as handed out:
//
//	send        Stream, Batches: the unit put into the output channel
//	takePulled  Next, Poll
//	checkout    Checkout: the partition handed to the callback
//	take        PartitionConsumer.Fetch: the record offered
//
// Stream and Batches hand a unit out when the application receives it from
// the channel, where one unit may wait (outputBuffer). watchLease closes
// changed when the lease runs out: the pump goroutine wakes and takes the
// queued unit back (drainLocked) before it waits for the lease. A process
// that wakes from a freeze with a unit queued runs its goroutines in no
// set order: the application may receive that one unit before the pump
// takes it back (at most one message for Stream, one batch for Batches;
// the same holds for the record Fetch is offering). Next, Poll and
// Checkout check at the hand-out itself: nothing.

// leasePoll is how often watchLease looks for a lease that ran out to be
// renewed.
const leasePoll = 20 * time.Millisecond

// leaseMaxSleep is the longest watchLease sleeps between two looks.
const leaseMaxSleep = time.Second

// leaseState is the coordinator's lease in the engine.
type leaseState struct {
	fn    func() time.Time // set once by setLease, before the group runs; nil: no lease
	until time.Time        // guarded by pump.mu: fn's last answer, valid before it
}

// setLease gives the engine the coordinator's lease: fn returns until when
// the coordinator's session is known alive (zero: not alive). It is called
// once, before the group runs, and starts watchLease.
func (p *pump) setLease(fn func() time.Time) {
	p.lease.fn = fn
	p.goFunc(func() { p.watchLease(p.ctx) })
}

// leaseOKLocked reports whether the lease allows a hand-out now. mu is
// held.
func (p *pump) leaseOKLocked() bool {
	if p.lease.fn == nil {
		return true
	}
	// time.Until reads only the monotonic clock when until carries it
	// (the ZooKeeper session's lease does), where time.Now reads the wall
	// clock too: this runs at every hand-out, i.e. per message for Next.
	if time.Until(p.lease.until) > 0 {
		return true
	}
	p.lease.until = p.lease.fn()
	return time.Until(p.lease.until) > 0
}

// leaseHoldLocked is send's part: when the lease has run out, it takes
// back the unit queued in the output channel and waits, outside the lock,
// until the lease or the partitions change or ctx ends; it reports whether
// it waited (send then looks again). mu is held.
func (p *pump) leaseHoldLocked(ctx context.Context) bool {
	if p.leaseOKLocked() {
		return false
	}
	p.drainLocked()
	changed := p.changed
	p.mu.Unlock()
	select {
	case <-changed:
	case <-ctx.Done():
	}
	p.mu.Lock()
	return true
}

// leaseWait is Next and Poll's wait for the lease: until it, or the
// partitions, change, ctx ends or the group closes.
func (p *pump) leaseWait(ctx context.Context) error {
	p.mu.Lock()
	changed := p.changed
	p.mu.Unlock()
	select {
	case <-changed:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return errPullClosed
	}
	return nil
}

// leaseChanged wakes the engine's waiters (changed); when the lease ran
// out, it also has the pump goroutine take back the unit queued in the
// output channel, and ends its poll in progress for that.
func (p *pump) leaseChanged(valid bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !valid && p.ch.running {
		p.ch.drainReq++
		if p.ch.cancel != nil {
			p.ch.cancel()
		}
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// watchLease wakes the engine's waiters (changed) when the lease runs out
// and when it is renewed: at the lease's end, then every leasePoll until
// it is renewed.
func (p *pump) watchLease(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	valid := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		until := p.lease.fn()
		now := time.Now()
		if ok := now.Before(until); ok != valid {
			valid = ok
			p.leaseChanged(ok)
		}
		if valid {
			// At most leaseMaxSleep: a lease may also be shortened
			// (Kafka's before the member joined is an hour).
			t.Reset(min(until.Sub(now), leaseMaxSleep))
		} else {
			t.Reset(leasePoll)
		}
	}
}
