package zookeeper

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/consumergroup/consumergroup/internal/layout"
	"github.com/consumergroup/consumergroup/internal/zk"
)

// readsInFlight bounds the getData a look at a whole group (Offsets,
// Owners, OffsetCommitTimes) keeps in flight at once where multiRead is not
// used (multiread.go). go-zookeeper pipelines them on the connection: a
// group of 10,000 partitions is read in the time of a few hundred round
// trips instead of 10,000, but still of 10,000 requests to the server
// (more in flight did not help: bench/RESULTS-describe-10k.md).
const readsInFlight = 64

// nodeRead is what reading one node gave.
type nodeRead struct {
	data []byte
	stat *zk.Stat
	err  error // a *PathError naming op and the node
}

// getAll reads the nodes at paths and returns what each read gave, in the
// order of paths: in multiReads when the servers take them (multiread.go),
// else as getData, readsInFlight at a time.
func (z *Client) getAll(ctx context.Context, op string, paths []string) []nodeRead {
	out := make([]nodeRead, len(paths))
	if len(paths) >= multiReadMin && z.canMultiRead(ctx) {
		if z.multiReadAll(ctx, op, paths, out) {
			return out
		}
		clear(out)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, readsInFlight)
	for i, p := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := &out[i]
			r.data, r.stat, r.err = z.get(ctx, op, p)
		})
	}
	wg.Wait()
	return out
}

// OffsetRead is a committed offset ReadOffsets read, or why not: Err
// matches ErrNoNode for a partition without an offset node, ErrBadData for
// a node that does not hold an offset.
type OffsetRead struct {
	Offset int64
	Err    error
}

// ReadOffsets reads the committed offsets of tps in group (getAll:
// multiReads, or getData readsInFlight at a time): requests in proportion
// to tps, whatever the size of their
// topics (a member taking 20 partitions of a topic of 10,000 lists none of
// the others). Every partition of tps has an entry; the error is for what
// stopped the whole read (a ZooKeeper that cannot be reached, ctx).
func (z *Client) ReadOffsets(ctx context.Context, group string, tps []TopicPartition) (map[TopicPartition]OffsetRead, error) {
	if err := checkNames("read offsets", "group", group); err != nil {
		return nil, err
	}
	paths := make([]string, len(tps))
	for i, tp := range tps {
		if err := checkNames("read offsets", "topic", tp.Topic); err != nil {
			return nil, err
		}
		paths[i] = z.paths.Offset(group, tp.Topic, tp.Partition)
	}
	out := make(map[TopicPartition]OffsetRead, len(tps))
	for i, r := range z.getAll(ctx, "read offset", paths) {
		switch {
		case errors.Is(r.err, ErrNoNode):
			out[tps[i]] = OffsetRead{Err: r.err}
		case r.err != nil:
			return nil, r.err
		default:
			off, err := layout.ParseOffset(r.data)
			out[tps[i]] = OffsetRead{Offset: off, Err: pathErr("read offset", paths[i], err)}
		}
	}
	return out, nil
}

// CommittedPartitions returns the partitions of topic that have an offset
// node in group, sorted, in one listing and without reading them: a group's
// leader tells this way whether a topic's offset nodes are all there.
func (z *Client) CommittedPartitions(ctx context.Context, group, topic string) ([]int32, error) {
	if err := checkNames("list offsets", "group", group, "topic", topic); err != nil {
		return nil, err
	}
	return z.partitionsUnder(ctx, "list offsets", z.paths.OffsetsTopic(group, topic))
}

// partitionsUnder returns the partitions named by the children of p (a
// topic's owners/ or offsets/ node), sorted, in one listing: none when p
// does not exist; children whose name is not a partition are left out.
func (z *Client) partitionsUnder(ctx context.Context, op, p string) ([]int32, error) {
	names, err := z.children(ctx, op, p)
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	parts := make([]int32, 0, len(names))
	for _, n := range names {
		if part, err := layout.ParsePartition(n); err == nil {
			parts = append(parts, part)
		}
	}
	slices.Sort(parts)
	return parts, nil
}
