package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Group states, as DescribeGroup reports them.
const (
	StateStable      = "stable"      // every member holds what the assignment gives it
	StateRebalancing = "rebalancing" // the assignment is being published or taken over
	StateEmpty       = "empty"       // no member
)

// GroupDescription is what DescribeGroup tells of a group.
type GroupDescription struct {
	Group      string                 `json:"group"`
	State      string                 `json:"state"`
	Generation int                    `json:"generation"`
	Strategy   string                 `json:"strategy,omitempty"`
	Members    []MemberDescription    `json:"members"`
	Partitions []PartitionDescription `json:"partitions"`
	// TotalLag is the sum of the partitions' lags, -1 when the lag of any
	// partition is unknown (Kafka was not asked or could not be reached):
	// unknown never reads as zero.
	TotalLag int64 `json:"total_lag"`
	// Protocol is the group protocol of a group that Kafka's coordinator
	// runs (DescribeKafkaGroup): "classic" or "consumer" (KIP-848); ""
	// for a group coordinated through ZooKeeper.
	Protocol string `json:"protocol,omitempty"`
	// CoordinatorState is Kafka's own name of the state of a group that
	// Kafka's coordinator runs ("Stable", "PreparingRebalance",
	// "Reconciling"...); State is its nearest of ours.
	CoordinatorState string `json:"coordinator_state,omitempty"`
}

// MemberDescription is one registered member.
type MemberDescription struct {
	ID     string    `json:"id"`
	Host   string    `json:"host"`
	Start  time.Time `json:"start,omitzero"` // zero when unknown (Kafka's coordinator does not say)
	Topics []string  `json:"topics"`
	// ClientID and Assignment are those Kafka's coordinator reports
	// (DescribeKafkaGroup): the member's client id and the partitions
	// assigned to it, per topic.
	ClientID   string             `json:"client_id,omitempty"`
	Assignment map[string][]int32 `json:"assignment,omitempty"`
}

// PartitionDescription is one partition of a topic the group consumes or has
// offsets for. Committed and LogEnd are -1 when unknown; Lag is
// PartitionLag's: LogEnd minus Committed (the whole log from its start when
// nothing is committed), -1 when LogEnd is unknown.
type PartitionDescription struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Owner     string `json:"owner"`
	Committed int64  `json:"committed"`
	LogEnd    int64  `json:"log_end"`
	Lag       int64  `json:"lag"`
}

// DescribeGroup reads a group's members, owners, committed offsets and, with
// admin (nil to skip Kafka), its log end offsets and lag. A group that does
// not exist gives ErrUnknownGroup.
func DescribeGroup(ctx context.Context, z *ZK, admin *kadm.Client, group string) (*GroupDescription, error) {
	if err := z.CheckGroup(ctx, group); err != nil {
		return nil, err
	}
	d := &GroupDescription{Group: group, Members: []MemberDescription{}, Partitions: []PartitionDescription{}}
	ids, err := z.Members(ctx, group)
	if err != nil {
		return nil, err
	}
	var errs []error
	topics := map[string]bool{}
	for _, id := range ids {
		m := MemberDescription{ID: id}
		if info, ok := layout.ParseConsumerID(group, id); ok {
			m.Host, m.Start = info.Host, info.Start
		}
		r, err := z.Registration(ctx, group, id)
		switch {
		case errors.Is(err, ErrNoNode):
			continue
		case err != nil:
			errs = append(errs, err)
		default:
			m.Topics = r.Topics
			if m.Start.IsZero() {
				m.Start = r.Timestamp
			}
			for _, t := range r.Topics {
				topics[t] = true
			}
		}
		d.Members = append(d.Members, m)
	}
	offsets, err := z.Offsets(ctx, group)
	if offsets == nil {
		return nil, err
	}
	if err != nil {
		errs = append(errs, err)
	}
	for t := range offsets {
		topics[t] = true
	}
	owned, err := z.OwnedTopics(ctx, group)
	if err != nil && !errors.Is(err, ErrNoNode) {
		return nil, err
	}
	for _, t := range owned {
		topics[t] = true
	}
	a, aerr := z.Assignment(ctx, group)
	if aerr != nil && !errors.Is(aerr, ErrBadData) {
		return nil, aerr
	}
	if aerr != nil {
		errs = append(errs, aerr)
	}
	d.Generation, d.Strategy = a.Generation, a.Strategy

	sorted := slices.Sorted(func(yield func(string) bool) {
		for t := range topics {
			if !yield(t) {
				return
			}
		}
	})
	var starts, ends kadm.ListedOffsets
	if admin != nil && len(sorted) > 0 {
		ends, err = admin.ListEndOffsets(ctx, sorted...)
		if err != nil {
			errs = append(errs, fmt.Errorf("consumergroup: list end offsets: %w", err))
		} else if starts, err = admin.ListStartOffsets(ctx, sorted...); err != nil {
			// Where "the whole log" starts, for the partitions without a
			// commit (PartitionLag).
			errs = append(errs, fmt.Errorf("consumergroup: list start offsets: %w", err))
		}
	}
	stable := len(ids) > 0 && a.Generation > 0
	for _, id := range ids {
		if _, ok := a.Members[id]; !ok {
			stable = false
		}
	}
	unknown := false
	for _, t := range sorted {
		owners, err := z.Owners(ctx, group, t)
		if owners == nil {
			return nil, err
		}
		if err != nil {
			errs = append(errs, err)
		}
		count := int32(0)
		for p := range offsets[t] {
			count = max(count, p+1)
		}
		for p := range owners {
			count = max(count, p+1)
		}
		count = max(count, a.Partitions[t])
		if n, _, err := z.Partitions(ctx, t); err == nil {
			count = max(count, n)
		}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Topic == t && o.Err == nil {
				count = max(count, o.Partition+1)
			}
		})
		assigned := map[int32]string{}
		for id, ts := range a.Members {
			for _, p := range ts[t] {
				assigned[p] = id
			}
		}
		for p := int32(0); p < count; p++ {
			pd := PartitionDescription{Topic: t, Partition: p, Owner: owners[p], Committed: -1, LogEnd: -1, Lag: -1}
			if off, ok := offsets[t][p]; ok {
				pd.Committed = off
			}
			if pd.setLogEnd(starts, ends) {
				d.TotalLag += pd.Lag
			} else {
				unknown = true
			}
			if assigned[p] != pd.Owner {
				stable = false
			}
			d.Partitions = append(d.Partitions, pd)
		}
	}
	if unknown {
		d.TotalLag = -1
	}
	switch {
	case len(ids) == 0:
		d.State = StateEmpty
	case stable:
		d.State = StateStable
	default:
		d.State = StateRebalancing
	}
	return d, errors.Join(errs...)
}

// setLogEnd sets the partition's LogEnd and Lag from ends (and starts, where
// "the whole log" starts), and reports whether they are known. DescribeGroup
// and DescribeKafkaGroup both set lag through it, by PartitionLag, the one
// definition.
func (pd *PartitionDescription) setLogEnd(starts, ends kadm.ListedOffsets) bool {
	o, ok := ends.Lookup(pd.Topic, pd.Partition)
	if !ok || o.Err != nil {
		return false
	}
	pd.LogEnd = o.Offset
	pd.Lag = PartitionLag(pd.Committed, listedOr(starts, pd.Topic, pd.Partition), o.Offset)
	return true
}
