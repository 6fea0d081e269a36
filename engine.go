package consumergroup

import (
	"context"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The delivery engine (pump): what this member holds of each partition, what
// the application has taken and processed, and the hand-over of fetched
// records to it. A coordinator drives it through the seam (seam.go); the
// application through one of four delivery modes, each with its own state
// and file:
//
//	deliver_channel.go   Stream and Batches' shared machinery: the pump goroutine, the output channels, the take-back
//	deliver_stream.go    Stream, MarkDone
//	deliver_batches.go   Batches, MarkBatchDone
//	deliver_pull.go      Next, Poll: on the application's goroutine
//	deliver_checkout.go  Checkout, PartitionConsumer
//
// What counts as processed, and how long a hand-off waits for it, is one
// rule for them all (engine_processed.go); where partitions are fetched
// from is the positioner's (engine_position.go).

// Delivery modes: how the member hands messages to the application. The
// first of Stream, Batches, Checkout or Next/Poll chooses.
const (
	modeNone = iota
	modeStream
	modeBatches
	modeCheckout
	modePull // Next and Poll (deliver_pull.go)
)

// pstate is the delivery state of one partition the member holds: one per
// holding (a partition given up and taken again gets a new one). Guarded
// by pump.mu but tp, set once.
type pstate struct {
	tp        TopicPartition
	next      int64 // next offset to deliver: records below it are stale
	processed int64 // next offset to commit: everything before it is processed (see engine_processed.go)
	stopped   bool  // given up: deliver nothing more
	addedAt   int64 // the poll count when fetching (re)started: see stale
	caughtUp  bool  // records from below next were seen once (see stale)
	co        checkoutQueue
}

// unit is what the application takes at once: a message (Stream, Next) or
// a batch (Batches, Poll, PollRecords) of partition ps, ending before end.
type unit struct {
	ps  *pstate
	end int64 // the offset after the unit
	ev  *ConsumerEvent
	b   *EventBatch
	rb  *RecordBatch // PollRecords (deliver_records.go)
}

// pump is the engine of one member. It knows no coordinator: it is built
// from a positioner, the group's logger, context and goroutine owner, and
// the observer.
type pump struct {
	// Set by newPump and never changed: read without a lock.
	pos     positioner      // places partitions in the franz-go client
	log     *slog.Logger    // the group's
	ctx     context.Context // the group's life: Close ends it
	goFunc  func(f func())  // starts a goroutine owned (and waited for) by the group
	obs     *observer       // metrics and health hooks
	recycle bool            // the client's records go back to recordsPool once copied (engine_recycle.go)

	//////////////
	// mu block //
	//////////////
	//
	// mu guards every field below, every partition's pstate (those in
	// parts, and those a fetch, a unit or a checkout still pins after
	// their partition was given up; tp is set once) and the modes' states:
	// ch (but its channels, set once and closed under mu), pull (but
	// pull.mu, pull.buf, which pull.mu guards, and pull.chosen, an atomic)
	// and co (but co.wake, a channel set once).
	//
	// Lock order, outermost first (every lock: docs/DESIGN.md, Locks):
	//
	//	ConsumerGroup.closeMu
	//	kafkaCoordinator.mu, ZK.mu  (the ZooKeeper coordinator's run holds none)
	//	pump.pull.mu
	//	pump.mu
	//	membership.mu               (never held together with pump.mu)
	//	observer.mu, healthState.mu (leaves)
	//
	// mu is taken inside kafkaCoordinator.mu (franz-go's callbacks, the
	// periodic commit, watch and the leave call the deliverer under it),
	// ZK.mu (sessionLost is a hook of the session's end), pull.mu (Next,
	// Poll) and closeMu (Close: shutdown, closeOutputs). Under it the engine
	// takes observer.mu (started), calls Metrics.Delivered (which must be
	// fast and must not call the group) and its franz-go client through the
	// positioner (pause, resume, rewind; franz-go calls none of our code
	// under its own locks), and nothing that blocks: a send into an output
	// channel is tried under it and waited for outside.
	//
	// cond is how the seam waits: stop for the pump goroutine's take-back
	// and for Fetch's offer to end, revoked for the unit in hand to be
	// processed (at most HandoffTimeout). A coordinator waits on it while
	// holding its own lock (kafkaCoordinator.mu, ZK.mu): sound because what
	// it waits for (the pump goroutine, the application's next receive,
	// Next, Poll, MarkDone, Fetch's send, checkin) never takes a
	// coordinator's lock, ZK's or membership.mu.
	mu      sync.Mutex
	cond    *sync.Cond // on mu: a unit was taken back, sent, processed or no longer offered
	modeVal int
	parts   map[TopicPartition]*pstate // the partitions held
	parked  map[TopicPartition]bool    // given up: paused in franz-go, not removed (see stop)
	changed chan struct{}              // closed and replaced when partitions are stopped or the pump's context ends
	polls   int64                      // polls issued: see stale
	shut    bool                       // Close began: no pump goroutine starts any more
	unbound bool                       // the session the partitions were claimed in ended: add nothing until sessionStarted
	waiters int                        // goroutines in waitProcessed: a send or a count wakes them (cond)

	ch   chanState     // Stream and Batches (deliver_channel.go)
	pull pullState     // Next and Poll (deliver_pull.go)
	co   checkoutState // Checkout (deliver_checkout.go)

	lease leaseState // the coordinator's lease (engine_lease.go)
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
		ch:      newChanState(),
		co:      newCheckoutState(),
	}
	if pos != nil {
		p.recycle = recyclesRecords(pos.client())
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
		p.pull.chosen.Store(m == modePull)
		if p.shut || m == modePull {
			// Pull runs on the application's goroutine: nothing to start.
			return true
		}
		p.ch.running = m != modeCheckout
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

// mode returns the delivery mode chosen (modeNone before the first call).
func (p *pump) mode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.modeVal
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

// add starts fetching the partitions of starts, each at its offset, unless
// the session they were claimed in has ended. The client is told once for
// all of them: each call of franz-go's AddConsumePartitions or SetOffsets
// restarts the client's fetch session and may refresh its metadata (the
// whole topic's), which a member taking 20 partitions paid 20 times.
func (p *pump) add(tps []TopicPartition, starts map[TopicPartition]int64) {
	batch := make([]startAt, 0, len(tps))
	p.mu.Lock()
	if p.unbound {
		p.mu.Unlock()
		return
	}
	for _, tp := range tps {
		offset := starts[tp]
		p.parts[tp] = &pstate{tp: tp, next: offset, processed: offset, addedAt: p.polls}
		p.obs.started(tp, offset)
		batch = append(batch, startAt{tp: tp, offset: offset, parked: p.parked[tp]})
		delete(p.parked, tp)
	}
	p.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	p.co.wakeUp() // checkout: partitions to hand out
	p.pos.start(batch)
}

// stop stops delivering tps and fetching them, and returns their states
// once no unit of theirs is queued for the application or being offered:
// from then on, nothing of theirs reaches the application.
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
	p.takeBackLocked()      // Stream, Batches: what is queued in the channel
	p.waitUnofferedLocked() // Checkout: the record Fetch offers
	p.mu.Unlock()
	p.pos.park(pause)
	return states
}

// held returns the state of tp, nil when it is not held.
func (p *pump) held(tp TopicPartition) *pstate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parts[tp]
}

// newPoll counts a poll about to be issued and returns its number (see
// stale).
func (p *pump) newPoll() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls++
	return p.polls
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

// signalChange closes changed and replaces it.
func (p *pump) signalChange() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.changed)
	p.changed = make(chan struct{})
}

// shutdown is the start of Close: from then on choose starts no pump
// goroutine (one started after Close's wait would drain closed channels
// for good, under the lock).
func (p *pump) shutdown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shut = true
}

func toEvent(r *kgo.Record) *ConsumerEvent {
	ev := new(ConsumerEvent)
	fillEvent(ev, r)
	return ev
}

// fillEvents fills evs from records (as many), with one allocation for
// the headers of them all rather than one per message that has any. With
// recycle (pump.recycle), each record goes back to franz-go's pool as soon
// as its event is filled, while it is still in the processor's cache: a
// second pass over a fetched slice (thousands of records of 160 bytes)
// read them from memory again. The records must not be read after.
func fillEvents(evs []ConsumerEvent, records []*kgo.Record, recycle bool) {
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
		if recycle {
			r.Recycle()
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
