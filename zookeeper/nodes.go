package zookeeper

import (
	"context"
	"errors"
	"path"
	"sort"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// Create stores value at node, relative to the chroot, as an ephemeral node
// (deleted with the session) or a persistent one. Missing parents are
// created as persistent nodes. It fails with ErrNodeExists if node exists.
func (z *Client) Create(ctx context.Context, node string, value []byte, ephemeral bool) error {
	p, err := z.abs(node)
	if err != nil {
		return err
	}
	return z.create(ctx, "create", p, value, ephemeral)
}

// create creates the absolute path p, and its missing parents.
func (z *Client) create(ctx context.Context, op, p string, value []byte, ephemeral bool) error {
	var flags int32
	if ephemeral {
		flags = zk.FlagEphemeral
	}
	if err := z.checkWrite(op, p, value, z.acl); err != nil {
		return err
	}
	err := z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Create(p, value, flags, z.acl); return err })
	if errors.Is(err, zk.ErrNoNode) { // a parent is missing
		if err := z.mkdirAll(ctx, path.Dir(p)); err != nil {
			return pathErr(op, p, err)
		}
		err = z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Create(p, value, flags, z.acl); return err })
	}
	return pathErr(op, p, err)
}

// Exists reports whether node, relative to the chroot, exists.
func (z *Client) Exists(ctx context.Context, node string) (bool, error) {
	p, err := z.abs(node)
	if err != nil {
		return false, err
	}
	return z.exists(ctx, "exists", p)
}

// exists reports whether the absolute path p exists.
func (z *Client) exists(ctx context.Context, op, p string) (bool, error) {
	var ok bool
	err := z.call(ctx, func(conn *zk.Conn) error { var err error; ok, _, err = conn.Exists(p); return err })
	if err != nil {
		return false, pathErr(op, p, err)
	}
	return ok, nil
}

// MkdirAll creates node, relative to the chroot, and its missing parents,
// as empty persistent nodes. Existing nodes are left as they are.
func (z *Client) MkdirAll(ctx context.Context, node string) error {
	p, err := z.abs(node)
	if err != nil {
		return err
	}
	return z.mkdirAll(ctx, p)
}

// mkdirAll creates the absolute path p and its parents (the chroot too).
func (z *Client) mkdirAll(ctx context.Context, p string) error {
	if p == "/" || p == "" {
		return nil
	}
	ok, err := z.exists(ctx, "mkdir", p)
	if err != nil || ok {
		return err
	}
	if err := z.mkdirAll(ctx, path.Dir(p)); err != nil {
		return err
	}
	err = z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Create(p, nil, 0, z.acl); return err })
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return pathErr("mkdir", p, err)
	}
	return nil
}

// DeleteAll deletes node, relative to the chroot, and everything below it;
// "/" deletes the chroot itself, and is refused without a chroot. A node
// that does not exist is not an error. Nodes created below it while
// it runs make it retry, a bounded number of times.
func (z *Client) DeleteAll(ctx context.Context, node string) error {
	p, err := z.abs(node)
	if err != nil {
		return err
	}
	if p == "/" {
		return &PathError{Op: "delete all", Path: p, Err: ErrInvalidArgument, Cause: errors.New("refusing to delete the root")}
	}
	return z.deleteAll(ctx, p)
}

func (z *Client) deleteAll(ctx context.Context, p string) error {
	for attempt := 0; ; attempt++ {
		children, err := z.children(ctx, "delete", p)
		if errors.Is(err, ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := z.deleteAll(ctx, p+"/"+c); err != nil {
				return err
			}
		}
		err = z.call(ctx, func(conn *zk.Conn) error { return conn.Delete(p, -1) })
		switch {
		case err == nil, errors.Is(err, zk.ErrNoNode):
			return nil
		case errors.Is(err, zk.ErrNotEmpty) && attempt < 10:
			continue // a child appeared meanwhile
		}
		return pathErr("delete", p, err)
	}
}

// get reads the absolute path p.
func (z *Client) get(ctx context.Context, op, p string) ([]byte, *zk.Stat, error) {
	var data []byte
	var stat *zk.Stat
	err := z.call(ctx, func(conn *zk.Conn) error { var err error; data, stat, err = conn.Get(p); return err })
	if err != nil {
		return nil, nil, pathErr(op, p, err)
	}
	return data, stat, nil
}

// getW reads the absolute path p and sets a watch on it.
func (z *Client) getW(ctx context.Context, op, p string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	var data []byte
	var stat *zk.Stat
	var ch <-chan zk.Event
	err := z.call(ctx, func(conn *zk.Conn) error { var err error; data, stat, ch, err = conn.GetW(p); return err })
	if err != nil {
		return nil, nil, nil, pathErr(op, p, err)
	}
	return data, stat, ch, nil
}

// children lists the children of the absolute path p, sorted.
func (z *Client) children(ctx context.Context, op, p string) ([]string, error) {
	var names []string
	err := z.call(ctx, func(conn *zk.Conn) error { var err error; names, _, err = conn.Children(p); return err })
	if err != nil {
		return nil, pathErr(op, p, err)
	}
	sort.Strings(names)
	return names, nil
}

// childrenW lists the children of p, sorted, and sets a watch on them.
func (z *Client) childrenW(ctx context.Context, op, p string) ([]string, <-chan zk.Event, error) {
	var names []string
	var ch <-chan zk.Event
	err := z.call(ctx, func(conn *zk.Conn) error { var err error; names, _, ch, err = conn.ChildrenW(p); return err })
	if err != nil {
		return nil, nil, pathErr(op, p, err)
	}
	sort.Strings(names)
	return names, ch, nil
}

// multi runs ops atomically. On failure it returns the index of the first
// failing op (or -1) and the error. A multi over the budget is not sent
// (ErrRequestTooLarge): callers cut theirs in chunks (fit).
func (z *Client) multi(ctx context.Context, ops ...any) (int, error) {
	if size := multiBytes(ops); size > z.maxRequest() {
		p := ""
		if len(ops) > 0 {
			p = opPath(ops[0])
		}
		return -1, z.tooLarge("multi", p, size)
	}
	var res []zk.MultiResponse
	err := z.call(ctx, func(conn *zk.Conn) error { var err error; res, err = conn.Multi(ops...); return err })
	if err == nil {
		return -1, nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return -1, err // the call may still be running: res is not ours to read
	}
	// Ops before the failing one report no error, those after it a
	// "runtime inconsistency": the first error is the cause.
	for i, r := range res {
		if r.Error != nil {
			return i, r.Error
		}
	}
	return -1, err
}
