package consumergroup

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

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
	if g.share != nil {
		return g.share.streamOut()
	}
	if !g.eng.choose(modeStream) {
		return nil
	}
	return g.eng.ch.stream
}

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
// (or one of a partition given up since) does nothing.
//
// ev must be the pointer the group handed out: a message is known by its
// *ConsumerEvent, not by its fields. MarkDone returns an error matching
// ErrInvalidArgument, and marks nothing, for a message the group did not
// hand out: a copy of one still in hand (keep the pointer, not a copy),
// another group's message, one of a partition this member never held, or
// one not delivered yet. A copy of a message that counts as processed
// already does nothing, like the message itself. One case is refused though
// the group did hand it out: a message of an earlier holding of a partition
// that was given up and taken again since, whose offset was delivered again
// (its new delivery is the one to mark). It also returns ErrInvalidArgument
// for nil, or when the group delivers through Batches or Checkout (use
// MarkBatchDone with Batches).
func (g *ConsumerGroup) MarkDone(ev *ConsumerEvent) error {
	if g.share != nil {
		return g.share.mark(ev, kgo.AckAccept, "MarkDone")
	}
	if ev == nil {
		return fmt.Errorf("%w: MarkDone: nil message", ErrInvalidArgument)
	}
	if m := g.eng.mode(); m == modeBatches || m == modeCheckout {
		return fmt.Errorf("%w: MarkDone: the group delivers through %s; use MarkBatchDone with Batches", ErrInvalidArgument, modeName(m))
	}
	if !g.eng.markDone(ev) {
		return fmt.Errorf("%w: MarkDone: the message of topic %q partition %d at offset %d was not handed out by group %q (a copy, another group's, or not delivered yet): pass the *ConsumerEvent that Stream or Next returned",
			ErrInvalidArgument, ev.Topic, ev.Partition, ev.Offset, g.name)
	}
	return nil
}

// streamChunk is how many Stream messages share one allocation: 32 KB,
// the largest small object of Go's allocator (204 events of 160 bytes
// since the share groups' fields; 256 of 128 before). One allocation per
// fetched slice (a partition's part of a fetch: 10,000 messages of 100
// bytes are 1.3 MB of events) kept every event of the slice alive while
// the application held any one of them.
const streamChunk = (32 << 10) / int(unsafe.Sizeof(ConsumerEvent{}))

// deliverStream sends the records not yet delivered, one message each.
func (p *pump) deliverStream(ctx context.Context, ps *pstate, records []*kgo.Record) {
	records = p.undelivered(ps, records)
	var evs []ConsumerEvent
	for i := range records {
		if len(evs) == 0 {
			// One allocation for streamChunk messages, not one per message.
			evs = make([]ConsumerEvent, min(streamChunk, len(records)-i))
			fillEvents(evs, records[i:i+len(evs)], p.recycle)
		}
		ev := &evs[0]
		evs = evs[1:]
		if !p.send(ctx, unit{ps: ps, end: ev.Offset + 1, ev: ev}) {
			return
		}
	}
}
