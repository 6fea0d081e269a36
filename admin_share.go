package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// kafkaTypeShare is the group type of a share group (KIP-932).
const kafkaTypeShare = "share"

// describeKafkaShareGroup reads a share group (KIP-932) for
// DescribeKafkaGroup: its state, group epoch, assignor and members with
// their assignments (ShareGroupDescribe); each partition's share-partition
// start offset and lag as Kafka reports them (DescribeShareGroupOffsets),
// and its log end offset. A share group owns no partition: a partition
// assigned to several members has their ids, comma-separated, as Owner.
// Three requests and a listing of end offsets, whatever the group's size.
func describeKafkaShareGroup(ctx context.Context, admin *kadm.Client, group string) (*GroupDescription, error) {
	described, err := admin.DescribeShareGroups(ctx, group)
	g, ok := described[group]
	switch {
	case !ok && err != nil:
		return nil, fmt.Errorf("consumergroup: describe Kafka share group %q: %w", group, err)
	case !ok, errors.Is(g.Err, kerr.GroupIDNotFound):
		return nil, fmt.Errorf("%w: %q in Kafka's group coordinator", ErrUnknownGroup, group)
	case g.Err != nil:
		return nil, fmt.Errorf("consumergroup: describe Kafka share group %q: %w", group, g.Err)
	}
	d := &GroupDescription{Group: group, Protocol: kafkaTypeShare, CoordinatorState: g.GroupState, Strategy: g.Assignor,
		Generation: int(g.GroupEpoch), Members: []MemberDescription{}, Partitions: []PartitionDescription{}}
	owners := map[TopicPartition][]string{}
	for _, m := range g.Members {
		md := MemberDescription{ID: m.MemberID, Host: strings.TrimPrefix(m.ClientHost, "/"), ClientID: m.ClientID,
			Topics: slices.Sorted(slices.Values(m.SubscribedTopicNames)), Assignment: map[string][]int32{}}
		for t, ps := range m.Assignment {
			md.Assignment[t] = slices.Sorted(maps.Keys(ps))
			for p := range ps {
				tp := TopicPartition{Topic: t, Partition: p}
				owners[tp] = append(owners[tp], m.MemberID) // members come sorted by id
			}
		}
		d.Members = append(d.Members, md)
	}
	d.State = kafkaState(g.GroupState, len(d.Members))
	starts, errs, err := shareStartOffsets(ctx, admin, group)
	if err != nil {
		return nil, err
	}
	for tp := range owners {
		if _, ok := starts[tp]; !ok {
			starts[tp] = kadm.ShareOffset{Topic: tp.Topic, Partition: tp.Partition, StartOffset: -1, Lag: -1}
		}
	}
	if err := describeSharePartitions(ctx, admin, d, starts, owners); err != nil {
		errs = append(errs, err)
	}
	return d, errors.Join(errs...)
}

// shareStartOffsets describes the start offsets and lags of every
// partition the share group has state for; errs are the partitions'
// errors, err the request's.
func shareStartOffsets(ctx context.Context, admin *kadm.Client, group string) (map[TopicPartition]kadm.ShareOffset, []error, error) {
	described, err := admin.DescribeShareGroupOffsets(ctx, group)
	o, ok := described[group]
	switch {
	case !ok && err != nil:
		return nil, nil, fmt.Errorf("consumergroup: describe the offsets of Kafka share group %q: %w", group, err)
	case ok && o.Err != nil && !errors.Is(o.Err, kerr.GroupIDNotFound):
		return nil, nil, fmt.Errorf("consumergroup: describe the offsets of Kafka share group %q: %w", group, o.Err)
	}
	out := map[TopicPartition]kadm.ShareOffset{}
	var errs []error
	o.Offsets.Each(func(so kadm.ShareOffset) {
		if so.Err != nil {
			errs = append(errs, fmt.Errorf("consumergroup: start offset of %s/%d in Kafka share group %q: %w", so.Topic, so.Partition, group, so.Err))
			so.StartOffset, so.Lag = -1, -1
		}
		out[TopicPartition{Topic: so.Topic, Partition: so.Partition}] = so
	})
	return out, errs, nil
}

// describeSharePartitions adds the partitions of starts to d, sorted, with
// their members, start offset, log end and Kafka's lag, and d's total lag:
// -1 when a partition's is unknown.
func describeSharePartitions(ctx context.Context, admin *kadm.Client, d *GroupDescription, starts map[TopicPartition]kadm.ShareOffset, owners map[TopicPartition][]string) error {
	topics := map[string]bool{}
	for tp := range starts {
		topics[tp.Topic] = true
	}
	var ends kadm.ListedOffsets
	var err error
	if len(topics) > 0 {
		if ends, err = admin.ListEndOffsets(ctx, slices.Sorted(maps.Keys(topics))...); err != nil {
			err = fmt.Errorf("consumergroup: list end offsets: %w", err)
		}
	}
	unknown := false
	for _, tp := range slices.SortedFunc(maps.Keys(starts), compareTopicPartitions) {
		so := starts[tp]
		pd := PartitionDescription{Topic: tp.Topic, Partition: tp.Partition, Owner: strings.Join(owners[tp], ","),
			Committed: so.StartOffset, LogEnd: -1, Lag: so.Lag}
		if e, ok := ends.Lookup(tp.Topic, tp.Partition); ok && e.Err == nil {
			pd.LogEnd = e.Offset
		}
		if pd.Lag < 0 || pd.LogEnd < 0 {
			pd.Lag, unknown = -1, true
		} else {
			d.TotalLag += pd.Lag
		}
		d.Partitions = append(d.Partitions, pd)
	}
	if unknown {
		d.TotalLag = -1
	}
	return err
}

func compareTopicPartitions(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}
