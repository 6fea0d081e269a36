package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Commit writes offset, the next offset to consume (the offset of the last
// processed message plus one), for partition, without any ownership check:
// the seed's manual commit, also used by tools that reset offsets. A member
// commits with CommitOffsets.
func (z *Client) Commit(ctx context.Context, group, topic string, partition int32, offset int64) error {
	if err := checkOffsetArgs("commit", group, topic, partition, offset); err != nil {
		return err
	}
	p := z.paths.Offset(group, topic, partition)
	data := layout.EncodeOffset(offset)
	err := z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Set(p, data, -1); return err })
	if errors.Is(err, zk.ErrNoNode) {
		err = z.create(ctx, "commit", p, data, false)
		if errors.Is(err, ErrNodeExists) { // created meanwhile
			err = z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Set(p, data, -1); return err })
		}
	}
	return pathErr("commit", p, err)
}

// Offset reads the committed offset of partition: the next offset to
// consume. No committed offset gives an error that matches ErrNoNode; data
// that is not a decimal offset one that matches ErrBadData.
func (z *Client) Offset(ctx context.Context, group, topic string, partition int32) (int64, error) {
	if err := checkNames("read offset", "group", group, "topic", topic); err != nil {
		return 0, err
	}
	p := z.paths.Offset(group, topic, partition)
	data, _, err := z.get(ctx, "read offset", p)
	if err != nil {
		return 0, err
	}
	off, err := layout.ParseOffset(data)
	return off, pathErr("read offset", p, err)
}

// Offsets reads every committed offset of group: topic, then partition, to
// the next offset to consume. Unreadable nodes are left out and reported in
// the error, which matches ErrBadData; the map holds the others.
func (z *Client) Offsets(ctx context.Context, group string) (map[string]map[int32]int64, error) {
	if err := checkNames("read offsets", "group", group); err != nil {
		return nil, err
	}
	topics, err := z.children(ctx, "read offsets", z.paths.Offsets(group))
	if errors.Is(err, ErrNoNode) {
		return map[string]map[int32]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[int32]int64, len(topics))
	var errs []error
	for _, t := range topics {
		parts, err := z.children(ctx, "read offsets", z.paths.OffsetsTopic(group, t))
		if errors.Is(err, ErrNoNode) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		if err := checkNames("read offset", "topic", t); err != nil {
			return nil, err
		}
		var ps []int32
		var paths []string
		for _, n := range parts {
			part, perr := layout.ParsePartition(n)
			if perr != nil {
				errs = append(errs, pathErr("read offsets", z.paths.OffsetsTopic(group, t)+"/"+n, fmt.Errorf("%w: %v", layout.ErrBadData, perr)))
				continue
			}
			ps, paths = append(ps, part), append(paths, z.paths.Offset(group, t, part))
		}
		m := make(map[int32]int64, len(ps))
		for i, r := range z.getAll(ctx, "read offset", paths) {
			switch {
			case errors.Is(r.err, ErrNoNode):
			case r.err != nil:
				return nil, r.err
			default:
				off, perr := layout.ParseOffset(r.data)
				if perr != nil {
					errs = append(errs, pathErr("read offset", paths[i], perr))
					continue
				}
				m[ps[i]] = off
			}
		}
		out[t] = m
	}
	return out, errors.Join(errs...)
}

// CommitOffsets is the fenced commit of member id: it writes the offsets of
// many partitions (each the next offset to consume) in one atomic multi
// that also checks that id is still registered and still owns every one of
// them. If it does not, nothing is written and the error matches
// ErrNotOwner (or ErrNotRegistered): a member that lost a partition, to a
// session expiry or a release, can never move its offset.
//
// Only partitions claimed through this Client, in the current session, can
// be committed. The fence is complete when, as package consumergroup does,
// a member takes a new consumer id whenever it registers again after
// losing its session.
// Offset nodes that do not exist yet are created in the same multi.
func (z *Client) CommitOffsets(ctx context.Context, group, id string, offsets map[TopicPartition]int64) error {
	if err := checkNames("commit offsets", "group", group, "consumer id", id); err != nil {
		return err
	}
	if len(offsets) == 0 {
		return nil
	}
	tps := make([]TopicPartition, 0, len(offsets))
	for tp, off := range offsets {
		if err := checkOffsetArgs("commit offsets", group, tp.Topic, tp.Partition, off); err != nil {
			return err
		}
		tps = append(tps, tp)
	}
	sortPartitions(tps)

	z.claimMu.RLock()
	defer z.claimMu.RUnlock()
	sid := z.sessionID()
	ops := make([]any, 0, 1+2*len(tps))
	ops = append(ops, &zk.CheckVersionRequest{Path: z.paths.ID(group, id), Version: -1})
	for _, tp := range tps {
		owner := z.paths.Owner(group, tp.Topic, tp.Partition)
		c, ok := z.claims[claimKey{group, tp.Topic, tp.Partition}]
		if !ok || c.id != id || c.session != sid || sid == 0 {
			return &PathError{Op: "commit offsets", Path: owner, Err: ErrNotOwner, Cause: errors.New("not claimed by this member in the current session")}
		}
		ops = append(ops, &zk.CheckVersionRequest{Path: owner, Version: c.version})
	}
	nChecks := len(ops)
	for attempt := 0; ; attempt++ {
		ops = ops[:nChecks]
		for _, tp := range tps {
			ops = append(ops, z.offsetOp(ctx, group, tp, offsets[tp]))
		}
		i, err := z.multi(ctx, ops...)
		if err == nil {
			z.offMu.Lock()
			for _, tp := range tps {
				z.knownOffsets[z.paths.Offset(group, tp.Topic, tp.Partition)] = true
			}
			z.offMu.Unlock()
			return nil
		}
		switch {
		case i == 0 && errors.Is(err, zk.ErrNoNode):
			return &PathError{Op: "commit offsets", Path: z.paths.ID(group, id), Err: ErrNotRegistered, Cause: err}
		case i > 0 && i < nChecks:
			return &PathError{Op: "commit offsets", Path: ops[i].(*zk.CheckVersionRequest).Path, Err: ErrNotOwner, Cause: err}
		case i >= nChecks && attempt < 2 && (errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrNodeExists)):
			// An offset node appeared or vanished meanwhile: look again.
			z.offMu.Lock()
			for _, tp := range tps {
				delete(z.knownOffsets, z.paths.Offset(group, tp.Topic, tp.Partition))
			}
			z.offMu.Unlock()
			continue
		}
		p := ""
		if i >= 0 {
			p = opPath(ops[i])
		}
		return pathErr("commit offsets", p, err)
	}
}

// offsetOp returns the op that writes one offset: a set when the node is
// known to exist, a create (after creating its parents) when it does not.
func (z *Client) offsetOp(ctx context.Context, group string, tp TopicPartition, off int64) any {
	p := z.paths.Offset(group, tp.Topic, tp.Partition)
	data := layout.EncodeOffset(off)
	z.offMu.Lock()
	known := z.knownOffsets[p]
	z.offMu.Unlock()
	if !known {
		ok, err := z.exists(ctx, "commit offsets", p)
		if err == nil && !ok {
			if err := z.mkdirAll(ctx, path.Dir(p)); err == nil {
				return &zk.CreateRequest{Path: p, Data: data, Acl: z.acl}
			}
		}
	}
	return &zk.SetDataRequest{Path: p, Data: data, Version: -1}
}

func opPath(op any) string {
	switch op := op.(type) {
	case *zk.CheckVersionRequest:
		return op.Path
	case *zk.SetDataRequest:
		return op.Path
	case *zk.CreateRequest:
		return op.Path
	case *zk.DeleteRequest:
		return op.Path
	}
	return ""
}

func checkOffsetArgs(op, group, topic string, partition int32, offset int64) error {
	if err := checkNames(op, "group", group, "topic", topic); err != nil {
		return err
	}
	if partition < 0 || offset < 0 {
		return &PathError{Op: op, Err: ErrInvalidArgument, Cause: fmt.Errorf("%s/%d: partition and offset must not be negative (offset %d)", topic, partition, offset)}
	}
	return nil
}

// CreateMissingOffsets creates, in one atomic multi and in partition
// order, the offset nodes of group that do not exist yet for the
// partitions of offsets (all of one topic or several), each with its
// offset; nodes that exist keep theirs. Tools that enumerate a topic's
// offset nodes and read partitions 0..n-1 by their count (Burrow's
// ZooKeeper consumer module) then never see a topic's nodes appear in
// waves, one member's partitions before another's. A node created
// meanwhile by another member (ErrNodeExists) is left out and the multi
// run again.
func (z *Client) CreateMissingOffsets(ctx context.Context, group string, offsets map[TopicPartition]int64) error {
	tps := make([]TopicPartition, 0, len(offsets))
	for tp, off := range offsets {
		if err := checkOffsetArgs("create offsets", group, tp.Topic, tp.Partition, off); err != nil {
			return err
		}
		tps = append(tps, tp)
	}
	sortPartitions(tps)
	// Members that start together all create the same nodes: after a
	// NodeExists, list again and create what is still missing, rather than
	// dropping one node per round trip (50 members on 1,000 partitions
	// made that quadratic). A few rounds, then one node at a time.
	for round := 0; ; round++ {
		ops, err := z.missingOffsets(ctx, group, tps, offsets)
		if err != nil || len(ops) == 0 {
			return err
		}
		if round >= createOffsetsRounds {
			return z.createEach(ctx, ops)
		}
		if conflict, err := z.createOffsets(ctx, ops); conflict < 0 {
			return err
		}
	}
}

// createOffsets runs the creates in one multi. conflict is the index of a
// create whose node another member made meanwhile (nothing was created),
// -1 otherwise; err is any other failure, naming the path.
func (z *Client) createOffsets(ctx context.Context, ops []any) (conflict int, err error) {
	i, err := z.multi(ctx, ops...)
	switch {
	case err == nil:
		return -1, nil
	case i >= 0 && errors.Is(err, zk.ErrNodeExists):
		return i, nil
	}
	p := ""
	if i >= 0 {
		p = opPath(ops[i])
	}
	return -1, pathErr("create offsets", p, err)
}

// missingOffsets lists the offset nodes of tps' topics and returns the
// creates of those missing.
func (z *Client) missingOffsets(ctx context.Context, group string, tps []TopicPartition, offsets map[TopicPartition]int64) ([]any, error) {
	existing := map[string]map[string]bool{} // topic to its offset nodes
	for _, tp := range tps {
		if existing[tp.Topic] != nil {
			continue
		}
		names, err := z.children(ctx, "create offsets", z.paths.OffsetsTopic(group, tp.Topic))
		if errors.Is(err, ErrNoNode) {
			err = z.mkdirAll(ctx, z.paths.OffsetsTopic(group, tp.Topic))
		}
		if err != nil {
			return nil, err
		}
		existing[tp.Topic] = make(map[string]bool, len(names))
		for _, n := range names {
			existing[tp.Topic][n] = true
		}
	}
	var ops []any
	for _, tp := range tps {
		p := z.paths.Offset(group, tp.Topic, tp.Partition)
		if !existing[tp.Topic][path.Base(p)] {
			ops = append(ops, &zk.CreateRequest{Path: p, Data: layout.EncodeOffset(offsets[tp]), Acl: z.acl})
		}
	}
	return ops, nil
}

// createEach runs the creates in one multi, dropping each that another
// member made meanwhile and trying again.
func (z *Client) createEach(ctx context.Context, ops []any) error {
	for len(ops) > 0 {
		conflict, err := z.createOffsets(ctx, ops)
		if conflict < 0 {
			return err
		}
		ops = slices.Delete(ops, conflict, conflict+1) // created meanwhile: keep it
	}
	return nil
}
