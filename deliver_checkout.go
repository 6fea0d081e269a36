package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// queueLimit is how many fetched records a partition may hold in checkout
// mode before its fetching pauses until Fetch drains it.
const queueLimit = 4096

// checkoutState is the state of Checkout, guarded by pump.mu but wake.
// One partition is checked out at a time.
type checkoutState struct {
	offering *pstate        // the partition whose record Fetch is offering: stop waits until it is no longer
	inflight *pstate        // the partition checked out; nil also when its hand-off's wait ran out (forfeitLocked)
	inEnd    int64          // its offset after what Fetch sent
	lastOut  TopicPartition // the partition checked out last: the rotation goes on after it
	wake     chan struct{}  // a queue was filled or drained, or a partition added (capacity one, never closed)
}

// checkoutQueue is Checkout's state of one partition (pstate.co), guarded
// by pump.mu: what the checkout pump fetched of it and Fetch has not sent.
type checkoutQueue struct {
	queue  []*kgo.Record
	paused bool // fetching paused: the queue reached queueLimit
}

func newCheckoutState() checkoutState {
	return checkoutState{wake: make(chan struct{}, 1)}
}

// wakeUp tells a waiting Fetch to look again.
func (c *checkoutState) wakeUp() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// waitUnofferedLocked is stop's part for Checkout: it waits until Fetch
// offers no record of a stopped partition (it offers outside the lock).
func (p *pump) waitUnofferedLocked() {
	for p.co.offering != nil && p.co.offering.stopped {
		p.cond.Wait()
	}
}

// PartitionConsumer consumes the one partition a Checkout callback holds.
type PartitionConsumer struct {
	g        *ConsumerGroup
	ps       *pstate
	deadline time.Time // end of the CheckoutInterval
	closed   bool
}

// Topic returns the checked-out partition's topic.
func (pc *PartitionConsumer) Topic() string { return pc.ps.tp.Topic }

// Partition returns the checked-out partition.
func (pc *PartitionConsumer) Partition() int32 { return pc.ps.tp.Partition }

// Close ends the checkout early: further Fetch calls return at once.
func (pc *PartitionConsumer) Close() error {
	pc.closed = true
	return nil
}

// Fetch sends the partition's messages to stream, in offset order, until
// duration has passed, the CheckoutInterval is over, stopper receives or is
// closed, or the partition is given up in a rebalance. It returns nil in
// all these cases, and ErrClosed when the group closes. What Fetch sent is
// committed when the callback returns nil.
func (pc *PartitionConsumer) Fetch(stream chan *ConsumerEvent, duration time.Duration, stopper chan bool) error {
	p := pc.g.eng
	end := time.Now().Add(duration)
	if pc.deadline.Before(end) {
		end = pc.deadline
	}
	timer := time.NewTimer(time.Until(end))
	defer timer.Stop()
	var evs []ConsumerEvent // events allocated and not sent yet
	for !pc.closed {
		r, changed := p.take(pc.ps)
		if r == nil && changed == nil {
			return nil // given up
		}
		if r == nil {
			select {
			case <-p.co.wake:
			case <-changed:
			case <-stopper:
				return nil
			case <-timer.C:
				return nil
			case <-pc.g.ctx.Done():
				return ErrClosed
			}
			continue
		}
		if len(evs) == 0 {
			// One allocation for fetchChunk messages, not one each.
			evs = make([]ConsumerEvent, fetchChunk)
		}
		ev := &evs[0]
		fillEvent(ev, r)
		select {
		case stream <- ev:
			evs = evs[1:]
			p.sent(pc.ps, r.Offset+1)
			pc.g.obs.delivered(unit{ps: pc.ps, ev: ev})
		case <-changed:
			p.unoffer()
		case <-stopper:
			p.unoffer()
			return nil
		case <-timer.C:
			p.unoffer()
			return nil
		case <-pc.g.ctx.Done():
			p.unoffer()
			return ErrClosed
		}
	}
	return nil
}

// Checkout hands one partition this member holds to callback, rotating
// through them on every call. When callback returns nil, what it consumed
// through PartitionConsumer.Fetch is committed; DiscardCommit skips the
// commit and delivers the messages again. Checkout returns NoCheckout when
// the member holds no partition (wait and call again: a rebalance may be
// under way). A rebalance that takes the partition away waits for the
// callback to return, at most HandoffTimeout; past it, what the callback
// consumed is not committed, its new owner delivers it again, and the
// listener gets HANDOFF_TIMEOUT. After Close it returns ErrClosed.
func (g *ConsumerGroup) Checkout(callback func(*PartitionConsumer) error) error {
	if g.share != nil {
		return g.share.refuse("Checkout", "a share group's members own no partition to check out: use Next, Poll, Stream or Batches")
	}
	if callback == nil {
		return fmt.Errorf("%w: Checkout: nil callback", ErrInvalidArgument)
	}
	if g.ctx.Err() != nil {
		return ErrClosed
	}
	if !g.eng.choose(modeCheckout) {
		return fmt.Errorf("%w: Checkout cannot be used with %s", ErrInvalidArgument, modeName(g.eng.mode()))
	}
	ps := g.eng.checkout()
	if ps == nil {
		return NoCheckout
	}
	pc := &PartitionConsumer{g: g, ps: ps, deadline: time.Now().Add(g.cfg.CheckoutInterval)}
	err := callback(pc)
	commit, ok := g.eng.checkin(ps, err == nil)
	if errors.Is(err, DiscardCommit) {
		return nil
	}
	if err != nil || !ok {
		return err
	}
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.ZookeeperTimeout)
	defer cancel()
	if cerr := g.CommitOffset(ctx, ps.tp.Topic, ps.tp.Partition, commit); cerr != nil && !errors.Is(cerr, ErrNotOwner) {
		return cerr
	}
	return nil
}

// fetchChunk is how many events Fetch allocates at once: fewer than
// Stream's, as a Fetch may send only a few.
const fetchChunk = 64

// runCheckout polls and queues records per partition for Fetch, pausing
// the partitions whose queue is full.
func (p *pump) runCheckout(ctx context.Context) {
	for ctx.Err() == nil {
		seq := p.newPoll()
		fetches := p.pos.poll(ctx)
		if ctx.Err() != nil {
			return
		}
		p.obs.polled(fetches.NumRecords(), p.pos.client())
		pause := map[string][]int32{}
		stale := map[*pstate]bool{}
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			p.obs.fetched(fp.Topic, fp.Partition, fp.HighWatermark)
			if ps := p.held(TopicPartition{Topic: fp.Topic, Partition: fp.Partition}); ps != nil && len(fp.Records) > 0 && p.stale(ps, seq, fp.Records[0].Offset) {
				stale[ps] = true
			}
		})
		p.mu.Lock()
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			ps := p.parts[TopicPartition{Topic: fp.Topic, Partition: fp.Partition}]
			if ps == nil || stale[ps] {
				return // not held, or rewound
			}
			for _, r := range fp.Records {
				last := ps.next - 1
				if n := len(ps.co.queue); n > 0 {
					last = ps.co.queue[n-1].Offset
				}
				if r.Offset > last {
					ps.co.queue = append(ps.co.queue, r)
				}
			}
			if len(ps.co.queue) >= queueLimit && !ps.co.paused {
				ps.co.paused = true
				pause[fp.Topic] = append(pause[fp.Topic], fp.Partition)
			}
		})
		if len(pause) > 0 {
			// Under p.mu, so that take cannot resume a partition before
			// this pause lands (and then never resume it).
			p.pos.pause(pause)
		}
		p.mu.Unlock()
		p.co.wakeUp()
	}
}

// checkout picks the next held partition, in rotation.
func (p *pump) checkout() *pstate {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.co.inflight != nil || !p.leaseOKLocked() {
		return nil // one checkout at a time; the lease ran out
	}
	tps := make([]TopicPartition, 0, len(p.parts))
	for tp := range p.parts {
		tps = append(tps, tp)
	}
	if len(tps) == 0 {
		return nil
	}
	sortPartitions(tps)
	i, _ := slices.BinarySearchFunc(tps, p.co.lastOut, func(a, b TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	if i < len(tps) && tps[i] == p.co.lastOut {
		i++
	}
	ps := p.parts[tps[i%len(tps)]]
	p.co.lastOut = ps.tp
	p.co.inflight, p.co.inEnd = ps, ps.processed
	return ps
}

// take returns the next queued record of ps and marks it offered; nil
// record with the change channel when none is queued; nil, nil when ps was
// given up.
func (p *pump) take(ps *pstate) (*kgo.Record, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps.stopped {
		return nil, nil
	}
	for len(ps.co.queue) > 0 && ps.co.queue[0].Offset < ps.next {
		ps.co.queue = ps.co.queue[1:]
	}
	if ps.co.paused && len(ps.co.queue) < queueLimit/2 {
		ps.co.paused = false
		p.pos.resume(map[string][]int32{ps.tp.Topic: {ps.tp.Partition}})
	}
	if len(ps.co.queue) == 0 || !p.leaseOKLocked() {
		return nil, p.changed
	}
	r := ps.co.queue[0]
	p.co.offering = ps
	return r, p.changed
}

// sent records that Fetch delivered up to end.
func (p *pump) sent(ps *pstate, end int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps.next = end
	p.co.inEnd = end
	p.co.offering = nil
	p.cond.Broadcast()
}

func (p *pump) unoffer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.co.offering = nil
	p.cond.Broadcast()
}

// checkin ends a checkout. With commit, what was sent counts as processed
// and is returned; without, the partition rewinds to its processed offset.
// ok is false when there is nothing to commit.
func (p *pump) checkin(ps *pstate, commit bool) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if commit {
		// Not counted when the partition was handed over as
		// HandoffTimeout ran out: its new owner delivers again what
		// this checkout consumed; nothing is committed here.
		return p.checkedInLocked(ps, true)
	}
	p.checkedInLocked(ps, false)
	if !ps.stopped && ps.next != ps.processed {
		ps.next = ps.processed
		ps.co.queue = nil
		ps.co.paused = false
		tp := ps.tp
		ps.addedAt = p.polls
		p.pos.resume(map[string][]int32{tp.Topic: {tp.Partition}}) // a pause outlives removal
		p.pos.rewind(tp, ps.processed)
	}
	return 0, false
}
