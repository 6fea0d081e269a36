package consumergroup

import (
	"context"
	"errors"

	"github.com/go-zookeeper/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// readAssignment reads the group's published assignment and sets a watch on
// it. Without one, it returns a zero assignment, version -1, and a watch on
// its creation.
func (z *ZK) readAssignment(ctx context.Context, group string) (layout.Assignment, int32, <-chan zk.Event, error) {
	p := z.paths.Assignment(group)
	for {
		data, stat, ch, err := z.getW(ctx, "read assignment", p)
		if err == nil {
			a, perr := layout.ParseAssignment(data)
			if perr != nil {
				return layout.Assignment{}, stat.Version, ch, pathErr("read assignment", p, perr)
			}
			return a, stat.Version, ch, nil
		}
		if !errors.Is(err, ErrNoNode) {
			return layout.Assignment{}, 0, nil, err
		}
		ok, ch, err := z.existsW(ctx, "read assignment", p)
		if err != nil {
			return layout.Assignment{}, 0, nil, err
		}
		if !ok {
			return layout.Assignment{}, -1, ch, nil
		}
	}
}

// getAssignment reads the group's published assignment without a watch; a
// zero assignment when there is none.
func (z *ZK) getAssignment(ctx context.Context, group string) (layout.Assignment, error) {
	p := z.paths.Assignment(group)
	data, _, err := z.get(ctx, "read assignment", p)
	if errors.Is(err, ErrNoNode) {
		return layout.Assignment{}, nil
	}
	if err != nil {
		return layout.Assignment{}, err
	}
	a, err := layout.ParseAssignment(data)
	return a, pathErr("read assignment", p, err)
}

// errConflict: another member published first.
var errConflict = errors.New("consumergroup: assignment changed meanwhile")

// publishAssignment writes a, if the node is still at version (-1: absent).
func (z *ZK) publishAssignment(ctx context.Context, group string, a layout.Assignment, version int32) error {
	p := z.paths.Assignment(group)
	data := a.Encode()
	if version < 0 {
		err := z.create(ctx, "publish assignment", p, data, false)
		if errors.Is(err, ErrNodeExists) {
			return errConflict
		}
		return err
	}
	err := z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Set(p, data, version); return err })
	if errors.Is(err, zk.ErrBadVersion) {
		return errConflict
	}
	return pathErr("publish assignment", p, err)
}
