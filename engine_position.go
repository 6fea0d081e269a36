package consumergroup

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pollMax is how many records one poll of the engine returns at most: 0,
// everything franz-go buffered, as its PollFetches. franz-go sends the
// next fetch to a broker only once what it buffered of the last one was
// all polled: polls of part of it (10,000 records, 1.3 MB at 100 bytes
// a message, a tenth of a fetch of 16 partitions) left the engine with
// nothing to deliver for a fetch's round trip after each fetch. Measured
// side by side with franz-go's direct consumer on a backlog of 100-byte
// messages (kfake in another process, 2 cores, two runs): Next 0.72-0.78x
// its rate with 10,000, 0.93-1.04x with 0; Poll 0.79-0.92x, 0.86-1.07x;
// Stream 0.50-0.52x, 0.64-0.75x; the CPU per message moves less (Stream
// 5-20% more, as the engine delivers while franz-go fetches). Earlier, on
// 1 KB messages, 0 had measured 5-15% more CPU per message for Batches.
const pollMax = 0

// positioner places the engine's partitions in its franz-go client: what is
// fetched, from where. A direct consumer (ZooKeeper coordination: the group
// decides what is consumed) is positioned with Add, Remove and Pause; a
// group consumer (Kafka's coordinator decides, and franz-go starts each
// assigned partition at its committed offset) with SetOffsets. Pause and
// Resume are the same for both.
type positioner interface {
	// poll returns the next fetches, waiting until some arrive or ctx ends.
	poll(ctx context.Context) kgo.Fetches
	// start begins fetching each partition of starts at its offset (a
	// direct consumer; a group consumer starts where franz-go positioned
	// it), telling the client once for all.
	start(starts []startAt)
	// park stops fetching partitions given up, keeping what the client
	// fetched for the others.
	park(tps map[string][]int32)
	// rewind fetches tp again from offset.
	rewind(tp TopicPartition, offset int64)
	pause(tps map[string][]int32)
	resume(tps map[string][]int32)
	// client is the franz-go client, for metrics of what it buffers.
	client() *kgo.Client
	// behind is told that tp was fetched from below next, where the
	// engine starts it: the records below are skipped.
	behind(tp TopicPartition, next int64)
}

// startAt is a partition to start fetching (positioner.start): at offset;
// parked, given up earlier by this member and still paused in the client.
type startAt struct {
	tp     TopicPartition
	offset int64
	parked bool
}

// directPositioner positions a direct consumer: the ZooKeeper coordinator's
// client, which consumes only what the group adds.
type directPositioner struct{ cl *kgo.Client }

func (d directPositioner) poll(ctx context.Context) kgo.Fetches {
	return d.cl.PollRecords(ctx, pollMax)
}

func (d directPositioner) start(starts []startAt) {
	parked := make(map[string][]int32)
	all := make(map[string][]int32)
	at := make(map[string]map[int32]kgo.Offset)
	for _, s := range starts {
		t, p := s.tp.Topic, s.tp.Partition
		if s.parked {
			parked[t] = append(parked[t], p)
		}
		all[t] = append(all[t], p)
		if at[t] == nil {
			at[t] = make(map[int32]kgo.Offset)
		}
		at[t][p] = kgo.NewOffset().At(s.offset)
	}
	if len(parked) > 0 {
		// Given up earlier and still in franz-go, at whatever offset
		// they had been fetched to: removed so that they start again at
		// their offset. This is the one path where taking a partition
		// costs the client's other partitions their buffered fetches
		// (see stop).
		d.cl.RemoveConsumePartitions(parked)
	}
	// franz-go keeps a pause across removal: a partition paused in an
	// earlier holding (given up, or checkout's queue limit) would never be
	// fetched again.
	d.cl.ResumeFetchPartitions(all)
	d.cl.AddConsumePartitions(at)
}

// park pauses: RemoveConsumePartitions would stop the client's whole fetch
// session (see pump.stop).
func (d directPositioner) park(tps map[string][]int32) { d.cl.PauseFetchPartitions(tps) }

func (d directPositioner) rewind(tp TopicPartition, offset int64) {
	d.cl.RemoveConsumePartitions(map[string][]int32{tp.Topic: {tp.Partition}})
	d.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{tp.Topic: {tp.Partition: kgo.NewOffset().At(offset)}})
}

func (d directPositioner) pause(tps map[string][]int32)  { d.cl.PauseFetchPartitions(tps) }
func (d directPositioner) resume(tps map[string][]int32) { d.cl.ResumeFetchPartitions(tps) }
func (d directPositioner) client() *kgo.Client           { return d.cl }

// behind does nothing: a direct consumer's partition is added at its
// start; records below it are the end of an earlier holding's fetch.
func (d directPositioner) behind(TopicPartition, int64) {}

// groupPositioner positions a group consumer (Kafka's coordinator):
// franz-go starts each assigned partition at its committed offset; the
// engine only moves it back (SetOffsets) and pauses it.
type groupPositioner struct{ cl *kgo.Client }

func (p groupPositioner) poll(ctx context.Context) kgo.Fetches { return p.cl.PollRecords(ctx, pollMax) }

// start resumes the partitions (a pause outlives a revocation); known
// offsets (partitions resumed after a suspension) are set, in one call.
func (p groupPositioner) start(starts []startAt) {
	all := make(map[string][]int32)
	set := make(map[string]map[int32]kgo.EpochOffset)
	for _, s := range starts {
		t := s.tp.Topic
		all[t] = append(all[t], s.tp.Partition)
		if s.offset >= 0 {
			if set[t] == nil {
				set[t] = make(map[int32]kgo.EpochOffset)
			}
			set[t][s.tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: s.offset}
		}
	}
	p.cl.ResumeFetchPartitions(all)
	if len(set) > 0 {
		p.cl.SetOffsets(set)
	}
}

// park does nothing: franz-go stops fetching revoked partitions itself once
// OnPartitionsRevoked returns, and until then what it fetches is dropped. A
// pause would outlive the revocation in franz-go, with the partition's
// cursor: assigned again later, the partition would resume from where this
// member had fetched it before, not from the offset committed since by
// others (seen on kfake and Kafka 4 with KIP-848: the regression test is
// TestGroupGracefulChangesUnderBacklog/kafka-consumer).
func (p groupPositioner) park(map[string][]int32) {}

func (p groupPositioner) rewind(tp TopicPartition, offset int64) {
	p.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{tp.Topic: {tp.Partition: {Epoch: -1, Offset: offset}}})
}

func (p groupPositioner) pause(tps map[string][]int32)  { p.cl.PauseFetchPartitions(tps) }
func (p groupPositioner) resume(tps map[string][]int32) { p.cl.ResumeFetchPartitions(tps) }
func (p groupPositioner) client() *kgo.Client           { return p.cl }

// behind moves tp up to next: franz-go may resume a partition assigned
// again from where this member had fetched it in an earlier holding, not
// from the offset committed since by its other owners.
func (p groupPositioner) behind(tp TopicPartition, next int64) { p.rewind(tp, next) }
