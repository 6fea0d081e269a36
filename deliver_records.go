package consumergroup

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// RecordBatch is what PollRecords returns: records of one topic-partition,
// in offset order, as franz-go fetched them.
type RecordBatch struct {
	Topic     string
	Partition int32
	Records   []*kgo.Record
}

// PollRecords is Poll without the copy into events: it returns franz-go's
// own records (*kgo.Record), the fastest way to read a partition, at the
// cost of franz-go's type instead of ConsumerEvent. The rules are Poll's,
// the batch being the unit: calling PollRecords (or Poll, or Next) again
// means the batch is processed, MarkRecordsDone counts it before, and a
// hand-off waits only while the application holds it. The two kinds of
// call can be mixed in one loop.
//
// What the application may keep: the records, and everything they point
// to (Key, Value, Headers), for as long as it likes; the engine never
// reuses a record it handed out, nor does franz-go. What it must not do:
// modify a record before its next call (the group reads the batch's
// offsets until then). Once past that call it may call Record.Recycle on
// a record it is done with: the group's own clients then decode a later
// fetch into it (what its Key, Value and Headers pointed to stays valid),
// so the record itself must not be used after. Offsets are committed by
// the group, as with Poll: do not commit through the client.
func (g *ConsumerGroup) PollRecords(ctx context.Context) (*RecordBatch, error) {
	if g.share != nil {
		return nil, g.share.refuse("PollRecords", "use Poll, whose events Release, Reject and Renew take")
	}
	if err := g.choosePull(ctx, "PollRecords"); err != nil {
		return nil, err
	}
	u, err := g.eng.pullNext(ctx, pullRecords)
	return u.rb, err
}

// MarkRecordsDone is MarkBatchDone for a batch PollRecords returned: the
// whole batch counts as processed before the next call.
func (g *ConsumerGroup) MarkRecordsDone(b *RecordBatch) error {
	if g.share != nil {
		return g.share.refuse("MarkRecordsDone", "use Poll and MarkBatchDone")
	}
	if b == nil {
		return fmt.Errorf("%w: MarkRecordsDone: nil batch", ErrInvalidArgument)
	}
	if m := g.eng.mode(); m != modePull {
		return fmt.Errorf("%w: MarkRecordsDone: the group delivers through %s, not PollRecords", ErrInvalidArgument, modeName(m))
	}
	g.eng.markDone(b)
	return nil
}
