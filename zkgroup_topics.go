package consumergroup

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/consumergroup/consumergroup/internal/assign"
)

// The topics of the ZooKeeper coordinator's members: what each registered
// (topics, or a pattern as Kafka's whitelist), resolved by the leader
// against the topics that exist; and what a member subscribed by pattern
// learns from the published assignment.
//
// Work in proportion to what moves: only the leader lists the topics
// (/brokers/topics, one child watch; Kafka's metadata every
// MetadataInterval where brokers register none), and only while some
// member subscribes by pattern. The other members read no topic list:
// the assignment node's header, which they read at every generation
// anyway, names every topic the group consumes.

// members returns the registered members with the topics each consumes,
// reading the registrations it has not read yet (a registration never
// changes: a member registers again under a new id), and the topics they
// consume together.
func (m *member) members() ([]assign.Member, map[string]bool, error) {
	c, g := m.c, m.c.g
	subs := make([]subscription, 0, len(m.ids))
	ids := make([]string, 0, len(m.ids))
	byPattern := false
	for _, id := range m.ids {
		s, ok := m.subs[id]
		if !ok {
			r, err := c.zk.Registration(m.ctx, g.name, id)
			if err == nil {
				s, err = readSubscription(id, r)
			}
			switch {
			case errors.Is(err, ErrNoNode):
				continue // left meanwhile: the ids watch fires
			case errors.Is(err, ErrBadData):
				g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
				continue // a registration we cannot read gets nothing
			case err != nil:
				return nil, nil, err
			}
			m.subs[id] = s
		}
		subs, ids = append(subs, s), append(ids, id)
		byPattern = byPattern || s.byPattern()
	}
	for id := range m.subs {
		if !slices.Contains(m.ids, id) {
			delete(m.subs, id)
		}
	}
	var all []string
	if byPattern {
		var err error
		if all, err = m.topicList(); err != nil {
			return nil, nil, err
		}
		m.reportMismatch(ids, subs)
	} else {
		m.dropTopicList()
	}
	members := make([]assign.Member, len(ids))
	topics := map[string]bool{}
	resolved := map[string][]string{} // per distinct pattern: 500 members alike match the topics once
	for i, id := range ids {
		ts, ok := resolved[subs[i].kind+"\x00"+subs[i].regex]
		if !ok || !subs[i].byPattern() {
			ts = subs[i].resolve(all)
			resolved[subs[i].kind+"\x00"+subs[i].regex] = ts
		}
		members[i] = assign.Member{ID: id, Topics: ts}
		for _, t := range members[i].Topics {
			topics[t] = true
		}
	}
	return members, topics, nil
}

// topicList returns every topic that exists, sorted: the children of
// /brokers/topics, watched (a topic created or deleted wakes the leader),
// or, where brokers register none there (KRaft), Kafka's topics, read
// again every MetadataInterval. Read once per change.
func (m *member) topicList() ([]string, error) {
	if m.topicsRead {
		return m.topicNames, nil
	}
	c := m.c
	// One watch armed at a time: listing again after a topic's own watch
	// fired (a deletion, maybe) adds none.
	names, w, err := c.zk.Topics(m.ctx, !m.topicsWatched)
	switch {
	case err == nil:
		m.topicsMeta, m.metaCounts = false, nil
		if w != nil {
			m.topicsWatched = true
			m.forward(w, watchEvent{kind: evTopics})
		}
	case errors.Is(err, ErrNoNode):
		details, lerr := c.g.admin.ListTopics(m.ctx)
		if lerr != nil {
			return nil, fmt.Errorf("consumergroup: list Kafka's topics for the group's patterns: %w", lerr)
		}
		names = nil
		m.metaCounts = make(map[string]int32, len(details))
		for t, d := range details {
			if d.Err == nil && !d.IsInternal {
				names = append(names, t)
				m.metaCounts[t] = int32(len(d.Partitions))
			}
		}
		slices.Sort(names)
		m.topicsMeta = true
	default:
		return nil, err
	}
	for _, t := range m.topicNames {
		if _, ok := slices.BinarySearch(names, t); !ok {
			delete(m.filled, t) // deleted: created again, its offsets are looked at again
		}
	}
	m.topicNames, m.topicsRead = names, true
	return names, nil
}

// dropTopicList forgets the topic list when no member subscribes by
// pattern any more (its watch, if armed, fires once more for nothing).
func (m *member) dropTopicList() {
	m.topicNames, m.topicsRead, m.topicsMeta, m.metaCounts = nil, false, false, nil
	// An armed watch stays armed (topicsWatched): it fires once more.
}

// reportMismatch reports, once per distinct set of subscriptions, that the
// members do not subscribe alike (the leader reads them all). Each member
// gets the partitions of its own subscription only.
func (m *member) reportMismatch(ids []string, subs []subscription) {
	var differ []string
	for i, s := range subs {
		if !s.equal(subs[0]) {
			differ = append(differ, fmt.Sprintf("%s: %s", ids[i], s))
		}
	}
	if len(differ) == 0 {
		m.mismatchSeen = ""
		return
	}
	key := strings.Join(differ, "; ")
	if key == m.mismatchSeen {
		return
	}
	m.mismatchSeen = key
	m.c.g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: fmt.Errorf(
		"%w: %s subscribes to %s, but %s: each member gets partitions of its own subscription only",
		ErrSubscriptionMismatch, ids[0], subs[0], key)})
}

// followMatched follows, for a member subscribed by pattern, the topics
// its pattern matches among those the published assignment names (its
// header, read at every generation): TOPICS_CHANGED when they change, and
// a subscription mismatch when the group consumes a topic the pattern does
// not match (another member subscribes otherwise).
func (m *member) followMatched() {
	g := m.c.g
	if !g.sub.byPattern() || m.assign.Generation == 0 {
		return
	}
	var matched, foreign []string
	for _, t := range slices.Sorted(maps.Keys(m.assign.Partitions)) {
		if g.sub.matches(t) {
			matched = append(matched, t)
		} else {
			foreign = append(foreign, t)
		}
	}
	if prev := g.matched.Load(); prev == nil || !slices.Equal(*prev, matched) {
		var before []string
		if prev != nil {
			before = *prev
		}
		g.matched.Store(&matched)
		added, removed := diffTopics(before, matched)
		if len(added)+len(removed) > 0 {
			g.log.Info("topics matching the pattern changed", "added", added, "removed", removed)
			g.notify(&Notification{Type: TOPICS_CHANGED, Generation: m.assign.Generation, TopicsAdded: added, TopicsRemoved: removed})
		}
	}
	if key := strings.Join(foreign, ","); key != m.foreignSeen {
		m.foreignSeen = key
		if key != "" {
			g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: fmt.Errorf(
				"%w: the group consumes %s, which this member's %s does not match: another member subscribes otherwise",
				ErrSubscriptionMismatch, key, g.sub)})
		}
	}
}

// diffTopics returns the topics of after not in before, and of before not
// in after (both sorted).
func diffTopics(before, after []string) (added, removed []string) {
	for _, t := range after {
		if _, ok := slices.BinarySearch(before, t); !ok {
			added = append(added, t)
		}
	}
	for _, t := range before {
		if _, ok := slices.BinarySearch(after, t); !ok {
			removed = append(removed, t)
		}
	}
	return added, removed
}
