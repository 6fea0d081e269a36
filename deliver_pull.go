package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The pull API (Next, Poll) runs on the application's goroutine: it polls
// the member's franz-go client itself and returns what was fetched, with no
// pump goroutine and no channel in between. What is in the application's
// hands is exact: the unit returned last, until the next call (pullState.hand).
// While the application waits inside Next or Poll it holds nothing, so a
// hand-off proceeds at once and the periodic commit includes everything
// returned before.
//
// Soundness: a record is returned only after a check, under the engine's
// lock, that its partition is still held (not stopped) and that the group
// is not closed, in the same critical section that records it as in hand.
// So stop (a revocation, a session loss, Close) either happens before the
// check (the record is dropped) or after it (the record is in hand, and
// revoked waits for it like for a Stream message).

// pullState is the state of Next and Poll.
type pullState struct {
	// hand is the unit returned last, in the application's hands until
	// its next call (zero: none). Guarded by pump.mu.
	hand unit
	// chosen: the mode is modePull. Set once under pump.mu, never unset;
	// read without a lock on every call.
	chosen atomic.Bool

	// mu serializes Next and Poll calls; it guards buf. It is held while
	// the call polls franz-go, and taken outside pump.mu (see pump.mu).
	mu  sync.Mutex
	buf []pullSlice // what the application's goroutine fetched and has not returned yet
}

// pullSlice is one partition's part of a poll, not yet all returned.
type pullSlice struct {
	ps      *pstate // pinned: if the partition is given up, the rest is dropped
	records []*kgo.Record
	evs     []ConsumerEvent // one allocation for the slice's messages (when first taken), filled when returned
	i       int             // next record to return
}

// Next returns the next message of the partitions this member holds,
// waiting until one is fetched or ctx ends. Calling Next (or Poll) again
// means that everything it returned before is processed: that is what the
// group commits (every CommitInterval, at a hand-off and at Close), and a
// hand-off of a partition waits only while the application holds a
// message of it, i.e. between Next's return and the next call (at most
// HandoffTimeout; past it, as for Stream, the message does not count, is
// delivered again by the next owner and HANDOFF_TIMEOUT names it). While
// the application waits inside Next it holds nothing: a rebalance proceeds
// at once and the lag of an idle member reaches zero within CommitInterval.
// MarkDone(ev) counts ev as processed before the next call.
//
// Next reads on the caller's goroutine what franz-go fetched: no goroutine
// or channel hand-off per message. Calls are serialized: call it from one
// loop. It returns ctx's error when ctx ends, ErrClosed once the group is
// closed (Close counts the message in hand as processed), and an error
// matching ErrInvalidArgument when Stream, Batches or Checkout was chosen
// first. The first call of Next or Poll chooses this delivery mode; the two
// can be mixed.
func (g *ConsumerGroup) Next(ctx context.Context) (*ConsumerEvent, error) {
	if g.share != nil {
		u, err := g.share.pull(ctx, "Next", false)
		return u.ev, err
	}
	if err := g.choosePull(ctx, "Next"); err != nil {
		return nil, err
	}
	u, err := g.eng.pullNext(ctx, pullEvent)
	return u.ev, err
}

// Poll is Next for batches: it returns the next batch of messages of one
// topic-partition (what one fetch brought of it, not yet returned), with
// the same rules, a batch being the unit: calling Poll again means the
// batch is processed; MarkBatchDone counts it before.
func (g *ConsumerGroup) Poll(ctx context.Context) (*EventBatch, error) {
	if g.share != nil {
		u, err := g.share.pull(ctx, "Poll", true)
		return u.b, err
	}
	if err := g.choosePull(ctx, "Poll"); err != nil {
		return nil, err
	}
	u, err := g.eng.pullNext(ctx, pullBatch)
	return u.b, err
}

func (g *ConsumerGroup) choosePull(ctx context.Context, what string) error {
	if ctx == nil {
		return fmt.Errorf("%w: %s: nil context", ErrInvalidArgument, what)
	}
	if g.eng.pull.chosen.Load() {
		return nil // chosen for good: no lock per call
	}
	if !g.eng.choose(modePull) {
		return fmt.Errorf("%w: Next and Poll cannot be used with %s", ErrInvalidArgument, modeName(g.eng.mode()))
	}
	return nil
}

// errPullClosed is ErrClosed for the pull API.
var errPullClosed = fmt.Errorf("consumergroup: Next/Poll: %w", ErrClosed)

// What a pull call returns: a message (Next), or everything left of one
// partition's slice as events (Poll) or as franz-go's records
// (PollRecords).
const (
	pullEvent = iota
	pullBatch
	pullRecords
)

// errLeaseOut: the coordinator's lease ran out; wait for it (engine_lease.go).
var errLeaseOut = errors.New("consumergroup: the coordinator's lease ran out")

// pullNext counts the unit in hand as processed and returns the next one,
// of kind (pullEvent, pullBatch, pullRecords).
func (p *pump) pullNext(ctx context.Context, kind int) (unit, error) {
	p.pull.mu.Lock()
	defer p.pull.mu.Unlock()
	for {
		var s *pullSlice
		if len(p.pull.buf) > 0 {
			s = &p.pull.buf[0]
			if s.evs == nil && kind != pullRecords {
				// Allocated when the slice is first taken (outside the
				// engine's lock), not when polled: a poll takes
				// everything franz-go buffered (pollMax), and only the
				// events of the slice being returned exist at a time.
				s.evs = make([]ConsumerEvent, len(s.records))
			}
		}
		u, ok, err := p.takePulled(s, kind)
		if err == errLeaseOut {
			err = p.leaseWait(ctx)
			if err == nil {
				continue
			}
		}
		if err != nil {
			return unit{}, err
		}
		if ok {
			return u, nil
		}
		if s != nil {
			p.pull.buf[0] = pullSlice{}
			p.pull.buf = p.pull.buf[1:]
			continue
		}
		if err := ctx.Err(); err != nil {
			return unit{}, err
		}
		if err := p.pollPulled(ctx); err != nil {
			return unit{}, err
		}
	}
}

// takePulled counts the unit in hand as processed and returns the next
// unit of s (nil: none buffered), recording it as in hand, in one critical
// section; false when s has nothing more to return (given up, or all
// returned). It is the pull API's one hand-out point: a record reaches the
// application only from here.
func (p *pump) takePulled(s *pullSlice, kind int) (unit, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pulledLocked() {
		p.cond.Broadcast()
	}
	if p.ctx.Err() != nil {
		return unit{}, false, errPullClosed
	}
	if s == nil {
		return unit{}, false, nil
	}
	ps := s.ps
	if ps.stopped {
		return unit{}, false, nil
	}
	for s.i < len(s.records) && s.records[s.i].Offset < ps.next {
		s.i++
	}
	if s.i == len(s.records) {
		return unit{}, false, nil
	}
	if !p.leaseOKLocked() {
		return unit{}, false, errLeaseOut
	}
	u := unit{ps: ps}
	switch kind {
	case pullRecords:
		// Handed out as they are: never recycled.
		rs := s.records[s.i:len(s.records):len(s.records)]
		u.rb = &RecordBatch{Topic: ps.tp.Topic, Partition: ps.tp.Partition, Records: rs}
		u.end = rs[len(rs)-1].Offset + 1
		s.i = len(s.records)
	case pullBatch:
		evs := s.evs[s.i:len(s.records):len(s.records)]
		fillEvents(evs, s.records[s.i:], p.recycle)
		u.b = &EventBatch{Topic: ps.tp.Topic, Partition: ps.tp.Partition, Events: evs}
		u.end = evs[len(evs)-1].Offset + 1
		s.i = len(s.records)
	default:
		fillEvent(&s.evs[s.i], s.records[s.i])
		p.recycleRecords(s.records[s.i : s.i+1])
		u.ev = &s.evs[s.i]
		u.end = u.ev.Offset + 1
		s.i++
	}
	ps.next = u.end
	p.pull.hand = u
	p.obs.delivered(u)
	return u, true, nil
}

// pollPulled polls franz-go on the caller's goroutine, until records come,
// ctx ends or the group closes, and keeps what it fetched of the partitions
// held in pull.buf.
func (p *pump) pollPulled(ctx context.Context) error {
	seq := p.newPoll()
	pctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.ctx, cancel) // Close ends the wait
	fetches := p.pos.poll(pctx)
	stop()
	cancel()
	if p.ctx.Err() != nil || fetches.IsClientClosed() {
		return errPullClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.obs.polled(fetches.NumRecords(), p.pos.client())
	fetches.EachError(func(t string, part int32, err error) {
		if !errors.Is(err, context.Canceled) {
			p.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
		}
	})
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		p.obs.fetched(fp.Topic, fp.Partition, fp.HighWatermark)
		if len(fp.Records) == 0 {
			return
		}
		ps := p.held(TopicPartition{Topic: fp.Topic, Partition: fp.Partition})
		if ps == nil || p.stale(ps, seq, fp.Records[0].Offset) {
			return
		}
		p.pull.buf = append(p.pull.buf, pullSlice{ps: ps, records: fp.Records})
	})
	return nil
}
