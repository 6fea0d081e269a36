package consumergroup

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Batches returns the channel of message batches, one topic-partition per
// batch, for throughput: the same guarantees as Stream with a batch as the
// unit (a batch counts as processed when the next one is taken, or at
// MarkBatchDone), and the same cost on quiet topics without MarkBatchDone
// (see Stream; Poll has none). Called after Close, it returns a closed
// channel. nil if Stream, Checkout or Next/Poll was chosen first.
func (g *ConsumerGroup) Batches() <-chan *EventBatch {
	if g.share != nil {
		return g.share.batchesOut()
	}
	if !g.eng.choose(modeBatches) {
		return nil
	}
	return g.eng.ch.batches
}

// MarkBatchDone is MarkDone for a batch received from Batches (or from
// Poll): the whole batch counts as processed. As with MarkDone, b must be
// the *EventBatch the group handed out: a copy of one still in hand,
// another group's batch or an empty one is refused with ErrInvalidArgument
// and marks nothing (see MarkDone).
func (g *ConsumerGroup) MarkBatchDone(b *EventBatch) error {
	if g.share != nil {
		return g.share.markBatch(b)
	}
	if b == nil {
		return fmt.Errorf("%w: MarkBatchDone: nil batch", ErrInvalidArgument)
	}
	if m := g.eng.mode(); m == modeStream || m == modeCheckout {
		return fmt.Errorf("%w: MarkBatchDone: the group delivers through %s; use MarkDone with Stream", ErrInvalidArgument, modeName(m))
	}
	if !g.eng.markDone(b) {
		first := "no message"
		if len(b.Events) > 0 {
			first = fmt.Sprintf("offset %d", b.Events[0].Offset)
		}
		return fmt.Errorf("%w: MarkBatchDone: the batch of topic %q partition %d from %s was not handed out by group %q (a copy, another group's, or not delivered yet): pass the *EventBatch that Batches or Poll returned",
			ErrInvalidArgument, b.Topic, b.Partition, first, g.name)
	}
	return nil
}

// deliverBatch sends the records not yet delivered, as one batch.
func (p *pump) deliverBatch(ctx context.Context, ps *pstate, records []*kgo.Record) {
	records = p.undelivered(ps, records)
	if len(records) == 0 {
		return
	}
	b := &EventBatch{Topic: ps.tp.Topic, Partition: ps.tp.Partition, Events: make([]ConsumerEvent, len(records))}
	fillEvents(b.Events, records, p.recycle)
	end := b.Events[len(b.Events)-1].Offset + 1
	p.send(ctx, unit{ps: ps, end: end, b: b})
}
