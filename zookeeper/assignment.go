package zookeeper

import (
	"context"
	"errors"

	"github.com/go-zookeeper/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Assignment is what a group's leader publishes in the assignment node,
// /consumers/<group>/assignment: which member consumes which partitions,
// for one generation. The node is not part of Kafka's layout (Kafka's own
// ZooKeeper consumers had no leader: each computed its share); tools that
// read the layout ignore it. It holds JSON:
//
//	{"version":1,"generation":3,"strategy":"range","leader":"<id>",
//	 "partitions":{"orders":8},"assignment":{"<id>":{"orders":[0,1,2,3]}}}
//
// A read checks it: a generation, partitions within the counts, no
// partition assigned twice (ErrBadData otherwise).
type Assignment struct {
	Version    int                           // the node's format: 1
	Generation int                           // 1, 2, ...: one more at every publication
	Strategy   string                        // the strategy that computed it, e.g. "range"
	Leader     string                        // the id of the member that published it
	Partitions map[string]int32              // topic to its partition count when computed
	Members    map[string]map[string][]int32 // member id to topic to partitions; every member has an entry
}

// ReadAssignment reads the group's published assignment and its node's
// version, and sets a watch that fires once when it changes. Without one,
// it returns a zero assignment, version -1, and a watch on its creation.
// The version is what PublishAssignment compares with.
func (z *Client) ReadAssignment(ctx context.Context, group string) (Assignment, int32, <-chan zk.Event, error) {
	if err := checkNames("read assignment", "group", group); err != nil {
		return Assignment{}, 0, nil, err
	}
	p := z.paths.Assignment(group)
	for {
		data, stat, ch, err := z.getW(ctx, "read assignment", p)
		if err == nil {
			a, perr := layout.ParseAssignment(data)
			if perr != nil {
				return Assignment{}, stat.Version, ch, pathErr("read assignment", p, perr)
			}
			return Assignment(a), stat.Version, ch, nil
		}
		if !errors.Is(err, ErrNoNode) {
			return Assignment{}, 0, nil, err
		}
		ok, ch, err := z.existsW(ctx, "read assignment", p)
		if err != nil {
			return Assignment{}, 0, nil, err
		}
		if !ok {
			return Assignment{}, -1, ch, nil
		}
	}
}

// Assignment reads the group's published assignment without a watch: a
// zero assignment when there is none.
func (z *Client) Assignment(ctx context.Context, group string) (Assignment, error) {
	if err := checkNames("read assignment", "group", group); err != nil {
		return Assignment{}, err
	}
	p := z.paths.Assignment(group)
	data, _, err := z.get(ctx, "read assignment", p)
	if errors.Is(err, ErrNoNode) {
		return Assignment{}, nil
	}
	if err != nil {
		return Assignment{}, err
	}
	a, err := layout.ParseAssignment(data)
	return Assignment(a), pathErr("read assignment", p, err)
}

// PublishAssignment writes a as the group's assignment if the node is still
// at version, as ReadAssignment returned it (-1: absent, so created). When
// another member published meanwhile, nothing is written and the error is
// ErrAssignmentConflict.
func (z *Client) PublishAssignment(ctx context.Context, group string, a Assignment, version int32) error {
	if err := checkNames("publish assignment", "group", group); err != nil {
		return err
	}
	p := z.paths.Assignment(group)
	data := layout.Assignment(a).Encode()
	if version < 0 {
		err := z.create(ctx, "publish assignment", p, data, false)
		if errors.Is(err, ErrNodeExists) {
			return ErrAssignmentConflict
		}
		return err
	}
	err := z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Set(p, data, version); return err })
	if errors.Is(err, zk.ErrBadVersion) {
		return ErrAssignmentConflict
	}
	return pathErr("publish assignment", p, err)
}
