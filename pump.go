package consumergroup

import (
	"context"
	"sync"
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
}

// pump polls the member's franz-go client and delivers what it fetches to
// the application, one message (Stream) or one batch (Batches) at a time
// over an unbuffered channel, so that at most one unit is in the
// application's hands: the unit delivered last. It counts as processed when
// the application takes the next one.
//
// The pump goroutine is the only sender on the output channels; Close closes
// them after it has returned.
type pump struct {
	g *ConsumerGroup

	mu       sync.Mutex
	cond     *sync.Cond // on mu: offering or inflight changed
	modeVal  int
	parts    map[TopicPartition]*pstate
	changed  chan struct{}  // closed and replaced when partitions are stopped
	offering *pstate        // the partition whose unit is being offered
	inflight *pstate        // the partition of the unit in the application's hands
	inEnd    int64          // its offset after that unit
	closed   bool           // outputs closed
	lastOut  TopicPartition // checkout: the partition checked out last
	polls    int64          // polls issued by the pump

	stream  chan *ConsumerEvent
	batches chan *EventBatch
	wake    chan struct{} // checkout: a queue was drained or filled
}

func newPump(g *ConsumerGroup) *pump {
	p := &pump{
		g:       g,
		parts:   make(map[TopicPartition]*pstate),
		changed: make(chan struct{}),
		stream:  make(chan *ConsumerEvent),
		batches: make(chan *EventBatch),
		wake:    make(chan struct{}, 1),
	}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// choose sets the delivery mode if none is set, and reports whether the
// mode is m.
func (p *pump) choose(m int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.modeVal == modeNone {
		p.modeVal = m
		p.g.wg.Add(1)
		go func() {
			defer p.g.wg.Done()
			if m == modeCheckout {
				p.runCheckout(p.g.ctx)
			} else {
				p.run(p.g.ctx, m)
			}
		}()
	}
	return p.modeVal == m
}

// add starts fetching tp at offset.
func (p *pump) add(tp TopicPartition, offset int64) {
	p.mu.Lock()
	p.parts[tp] = &pstate{tp: tp, next: offset, processed: offset, addedAt: p.polls}
	p.mu.Unlock()
	select { // checkout: a partition to hand out
	case p.wake <- struct{}{}:
	default:
	}
	// franz-go keeps a pause across removal: a partition paused in an
	// earlier holding (checkout) would never be fetched again.
	p.g.client.ResumeFetchPartitions(map[string][]int32{tp.Topic: {tp.Partition}})
	p.g.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{tp.Topic: {tp.Partition: kgo.NewOffset().At(offset)}})
}

// stop stops delivering tps and fetching them, and returns their states
// once no unit of theirs is being offered: from then on, nothing of theirs
// reaches the application.
func (p *pump) stop(tps []TopicPartition) []*pstate {
	if len(tps) == 0 {
		return nil
	}
	remove := make(map[string][]int32)
	p.mu.Lock()
	var states []*pstate
	for _, tp := range tps {
		if ps := p.parts[tp]; ps != nil {
			ps.stopped = true
			delete(p.parts, tp)
			states = append(states, ps)
			remove[tp.Topic] = append(remove[tp.Topic], tp.Partition)
		}
	}
	close(p.changed)
	p.changed = make(chan struct{})
	for p.offering != nil && p.offering.stopped {
		p.cond.Wait()
	}
	p.mu.Unlock()
	p.g.client.RemoveConsumePartitions(remove)
	return states
}

// waitProcessed waits until the unit in the application's hands, if it is
// of one of states, is processed, at most timeout; then it counts it as
// processed.
func (p *pump) waitProcessed(states []*pstate, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer t.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inflight != nil && contains(states, p.inflight) && time.Now().Before(deadline) {
		p.cond.Wait()
	}
	if p.inflight != nil && contains(states, p.inflight) {
		p.ackLocked()
	}
}

func contains(states []*pstate, ps *pstate) bool {
	for _, s := range states {
		if s == ps {
			return true
		}
	}
	return false
}

// ackLocked counts the unit in the application's hands as processed.
func (p *pump) ackLocked() {
	if p.inflight != nil {
		p.inflight.processed = max(p.inflight.processed, p.inEnd)
		p.inflight = nil
		p.cond.Broadcast()
	}
}

// processed returns the processed offsets of the partitions held.
func (p *pump) processedOffsets() map[TopicPartition]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
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
// more: a record is never skipped for a later one of the same partition to
// be delivered.
func (p *pump) run(ctx context.Context, mode int) {
	defer func() {
		p.mu.Lock()
		p.offering = nil
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	for ctx.Err() == nil {
		seq := p.nextPoll()
		fetches := p.g.client.PollRecords(ctx, 10000)
		if ctx.Err() != nil {
			return
		}
		fetches.EachError(func(t string, part int32, err error) {
			if err != context.Canceled {
				p.g.log.Warn("fetch error", "topic", t, "partition", part, "err", err)
			}
		})
		for _, f := range fetches {
			for _, ft := range f.Topics {
				for _, fp := range ft.Partitions {
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
						for _, r := range fp.Records {
							if !p.deliverOne(ctx, ps, r) {
								break
							}
						}
					}
					if ctx.Err() != nil {
						return
					}
				}
			}
		}
	}
}

// nextPoll counts a poll about to be issued and returns its number.
func (p *pump) nextPoll() int64 {
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
func (p *pump) stale(ps *pstate, seq, first int64) bool {
	p.mu.Lock()
	if ps.stopped || first <= ps.next || ps.addedAt < seq {
		p.mu.Unlock()
		return false
	}
	next := ps.next
	ps.addedAt = p.polls
	p.mu.Unlock()
	tp := ps.tp
	p.g.client.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
	p.g.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{tp.Topic: {tp.Partition: kgo.NewOffset().At(next)}})
	p.g.log.Debug("dropped records fetched before the partition was taken again", "partition", tp, "first", first, "next", next)
	return true
}

// held returns the state of tp, nil when it is not held.
func (p *pump) held(tp TopicPartition) *pstate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parts[tp]
}

// offer marks ps's unit starting at first as being offered. ok is false
// when ps was given up; skip is true when first was delivered already.
func (p *pump) offer(ps *pstate, first int64) (changed chan struct{}, skip, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps.stopped {
		return nil, false, false
	}
	if first < ps.next {
		return nil, true, true
	}
	p.offering = ps
	return p.changed, false, true
}

// offered records the outcome of an offer: sent, the unit ending at end is
// in the application's hands and the previous one is processed.
func (p *pump) offered(ps *pstate, sent bool, end int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.offering = nil
	if sent {
		p.ackLocked()
		ps.next = end
		p.inflight, p.inEnd = ps, end
	}
	p.cond.Broadcast()
}

// retry reports, after a change of partitions, whether ps is still held,
// and the channel of the next change.
func (p *pump) retry(ps *pstate) (bool, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !ps.stopped, p.changed
}

// deliverOne offers r until the application takes it; false when ps was
// given up or ctx ended (deliver nothing more of ps from this fetch).
func (p *pump) deliverOne(ctx context.Context, ps *pstate, r *kgo.Record) bool {
	changed, skip, ok := p.offer(ps, r.Offset)
	if !ok || skip {
		return ok
	}
	ev := toEvent(r)
	for {
		select {
		case p.stream <- ev:
			p.offered(ps, true, r.Offset+1)
			return true
		case <-changed:
			var held bool
			if held, changed = p.retry(ps); !held {
				p.offered(ps, false, 0)
				return false
			}
		case <-ctx.Done():
			p.offered(ps, false, 0)
			return false
		}
	}
}

// deliverBatch offers records not yet delivered, as one batch.
func (p *pump) deliverBatch(ctx context.Context, ps *pstate, records []*kgo.Record) {
	p.mu.Lock()
	next := ps.next
	p.mu.Unlock()
	for len(records) > 0 && records[0].Offset < next {
		records = records[1:]
	}
	if len(records) == 0 {
		return
	}
	changed, skip, ok := p.offer(ps, records[0].Offset)
	if !ok || skip {
		return
	}
	b := &EventBatch{Topic: ps.tp.Topic, Partition: ps.tp.Partition, Events: make([]ConsumerEvent, len(records))}
	for i, r := range records {
		fillEvent(&b.Events[i], r)
	}
	end := records[len(records)-1].Offset + 1
	for {
		select {
		case p.batches <- b:
			p.offered(ps, true, end)
			return
		case <-changed:
			var held bool
			if held, changed = p.retry(ps); !held {
				p.offered(ps, false, 0)
				return
			}
		case <-ctx.Done():
			p.offered(ps, false, 0)
			return
		}
	}
}

func toEvent(r *kgo.Record) *ConsumerEvent {
	ev := new(ConsumerEvent)
	fillEvent(ev, r)
	return ev
}

func fillEvent(ev *ConsumerEvent, r *kgo.Record) {
	ev.Topic = r.Topic
	ev.Partition = r.Partition
	ev.Offset = r.Offset
	ev.Key = r.Key
	ev.Value = r.Value
	ev.Timestamp = r.Timestamp
	if len(r.Headers) > 0 {
		ev.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			ev.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
}

// Stream returns the channel of messages of every partition the member
// holds. A message counts as processed, and is committed, once the loop
// reading the channel takes the next one, or at Close; a partition given up
// in a rebalance waits for that (at most HandoffTimeout) before it is
// handed over. The channel is closed by Close. nil if Batches or Checkout
// was chosen first.
func (g *ConsumerGroup) Stream() <-chan *ConsumerEvent {
	if !g.pump.choose(modeStream) {
		return nil
	}
	return g.pump.stream
}

// Batches returns the channel of message batches, one topic-partition per
// batch, for throughput: the same guarantees as Stream with a batch as the
// unit (a batch counts as processed when the next one is taken). nil if
// Stream or Checkout was chosen first.
func (g *ConsumerGroup) Batches() <-chan *EventBatch {
	if !g.pump.choose(modeBatches) {
		return nil
	}
	return g.pump.batches
}
