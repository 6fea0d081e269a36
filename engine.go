package consumergroup

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Delivery modes: how the member hands messages to the application. The
// first of Stream, Batches or Checkout chooses.
const (
	modeNone = iota
	modeStream
	modeBatches
	modeCheckout
	modePull // Next and Poll (engine_pull.go)
)

// pstate is the delivery state of one partition the member holds.
type pstate struct {
	tp        TopicPartition
	next      int64 // next offset to deliver: records below it are stale
	processed int64 // next offset to commit: everything before it is processed
	stopped   bool  // given up: deliver nothing more
	addedAt   int64 // the pump's poll count when fetching (re)started: see stale
	queue     []*kgo.Record
	paused    bool
	caughtUp  bool // records from below next were seen once (see stale)
}

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

// unit is a message (Stream) or a batch (Batches) the pump put into the
// output channel.
type unit struct {
	ps  *pstate
	end int64 // the offset after the unit
	ev  *ConsumerEvent
	b   *EventBatch
}

// pump polls the member's franz-go client and delivers what it fetches to
// the application, message by message (Stream) or batch by batch (Batches),
// through a buffered channel. A unit counts as processed once the
// application has taken the next one: the application has taken every sent
// unit but those still in the channel (its length tells how many), and the
// unit it took last is in its hands. When partitions are given up, or at
// Close, the pump takes the units still queued back out of the channel:
// those of partitions given up are dropped, the others are sent again, in
// order, before anything newer. So nothing of a partition given up reaches
// the application after the hand-off, and no message of a partition is
// skipped or reordered.
//
// The pump goroutine is the only sender on the output channels and the only
// goroutine besides the application that receives from them; Close closes
// them after it has returned.
type pump struct {
	pos    positioner      // places partitions in the franz-go client
	log    *slog.Logger    // the group's
	ctx    context.Context // the group's life: Close ends it
	goFunc func(f func())  // starts a goroutine owned (and waited for) by the group
	obs    *observer       // metrics and health hooks

	mu       sync.Mutex
	cond     *sync.Cond // on mu: offering, inflight, out or drained changed
	modeVal  int
	parts    map[TopicPartition]*pstate
	parked   map[TopicPartition]bool // given up: paused in franz-go, not removed (see stop)
	changed  chan struct{}           // closed and replaced when partitions are stopped or the pump's context ends
	polls    int64                   // polls issued by the pump
	closed   bool                    // outputs closed
	shut     bool                    // Close began: no pump goroutine starts any more
	unbound  bool                    // the session the partitions were claimed in ended: add nothing until sessionStarted
	running  bool                    // the Stream or Batches pump goroutine runs
	cancel   context.CancelFunc      // ends the pump's poll in progress
	drainReq int64                   // drains asked for (stop)
	drained  int64                   // drains done by the pump
	waiters  int                     // goroutines in waitProcessed

	// Stream and Batches.
	out    []unit // sent and not known processed, oldest first: the channel holds the last ones
	resend []unit // taken back out of the channel, of held partitions: sent before anything else

	// Explicit done (MarkDone): a mark of a unit the pump had sent but not
	// yet recorded in out when the application marked it (see markDone).
	lateDone any

	// Pull (Next, Poll): the unit returned last, in the application's
	// hands until its next call (zero: none); what the application's
	// goroutine fetched and has not returned yet.
	pullHand unit
	pullMu   sync.Mutex // serializes Next and Poll calls; guards pullBuf
	pullBuf  []pullSlice
	pulling  atomic.Bool // the mode is modePull (set once, never unset)

	// Checkout.
	offering *pstate        // the partition whose record is being offered
	inflight *pstate        // the partition checked out
	inEnd    int64          // its offset after what was fetched
	lastOut  TopicPartition // the partition checked out last

	stream  chan *ConsumerEvent
	batches chan *EventBatch
	wake    chan struct{} // checkout: a queue was drained or filled
}

// newPump returns the engine of a group: pos positions its partitions,
// goFunc starts its goroutine under the group's owner, ctx is the group's
// life.
func newPump(ctx context.Context, pos positioner, log *slog.Logger, goFunc func(func()), obs *observer) *pump {
	p := &pump{
		obs:     obs,
		pos:     pos,
		log:     log,
		ctx:     ctx,
		goFunc:  goFunc,
		parts:   make(map[TopicPartition]*pstate),
		parked:  make(map[TopicPartition]bool),
		changed: make(chan struct{}),
		stream:  make(chan *ConsumerEvent, outputBuffer),
		batches: make(chan *EventBatch, outputBuffer),
		wake:    make(chan struct{}, 1),
	}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// choose sets the delivery mode if none is set, and reports whether the
// mode is m. Once Close began (shutdown), it starts no goroutine: the
// outputs are closed, or about to be, by Close.
func (p *pump) choose(m int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.modeVal == modeNone {
		p.modeVal = m
		p.pulling.Store(m == modePull)
		if p.shut || m == modePull {
			// Pull runs on the application's goroutine: nothing to start.
			return true
		}
		p.running = m != modeCheckout
		p.goFunc(func() {
			if m == modeCheckout {
				p.runCheckout(p.ctx)
			} else {
				p.run(p.ctx, m)
			}
		})
	}
	return p.modeVal == m
}

// add starts fetching tp at offset, unless the session it was claimed in
// has ended.
func (p *pump) add(tp TopicPartition, offset int64) {
	p.mu.Lock()
	if p.unbound {
		p.mu.Unlock()
		return
	}
	p.parts[tp] = &pstate{tp: tp, next: offset, processed: offset, addedAt: p.polls}
	p.obs.started(tp, offset)
	parked := p.parked[tp]
	delete(p.parked, tp)
	p.mu.Unlock()
	select { // checkout: a partition to hand out
	case p.wake <- struct{}{}:
	default:
	}
	p.pos.start(tp, offset, parked)
}

// stop stops delivering tps and fetching them, and returns their states
// once no unit of theirs is being offered: from then on, nothing of theirs
// reaches the application.
//
// The partitions are paused in franz-go, not removed: RemoveConsumePartitions
// stops the client's whole fetch session, cancelling fetches in flight and
// discarding what is buffered for every partition, so the partitions that
// stay would stall for a fetch round trip (up to FetchMaxWait) at every
// rebalance. A paused partition is never fetched again; whatever of it is
// already buffered reaches the pump and is dropped there (not held). It is
// removed only if this member takes it again (see add).
func (p *pump) stop(tps []TopicPartition) []*pstate {
	if len(tps) == 0 {
		return nil
	}
	pause := make(map[string][]int32)
	p.mu.Lock()
	var states []*pstate
	for _, tp := range tps {
		if ps := p.parts[tp]; ps != nil {
			ps.stopped = true
			delete(p.parts, tp)
			states = append(states, ps)
			p.parked[tp] = true
			pause[tp.Topic] = append(pause[tp.Topic], tp.Partition)
		}
	}
	close(p.changed)
	p.changed = make(chan struct{})
	if p.running {
		// The pump takes back what is queued of them; a poll in
		// progress would delay it (a quiet topic's poll waits for data).
		p.drainReq++
		req := p.drainReq
		if p.cancel != nil {
			p.cancel()
		}
		for p.running && p.drained < req {
			p.cond.Wait()
		}
	}
	for p.offering != nil && p.offering.stopped {
		p.cond.Wait()
	}
	p.mu.Unlock()
	p.pos.park(pause)
	return states
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
// none). That unit does not count as processed: the offsets stop before
// it, so that the partition's next owner delivers it again (the
// application may still be processing it, or crash before it is done).
// With countInHand (Close), it counts as processed.
func (p *pump) waitProcessed(states []*pstate, timeout time.Duration, countInHand bool) (map[TopicPartition]int64, *inHand) {
	deadline := time.Now().Add(timeout)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waiters++
	defer func() { p.waiters-- }()
	processed := func() map[TopicPartition]int64 {
		out := make(map[TopicPartition]int64, len(states))
		for _, ps := range states {
			out[ps.tp] = ps.processed
		}
		return out
	}
	for {
		p.settleLocked()
		held := p.inHandLocked(states)
		if held == nil {
			return processed(), nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			if countInHand {
				for _, u := range p.out {
					if contains(states, u.ps) {
						u.ps.processed = max(u.ps.processed, u.end)
					}
				}
				if contains(states, p.inflight) {
					p.ackLocked()
				}
				if contains(states, p.pullHand.ps) {
					p.pullHand.ps.processed = max(p.pullHand.ps.processed, p.pullHand.end)
					p.pullHand = unit{}
				}
				return processed(), nil
			}
			if contains(states, p.inflight) {
				// The checkout is no longer counted: its checkin
				// commits nothing (see checkin).
				p.inflight = nil
				p.cond.Broadcast()
			}
			return processed(), held
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

// inHandLocked returns the unit of states that may still be in the
// application's hands, nil when none.
func (p *pump) inHandLocked(states []*pstate) *inHand {
	if contains(states, p.inflight) {
		return &inHand{p.inflight.tp, p.inflight.processed}
	}
	if u := p.pullHand; contains(states, u.ps) {
		return &inHand{u.ps.tp, u.first()}
	}
	for _, u := range p.out {
		if !contains(states, u.ps) {
			continue
		}
		return &inHand{u.ps.tp, u.first()}
	}
	return nil
}

// first is the offset of the unit's first message.
func (u unit) first() int64 {
	switch {
	case u.ev != nil:
		return u.ev.Offset
	case u.b != nil && len(u.b.Events) > 0:
		return u.b.Events[0].Offset
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

// ackLocked counts the partition checked out as processed up to what was
// fetched.
func (p *pump) ackLocked() {
	if p.inflight != nil {
		p.inflight.processed = max(p.inflight.processed, p.inEnd)
		p.inflight = nil
		p.cond.Broadcast()
	}
}

// settleLocked counts as processed every unit the application took before
// the one it took last. Units queued in the channel are the last of out; a
// unit sent and not yet recorded in out is counted as queued too, which
// only makes the count lower.
func (p *pump) settleLocked() {
	taken := len(p.out) - len(p.stream) - len(p.batches)
	if taken <= 1 {
		return
	}
	for _, u := range p.out[:taken-1] {
		u.ps.processed = max(u.ps.processed, u.end)
	}
	// Shift down rather than reslice: out stays a few units long, and a
	// slice whose start keeps moving would be reallocated every few sends.
	n := copy(p.out, p.out[taken-1:])
	clear(p.out[n:])
	p.out = p.out[:n]
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

// setProcessed records a manual commit.
func (p *pump) setProcessed(tp TopicPartition, off int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps := p.parts[tp]; ps != nil {
		ps.processed = off
	}
}

// shutdown is the start of Close: from then on choose starts no pump
// goroutine (one started after Close's wait would drain closed channels
// for good, under the lock).
func (p *pump) shutdown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shut = true
}

// closeOutputs closes Stream and Batches; the pump goroutine has returned.
func (p *pump) closeOutputs() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.stream)
		close(p.batches)
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
					ps := p.held(TopicPartition{ft.Topic, fp.Partition})
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
	p.running = false
	p.cancel = nil
	p.cond.Broadcast()
}

// nextPoll counts a poll about to be issued and returns its number, with
// the context the poll runs under: stop cancels it. When a drain was asked
// for, or took back units to send again, it does not poll (nil context):
// the pump sends them first.
func (p *pump) nextPoll(ctx context.Context) (int64, context.Context, context.CancelFunc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drainReq != p.drained {
		p.drainLocked()
	}
	if len(p.resend) > 0 {
		return 0, nil, nil
	}
	p.polls++
	pctx, cancel := context.WithCancel(ctx)
	p.cancel = cancel
	return p.polls, pctx, cancel
}

// drainLocked takes every unit still queued out of the output channel: those
// of partitions still held are sent again, first; the others are dropped.
// Only the pump goroutine calls it.
func (p *pump) drainLocked() {
	queued := 0
	for more := true; more; {
		select {
		case <-p.stream:
			queued++
		case <-p.batches:
			queued++
		default:
			more = false
		}
	}
	queued = min(queued, len(p.out)) // every unit in the channel is in out: only the pump sends
	tail := p.out[len(p.out)-queued:]
	keep := make([]unit, 0, len(tail)+len(p.resend))
	for _, u := range slices.Concat(tail, p.resend) {
		if !u.ps.stopped {
			keep = append(keep, u)
		}
	}
	clear(tail)
	p.out = p.out[:len(p.out)-queued]
	p.resend = keep
	p.drained = p.drainReq
	p.cond.Broadcast()
}

// stale reports whether records of ps starting at first, from poll seq,
// may predate ps: a poll issued before the partition was (re)added may
// hold what franz-go fetched for an earlier holding of it, at offsets that
// do not follow ps.next. Records at or below ps.next are harmless (they
// are skipped or are the very next message); above it, from such a poll,
// they could leave a gap: the partition is rewound to ps.next (franz-go
// fetches it again from there) and the records are dropped. Gaps in fresh
// fetches are the log's own (compaction) and are delivered.
//
// A partition added at offsetUnknown (a group consumer, which franz-go
// positions at the committed offset) starts at the first record fetched.
func (p *pump) stale(ps *pstate, seq, first int64) bool {
	p.mu.Lock()
	if ps.next == offsetUnknown && !ps.stopped {
		ps.next, ps.processed = first, first
	}
	if !ps.stopped && first < ps.next && !ps.caughtUp {
		// Fetched from below where the partition starts: skipped; a
		// group consumer is moved up to it (see positioner.behind).
		ps.caughtUp = true
		next, tp := ps.next, ps.tp
		p.mu.Unlock()
		p.pos.behind(tp, next)
		p.mu.Lock()
	}
	if ps.stopped || first <= ps.next || ps.addedAt < seq {
		p.mu.Unlock()
		return false
	}
	next := ps.next
	ps.addedAt = p.polls
	p.mu.Unlock()
	tp := ps.tp
	p.pos.rewind(tp, next)
	p.log.Debug("dropped records fetched before the partition was taken again", "partition", tp, "first", first, "next", next)
	return true
}

// held returns the state of tp, nil when it is not held.
func (p *pump) held(tp TopicPartition) *pstate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parts[tp]
}

// streamChunk is how many Stream messages share one allocation: 32 KB,
// the largest small object of Go's allocator. One allocation per fetched
// slice (a partition's part of a fetch: 10,000 messages of 100 bytes are
// 1.3 MB of events) kept every event of the slice alive while the
// application held any one of them.
const streamChunk = 256

// deliverStream sends the records not yet delivered, one message each.
func (p *pump) deliverStream(ctx context.Context, ps *pstate, records []*kgo.Record) {
	records = p.undelivered(ps, records)
	var evs []ConsumerEvent
	for i, r := range records {
		if len(evs) == 0 {
			// One allocation for streamChunk messages, not one per message.
			evs = make([]ConsumerEvent, min(streamChunk, len(records)-i))
			fillEvents(evs, records[i:i+len(evs)])
		}
		ev := &evs[0]
		evs = evs[1:]
		if !p.send(ctx, unit{ps: ps, end: r.Offset + 1, ev: ev}) {
			return
		}
	}
}

// deliverBatch sends the records not yet delivered, as one batch.
func (p *pump) deliverBatch(ctx context.Context, ps *pstate, records []*kgo.Record) {
	records = p.undelivered(ps, records)
	if len(records) == 0 {
		return
	}
	b := &EventBatch{Topic: ps.tp.Topic, Partition: ps.tp.Partition, Events: make([]ConsumerEvent, len(records))}
	fillEvents(b.Events, records)
	p.send(ctx, unit{ps: ps, end: records[len(records)-1].Offset + 1, b: b})
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
		if p.drainReq != p.drained {
			p.drainLocked()
		}
		next, again := u, len(p.resend) > 0
		if again {
			next = p.resend[0]
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
			p.mu.Unlock()
			sent = p.sendWait(next, changed)
			p.mu.Lock()
		}
		if sent {
			if again {
				p.resend[0] = unit{}
				p.resend = p.resend[1:]
			} else {
				u.ps.next = u.end
				p.obs.delivered(u)
			}
			p.out = append(p.out, next)
			if p.lateDone != nil {
				p.markLateLocked()
			}
			if p.waiters > 0 {
				p.settleLocked()
				p.cond.Broadcast()
			} else if len(p.out) >= settleEvery {
				// Whoever reads out settles it first: here it is only
				// kept short, not at every message.
				p.settleLocked()
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
		case p.stream <- u.ev:
			return true
		default:
			return false
		}
	}
	select {
	case p.batches <- u.b:
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
		case p.stream <- u.ev:
			return true
		case <-changed:
			return false
		}
	}
	select {
	case p.batches <- u.b:
		return true
	case <-changed:
		return false
	}
}

// signalChange closes changed and replaces it.
func (p *pump) signalChange() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.changed)
	p.changed = make(chan struct{})
}

func toEvent(r *kgo.Record) *ConsumerEvent {
	ev := new(ConsumerEvent)
	fillEvent(ev, r)
	return ev
}

// fillEvents fills evs from records (as many), with one allocation for
// the headers of them all rather than one per message that has any.
func fillEvents(evs []ConsumerEvent, records []*kgo.Record) {
	n := 0
	for _, r := range records {
		n += len(r.Headers)
	}
	var hs []Header
	if n > 0 {
		hs = make([]Header, n)
	}
	for i, r := range records {
		ev := &evs[i]
		fillFields(ev, r)
		if k := len(r.Headers); k > 0 {
			// Capped: an append to one message's headers never
			// overwrites the next one's.
			h := hs[:k:k]
			hs = hs[k:]
			for j, x := range r.Headers {
				h[j] = Header{Key: x.Key, Value: x.Value}
			}
			ev.Headers = h
		}
	}
}

// fillFields copies r's fields into ev, but for the headers.
func fillFields(ev *ConsumerEvent, r *kgo.Record) {
	ev.Topic = r.Topic
	ev.Partition = r.Partition
	ev.Offset = r.Offset
	ev.Key = r.Key
	ev.Value = r.Value
	ev.Timestamp = r.Timestamp
}

func fillEvent(ev *ConsumerEvent, r *kgo.Record) {
	fillFields(ev, r)
	ev.Headers = nil // ev may be reused (see PartitionConsumer.Fetch)
	if len(r.Headers) > 0 {
		ev.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			ev.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
}

// Stream returns the channel of messages of every partition the member
// holds, for the seed's loop (for ev := range Stream()). Next is the
// better fit for new code: see below.
//
// The rule: a message counts as processed, and is committed, once the
// loop takes the next one (or MarkDone(ev) is called, or at Close). A
// partition given up in a rebalance waits for that, at most
// HandoffTimeout, before it is handed over. A message still in the loop's
// hands at HandoffTimeout does not count as processed: the commit stops
// before it, its partition is handed over and its new owner delivers it
// again (at least once), and the listener gets a HANDOFF_TIMEOUT
// notification naming it; nothing more of that partition reaches the loop.
//
// The cost on quiet topics, without MarkDone: the group cannot tell a loop
// that finished its last message from one still working on it, so that
// message stays "in hand" until another one arrives. A rebalance that moves
// its partition waits the whole HandoffTimeout (5 s by default) and the new
// owner delivers it again (HANDOFF_TIMEOUT); the committed offset stays one
// below it, so an idle member shows a lag of 1 on that partition for as
// long as the topic is quiet. Call MarkDone(ev) once ev is finished, or
// use Next (the group knows the application holds nothing while it waits
// inside Next), and neither happens.
//
// The channel is closed by Close; called after Close, Stream returns a
// closed channel. nil if Batches, Checkout or Next/Poll was chosen first.
func (g *ConsumerGroup) Stream() <-chan *ConsumerEvent {
	if !g.eng.choose(modeStream) {
		return nil
	}
	return g.eng.stream
}

// Batches returns the channel of message batches, one topic-partition per
// batch, for throughput: the same guarantees as Stream with a batch as the
// unit (a batch counts as processed when the next one is taken, or at
// MarkBatchDone), and the same cost on quiet topics without MarkBatchDone
// (see Stream; Poll has none). Called after Close, it returns a closed
// channel. nil if Stream, Checkout or Next/Poll was chosen first.
func (g *ConsumerGroup) Batches() <-chan *EventBatch {
	if !g.eng.choose(modeBatches) {
		return nil
	}
	return g.eng.batches
}
