package consumergroup

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// synthFetcher is a positioner whose polls return fresh records, built
// by a goroutine of their own as franz-go's fetch goroutines decode them
// (the records of a partition's slice in one slab, their values in one
// buffer): the delivery paths are measured with their allocations and the
// garbage collector's work, without a broker, so that the figures move
// less with the load of the machine.
type synthFetcher struct {
	fetches chan kgo.Fetches
	stop    chan struct{}
	done    chan struct{}
}

// newSynthFetcher starts building polls of nparts partitions (polled in
// turn) with perPart records of size bytes each; close stops it.
func newSynthFetcher(parts int32, nparts, perPart, size int) *synthFetcher {
	f := &synthFetcher{fetches: make(chan kgo.Fetches, 2), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		next := make([]int64, parts)
		turn := int32(0)
		for {
			ft := kgo.FetchTopic{Topic: "t"}
			now := time.Now()
			for range nparts {
				part := turn
				turn = (turn + 1) % parts
				slab := make([]kgo.Record, perPart)
				ptrs := make([]*kgo.Record, perPart)
				buf := make([]byte, perPart*size)
				for i := range slab {
					r := &slab[i]
					r.Topic, r.Partition, r.Offset = ft.Topic, part, next[part]
					r.Value = buf[i*size : (i+1)*size : (i+1)*size]
					r.Timestamp = now
					next[part]++
					ptrs[i] = r
				}
				ft.Partitions = append(ft.Partitions, kgo.FetchPartition{Partition: part, HighWatermark: -1, Records: ptrs})
			}
			select {
			case f.fetches <- kgo.Fetches{{Topics: []kgo.FetchTopic{ft}}}:
			case <-f.stop:
				return
			}
		}
	}()
	return f
}

func (f *synthFetcher) close() {
	close(f.stop)
	<-f.done
}

func (f *synthFetcher) poll(ctx context.Context) kgo.Fetches {
	select {
	case fs := <-f.fetches:
		return fs
	case <-ctx.Done():
		return kgo.Fetches{}
	}
}

func (*synthFetcher) start([]startAt)              {}
func (*synthFetcher) park(map[string][]int32)      {}
func (*synthFetcher) rewind(TopicPartition, int64) {}
func (*synthFetcher) pause(map[string][]int32)     {}
func (*synthFetcher) resume(map[string][]int32)    {}
func (*synthFetcher) client() *kgo.Client          { return nil }
func (*synthFetcher) behind(TopicPartition, int64) {}

// synthPerPart is how many records of a partition a synthetic poll holds.
const synthPerPart = 5000

// synthPump is a pump over a synthFetcher holding its 16 partitions: 2
// partitions of 5,000 100-byte records per poll (franz-go's polls of the
// engine returned at most 10,000 records until pollMax became 0).
func synthPump(b *testing.B) *pump {
	b.Helper()
	return pumpOver(b, newSynthFetcher(16, 2, synthPerPart, 100), false)
}

// pumpOver is a pump over f holding its 16 partitions, stopped (and f
// closed) when b ends; recycle: the engine recycles f's records, as with a
// client of the group's (recyclesRecords).
func pumpOver(b *testing.B, f interface {
	positioner
	close()
}, recycle bool) *pump {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	goFunc := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	p := newPump(ctx, f, slog.New(slog.DiscardHandler), goFunc, newObserver("bench", nil))
	p.recycle = recycle
	starts := make(map[TopicPartition]int64)
	for i := range int32(16) {
		starts[TopicPartition{Topic: "t", Partition: i}] = 0
	}
	p.assigned(starts)
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		f.close()
	})
	return p
}

// benchCPU runs loop (which delivers b.N messages) and reports the CPU
// time of the process per message beside the time.
func benchCPU(b *testing.B, loop func()) {
	b.ReportAllocs()
	c0 := processCPU(b)
	b.ResetTimer()
	loop()
	b.StopTimer()
	b.ReportMetric(float64(processCPU(b)-c0)/float64(b.N), "cpu-ns/msg")
}

// BenchmarkSynthRaw: the floor, the synthetic polls read as franz-go's
// direct consumer in the throughput benchmark reads them.
func BenchmarkSynthRaw(b *testing.B) {
	f := newSynthFetcher(16, 2, synthPerPart, 100)
	defer f.close()
	benchRaw(b, f)
}

// benchRaw measures reading f's polls as franz-go's direct consumer in the
// throughput benchmark reads them, per message.
func benchRaw(b *testing.B, f interface {
	poll(context.Context) kgo.Fetches
}) {
	ctx := context.Background()
	benchCPU(b, func() {
		for n := 0; n < b.N; {
			f.poll(ctx).EachRecord(func(*kgo.Record) { n++ })
		}
	})
}

// BenchmarkSynthPoll: Poll over the synthetic polls, per message.
func BenchmarkSynthPoll(b *testing.B) {
	benchPoll(b, synthPump(b))
}

// benchPoll measures Poll over p's polls, per message.
func benchPoll(b *testing.B, p *pump) {
	p.choose(modePull)
	ctx := context.Background()
	benchCPU(b, func() {
		for n := 0; n < b.N; {
			u, err := p.pullNext(ctx, pullBatch)
			if err != nil {
				b.Fatal(err)
			}
			n += len(u.b.Events)
		}
	})
}

// BenchmarkSynthNext: Next over the synthetic polls.
func BenchmarkSynthNext(b *testing.B) { benchNext(b, synthPump(b)) }

// benchNext measures Next over p's polls.
func benchNext(b *testing.B, p *pump) {
	p.choose(modePull)
	ctx := context.Background()
	benchCPU(b, func() {
		for range b.N {
			if _, err := p.pullNext(ctx, pullEvent); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSynthNextLease: Next with a coordinator's lease, as on
// ZooKeeper (a deadline on the monotonic clock, an hour ahead): the lease is
// checked at every hand-out, i.e. per message.
func BenchmarkSynthNextLease(b *testing.B) {
	p := synthPump(b)
	until := time.Now().Add(time.Hour)
	p.setLease(func() time.Time { return until })
	benchNext(b, p)
}

// BenchmarkSynthStream: Stream over the synthetic polls: the pump
// goroutine and a reader that counts.
func BenchmarkSynthStream(b *testing.B) {
	p := synthPump(b)
	p.choose(modeStream)
	benchCPU(b, func() {
		for range b.N {
			<-p.ch.stream
		}
	})
}
