package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// DropStaleOffsets deletes group's offset nodes of topic that were last
// written before the topic was created (the creation of
// /brokers/topics/<topic>): the offsets of an earlier topic of the same
// name, deleted since. Kafka's own coordinator drops a deleted topic's
// offsets; Kafka's ZooKeeper layout keeps them, and a topic created again
// under the name would start from them, skipping its first messages. It
// returns the partitions whose nodes it deleted, sorted.
//
// A topic Kafka does not register in ZooKeeper (KRaft), or without offset
// nodes, is left alone; so is an offsets node created after the topic
// (two reads). Otherwise each offset node is read, and the stale ones
// deleted at the version read, in multis within the request budget: a
// commit meanwhile fails its chunk (an error naming the node), and the
// node stays.
func (z *Client) DropStaleOffsets(ctx context.Context, group, topic string) ([]int32, error) {
	const op = "drop stale offsets"
	if err := checkNames(op, "group", group, "topic", topic); err != nil {
		return nil, err
	}
	_, ts, err := z.get(ctx, op, z.paths.Topic(topic))
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	dir := z.paths.OffsetsTopic(group, topic)
	_, ds, err := z.get(ctx, op, dir)
	if errors.Is(err, ErrNoNode) || (err == nil && ds.Czxid > ts.Czxid) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names, err := z.children(ctx, op, dir)
	if err != nil {
		return nil, err
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = dir + "/" + n
	}
	var ops []any
	var stale []int32
	for i, r := range z.getAll(ctx, op, paths) {
		p, perr := strconv.ParseInt(names[i], 10, 32)
		switch {
		case errors.Is(r.err, ErrNoNode), perr != nil:
			continue // gone meanwhile, or not a partition's node
		case r.err != nil:
			return nil, r.err
		case r.stat.Mzxid < ts.Czxid:
			ops = append(ops, &zk.DeleteRequest{Path: paths[i], Version: r.stat.Version})
			stale = append(stale, int32(p))
		}
	}
	if err := z.deleteChunks(ctx, op, ops); err != nil {
		return nil, err
	}
	slices.Sort(stale)
	return stale, nil
}

// deleteChunks runs the deletes in multis within the budget, in order,
// and forgets the offset nodes it deleted.
func (z *Client) deleteChunks(ctx context.Context, op string, ops []any) error {
	for chunk := 0; len(ops) > 0; chunk++ {
		n, err := z.fit(op, len(ops), 0, func(i int) int { return opBytes(ops[i]) }, func(i int) string { return opPath(ops[i]) })
		if err != nil {
			return err
		}
		i, err := z.multi(ctx, ops[:n]...)
		if err != nil {
			p := ""
			if i >= 0 {
				p = opPath(ops[i])
			}
			return pathErr(op, p, fmt.Errorf("written meanwhile, or gone: %w", err))
		}
		z.offMu.Lock()
		for _, o := range ops[:n] {
			delete(z.knownOffsets, opPath(o))
		}
		z.offMu.Unlock()
		if ops = ops[n:]; len(ops) > 0 {
			z.chunkDone(op, chunk)
		}
	}
	return nil
}
