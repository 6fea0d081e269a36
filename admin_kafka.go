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
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's group types (ListGroups, KIP-848): the protocol a group runs.
const (
	kafkaTypeClassic  = "classic"
	kafkaTypeConsumer = "consumer"
)

// DescribeKafkaGroup reads a group that Kafka's own group coordinator runs
// (JoinKafkaConsumerGroup's, the Java consumer's, or one with only
// committed offsets): its protocol (classic or consumer), state, members
// with their client id, host, subscription and assignment, committed
// offsets, log end offsets and lag, lag computed as DescribeGroup computes
// it. A group that Kafka does not know gives ErrUnknownGroup. cl is any
// client of the cluster; it is not closed.
//
// Kafka's classic protocol does not tell a group's generation: it is 0
// there; for a consumer (KIP-848) group it is the group epoch.
func DescribeKafkaGroup(ctx context.Context, cl *kgo.Client, group string) (*GroupDescription, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: describe Kafka group: empty group name", ErrInvalidArgument)
	}
	admin := kadm.NewClient(cl)
	listed, lerr := admin.ListGroups(ctx)
	l, ok := listed[group]
	if !ok {
		if lerr != nil {
			return nil, fmt.Errorf("consumergroup: list Kafka's groups: %w", lerr)
		}
		return nil, fmt.Errorf("%w: %q in Kafka's group coordinator", ErrUnknownGroup, group)
	}
	d := &GroupDescription{Group: group, Members: []MemberDescription{}, Partitions: []PartitionDescription{}}
	var err error
	if l.GroupType == kafkaTypeConsumer {
		err = describeConsumerGroup(ctx, cl, admin, d)
	} else {
		err = describeClassicGroup(ctx, admin, d)
	}
	if err != nil {
		return nil, err
	}
	d.State = kafkaState(d.CoordinatorState, len(d.Members))

	fetched, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: fetch the offsets of Kafka group %q: %w", group, err)
	}
	var errs []error
	committed := map[TopicPartition]int64{}
	fetched.Each(func(o kadm.OffsetResponse) {
		switch {
		case o.Err != nil:
			errs = append(errs, fmt.Errorf("consumergroup: offset of %s/%d in Kafka group %q: %w", o.Topic, o.Partition, group, o.Err))
		case o.At >= 0:
			committed[TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.At
		}
	})
	owners := map[TopicPartition]string{}
	counts := map[string]int32{}
	for _, m := range d.Members {
		for _, t := range m.Topics {
			counts[t] = max(counts[t], 0)
		}
		for t, ps := range m.Assignment {
			for _, p := range ps {
				owners[TopicPartition{Topic: t, Partition: p}] = m.ID
				counts[t] = max(counts[t], p+1)
			}
		}
	}
	for tp := range committed {
		counts[tp.Topic] = max(counts[tp.Topic], tp.Partition+1)
	}
	topics := slices.Sorted(maps.Keys(counts))
	var starts, ends kadm.ListedOffsets
	if len(topics) > 0 {
		if ends, err = admin.ListEndOffsets(ctx, topics...); err != nil {
			errs = append(errs, fmt.Errorf("consumergroup: list end offsets: %w", err))
		} else if starts, err = admin.ListStartOffsets(ctx, topics...); err != nil {
			// Where "the whole log" starts, for the partitions without a
			// commit (PartitionLag).
			errs = append(errs, fmt.Errorf("consumergroup: list start offsets: %w", err))
		}
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			counts[o.Topic] = max(counts[o.Topic], o.Partition+1)
		}
	})
	unknown := false
	for _, t := range topics {
		for p := int32(0); p < counts[t]; p++ {
			tp := TopicPartition{Topic: t, Partition: p}
			pd := PartitionDescription{Topic: t, Partition: p, Owner: owners[tp], Committed: -1, LogEnd: -1, Lag: -1}
			if off, ok := committed[tp]; ok {
				pd.Committed = off
			}
			if pd.setLogEnd(starts, ends) {
				d.TotalLag += pd.Lag
			} else {
				unknown = true
			}
			d.Partitions = append(d.Partitions, pd)
		}
	}
	if unknown {
		d.TotalLag = -1
	}
	return d, errors.Join(errs...)
}

// describeClassicGroup fills d from DescribeGroups.
func describeClassicGroup(ctx context.Context, admin *kadm.Client, d *GroupDescription) error {
	described, err := admin.DescribeGroups(ctx, d.Group)
	g, ok := described[d.Group]
	switch {
	case !ok && err != nil:
		return fmt.Errorf("consumergroup: describe Kafka group %q: %w", d.Group, err)
	case !ok:
		return fmt.Errorf("%w: %q in Kafka's group coordinator", ErrUnknownGroup, d.Group)
	case g.Err != nil:
		return fmt.Errorf("consumergroup: describe Kafka group %q: %w", d.Group, g.Err)
	}
	d.Protocol, d.CoordinatorState, d.Strategy = kafkaTypeClassic, g.State, g.Protocol
	for _, m := range g.Members {
		md := MemberDescription{ID: m.MemberID, Host: strings.TrimPrefix(m.ClientHost, "/"), ClientID: m.ClientID, Topics: []string{}}
		if j, ok := m.Join.AsConsumer(); ok {
			md.Topics = slices.Sorted(slices.Values(j.Topics))
		}
		if a, ok := m.Assigned.AsConsumer(); ok {
			md.Assignment = map[string][]int32{}
			for _, t := range a.Topics {
				md.Assignment[t.Topic] = slices.Sorted(slices.Values(t.Partitions))
			}
		}
		d.Members = append(d.Members, md)
	}
	return nil
}

// describeConsumerGroup fills d from ConsumerGroupDescribe (KIP-848). The
// request is ours, not kadm's: a broker may name the assigned topics by id
// only, which kadm's answer would lose.
func describeConsumerGroup(ctx context.Context, cl *kgo.Client, admin *kadm.Client, d *GroupDescription) error {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{d.Group}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("consumergroup: describe Kafka consumer group %q: %w", d.Group, err)
	}
	i := slices.IndexFunc(resp.Groups, func(g kmsg.ConsumerGroupDescribeResponseGroup) bool { return g.Group == d.Group })
	if i < 0 {
		return fmt.Errorf("%w: %q in Kafka's group coordinator", ErrUnknownGroup, d.Group)
	}
	g := resp.Groups[i]
	if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			return fmt.Errorf("%w: %q in Kafka's group coordinator", ErrUnknownGroup, d.Group)
		}
		return fmt.Errorf("consumergroup: describe Kafka consumer group %q: %w", d.Group, err)
	}
	d.Protocol, d.CoordinatorState, d.Strategy, d.Generation = kafkaTypeConsumer, g.State, g.AssignorName, int(g.Epoch)
	var names map[kadm.TopicID]string // topic names by id, read once if needed
	for _, m := range g.Members {
		md := MemberDescription{ID: m.MemberID, Host: strings.TrimPrefix(m.ClientHost, "/"), ClientID: m.ClientID,
			Topics: slices.Sorted(slices.Values(m.SubscribedTopics)), Assignment: map[string][]int32{}}
		for _, tp := range m.Assignment.TopicPartitions {
			t := tp.Topic
			if t == "" {
				if names == nil {
					if names, err = topicNames(ctx, admin); err != nil {
						return fmt.Errorf("consumergroup: describe Kafka consumer group %q: the names of its topics: %w", d.Group, err)
					}
				}
				if t = names[tp.TopicID]; t == "" {
					return fmt.Errorf("consumergroup: describe Kafka consumer group %q: member %s is assigned a topic of unknown id %x", d.Group, m.MemberID, tp.TopicID)
				}
			}
			md.Assignment[t] = slices.Sorted(slices.Values(append(md.Assignment[t], tp.Partitions...)))
		}
		d.Members = append(d.Members, md)
	}
	slices.SortFunc(d.Members, func(a, b MemberDescription) int { return strings.Compare(a.ID, b.ID) })
	return nil
}

// topicNames maps the cluster's topic ids to names.
func topicNames(ctx context.Context, admin *kadm.Client) (map[kadm.TopicID]string, error) {
	topics, err := admin.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[kadm.TopicID]string, len(topics))
	for _, t := range topics {
		out[t.ID] = t.Topic
	}
	return out, nil
}

// kafkaState maps the state Kafka's coordinator reports to ours.
func kafkaState(s string, members int) string {
	switch strings.ToLower(s) {
	case "stable":
		if members > 0 {
			return StateStable
		}
		return StateEmpty
	case "empty", "dead", "":
		return StateEmpty
	}
	return StateRebalancing // PreparingRebalance, CompletingRebalance, Assigning, Reconciling
}
