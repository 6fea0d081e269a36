package consumergroup

import (
	"context"
	"errors"
	"runtime"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Stream and Batches share one machinery: a pump goroutine polls the
// member's franz-go client and delivers what it fetches to the application,
// message by message (Stream) or batch by batch (Batches), through a
// buffered channel. A unit counts as processed once the application has
// taken the next one (engine_processed.go): the application has taken every
// sent unit but those still in the channel (its length tells how many),
// and the unit it took last is in its hands. When partitions are given up,
// or at Close, the pump takes the units still queued back out of the
// channel: those of partitions given up are dropped, the others are sent
// again, in order, before anything newer. So nothing of a partition given
// up reaches the application after the hand-off, and no message of a
// partition is skipped or reordered.
//
// The pump goroutine is the only sender on the output channels and the only
// goroutine besides the application that receives from them; Close closes
// them after it has returned.

// outputBuffer is the capacity of the Stream and Batches channels: one unit
// queued ahead of the application, so that the pump prepares the next unit
// while the application processes the current one and a take rarely waits
// for the pump (on the benchmark machine: 170 ns per message for a bare
// channel of capacity one, 250 ns unbuffered, 480 ns unbuffered in a select
// of three cases). A queued unit is not delivered yet: a
// hand-off or Close takes it back out of the channel (see drainLocked).
//
// It is one, not more, because that take-back runs while the application
// may be receiving: with two or more units queued, the application could
// take a later unit while the pump takes back an earlier one of the same
// partition, and the partition's order (and what counts as processed) would
// be lost. With one, either the pump or the application gets it.
const outputBuffer = 1

// chanState is the state of Stream and Batches, guarded by pump.mu but the
// channels (set once; closed under pump.mu).
type chanState struct {
	running  bool               // the pump goroutine runs
	cancel   context.CancelFunc // ends the pump's poll in progress
	drainReq int64              // take-backs asked for (stop)
	drained  int64              // take-backs done by the pump goroutine
	closed   bool               // the channels are closed (Close)
	out      []unit             // sent and not known processed, oldest first: the channel holds the last ones
	resend   []unit             // taken back out of the channel, of held partitions: sent before anything else
	lateDone any                // a MarkDone of a unit sent and not yet recorded in out (see markDone)
	sending  unit               // the unit a blocked send waits to send, outside the lock (see markDone)
	stream   chan *ConsumerEvent
	batches  chan *EventBatch
}

func newChanState() chanState {
	return chanState{
		stream:  make(chan *ConsumerEvent, outputBuffer),
		batches: make(chan *EventBatch, outputBuffer),
	}
}

// run polls and delivers until ctx ends. Once ctx ends it delivers nothing
// more and takes back what is queued: a record is never skipped for a later
// one of the same partition to be delivered.
func (p *pump) run(ctx context.Context, mode int) {
	defer p.exit()
	// The end of ctx also closes changed: a blocked send then waits on two
	// channels, not three (a select's cost grows with its cases).
	defer context.AfterFunc(ctx, p.signalChange)()
	for ctx.Err() == nil {
		// What a drain took back is sent again before the pump waits
		// for more: with nothing more fetched it would wait forever.
		if !p.send(ctx, unit{}) {
			return
		}
		seq, pctx, cancel := p.nextPoll(ctx)
		if pctx == nil {
			continue // drained meanwhile: send that first
		}
		fetches := p.pos.poll(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.obs.polled(fetches.NumRecords(), p.pos.client())
		fetches.EachError(func(t string, part int32, err error) {
			if !errors.Is(err, context.Canceled) {
				p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
			}
		})
		for _, f := range fetches {
			for _, ft := range f.Topics {
				for _, fp := range ft.Partitions {
					p.obs.fetched(ft.Topic, fp.Partition, fp.HighWatermark)
					if len(fp.Records) == 0 {
						continue
					}
					// The state is pinned for the whole slice: if the
					// partition is given up (and maybe claimed again)
					// meanwhile, the rest of this fetch is stale.
					ps := p.held(TopicPartition{Topic: ft.Topic, Partition: fp.Partition})
					if ps == nil {
						continue
					}
					if p.stale(ps, seq, fp.Records[0].Offset) {
						continue
					}
					if mode == modeBatches {
						p.deliverBatch(ctx, ps, fp.Records)
					} else {
						p.deliverStream(ctx, ps, fp.Records)
					}
					if ctx.Err() != nil {
						return
					}
				}
			}
		}
	}
}

// exit ends the pump: it takes back what is queued, so that nothing reaches
// the application after Close but what it took already.
func (p *pump) exit() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drainLocked()
	p.ch.running = false
	p.ch.cancel = nil
	p.cond.Broadcast()
}

// nextPoll counts a poll about to be issued and returns its number, with
// the context the poll runs under: stop cancels it. When a drain was asked
// for, or took back units to send again, it does not poll (nil context):
// the pump sends them first.
func (p *pump) nextPoll(ctx context.Context) (int64, context.Context, context.CancelFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch.drainReq != p.ch.drained {
		p.drainLocked()
	}
	if len(p.ch.resend) > 0 {
		return 0, nil, nil
	}
	p.polls++
	pctx, cancel := context.WithCancel(ctx)
	p.ch.cancel = cancel
	return p.polls, pctx, cancel
}

// takeBackLocked is stop's part for Stream and Batches: it has the pump
// goroutine take back what is queued in the channel (drainLocked), and
// waits for it. A poll in progress would delay it (a quiet topic's poll
// waits for data): it is cancelled.
func (p *pump) takeBackLocked() {
	if !p.ch.running {
		return
	}
	p.ch.drainReq++
	req := p.ch.drainReq
	if p.ch.cancel != nil {
		p.ch.cancel()
	}
	for p.ch.running && p.ch.drained < req {
		p.cond.Wait()
	}
}

// drainLocked takes every unit still queued out of the output channel: those
// of partitions still held are sent again, first; the others are dropped.
// Only the pump goroutine calls it.
func (p *pump) drainLocked() {
	queued := 0
	for more := true; more; {
		select {
		case <-p.ch.stream:
			queued++
		case <-p.ch.batches:
			queued++
		default:
			more = false
		}
	}
	c := &p.ch
	queued = min(queued, len(c.out)) // every unit in the channel is in out: only the pump sends
	tail := c.out[len(c.out)-queued:]
	keep := make([]unit, 0, len(tail)+len(c.resend))
	for _, u := range slices.Concat(tail, c.resend) {
		if !u.ps.stopped {
			keep = append(keep, u)
		}
	}
	clear(tail)
	c.out = c.out[:len(c.out)-queued]
	c.resend = keep
	c.drained = c.drainReq
	p.cond.Broadcast()
}

// settleEvery is the length of out at which send settles it (see
// settleLocked).
const settleEvery = 32

// sendSpins is how many times sendWait yields before it blocks.
const sendSpins = 4

// send puts u into the output channel, after every unit to be sent again
// (with a zero u, only those). It returns false when u's partition was
// given up or ctx ended: send nothing more of that fetch.
func (p *pump) send(ctx context.Context, u unit) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.ch.drainReq != p.ch.drained {
			p.drainLocked()
		}
		if (u.ps != nil || len(p.ch.resend) > 0) && p.leaseHoldLocked(ctx) {
			continue // the lease ran out: the queued unit was taken back
		}
		next, again := u, len(p.ch.resend) > 0
		if again {
			next = p.ch.resend[0]
		} else if u.ps == nil {
			return true // flushed
		} else if u.ps.stopped {
			return false
		} else if u.end <= u.ps.next {
			return true // delivered already
		}
		sent := p.trySend(next)
		if !sent {
			if ctx.Err() != nil {
				// Ended: the end may have closed and replaced changed
				// already (signalChange), and nothing would close the
				// one taken now: Close would wait for good on a pump
				// blocked on a channel nobody reads.
				return false
			}
			// Full: wait outside the lock for room, a change of
			// partitions (a drain) or the end.
			changed := p.changed
			p.ch.sending = next
			p.mu.Unlock()
			sent = p.sendWait(next, changed)
			p.mu.Lock()
			p.ch.sending = unit{}
		}
		if sent {
			if again {
				p.ch.resend[0] = unit{}
				p.ch.resend = p.ch.resend[1:]
			} else {
				u.ps.next = u.end
				p.obs.delivered(u)
			}
			p.ch.out = append(p.ch.out, next)
			if p.ch.lateDone != nil || p.waiters > 0 || len(p.ch.out) >= settleEvery {
				p.settleSentLocked()
			}
			if !again {
				return true
			}
			continue
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

// trySend sends u if the channel has room.
func (p *pump) trySend(u unit) bool {
	if u.ev != nil {
		select {
		case p.ch.stream <- u.ev:
			return true
		default:
			return false
		}
	}
	select {
	case p.ch.batches <- u.b:
		return true
	default:
		return false
	}
}

// sendWait sends u once the channel has room; false when changed is closed
// first (partitions were stopped, or the pump's context ended).
func (p *pump) sendWait(u unit, changed chan struct{}) bool {
	// The application usually takes the queued unit within a few
	// scheduler rounds: yielding first spares a park and a wake-up of
	// the pump per message, and the select of two channels.
	for range sendSpins {
		runtime.Gosched()
		if p.trySend(u) {
			return true
		}
	}
	if u.ev != nil {
		select {
		case p.ch.stream <- u.ev:
			return true
		case <-changed:
			return false
		}
	}
	select {
	case p.ch.batches <- u.b:
		return true
	case <-changed:
		return false
	}
}

// closeOutputs closes Stream and Batches; the pump goroutine has returned.
func (p *pump) closeOutputs() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ch.closed {
		p.ch.closed = true
		close(p.ch.stream)
		close(p.ch.batches)
	}
}

// undelivered returns records without those delivered already.
func (p *pump) undelivered(ps *pstate, records []*kgo.Record) []*kgo.Record {
	p.mu.Lock()
	next := ps.next
	p.mu.Unlock()
	for len(records) > 0 && records[0].Offset < next {
		records = records[1:]
	}
	return records
}
