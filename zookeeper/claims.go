package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// claimKey names an owner node.
type claimKey struct {
	group, topic string
	partition    int32
}

// claim is a partition this Client claimed: by which member, in which session,
// and the owner node's version then.
type claim struct {
	id      string
	session int64
	version int32
}

// Claim claims partition of topic for member id: it creates the ephemeral
// owner node /consumers/<group>/owners/<topic>/<partition> holding id, in
// one atomic step with a check that id is registered in this session's
// view (ErrNotRegistered otherwise). A partition owned by another member
// gives ErrAlreadyClaimed; one this session already claimed for id is not
// an error.
func (z *Client) Claim(ctx context.Context, group, topic string, partition int32, id string) error {
	if err := checkNames("claim", "group", group, "topic", topic, "consumer id", id); err != nil {
		return err
	}
	owner := z.paths.Owner(group, topic, partition)
	if partition < 0 {
		return &PathError{Op: "claim", Path: owner, Err: ErrInvalidArgument, Cause: errors.New("negative partition")}
	}
	z.claimMu.Lock()
	defer z.claimMu.Unlock()
	sid := z.sessionID()
	ops := []any{
		&zk.CheckVersionRequest{Path: z.paths.ID(group, id), Version: -1},
		&zk.CreateRequest{Path: owner, Data: []byte(id), Acl: z.acl, Flags: zk.FlagEphemeral},
	}
	key := claimKey{group, topic, partition}
	i, err := z.claimMulti(ctx, []claimKey{key}, id, ops)
	if i == 1 && errors.Is(err, zk.ErrNoNode) { // no owners/<topic> yet
		if err := z.mkdirAll(ctx, path.Dir(owner)); err != nil {
			return pathErr("claim", owner, err)
		}
		i, err = z.claimMulti(ctx, []claimKey{key}, id, ops)
	}
	switch {
	case err == nil:
		z.claims[key] = claim{id: id, session: sid}
		return nil
	case i == 0 && errors.Is(err, zk.ErrNoNode):
		return &PathError{Op: "claim", Path: owner, Err: ErrNotRegistered, Cause: fmt.Errorf("no %s", z.paths.ID(group, id))}
	case i == 1 && errors.Is(err, zk.ErrNodeExists):
		data, stat, gerr := z.get(ctx, "claim", owner)
		if errors.Is(gerr, ErrNoNode) {
			return &PathError{Op: "claim", Path: owner, Err: ErrAlreadyClaimed, Cause: errors.New("released meanwhile: try again")}
		}
		if gerr != nil {
			return gerr
		}
		if string(data) == id && stat.EphemeralOwner == sid && sid != 0 {
			z.claims[key] = claim{id: id, session: sid, version: stat.Version}
			return nil
		}
		return &PathError{Op: "claim", Path: owner, Err: ErrAlreadyClaimed, Cause: fmt.Errorf("owned by %q", data)}
	}
	return pathErr("claim", owner, err)
}

// Release gives up member id's claim on partition: it deletes the owner
// node if id holds it. A partition nobody owns is not an error; one owned by
// another member gives ErrNotOwner. Once Release starts, CommitOffsets no
// longer commits for the partition.
func (z *Client) Release(ctx context.Context, group, topic string, partition int32, id string) error {
	if err := checkNames("release", "group", group, "topic", topic, "consumer id", id); err != nil {
		return err
	}
	z.claimMu.Lock()
	defer z.claimMu.Unlock()
	delete(z.claims, claimKey{group, topic, partition})
	return z.release(ctx, group, topic, partition, id)
}

// release deletes the owner node of partition if id holds it; see Release.
// Called with claimMu held.
func (z *Client) release(ctx context.Context, group, topic string, partition int32, id string) error {
	owner := z.paths.Owner(group, topic, partition)
	data, stat, err := z.get(ctx, "release", owner)
	switch {
	case errors.Is(err, ErrNoNode):
		return nil
	case err != nil:
		return err
	case string(data) != id:
		return &PathError{Op: "release", Path: owner, Err: ErrNotOwner, Cause: fmt.Errorf("owned by %q", data)}
	}
	err = z.call(ctx, func(conn *zk.Conn) error { return conn.Delete(owner, stat.Version) })
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return pathErr("release", owner, err)
}

// Owner returns the id of the member that owns partition, or an error that
// matches ErrNoNode when nobody does.
func (z *Client) Owner(ctx context.Context, group, topic string, partition int32) (string, error) {
	if err := checkNames("read owner", "group", group, "topic", topic); err != nil {
		return "", err
	}
	p := z.paths.Owner(group, topic, partition)
	data, _, err := z.get(ctx, "read owner", p)
	if err != nil {
		return "", err
	}
	id, err := layout.ParseOwner(data)
	return id, pathErr("read owner", p, err)
}

// OwnerW returns the owner of partition ("" when nobody owns it) and a
// watch that fires once when the owner node is created, changed or deleted:
// a new owner waits on it for the old one to let go.
func (z *Client) OwnerW(ctx context.Context, group, topic string, partition int32) (string, <-chan Event, error) {
	if err := checkNames("watch owner", "group", group, "topic", topic); err != nil {
		return "", nil, err
	}
	p := z.paths.Owner(group, topic, partition)
	for {
		data, _, ch, err := z.getW(ctx, "watch owner", p)
		if err == nil {
			id, perr := layout.ParseOwner(data)
			if perr != nil {
				return "", ch, pathErr("watch owner", p, perr)
			}
			return id, ch, nil
		}
		if !errors.Is(err, ErrNoNode) {
			return "", nil, err
		}
		ok, ch, err := z.existsW(ctx, "watch owner", p)
		if err != nil || !ok {
			return "", ch, err
		}
		// Created meanwhile: read it.
	}
}

// Owners returns the owner of every owned partition of topic in group.
// Unreadable owner nodes are left out and reported in the error, which
// matches ErrBadData; the map holds the others.
func (z *Client) Owners(ctx context.Context, group, topic string) (map[int32]string, error) {
	if err := checkNames("list owners", "group", group, "topic", topic); err != nil {
		return nil, err
	}
	names, err := z.children(ctx, "list owners", z.paths.OwnersTopic(group, topic))
	if errors.Is(err, ErrNoNode) {
		return map[int32]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	var ps []int32
	var paths []string
	var errs []error
	for _, n := range names {
		p := z.paths.OwnersTopic(group, topic) + "/" + n
		part, err := layout.ParsePartition(n)
		if err != nil {
			errs = append(errs, pathErr("list owners", p, fmt.Errorf("%w: %v", layout.ErrBadData, err)))
			continue
		}
		ps, paths = append(ps, part), append(paths, p)
	}
	owners := make(map[int32]string, len(ps))
	for i, r := range z.getAll(ctx, "read owner", paths) {
		switch {
		case errors.Is(r.err, ErrNoNode): // released meanwhile
		case r.err != nil:
			return nil, r.err
		default:
			id, perr := layout.ParseOwner(r.data)
			if perr != nil {
				errs = append(errs, pathErr("read owner", paths[i], perr))
				continue
			}
			owners[ps[i]] = id
		}
	}
	return owners, errors.Join(errs...)
}

// OwnedTopics returns the topics of group that have an owners node, sorted:
// those whose partitions are or were claimed. A group without owners has
// none.
func (z *Client) OwnedTopics(ctx context.Context, group string) ([]string, error) {
	if err := checkNames("list owners", "group", group); err != nil {
		return nil, err
	}
	topics, err := z.children(ctx, "list owners", z.paths.Owners(group))
	if errors.Is(err, ErrNoNode) {
		return nil, nil
	}
	return topics, err
}

// OwnedAmong returns those of partitions, of topic, that some member owns
// in group, without reading who: a member about to claim them claims the
// others together (ClaimAll) and waits for these (OwnerW). It lists the
// topic's owner nodes when asked about many (readsInFlight or more), and
// reads those of partitions otherwise, so that a member taking a few
// partitions of a topic of 10,000 sends a few requests, not a listing of
// 10,000 names.
func (z *Client) OwnedAmong(ctx context.Context, group, topic string, partitions []int32) ([]int32, error) {
	if len(partitions) >= readsInFlight {
		all, err := z.OwnedPartitions(ctx, group, topic)
		if err != nil {
			return nil, err
		}
		asked := make(map[int32]bool, len(partitions))
		for _, p := range partitions {
			asked[p] = true
		}
		return slices.DeleteFunc(all, func(p int32) bool { return !asked[p] }), nil
	}
	if err := checkNames("list owners", "group", group, "topic", topic); err != nil {
		return nil, err
	}
	paths := make([]string, len(partitions))
	for i, p := range partitions {
		paths[i] = z.paths.Owner(group, topic, p)
	}
	var owned []int32
	for i, r := range z.getAll(ctx, "read owner", paths) {
		switch {
		case errors.Is(r.err, ErrNoNode):
		case r.err != nil:
			return nil, r.err
		default:
			owned = append(owned, partitions[i])
		}
	}
	return owned, nil
}

// OwnedPartitions returns the partitions of topic that some member owns in
// group, sorted, in one listing and without reading who owns them: a
// member about to claim many partitions claims the others together
// (ClaimAll) and waits for these (OwnerW). Owner nodes whose name is not a
// partition are left out (Owners reports them). A topic nobody owns a
// partition of has none.
func (z *Client) OwnedPartitions(ctx context.Context, group, topic string) ([]int32, error) {
	if err := checkNames("list owners", "group", group, "topic", topic); err != nil {
		return nil, err
	}
	return z.partitionsUnder(ctx, "list owners", z.paths.OwnersTopic(group, topic))
}
