package zookeeper

import (
	"context"
	"errors"
	"time"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// OffsetCommitTimes returns when each committed offset of group was last
// written (the offset node's modification time, by ZooKeeper's clock), for
// lag evaluation: a consumer that stopped committing stops changing them.
// Partitions whose node disappears meanwhile are left out.
func (z *Client) OffsetCommitTimes(ctx context.Context, group string) (map[TopicPartition]time.Time, error) {
	if err := checkNames("read offset times", "group", group); err != nil {
		return nil, err
	}
	topics, err := z.children(ctx, "read offset times", z.paths.Offsets(group))
	if errors.Is(err, ErrNoNode) {
		return map[TopicPartition]time.Time{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]time.Time)
	for _, t := range topics {
		parts, err := z.children(ctx, "read offset times", z.paths.OffsetsTopic(group, t))
		if errors.Is(err, ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var ps []int32
		var paths []string
		for _, n := range parts {
			if p, perr := layout.ParsePartition(n); perr == nil { // else reported by Offsets
				ps, paths = append(ps, p), append(paths, z.paths.Offset(group, t, p))
			}
		}
		for i, r := range z.getAll(ctx, "read offset times", paths) {
			switch {
			case errors.Is(r.err, ErrNoNode):
			case r.err != nil:
				return nil, r.err
			default:
				out[TopicPartition{Topic: t, Partition: ps[i]}] = time.UnixMilli(r.stat.Mtime)
			}
		}
	}
	return out, nil
}
