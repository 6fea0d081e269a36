package zookeeper

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Assignment is what a group's leader publishes under the assignment node,
// /consumers/<group>/assignment: which member consumes which partitions,
// for one generation. The node is not part of Kafka's layout (Kafka's own
// ZooKeeper consumers had no leader: each computed its share); tools that
// read the layout ignore it.
//
// PublishAssignment writes version 2: the node holds the generation, the
// strategy, the leader and the partition counts, and each member's part is
// a child node of its own, /consumers/<group>/assignment/<id>, written only
// when the part changes. A member reads its part alone (ReadMemberAssignment)
// and is woken only when it changed, so that a join or a leave costs the
// group requests and bytes in proportion to what moves, not to members ×
// partitions. A version 1 node, written by earlier releases, held every
// member's part itself; it is still read:
//
//	{"version":2,"generation":3,"strategy":"range","leader":"<id>","partitions":{"orders":8}}
//	{"version":2,"generation":3,"strategy":"range","leader":"<id>","assignment":{"orders":[0,1,2,3]}}   (a member's node)
//	{"version":1,"generation":3,"strategy":"range","leader":"<id>",
//	 "partitions":{"orders":8},"assignment":{"<id>":{"orders":[0,1,2,3]}}}
//
// A read checks it: a generation, partitions within the counts, no
// partition assigned twice (ErrBadData otherwise).
type Assignment struct {
	Version    int                           // the node's format: 1 or 2
	Generation int                           // 1, 2, ...: one more at every publication
	Strategy   string                        // the strategy that computed it, e.g. "range"
	Leader     string                        // the id of the member that published it
	Partitions map[string]int32              // topic to its partition count when computed
	Members    map[string]map[string][]int32 // member id to topic to partitions; every member has an entry
}

// MemberAssignment is one member's part of a version 2 assignment.
// Generation is the one that last changed the part (a part that stays is
// not written again); zero when the member has no part (yet).
type MemberAssignment struct {
	Generation int
	Strategy   string
	Leader     string
	Topics     map[string][]int32 // topic to partitions
}

// assignmentReadsInFlight bounds the members' parts ReadAssignment reads
// at once (go-zookeeper pipelines them on the connection).
const assignmentReadsInFlight = 32

// ReadAssignment reads the group's published assignment, every member's
// part included, and the assignment node's version, and sets a watch that
// fires once when the node changes (every publication changes it). Without
// one, it returns a zero assignment, version -1, and a watch on its
// creation. The version is what PublishAssignment compares with.
func (z *Client) ReadAssignment(ctx context.Context, group string) (Assignment, int32, <-chan Event, error) {
	a, version, ch, err := z.ReadAssignmentHeader(ctx, group)
	if err != nil || a.Version != 2 {
		return a, version, ch, err
	}
	a.Members, err = z.readParts(ctx, group, a)
	if err != nil {
		return Assignment{}, version, ch, err
	}
	return a, version, ch, nil
}

// ReadAssignmentHeader is ReadAssignment without the members' parts of a
// version 2 node (Members is nil): what a member that follows its own part
// with ReadMemberAssignment reads. A version 1 node holds every part: they
// are returned.
func (z *Client) ReadAssignmentHeader(ctx context.Context, group string) (Assignment, int32, <-chan Event, error) {
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
			if a.Version == 2 {
				a.Members = nil
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

// Assignment reads the group's published assignment, every member's part
// included, without a watch: a zero assignment when there is none.
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
	la, err := layout.ParseAssignment(data)
	if err != nil {
		return Assignment{}, pathErr("read assignment", p, err)
	}
	a := Assignment(la)
	if a.Version == 2 {
		if a.Members, err = z.readParts(ctx, group, a); err != nil {
			return Assignment{}, err
		}
	}
	return a, nil
}

// readParts reads the members' parts of a, a version 2 assignment, a few
// at a time, and checks them together against its partition counts.
func (z *Client) readParts(ctx context.Context, group string, a Assignment) (map[string]map[string][]int32, error) {
	ids, err := z.children(ctx, "read assignment", z.paths.Assignment(group))
	if err != nil {
		return nil, err
	}
	parts := make(map[string]map[string][]int32, len(ids))
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, assignmentReadsInFlight)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ma, err := z.readPart(ctx, group, id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			parts[id] = ma.Topics
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	full := layout.Assignment(a)
	full.Members = parts
	if err := full.CheckMembers(); err != nil {
		return nil, pathErr("read assignment", z.paths.Assignment(group), err)
	}
	return parts, nil
}

// readPart reads member id's part, without a watch.
func (z *Client) readPart(ctx context.Context, group, id string) (layout.MemberAssignment, error) {
	p := z.paths.MemberAssignment(group, id)
	data, _, err := z.get(ctx, "read assignment", p)
	if err != nil {
		return layout.MemberAssignment{}, err
	}
	ma, err := layout.ParseMemberAssignment(data)
	return ma, pathErr("read assignment", p, err)
}

// ReadMemberAssignment reads member id's part of a version 2 assignment
// and sets a watch that fires once when it changes. A member without a part
// gets a zero MemberAssignment and a watch on its creation.
func (z *Client) ReadMemberAssignment(ctx context.Context, group, id string) (MemberAssignment, <-chan Event, error) {
	if err := checkNames("read assignment", "group", group, "member", id); err != nil {
		return MemberAssignment{}, nil, err
	}
	p := z.paths.MemberAssignment(group, id)
	for {
		data, _, ch, err := z.getW(ctx, "read assignment", p)
		if err == nil {
			ma, perr := layout.ParseMemberAssignment(data)
			if perr != nil {
				return MemberAssignment{}, ch, pathErr("read assignment", p, perr)
			}
			return MemberAssignment{Generation: ma.Generation, Strategy: ma.Strategy, Leader: ma.Leader, Topics: ma.Topics}, ch, nil
		}
		if !errors.Is(err, ErrNoNode) {
			return MemberAssignment{}, nil, err
		}
		ok, ch, err := z.existsW(ctx, "read assignment", p)
		if err != nil {
			return MemberAssignment{}, nil, err
		}
		if !ok {
			return MemberAssignment{}, ch, nil
		}
	}
}

// PublishAssignment writes next, in version 2, as the group's assignment,
// if the node is still at version, as ReadAssignment returned it (-1:
// absent, so created), and returns the node's new version. Of the members'
// parts it writes those that differ from prev, the assignment published at
// version (a zero prev, or one of version 1: every part), and deletes those
// of members next leaves out: a member whose part stays is not woken. It
// is one atomic multi, or, past Config.MaxRequestBytes, a few (see
// publish). When another member published meanwhile, nothing is written
// and the error is ErrAssignmentConflict.
func (z *Client) PublishAssignment(ctx context.Context, group string, next, prev Assignment, version int32) (int32, error) {
	if err := checkNames("publish assignment", "group", group); err != nil {
		return 0, err
	}
	for id := range next.Members {
		if err := checkNames("publish assignment", "member", id); err != nil {
			return 0, err
		}
	}
	p := z.paths.Assignment(group)
	head := layout.Assignment{Version: 2, Generation: next.Generation, Strategy: next.Strategy, Leader: next.Leader, Partitions: next.Partitions}
	var ops []any
	existing := map[string]bool{}
	if version < 0 {
		if err := z.mkdirAll(ctx, z.paths.Group(group)); err != nil {
			return 0, pathErr("publish assignment", p, err)
		}
		ops = append(ops, &zk.CreateRequest{Path: p, Data: head.Encode(), Acl: z.acl})
	} else {
		ops = append(ops, &zk.SetDataRequest{Path: p, Data: head.Encode(), Version: version})
		ids, err := z.children(ctx, "publish assignment", p)
		if errors.Is(err, ErrNoNode) {
			return 0, ErrAssignmentConflict
		}
		if err != nil {
			return 0, err
		}
		for _, id := range ids {
			existing[id] = true
		}
	}
	if err := z.publish(ctx, ops[0], z.partOps(group, next, prev, existing), version); err != nil {
		if errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode) {
			return 0, ErrAssignmentConflict
		}
		return 0, pathErr("publish assignment", p, err)
	}
	return version + 1, nil
}

// publish writes the assignment node (head, at version) and the parts'
// writes in one multi, or, past the request budget, in chunks: the first
// carries head, each later one a check that the node is still at the
// version head gave it, so that a publication of another leader meanwhile
// stops the rest. Parts written before a failed chunk stay: each member's
// claims are fenced by the owner nodes, whatever mix of generations the
// parts show, and the leader publishes again.
func (z *Client) publish(ctx context.Context, head any, parts []any, version int32) error {
	p := opPath(head)
	for chunk := 0; chunk == 0 || len(parts) > 0; chunk++ {
		if chunk > 0 {
			head = &zk.CheckVersionRequest{Path: p, Version: version + 1}
		}
		n, err := z.fit("publish assignment", len(parts), opBytes(head),
			func(i int) int { return opBytes(parts[i]) }, func(i int) string { return opPath(parts[i]) })
		if err != nil {
			return err
		}
		if _, err := z.multi(ctx, append([]any{head}, parts[:n]...)...); err != nil {
			return err
		}
		parts = parts[n:]
	}
	return nil
}

// partOps are the writes of the members' parts that next changes from
// prev, existing naming the parts' nodes there are.
func (z *Client) partOps(group string, next, prev Assignment, existing map[string]bool) []any {
	var ops []any
	for _, id := range slices.Sorted(maps.Keys(next.Members)) {
		part := next.Members[id]
		if existing[id] && prev.Version == 2 && samePart(prev.Members[id], part, prev.Members != nil) {
			continue
		}
		data := layout.MemberAssignment{Version: 2, Generation: next.Generation, Strategy: next.Strategy, Leader: next.Leader, Topics: part}.Encode()
		node := z.paths.MemberAssignment(group, id)
		if existing[id] {
			ops = append(ops, &zk.SetDataRequest{Path: node, Data: data, Version: -1})
		} else {
			ops = append(ops, &zk.CreateRequest{Path: node, Data: data, Acl: z.acl})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(existing)) {
		if _, ok := next.Members[id]; !ok {
			ops = append(ops, &zk.DeleteRequest{Path: z.paths.MemberAssignment(group, id), Version: -1})
		}
	}
	return ops
}

// samePart reports whether two parts hold the same partitions, in the same
// order; known: a is what was published (not a part never read).
func samePart(a, b map[string][]int32, known bool) bool {
	if !known || len(a) != len(b) {
		return false
	}
	for t, ps := range a {
		if qs, ok := b[t]; !ok || !slices.Equal(ps, qs) {
			return false
		}
	}
	return true
}
