package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/consumergroup/consumergroup/internal/layout"
	"github.com/consumergroup/consumergroup/zookeeper"
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
	// runs (DescribeKafkaGroup): "classic", "consumer" (KIP-848) or
	// "share" (KIP-932); "" for a group coordinated through ZooKeeper.
	Protocol string `json:"protocol,omitempty"`
	// CoordinatorState is Kafka's own name of the state of a group that
	// Kafka's coordinator runs ("Stable", "PreparingRebalance",
	// "Reconciling"...); State is its nearest of ours.
	CoordinatorState string `json:"coordinator_state,omitempty"`
	// CommitTimes says, for a group coordinated through ZooKeeper, when
	// each committed offset was last written (its node's modification
	// time, by ZooKeeper's clock, as ZK.OffsetCommitTimes reads it): read
	// with the offsets, at no request of its own, for lag evaluation. Nil
	// for a group of Kafka's coordinator. Not in the JSON.
	CommitTimes map[TopicPartition]time.Time `json:"-"`
}

// MemberDescription is one registered member.
type MemberDescription struct {
	ID     string    `json:"id"`
	Host   string    `json:"host"`
	Start  time.Time `json:"start,omitzero"` // zero when unknown (Kafka's coordinator does not say)
	Topics []string  `json:"topics"`
	// Pattern is the regular expression of a member subscribed by pattern
	// (ConsumerGroupConfig.TopicPattern, Kafka's "white_list"; Kafka's
	// "black_list" shows as "!" and the expression); Topics is then empty.
	Pattern string `json:"pattern,omitempty"`
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
	ids, err := z.Members(ctx, group)
	if err != nil {
		return nil, err
	}
	r := &groupReader{ctx: ctx, z: z, group: group, topics: map[string]bool{}}
	d := &GroupDescription{Group: group, Members: r.members(ids), Partitions: []PartitionDescription{}}
	if err := r.read(); err != nil {
		return nil, err
	}
	d.Generation, d.Strategy, d.CommitTimes = r.assign.Generation, r.assign.Strategy, r.times
	topics := slices.Sorted(maps.Keys(r.topics))
	r.listLogs(admin, topics)
	stable := len(ids) > 0 && r.assign.Generation > 0
	for _, id := range ids {
		if _, ok := r.assign.Members[id]; !ok {
			stable = false
		}
	}
	unknown := false
	for _, t := range topics {
		owners, err := z.Owners(ctx, group, t)
		if owners == nil {
			return nil, err
		}
		r.errs = append(r.errs, err)
		settled, known := r.partitions(d, t, owners)
		stable = stable && settled
		unknown = unknown || !known
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
	return d, errors.Join(r.errs...)
}

// groupReader is what DescribeGroup reads of a group in ZooKeeper (and of
// its topics' logs in Kafka), with the errors that leave it partial.
type groupReader struct {
	ctx   context.Context
	z     *ZK
	group string

	topics       map[string]bool              // of the registrations, offsets and owners
	offsets      map[string]map[int32]int64   // committed
	times        map[TopicPartition]time.Time // when each offset node was written
	assign       zookeeper.Assignment         // published (zero when none)
	starts, ends kadm.ListedOffsets           // the logs' bounds; nil when not listed
	errs         []error                      // what left the description partial
}

// members describes the registered members ids; those gone meanwhile are
// left out.
func (r *groupReader) members(ids []string) []MemberDescription {
	out := []MemberDescription{}
	for _, id := range ids {
		m := MemberDescription{ID: id}
		if info, ok := layout.ParseConsumerID(r.group, id); ok {
			m.Host, m.Start = info.Host, info.Start
		}
		reg, err := r.z.Registration(r.ctx, r.group, id)
		switch {
		case errors.Is(err, ErrNoNode):
			continue
		case err != nil:
			r.errs = append(r.errs, err)
		default:
			if m.Start.IsZero() {
				m.Start = reg.Timestamp
			}
			if m.Pattern = registrationPattern(reg); m.Pattern != "" {
				break // its topics are those with owners or offsets
			}
			m.Topics = reg.Topics
			for _, t := range reg.Topics {
				r.topics[t] = true
			}
		}
		out = append(out, m)
	}
	return out
}

// read reads the committed offsets, the topics with owners and the
// published assignment; an error means nothing could be described.
func (r *groupReader) read() error {
	offsets, times, err := r.z.OffsetsWithTimes(r.ctx, r.group)
	if offsets == nil {
		return err
	}
	r.errs = append(r.errs, err)
	r.offsets, r.times = offsets, times
	for t := range offsets {
		r.topics[t] = true
	}
	owned, err := r.z.OwnedTopics(r.ctx, r.group)
	if err != nil && !errors.Is(err, ErrNoNode) {
		return err
	}
	for _, t := range owned {
		r.topics[t] = true
	}
	a, err := r.z.Assignment(r.ctx, r.group)
	if err != nil && !errors.Is(err, ErrBadData) {
		return err
	}
	r.errs = append(r.errs, err)
	r.assign = a
	return nil
}

// listLogs lists the end (and start) offsets of topics, with admin (nil:
// not at all).
func (r *groupReader) listLogs(admin *kadm.Client, topics []string) {
	if admin == nil || len(topics) == 0 {
		return
	}
	// Both at once: each is a metadata request and a ListOffsets of every
	// partition, tens of milliseconds at 10,000. The starts are where "the
	// whole log" starts (PartitionLag), for a partition without a commit
	// or whose commit the log's retention passed: every partition needs
	// them.
	var startErr error
	var wg sync.WaitGroup
	wg.Go(func() { r.starts, startErr = admin.ListStartOffsets(r.ctx, topics...) })
	ends, err := admin.ListEndOffsets(r.ctx, topics...)
	wg.Wait()
	r.ends = ends
	switch {
	case err != nil:
		r.starts = nil // as when they were listed after the ends only
		r.errs = append(r.errs, fmt.Errorf("consumergroup: list end offsets: %w", err))
	case startErr != nil:
		r.errs = append(r.errs, fmt.Errorf("consumergroup: list start offsets: %w", startErr))
	}
}

// partitions adds every partition of topic t, owned as owners says, to d,
// and their lag to d.TotalLag. settled: each is owned by the member the
// assignment gives it to; known: every log end offset is known.
func (r *groupReader) partitions(d *GroupDescription, t string, owners map[int32]string) (settled, known bool) {
	count := r.count(t, owners)
	assigned := map[int32]string{}
	for id, ts := range r.assign.Members {
		for _, p := range ts[t] {
			assigned[p] = id
		}
	}
	settled, known = true, true
	for p := int32(0); p < count; p++ {
		pd := PartitionDescription{Topic: t, Partition: p, Owner: owners[p], Committed: -1, LogEnd: -1, Lag: -1}
		if off, ok := r.offsets[t][p]; ok {
			pd.Committed = off
		}
		if pd.setLogEnd(r.starts, r.ends) {
			d.TotalLag += pd.Lag
		} else {
			known = false
		}
		if assigned[p] != pd.Owner {
			settled = false
		}
		d.Partitions = append(d.Partitions, pd)
	}
	return settled, known
}

// count is how many partitions topic t has, as far as anything read knows:
// offsets, owners, the assignment, ZooKeeper's topic node, the log.
func (r *groupReader) count(t string, owners map[int32]string) int32 {
	count := int32(0)
	for p := range r.offsets[t] {
		count = max(count, p+1)
	}
	for p := range owners {
		count = max(count, p+1)
	}
	count = max(count, r.assign.Partitions[t])
	if n, _, err := r.z.Partitions(r.ctx, t); err == nil {
		count = max(count, n)
	}
	for p, o := range r.ends[t] {
		if o.Err == nil {
			count = max(count, p+1)
		}
	}
	return count
}

func (pd *PartitionDescription) setLogEnd(starts, ends kadm.ListedOffsets) bool {
	o, ok := ends.Lookup(pd.Topic, pd.Partition)
	if !ok || o.Err != nil {
		return false
	}
	pd.LogEnd = o.Offset
	pd.Lag = PartitionLag(pd.Committed, listedOr(starts, pd.Topic, pd.Partition), o.Offset)
	return true
}

// registrationPattern is MemberDescription.Pattern of a registration: ""
// for a list of topics.
func registrationPattern(r zookeeper.Registration) string {
	switch {
	case len(r.Topics) != 1:
		return ""
	case r.Pattern == layout.PatternWhiteList:
		return r.Topics[0]
	case r.Pattern == layout.PatternBlackList:
		return "!" + r.Topics[0]
	}
	return ""
}
