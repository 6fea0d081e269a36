package consumergroup

import (
	"context"
	"syscall"
	"testing"
)

// processCPU returns the CPU time (user and system) the process used so
// far, in ns: on a machine shared with other work, the CPU per message
// moves less than the wall-clock time per message.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkChannelFloor: a bare channel of capacity outputBuffer between
// two goroutines, the same pointer every time: the floor of Stream's
// hand-off (cpu-ns/msg to compare with BenchmarkStreamCPU's).
func BenchmarkChannelFloor(b *testing.B) {
	ch := make(chan *ConsumerEvent, outputBuffer)
	ev := &ConsumerEvent{}
	done := make(chan struct{})
	go func() {
		for range b.N {
			<-ch
		}
		close(done)
	}()
	c0 := processCPU(b)
	b.ResetTimer()
	for range b.N {
		ch <- ev
	}
	<-done
	b.ReportMetric(float64(processCPU(b)-c0)/float64(b.N), "cpu-ns/msg")
}

// BenchmarkStreamCPU: the pump's Stream delivery to a reader that only
// counts, 500 records per fetched slice, the same records every time (no
// allocation of records in the loop: what is allocated is the engine's).
func BenchmarkStreamCPU(b *testing.B) {
	p, tp := benchPump(b)
	const slice = 500
	recs := benchRecords(slice, 100)
	done := make(chan struct{})
	go func() {
		n := 0
		for range p.ch.stream {
			if n++; n == b.N {
				break
			}
		}
		close(done)
	}()
	ctx := context.Background()
	b.ReportAllocs()
	c0 := processCPU(b)
	b.ResetTimer()
	for i := 0; i < b.N; i += slice {
		for j, r := range recs {
			r.Offset = int64(i + j)
		}
		p.deliverStream(ctx, tp, recs[:min(slice, b.N-i)])
	}
	<-done
	b.ReportMetric(float64(processCPU(b)-c0)/float64(b.N), "cpu-ns/msg")
}

// BenchmarkChannelFillFloor: Stream's structural bound beside
// BenchmarkStreamCPU: a bare channel of capacity outputBuffer whose sender
// does the pump's work outside the engine (events filled 256 at a time
// from the same 500 records), and a reader that only counts. The reader
// is faster than the sender, so it waits on the channel at every message:
// a park and a wake-up per message, as Stream's.
func BenchmarkChannelFillFloor(b *testing.B) {
	ch := make(chan *ConsumerEvent, outputBuffer)
	recs := benchRecords(500, 100)
	done := make(chan struct{})
	go func() {
		for range b.N {
			<-ch
		}
		close(done)
	}()
	b.ReportAllocs()
	c0 := processCPU(b)
	b.ResetTimer()
	var evs []ConsumerEvent
	for i := range b.N {
		if len(evs) == 0 {
			j := i % len(recs)
			evs = make([]ConsumerEvent, min(streamChunk, len(recs)-j))
			fillEvents(evs, recs[j:j+len(evs)], false)
		}
		ch <- &evs[0]
		evs = evs[1:]
	}
	<-done
	b.ReportMetric(float64(processCPU(b)-c0)/float64(b.N), "cpu-ns/msg")
}
