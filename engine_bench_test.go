package consumergroup

import (
	"context"
	"log/slog"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// benchPump is a pump holding one partition, with no Kafka behind it: what
// the micro-benchmarks measure is the hand-off to the application.
func benchPump(b *testing.B) (*pump, *pstate) {
	b.Helper()
	p := newPump(context.Background(), nil, slog.New(slog.DiscardHandler), nil, newObserver("bench", nil)) // the engine knows no group
	tp := TopicPartition{Topic: "t", Partition: 0}
	p.parts[tp] = &pstate{tp: tp}
	return p, p.parts[tp]
}

func benchRecords(n int, size int) []*kgo.Record {
	value := make([]byte, size)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "t", Partition: 0, Offset: int64(i), Value: value}
	}
	return recs
}

// BenchmarkStreamHandoff: one message from the pump to a Stream reader,
// fetched in slices of 500 records.
func BenchmarkStreamHandoff(b *testing.B) {
	p, tp := benchPump(b)
	recs := benchRecords(b.N, 100)
	benchStream(b, p, tp, recs, func(*ConsumerEvent) {})
}

// benchStream delivers recs to Stream as franz-go hands them over (a slice
// of records per partition, 500 at a time) while a reader takes b.N
// messages, calling each on every one.
func benchStream(b *testing.B, p *pump, tp *pstate, recs []*kgo.Record, each func(*ConsumerEvent)) {
	done := make(chan int)
	go func() {
		n := 0
		for ev := range p.ch.stream {
			each(ev)
			n++
			if n == b.N {
				break
			}
		}
		done <- n
	}()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < len(recs); i += 500 {
		p.deliverStream(ctx, tp, recs[i:min(i+500, len(recs))])
	}
	<-done
}

// BenchmarkBatchHandoff: batches of 500 messages to a Batches reader; the
// figure is per message.
func BenchmarkBatchHandoff(b *testing.B) {
	p, tp := benchPump(b)
	const size = 500
	batches := (b.N + size - 1) / size
	recs := benchRecords(batches*size, 100)
	done := make(chan struct{})
	go func() {
		for i := 0; i < batches; i++ {
			<-p.ch.batches
		}
		close(done)
	}()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < batches; i++ {
		p.deliverBatch(ctx, tp, recs[i*size:(i+1)*size])
	}
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(batches*size), "ns/msg")
}

// BenchmarkPullNext: one message returned by Next's path (what a poll
// fetched, in slices of 500 records, taken on the caller's goroutine): no
// goroutine hop; the poll itself is not measured.
func BenchmarkPullNext(b *testing.B) {
	p, ps := benchPump(b)
	p.modeVal = modePull
	recs := benchRecords(b.N, 100)
	for i := 0; i < len(recs); i += 500 {
		part := recs[i:min(i+500, len(recs))]
		p.pull.buf = append(p.pull.buf, pullSlice{ps: ps, records: part, evs: make([]ConsumerEvent, len(part))})
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := p.pullNext(ctx, pullEvent); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarkDone: a Stream message handed over and marked done.
func BenchmarkMarkDone(b *testing.B) {
	p, tp := benchPump(b)
	recs := benchRecords(b.N, 100)
	benchStream(b, p, tp, recs, func(ev *ConsumerEvent) { p.markDone(ev) })
}
