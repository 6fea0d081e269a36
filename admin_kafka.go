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
//
// A share group (KIP-932) has protocol "share" and its group epoch as
// generation; its partitions are those Kafka keeps share state for and
// those assigned: Committed is the share-partition start offset and Lag
// the lag Kafka reports (records not yet acknowledged; -1 from a broker
// that does not report it), and Owner the ids of every member assigned the
// partition, comma-separated: members of a share group share partitions.
func DescribeKafkaGroup(ctx context.Context, cl *kgo.Client, group string) (*GroupDescription, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: describe Kafka group: empty group name", ErrInvalidArgument)
	}
	admin := kadm.NewClient(cl)
	l, err := listedKafkaGroup(ctx, admin, group)
	if err != nil {
		return nil, err
	}
	if l.GroupType == kafkaTypeShare {
		return describeKafkaShareGroup(ctx, admin, group)
	}
	d, err := describeKafkaMembers(ctx, cl, admin, l)
	if err != nil {
		return nil, err
	}
	committed, errs, err := kafkaCommitted(ctx, admin, group)
	if err != nil {
		return nil, err
	}
	ps := newKafkaGroupPartitions(d.Members, committed)
	if err := ps.listLogs(ctx, admin); err != nil {
		errs = append(errs, err)
	}
	ps.describe(d)
	return d, errors.Join(errs...)
}

// listedKafkaGroup is the group as ListGroups gives it: a group it does
// not list is ErrUnknownGroup.
func listedKafkaGroup(ctx context.Context, admin *kadm.Client, group string) (kadm.ListedGroup, error) {
	listed, lerr := admin.ListGroups(ctx)
	l, ok := listed[group]
	if !ok {
		if lerr != nil {
			return l, fmt.Errorf("consumergroup: list Kafka's groups: %w", lerr)
		}
		return l, fmt.Errorf("%w: %q in Kafka's group coordinator", ErrUnknownGroup, group)
	}
	return l, nil
}

// describeKafkaMembers describes the group's protocol, state and members,
// by the request of the group's type, as ListGroups gives it (l).
func describeKafkaMembers(ctx context.Context, cl *kgo.Client, admin *kadm.Client, l kadm.ListedGroup) (*GroupDescription, error) {
	group := l.Group
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
	return d, nil
}

// kafkaCommitted fetches the group's committed offsets; errs are the
// partitions' errors, err the request's.
func kafkaCommitted(ctx context.Context, admin *kadm.Client, group string) (committed map[TopicPartition]int64, errs []error, err error) {
	fetched, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		return nil, nil, fmt.Errorf("consumergroup: fetch the offsets of Kafka group %q: %w", group, err)
	}
	committed = map[TopicPartition]int64{}
	fetched.Each(func(o kadm.OffsetResponse) {
		switch {
		case o.Err != nil:
			errs = append(errs, fmt.Errorf("consumergroup: offset of %s/%d in Kafka group %q: %w", o.Topic, o.Partition, group, o.Err))
		case o.At >= 0:
			committed[TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.At
		}
	})
	return committed, errs, nil
}

// kafkaGroupPartitions is what DescribeKafkaGroup knows of a group's
// partitions: those of its members' subscriptions and assignments, of its
// commits, and of its topics' logs.
type kafkaGroupPartitions struct {
	committed    map[TopicPartition]int64  // the committed offsets
	owners       map[TopicPartition]string // the id of the member assigned each
	counts       map[string]int32          // each topic's partitions, as far as known
	topics       []string                  // counts' topics, sorted
	starts, ends kadm.ListedOffsets        // the logs' (listLogs)
}

// newKafkaGroupPartitions collects the topics and partitions of members'
// subscriptions and assignments and of committed.
func newKafkaGroupPartitions(members []MemberDescription, committed map[TopicPartition]int64) *kafkaGroupPartitions {
	ps := &kafkaGroupPartitions{committed: committed, owners: map[TopicPartition]string{}, counts: map[string]int32{}}
	for _, m := range members {
		for _, t := range m.Topics {
			ps.counts[t] = max(ps.counts[t], 0)
		}
		for t, parts := range m.Assignment {
			for _, p := range parts {
				ps.owners[TopicPartition{Topic: t, Partition: p}] = m.ID
				ps.counts[t] = max(ps.counts[t], p+1)
			}
		}
	}
	for tp := range committed {
		ps.counts[tp.Topic] = max(ps.counts[tp.Topic], tp.Partition+1)
	}
	ps.topics = slices.Sorted(maps.Keys(ps.counts))
	return ps
}

// listLogs lists the topics' log end and start offsets; every partition
// with a log end counts.
func (ps *kafkaGroupPartitions) listLogs(ctx context.Context, admin *kadm.Client) error {
	var err error
	if len(ps.topics) > 0 {
		if ps.ends, err = admin.ListEndOffsets(ctx, ps.topics...); err != nil {
			err = fmt.Errorf("consumergroup: list end offsets: %w", err)
		} else if ps.starts, err = admin.ListStartOffsets(ctx, ps.topics...); err != nil {
			// Where "the whole log" starts, for the partitions without a
			// commit (PartitionLag).
			err = fmt.Errorf("consumergroup: list start offsets: %w", err)
		}
	}
	ps.ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			ps.counts[o.Topic] = max(ps.counts[o.Topic], o.Partition+1)
		}
	})
	return err
}

// describe adds every partition of the topics to d, with its owner,
// committed offset, log end and lag, and d's total lag: -1 when a
// partition's is unknown.
func (ps *kafkaGroupPartitions) describe(d *GroupDescription) {
	unknown := false
	for _, t := range ps.topics {
		for p := int32(0); p < ps.counts[t]; p++ {
			tp := TopicPartition{Topic: t, Partition: p}
			pd := PartitionDescription{Topic: t, Partition: p, Owner: ps.owners[tp], Committed: -1, LogEnd: -1, Lag: -1}
			if off, ok := ps.committed[tp]; ok {
				pd.Committed = off
			}
			if pd.setLogEnd(ps.starts, ps.ends) {
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
