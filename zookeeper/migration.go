package zookeeper

import (
	"context"
	"errors"
	"time"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Migration is what a group's migration marker tells: the group was moved
// to Kafka's group coordinator (groupctl migrate), and the consumer group
// (package consumergroup) refuses to join it through ZooKeeper unless told
// to ignore the marker.
type Migration struct {
	Path      string    // the marker's znode, chroot included
	To        string    // "kafka"
	At        time.Time // when the marker was written
	By        string    // what wrote it, e.g. "groupctl migrate"
	Bootstrap string    // the Kafka brokers the offsets were written to
}

// Migration reads group's migration marker, /consumers/<group>/migration:
// nil when the group was not migrated. A marker that cannot be read gives
// an error that matches ErrBadData.
func (z *Client) Migration(ctx context.Context, group string) (*Migration, error) {
	if err := checkNames("read migration marker", "group", group); err != nil {
		return nil, err
	}
	p := z.paths.Migration(group)
	data, _, err := z.get(ctx, "read migration marker", p)
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := layout.ParseMigrationMarker(data)
	if err != nil {
		return nil, pathErr("read migration marker", p, err)
	}
	return &Migration{Path: p, To: m.To, At: m.Time(), By: m.By, Bootstrap: m.Bootstrap}, nil
}

// MarkMigrated writes group's migration marker (creating the group's node
// if needed): from then on the consumer group refuses to join it through
// ZooKeeper. A marker already there is kept (and returned). by names the
// tool, bootstrap the Kafka brokers that now hold the group's offsets.
func (z *Client) MarkMigrated(ctx context.Context, group, by, bootstrap string) (*Migration, error) {
	if err := checkNames("write migration marker", "group", group); err != nil {
		return nil, err
	}
	if m, err := z.Migration(ctx, group); err != nil || m != nil {
		return m, err
	}
	p := z.paths.Migration(group)
	marker := layout.NewMigrationMarker(time.Now(), by, bootstrap)
	if err := z.create(ctx, "write migration marker", p, marker.Encode(), false); err != nil && !errors.Is(err, ErrNodeExists) {
		return nil, err
	}
	return z.Migration(ctx, group)
}

// ClearMigration deletes group's migration marker (a rollback to
// ZooKeeper); a group without one is left as it is.
func (z *Client) ClearMigration(ctx context.Context, group string) error {
	if err := checkNames("delete migration marker", "group", group); err != nil {
		return err
	}
	return z.deleteAll(ctx, z.paths.Migration(group))
}
