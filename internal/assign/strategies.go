package assign

import (
	"slices"
	"sort"
)

// Range gives each member contiguous ranges of each topic's partitions, in
// member id order. Unlike Kafka's range assignor, which gives the extra
// partitions of every topic to the same first members, the members with
// the fewest partitions so far get the extras: members with the same
// subscription end within one partition of each other.
type Range struct{}

// Name returns "range".
func (Range) Name() string { return RangeName }

// Assign implements Strategy.
func (Range) Assign(in Input) Assignment {
	n := normalize(in)
	a := n.empty()
	total := make(map[string]int, len(n.members))
	for _, t := range n.topics {
		ids := n.subs[t]
		count := int(n.counts[t])
		q, r := count/len(ids), count%len(ids)
		// The r extras go to the members with the fewest so far.
		byLoad := slices.Clone(ids)
		sort.SliceStable(byLoad, func(i, j int) bool { return total[byLoad[i]] < total[byLoad[j]] })
		extra := make(map[string]bool, r)
		for _, id := range byLoad[:r] {
			extra[id] = true
		}
		next := int32(0)
		for _, id := range ids {
			size := q
			if extra[id] {
				size++
			}
			for range size {
				a.add(id, t, next)
				next++
			}
			total[id] += size
		}
	}
	return a
}

// RoundRobin deals the partitions of all topics, sorted by topic and
// partition, to the members in id order, skipping members not subscribed
// to a partition's topic.
type RoundRobin struct{}

// Name returns "roundrobin".
func (RoundRobin) Name() string { return RoundRobinName }

// Assign implements Strategy.
func (RoundRobin) Assign(in Input) Assignment {
	n := normalize(in)
	a := n.empty()
	if len(n.members) == 0 {
		return a
	}
	subscribed := make(map[string]map[string]bool, len(n.topics))
	for _, t := range n.topics {
		subscribed[t] = make(map[string]bool, len(n.subs[t]))
		for _, id := range n.subs[t] {
			subscribed[t][id] = true
		}
	}
	i := 0
	for _, t := range n.topics {
		for p := range n.counts[t] {
			for !subscribed[t][n.members[i%len(n.members)].ID] {
				i++
			}
			a.add(n.members[i%len(n.members)].ID, t, p)
			i++
		}
	}
	return a
}

// Sticky keeps every member's previous partitions as far as balance allows
// and moves only what must move: partitions of members that left, new
// partitions, and the excess of members above their share. Members with the
// same subscription end within one partition of each other, and the members
// that held the most keep the larger shares.
type Sticky struct{}

// Name returns "sticky".
func (Sticky) Name() string { return StickyName }

// tp is one partition of a topic.
type tp struct {
	topic string
	p     int32
}

// Assign implements Strategy.
func (Sticky) Assign(in Input) Assignment {
	n := normalize(in)
	a := n.empty()
	if len(n.members) == 0 {
		return a
	}
	subscribed := make(map[string]map[string]bool, len(n.topics))
	total := 0
	for _, t := range n.topics {
		subscribed[t] = make(map[string]bool, len(n.subs[t]))
		for _, id := range n.subs[t] {
			subscribed[t][id] = true
		}
		total += int(n.counts[t])
	}

	// What each member may keep of its previous partitions: valid ones,
	// each partition to its first claimant in id order.
	taken := make(map[tp]bool, total)
	kept := make(map[string][]tp, len(n.members))
	for _, m := range n.members {
		prev := in.Previous[m.ID]
		topics := make([]string, 0, len(prev))
		for t := range prev {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		for _, t := range topics {
			ps := slices.Clone(prev[t])
			slices.Sort(ps)
			for _, p := range ps {
				x := tp{t, p}
				if p < 0 || p >= n.counts[t] || !subscribed[t][m.ID] || taken[x] {
					continue
				}
				taken[x] = true
				kept[m.ID] = append(kept[m.ID], x)
			}
		}
	}

	// Shares: floor(total/M) each, one more for the total%M members that
	// held the most (ties by id).
	order := make([]string, len(n.members))
	for i, m := range n.members {
		order[i] = m.ID
	}
	sort.SliceStable(order, func(i, j int) bool { return len(kept[order[i]]) > len(kept[order[j]]) })
	share := make(map[string]int, len(order))
	for i, id := range order {
		share[id] = total / len(order)
		if i < total%len(order) {
			share[id]++
		}
	}

	// Keep up to the share; the rest goes back to the pool.
	for _, m := range n.members {
		ks := kept[m.ID]
		if len(ks) > share[m.ID] {
			for _, x := range ks[share[m.ID]:] {
				delete(taken, x)
			}
			ks = ks[:share[m.ID]]
		}
		for _, x := range ks {
			a.add(m.ID, x.topic, x.p)
		}
		kept[m.ID] = ks
	}

	// Deal the pool, in topic and partition order, to the subscribed
	// member furthest below its share (then the one with the fewest).
	count := make(map[string]int, len(n.members))
	for id, ks := range kept {
		count[id] = len(ks)
	}
	for _, t := range n.topics {
		ids := n.subs[t]
		for p := range n.counts[t] {
			if taken[tp{t, p}] {
				continue
			}
			best := ""
			for _, id := range ids {
				if best == "" || better(share[id]-count[id], count[id], share[best]-count[best], count[best]) {
					best = id
				}
			}
			a.add(best, t, p)
			count[best]++
		}
	}
	a.sortAll()
	return a
}

// better reports whether a member with room r1 and count c1 should get the
// next partition before one with room r2 and count c2.
func better(r1, c1, r2, c2 int) bool {
	if r1 != r2 {
		return r1 > r2
	}
	return c1 < c2
}
