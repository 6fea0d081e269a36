package consumergroup

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Synthetic polls decoded from the wire: franz-go's own decoder
// (kgo.ProcessFetchPartition) turns record batches into records, into the
// slabs of recordsPool for the engine's benchmarks (recycled as with the
// clients the group builds) and into fresh slabs for raw's, as in the
// throughput benchmark. What synthFetcher leaves out, the decoding and
// the recycling, is what costs most at small messages; the broker and the
// network stay out, so that the figures move less with the machine's load.

// decodeBatchLens are the lengths of the batches of a partition's slice,
// in turn: a producer's batches vary in size (1,793, 3,817, 2,516 records
// of 100 bytes in the throughput benchmark's backlog on kfake).
var decodeBatchLens = []int{1793, 3817, 2516}

// encodedBatch is one record batch of n records of size bytes, encoded
// at offset 0 (the offset is patched at each use: it is outside the CRC).
func encodedBatch(n, size int) []byte {
	var raw []byte
	value := make([]byte, size)
	for i := range n {
		r := kmsg.Record{OffsetDelta: int32(i), Value: value}
		enc := r.AppendTo(nil)
		r.Length = int32(len(enc) - 1) // what follows Length (0: one byte)
		raw = r.AppendTo(raw)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: raw,
	}
	enc := b.AppendTo(nil)
	b.Length = int32(len(enc) - 12)
	enc = b.AppendTo(nil)
	b.CRC = int32(crc32.Checksum(enc[21:], crc32.MakeTable(crc32.Castagnoli)))
	return b.AppendTo(nil)
}

// newDecodingFetcher is newSynthFetcher whose records franz-go decodes
// from record batches (the batches of a slice in a fresh buffer, as a
// fetch response is read), into recordsPool's slabs with pooled.
func newDecodingFetcher(parts int32, nparts, size int, pooled bool) *synthFetcher {
	var tmpl [][]byte
	for _, n := range decodeBatchLens {
		tmpl = append(tmpl, encodedBatch(n, size))
	}
	var pools []kgo.Pool
	if pooled {
		pools = []kgo.Pool{recordsPool}
	}
	f := &synthFetcher{fetches: make(chan kgo.Fetches, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		next := make([]int64, parts)
		turn := int32(0)
		for {
			ft := kgo.FetchTopic{Topic: "t"}
			for range nparts {
				part := turn
				turn = (turn + 1) % parts
				total := 0
				for _, t := range tmpl {
					total += len(t)
				}
				buf := make([]byte, 0, total)
				first := next[part]
				for i, t := range tmpl {
					at := len(buf)
					buf = append(buf, t...)
					binary.BigEndian.PutUint64(buf[at:], uint64(next[part]))
					next[part] += int64(decodeBatchLens[i])
				}
				rp := &kmsg.FetchResponseTopicPartition{Partition: part, HighWatermark: next[part], RecordBatches: buf}
				fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Offset: first, Topic: ft.Topic, Partition: part, Pools: pools}, rp, nil, nil)
				ft.Partitions = append(ft.Partitions, fp)
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

// decodePump is synthPump over a decoding fetcher whose records the
// engine recycles.
func decodePump(b *testing.B, size int) *pump {
	b.Helper()
	return pumpOver(b, newDecodingFetcher(16, 2, size, true), true)
}

// decodeSizes are the message sizes of the decoding benchmarks.
var decodeSizes = []int{12, 100}

// BenchmarkDecodeRaw: the floor, decoded polls read as franz-go's direct
// consumer in the throughput benchmark reads them (fresh slabs).
func BenchmarkDecodeRaw(b *testing.B) {
	for _, size := range decodeSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			f := newDecodingFetcher(16, 2, size, false)
			defer f.close()
			benchRaw(b, f)
		})
	}
}

// BenchmarkDecodePoll: Poll over decoded polls, the records recycled.
func BenchmarkDecodePoll(b *testing.B) {
	for _, size := range decodeSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			benchPoll(b, decodePump(b, size))
		})
	}
}

// BenchmarkDecodeBatches: Batches over decoded polls (the pump goroutine
// and a reader that marks nothing: Batches' next batch is sent once the
// application took this one).
func BenchmarkDecodeBatches(b *testing.B) {
	for _, size := range decodeSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			p := decodePump(b, size)
			p.choose(modeBatches)
			benchCPU(b, func() {
				for n := 0; n < b.N; {
					n += len((<-p.ch.batches).Events)
				}
			})
		})
	}
}

// BenchmarkDecodeNext: Next over decoded polls.
func BenchmarkDecodeNext(b *testing.B) {
	for _, size := range decodeSizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			benchNext(b, decodePump(b, size))
		})
	}
}
