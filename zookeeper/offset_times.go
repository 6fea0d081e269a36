package zookeeper

import (
	"context"
	"time"
)

// OffsetCommitTimes returns when each committed offset of group was last
// written (the offset node's modification time, by ZooKeeper's clock), for
// lag evaluation: a consumer that stopped committing stops changing them.
// Partitions whose node disappears meanwhile are left out.
func (z *Client) OffsetCommitTimes(ctx context.Context, group string) (map[TopicPartition]time.Time, error) {
	offsets, times, err := z.offsets(ctx, group, true)
	if offsets == nil {
		return nil, err
	}
	// The unreadable offsets (ErrBadData, which Offsets reports) have
	// their times all the same.
	return times, nil
}
