package consumergroup

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/consumergroup/consumergroup/internal/assign"
	"github.com/consumergroup/consumergroup/zookeeper"
	"github.com/twmb/franz-go/pkg/kadm"
)

// The leader: the member whose id sorts first computes the assignment from
// the registrations, the partition counts and the previous assignment, and
// publishes it (compare and set on the assignment node's version). Every
// member, the leader included, then applies what is published (apply).

// lead computes the assignment and publishes it when it differs from the
// published one.
func (m *member) lead() error {
	c, g := m.c, m.c.g
	members, topics, err := m.members()
	if err != nil {
		return err
	}
	counts, err := m.counts(slices.Sorted(maps.Keys(topics)))
	if err != nil {
		return err
	}
	prev, err := m.published()
	if err != nil {
		return err
	}
	sticky := prev.Members
	if sticky == nil {
		sticky = m.full.Members // the last parts known, for a strategy that keeps them
	}
	desired := c.strategy.Assign(assign.Input{Members: members, Partitions: counts, Previous: assign.Assignment(sticky)})
	if m.version >= 0 && !m.corrupt && prev.Version == 2 && m.assign.Strategy == c.strategy.Name() && maps.Equal(m.assign.Partitions, counts) &&
		reflect.DeepEqual(map[string]map[string][]int32(desired), prev.Members) {
		return nil
	}
	next := zookeeper.Assignment{
		Version:    2,
		Generation: m.assign.Generation + 1,
		Strategy:   c.strategy.Name(),
		Leader:     m.id,
		Partitions: counts,
		Members:    desired,
	}
	m.fillOffsets(counts)
	v, err := c.zk.PublishAssignment(m.ctx, g.name, next, prev, m.version)
	if err != nil {
		return err
	}
	// The node's watch fires: read at version v, its parts are these.
	m.full, m.fullAt = next, v
	g.log.Info("published assignment", "generation", next.Generation, "members", len(members), "partitions", counts)
	return nil
}

// published returns the assignment at the node's version, every member's
// part included: known when this member published it or read it whole,
// read otherwise. A zero assignment when there is none, or when a part
// cannot be read (every part is then written again).
func (m *member) published() (zookeeper.Assignment, error) {
	c, g := m.c, m.c.g
	switch {
	case m.version < 0 || m.corrupt:
		return zookeeper.Assignment{}, nil
	case m.fullAt == m.version:
		return m.full, nil
	case m.assign.Version == 1:
		return m.assign, nil
	}
	a, err := c.zk.Assignment(m.ctx, g.name)
	switch {
	case errors.Is(err, ErrBadData):
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: err})
		return zookeeper.Assignment{}, nil
	case err != nil:
		return zookeeper.Assignment{}, err
	case a.Generation != m.assign.Generation:
		return zookeeper.Assignment{}, zookeeper.ErrAssignmentConflict // published meanwhile: read it first
	}
	m.full, m.fullAt = a, m.version
	return a, nil
}

// counts returns the partition counts of topics: from ZooKeeper, watched,
// where Kafka's brokers register them; from Kafka's metadata otherwise.
// Unknown topics are reported and left out.
func (m *member) counts(topics []string) (map[string]int32, error) {
	c, g := m.c, m.c.g
	counts := make(map[string]int32, len(topics))
	var fromKafka []string
	for _, t := range topics {
		if n, ok := m.metaCounts[t]; ok {
			counts[t] = n // listed with the topics, from Kafka: no topic in ZooKeeper to read
			continue
		}
		n, w, err := c.zk.Partitions(m.ctx, t)
		switch {
		case err == nil:
			counts[t] = n
			if !m.topicsW[t] {
				m.topicsW[t] = true
				m.forward(w, watchEvent{kind: evTopic, topic: t})
			}
		case errors.Is(err, ErrNoNode):
			fromKafka = append(fromKafka, t)
		case errors.Is(err, ErrBadData):
			g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
			fromKafka = append(fromKafka, t)
		default:
			return nil, err
		}
	}
	m.meta = len(fromKafka) > 0
	if len(fromKafka) > 0 {
		kc, err := c.kafkaCounts(m.ctx, fromKafka)
		if err != nil {
			return nil, err
		}
		for _, t := range fromKafka {
			if n, ok := kc[t]; ok {
				counts[t] = n
			} else {
				g.notify(&Notification{Type: REBALANCE_ERROR, Err: fmt.Errorf("%w: %q", ErrUnknownTopic, t)})
			}
		}
	}
	return counts, nil
}

// fillOffsets creates the group's missing offset nodes of the topics of
// counts, with InitialOffset's offsets, before the members take their
// partitions over: every node of a topic appears at once, in partition
// order (CreateMissingOffsets), so that a tool that reads partitions
// 0..n-1 by their count (Burrow) never sees half of them, and the members
// find them there instead of each listing the whole topic. A topic is
// looked at again only when its count changes (or it comes back after a
// deletion: the offsets written before the topic's creation, a deleted
// namesake's, are dropped first). A failure is logged and tried again at
// the next publication: meanwhile a member writes the initial offsets of
// its own partitions.
func (m *member) fillOffsets(counts map[string]int32) {
	c, g := m.c, m.c.g
	for t := range m.filled {
		if _, ok := counts[t]; !ok {
			delete(m.filled, t) // gone: looked at again if it comes back
		}
	}
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		n := counts[t]
		if m.filled[t] == n {
			continue
		}
		// A topic created again under the name of a deleted one: the
		// offsets of the deleted one go first (they would skip the new
		// one's first messages).
		stale, err := c.zk.DropStaleOffsets(m.ctx, g.name, t)
		if len(stale) > 0 {
			g.log.Info("dropped the offsets of an earlier topic of the same name", "topic", t, "partitions", stale)
		}
		have, cerr := c.zk.CommittedPartitions(m.ctx, g.name, t)
		err = errors.Join(err, cerr)
		if err == nil && int32(len(have)) < n {
			err = m.createInitialOffsets(t)
		}
		if err != nil {
			// The members write their own partitions' initial offsets; a
			// Kafka that cannot be reached is reported once, by them.
			g.log.Warn("writing the missing offset nodes of a topic", "topic", t, "err", err)
			continue
		}
		m.filled[t] = n
	}
}

// createInitialOffsets writes InitialOffset's offset of every partition of
// topic t that has no offset node.
func (m *member) createInitialOffsets(t string) error {
	c, g := m.c, m.c.g
	list := g.admin.ListStartOffsets
	if g.cfg.InitialOffset == OffsetNewest {
		list = g.admin.ListEndOffsets
	}
	listed, err := list(m.ctx, t)
	if err != nil {
		return err
	}
	fill := make(map[TopicPartition]int64)
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset >= 0 {
			fill[TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset
		}
	})
	return c.zk.CreateMissingOffsets(m.ctx, g.name, fill)
}
