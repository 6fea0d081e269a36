// Package assign holds the assignment strategies of a consumer group: pure
// functions from the members, their subscriptions and the partition counts
// (and, for sticky, the previous assignment) to who owns which partition.
//
// Every strategy is deterministic: the same input gives the same output on
// every member, whatever the order of its slices and maps. None iterates a
// map for order or reads a clock.
package assign

import (
	"fmt"
	"slices"
	"sort"
)

// Member is one member of the group and the topics it subscribes to.
type Member struct {
	ID     string
	Topics []string
}

// Input is what a strategy assigns from.
type Input struct {
	Members    []Member
	Partitions map[string]int32 // topic to partition count
	// Previous is the assignment in force (member, topic, partitions), used
	// by Sticky. Entries for members or partitions that are gone are
	// ignored.
	Previous Assignment
}

// Assignment maps a member id to topic to its partitions, sorted. Every
// member of the input has an entry, possibly empty.
type Assignment map[string]map[string][]int32

// Strategy assigns partitions to members.
type Strategy interface {
	// Name is the strategy's name, as configured and as published.
	Name() string
	// Assign assigns every partition of every subscribed topic to exactly
	// one member subscribed to it.
	Assign(in Input) Assignment
}

// Names of the strategies.
const (
	RangeName      = "range"
	RoundRobinName = "roundrobin"
	StickyName     = "sticky"
)

// ByName returns the strategy called name.
func ByName(name string) (Strategy, error) {
	switch name {
	case RangeName:
		return Range{}, nil
	case RoundRobinName:
		return RoundRobin{}, nil
	case StickyName:
		return Sticky{}, nil
	}
	return nil, fmt.Errorf("unknown assignment strategy %q (known: %s, %s, %s)", name, RangeName, RoundRobinName, StickyName)
}

// normalized is an Input in canonical order.
type normalized struct {
	members []Member            // sorted by id, topics sorted and unique
	topics  []string            // subscribed by someone, with a count; sorted
	counts  map[string]int32    // topic to count
	subs    map[string][]string // topic to ids of the members subscribed, sorted
}

func normalize(in Input) normalized {
	n := normalized{counts: in.Partitions, subs: make(map[string][]string)}
	seen := make(map[string]bool, len(in.Members))
	for _, m := range in.Members {
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		ts := slices.Clone(m.Topics)
		slices.Sort(ts)
		n.members = append(n.members, Member{ID: m.ID, Topics: slices.Compact(ts)})
	}
	sort.Slice(n.members, func(i, j int) bool { return n.members[i].ID < n.members[j].ID })
	for _, m := range n.members {
		for _, t := range m.Topics {
			if in.Partitions[t] <= 0 {
				continue
			}
			if n.subs[t] == nil {
				n.topics = append(n.topics, t)
			}
			n.subs[t] = append(n.subs[t], m.ID)
		}
	}
	slices.Sort(n.topics)
	return n
}

// empty returns an assignment with an empty entry per member.
func (n normalized) empty() Assignment {
	a := make(Assignment, len(n.members))
	for _, m := range n.members {
		a[m.ID] = map[string][]int32{}
	}
	return a
}

func (a Assignment) add(id, topic string, p int32) {
	a[id][topic] = append(a[id][topic], p)
}

// sortAll sorts every partition list.
func (a Assignment) sortAll() {
	for _, topics := range a {
		for t, ps := range topics {
			slices.Sort(ps)
			topics[t] = ps
		}
	}
}

// Count returns how many partitions member id is assigned.
func (a Assignment) Count(id string) int {
	n := 0
	for _, ps := range a[id] {
		n += len(ps)
	}
	return n
}

// Owners returns, for each topic and partition, the member assigned it.
func (a Assignment) Owners() map[string]map[int32]string {
	o := make(map[string]map[int32]string)
	for id, topics := range a {
		for t, ps := range topics {
			if o[t] == nil {
				o[t] = make(map[int32]string)
			}
			for _, p := range ps {
				o[t][p] = id
			}
		}
	}
	return o
}
