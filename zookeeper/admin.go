package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// The admin operations: they change a group that has no members (offsets,
// deletion) and refuse, changing nothing, while it has some.

// ResetOffsets writes the committed offsets of a group that has no members:
// the next offsets to consume, in one atomic multi, or in as few as
// Config.MaxRequestBytes allows (chunks, in partition order: thousands of
// partitions). When a chunk fails, those before it stay written: running
// it again is safe. It refuses, changing nothing, with ErrGroupActive
// while the group has members. (A member that joins between the check and
// the write is not prevented: stop the group's consumers first.)
func (z *Client) ResetOffsets(ctx context.Context, group string, offsets map[TopicPartition]int64) error {
	if err := checkNames("reset offsets", "group", group); err != nil {
		return err
	}
	ids, err := z.Members(ctx, group)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return &PathError{Op: "reset offsets", Path: z.paths.IDs(group), Err: ErrGroupActive, Cause: fmt.Errorf("%d members: %v", len(ids), ids)}
	}
	tps := make([]TopicPartition, 0, len(offsets))
	for tp, off := range offsets {
		if err := checkOffsetArgs("reset offsets", group, tp.Topic, tp.Partition, off); err != nil {
			return err
		}
		tps = append(tps, tp)
	}
	sortPartitions(tps)
	// One listing of each topic's offset nodes tells which exist.
	existing := map[string]map[string]bool{}
	ops := make([]any, 0, len(tps))
	for _, tp := range tps {
		if existing[tp.Topic] == nil {
			names, err := z.children(ctx, "reset offsets", z.paths.OffsetsTopic(group, tp.Topic))
			if errors.Is(err, ErrNoNode) {
				err = z.mkdirAll(ctx, z.paths.OffsetsTopic(group, tp.Topic))
			}
			if err != nil {
				return err
			}
			existing[tp.Topic] = make(map[string]bool, len(names))
			for _, n := range names {
				existing[tp.Topic][n] = true
			}
		}
		p := z.paths.Offset(group, tp.Topic, tp.Partition)
		data := layout.EncodeOffset(offsets[tp])
		if existing[tp.Topic][path.Base(p)] {
			ops = append(ops, &zk.SetDataRequest{Path: p, Data: data, Version: -1})
		} else {
			ops = append(ops, &zk.CreateRequest{Path: p, Data: data, Acl: z.acl})
		}
	}
	for chunk := 0; len(ops) > 0; chunk++ {
		n, err := z.fit("reset offsets", len(ops), 0, func(i int) int { return opBytes(ops[i]) }, func(i int) string { return opPath(ops[i]) })
		if err != nil {
			return err
		}
		if i, err := z.multi(ctx, ops[:n]...); err != nil {
			p := ""
			if i >= 0 {
				p = opPath(ops[i])
			}
			return pathErr("reset offsets", p, err)
		}
		if ops = ops[n:]; len(ops) > 0 {
			z.chunkDone("reset offsets", chunk)
		}
	}
	return nil
}

// DeleteGroup deletes everything of a group that has no members: its
// offsets, owners, assignment. It refuses, changing nothing, with
// ErrGroupActive while the group has members, and gives ErrUnknownGroup for
// a group that does not exist.
func (z *Client) DeleteGroup(ctx context.Context, group string) error {
	if err := checkNames("delete group", "group", group); err != nil {
		return err
	}
	if err := z.checkGroup(ctx, "delete group", group); err != nil {
		return err
	}
	ids, err := z.Members(ctx, group)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return &PathError{Op: "delete group", Path: z.paths.IDs(group), Err: ErrGroupActive, Cause: fmt.Errorf("%d members: %v", len(ids), ids)}
	}
	return z.deleteAll(ctx, z.paths.Group(group))
}

// CheckGroup returns nil when group exists (its node under /consumers),
// and an error that matches ErrUnknownGroup when it does not.
func (z *Client) CheckGroup(ctx context.Context, group string) error {
	if err := checkNames("read group", "group", group); err != nil {
		return err
	}
	return z.checkGroup(ctx, "read group", group)
}

// checkGroup is CheckGroup for op, on a checked name.
func (z *Client) checkGroup(ctx context.Context, op, group string) error {
	ok, err := z.exists(ctx, op, z.paths.Group(group))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %q under %q", ErrUnknownGroup, group, z.paths.Consumers())
	}
	return nil
}

// DeleteOffsets deletes group's committed offsets of topic (every
// partition's, in one step). It refuses, changing nothing, with
// ErrGroupActive while a member of the group is subscribed to topic; a
// group that does not exist gives ErrUnknownGroup, a topic the group has
// no offsets for an error that matches ErrNoNode.
func (z *Client) DeleteOffsets(ctx context.Context, group, topic string) error {
	if err := checkNames("delete offsets", "group", group, "topic", topic); err != nil {
		return err
	}
	if err := z.checkGroup(ctx, "delete offsets", group); err != nil {
		return err
	}
	ids, err := z.Members(ctx, group)
	if err != nil {
		return err
	}
	for _, id := range ids {
		r, err := z.Registration(ctx, group, id)
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return err
		}
		if r.Subscribes(topic) {
			return &PathError{Op: "delete offsets", Path: z.paths.ID(group, id), Err: ErrGroupActive, Cause: fmt.Errorf("member %s consumes %q", id, topic)}
		}
	}
	p := z.paths.OffsetsTopic(group, topic)
	ok, err := z.exists(ctx, "delete offsets", p)
	if err != nil {
		return err
	}
	if !ok {
		return &PathError{Op: "delete offsets", Path: p, Err: ErrNoNode, Cause: fmt.Errorf("group %q has no offsets of topic %q", group, topic)}
	}
	return z.deleteAll(ctx, p)
}
