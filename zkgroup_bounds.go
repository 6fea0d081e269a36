package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The bounds of the partitions taken over: their first and end offsets in
// Kafka, to check a committed offset (startOf). franz-go's sharded
// ListOffsets finds each partition's leader in the client's metadata, and
// fetches the metadata of the whole topic when its copy is older than
// kgo.MetadataMinAge: a member taking one partition of a topic of 10,000
// reads the 10,000 (issue 19: at 100 members × 10,000 partitions, a graceful
// leave's 99 take-overs spent 1.2-1.4 s there, every member fetching the
// topic's metadata at once). On clusters that record their partitions'
// leaders in ZooKeeper (ZooKeeper mode), the leaders of the partitions taken
// are read there instead, one read each, and each leader is asked directly;
// what that does not answer (no state node: KRaft; a leader that moved)
// goes the sharded way. Before either, the leaders the client knows already
// (the topic's other partitions are fetched) are asked directly.

// listBounds lists the first and end offsets of tps, and only theirs (a
// member taking over 20 partitions of a topic of 10,000 does not list the
// 10,000). Partitions just added may be unknown to the client's metadata
// for a moment: it refreshes and asks again, for a few seconds at most.
func (m *member) listBounds(tps []TopicPartition) (lows, highs kadm.ListedOffsets, err error) {
	g := m.c.g
	leaders := m.leadersOf(tps)
	for attempt := 0; ; attempt++ {
		// Both at once: in a leave at 10,000 partitions each request waits
		// behind the other members' metadata fetches at the broker (see
		// listOffsets); one after the other they waited twice.
		var lowErr, highErr error
		var wg sync.WaitGroup
		wg.Go(func() { lows, lowErr = listOffsetsAt(m.ctx, g.client, tps, -2, leaders) })
		highs, highErr = listOffsetsAt(m.ctx, g.client, tps, -1, leaders)
		wg.Wait()
		if lowErr != nil {
			return nil, nil, fmt.Errorf("%w: list start offsets: %w", ErrKafkaUnreachable, lowErr)
		}
		if highErr != nil {
			return nil, nil, fmt.Errorf("%w: list end offsets: %w", ErrKafkaUnreachable, highErr)
		}
		complete := true
		for _, tp := range tps {
			l, ok1 := lows.Lookup(tp.Topic, tp.Partition)
			h, ok2 := highs.Lookup(tp.Topic, tp.Partition)
			if !ok1 || !ok2 || l.Err != nil || h.Err != nil {
				complete = false
			}
		}
		if complete || attempt == boundsAttempts {
			return lows, highs, nil
		}
		leaders = nil // the metadata's leaders from now on
		g.client.ForceMetadataRefresh()
		select {
		case <-time.After(boundsRetry):
		case <-m.ctx.Done():
			return nil, nil, m.ctx.Err()
		}
	}
}

// leadersOf returns the leaders of tps that are known without asking
// Kafka: those in the client's metadata (the topics it fetches already,
// kgo.Client.PartitionLeader), else those ZooKeeper records; none for the
// topics found without a state node before (a cluster that records none:
// KRaft), and none when the read fails (the sharded way then). A leader
// that moved since answers NOT_LEADER, and listOffsetsAt asks the sharded
// way: a member taking one partition of a topic whose other partitions it
// fetches asks the leader at once, with no metadata request.
func (m *member) leadersOf(tps []TopicPartition) map[TopicPartition]int32 {
	leaders := make(map[TopicPartition]int32, len(tps))
	var ask []TopicPartition
	for _, tp := range tps {
		if l, _, err := m.c.g.client.PartitionLeader(tp.Topic, tp.Partition); err == nil && l >= 0 {
			leaders[tp] = l
		} else if !m.noState[tp.Topic] {
			ask = append(ask, tp)
		}
	}
	if len(ask) == 0 {
		return leaders
	}
	recorded, err := m.c.zk.PartitionLeaders(m.ctx, ask)
	if err != nil {
		m.c.g.log.Debug("reading the partitions' leaders in ZooKeeper failed: asking Kafka's metadata", "err", err)
		return leaders
	}
	found := make(map[string]bool)
	for tp, l := range recorded {
		found[tp.Topic] = true
		leaders[tp] = l
	}
	for _, tp := range ask {
		if !found[tp.Topic] {
			if m.noState == nil {
				m.noState = make(map[string]bool)
			}
			m.noState[tp.Topic] = true
		}
	}
	return leaders
}

// listOffsetsAt lists the offsets of tps at timestamp (-2: the first, -1:
// the end): those with a leader in leaders from that broker, directly; the
// others, and those the broker does not answer for, through listOffsets.
func listOffsetsAt(ctx context.Context, cl *kgo.Client, tps []TopicPartition, timestamp int64, leaders map[TopicPartition]int32) (kadm.ListedOffsets, error) {
	byLeader := make(map[int32][]TopicPartition)
	var rest []TopicPartition
	for _, tp := range tps {
		if l, ok := leaders[tp]; ok {
			byLeader[l] = append(byLeader[l], tp)
		} else {
			rest = append(rest, tp)
		}
	}
	out := make(kadm.ListedOffsets)
	for leader, lts := range byLeader {
		resp, err := cl.Broker(int(leader)).Request(ctx, listOffsetsRequest(lts, timestamp))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rest = append(rest, lts...) // a broker the client does not know, or unreachable
			continue
		}
		for _, lo := range listed(resp.(*kmsg.ListOffsetsResponse)) {
			if lo.Err != nil {
				rest = append(rest, TopicPartition{Topic: lo.Topic, Partition: lo.Partition}) // not its leader any more
				continue
			}
			addListed(out, lo)
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	more, err := listOffsets(ctx, cl, rest, timestamp)
	if err != nil {
		return nil, err
	}
	more.Each(func(lo kadm.ListedOffset) { addListed(out, lo) })
	return out, nil
}

// listOffsetsRequest asks for the offsets of tps at timestamp.
func listOffsetsRequest(tps []TopicPartition, timestamp int64) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	topics, parts := byTopic(tps)
	for i, t := range topics {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = t
		for _, p := range parts[i] {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, timestamp
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// byTopic groups tps by topic: the topics in the order they first appear,
// and each one's partitions in tps' order.
func byTopic(tps []TopicPartition) (topics []string, parts [][]int32) {
	index := make(map[string]int)
	for _, tp := range tps {
		i, ok := index[tp.Topic]
		if !ok {
			i = len(topics)
			index[tp.Topic] = i
			topics = append(topics, tp.Topic)
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], tp.Partition)
	}
	return topics, parts
}

// listed returns the offsets of a ListOffsets response.
func listed(resp *kmsg.ListOffsetsResponse) []kadm.ListedOffset {
	var out []kadm.ListedOffset
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, kadm.ListedOffset{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset,
				Timestamp: p.Timestamp, LeaderEpoch: p.LeaderEpoch, Err: kerr.ErrorForCode(p.ErrorCode)})
		}
	}
	return out
}

// listOffsets lists the offsets of tps at timestamp through franz-go's
// sharded request: each partition asked of its leader in the client's
// metadata (fetched when older than kgo.MetadataMinAge).
func listOffsets(ctx context.Context, cl *kgo.Client, tps []TopicPartition, timestamp int64) (kadm.ListedOffsets, error) {
	out := make(kadm.ListedOffsets)
	for _, shard := range cl.RequestSharded(ctx, listOffsetsRequest(tps, timestamp)) {
		if shard.Err != nil {
			if errors.Is(shard.Err, kerr.UnknownTopicOrPartition) || errors.Is(shard.Err, kerr.NotLeaderForPartition) ||
				errors.Is(shard.Err, kerr.LeaderNotAvailable) || errors.Is(shard.Err, kerr.UnknownLeaderEpoch) {
				continue // left out: listBounds refreshes the metadata and asks again
			}
			return nil, shard.Err
		}
		for _, lo := range listed(shard.Resp.(*kmsg.ListOffsetsResponse)) {
			addListed(out, lo)
		}
	}
	return out, nil
}

// addListed adds lo to out.
func addListed(out kadm.ListedOffsets, lo kadm.ListedOffset) {
	if out[lo.Topic] == nil {
		out[lo.Topic] = make(map[int32]kadm.ListedOffset)
	}
	out[lo.Topic][lo.Partition] = lo
}
