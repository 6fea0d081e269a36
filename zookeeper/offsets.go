package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Commit writes offset, the next offset to consume (the offset of the last
// processed message plus one), for partition, without any ownership check:
// the seed's manual commit, also used by tools that reset offsets. A member
// commits with CommitOffsets.
func (z *Client) Commit(ctx context.Context, group, topic string, partition int32, offset int64) error {
	if err := checkOffsetArgs("commit", group, topic, partition, offset); err != nil {
		return err
	}
	p := z.paths.Offset(group, topic, partition)
	data := layout.EncodeOffset(offset)
	if err := z.checkWrite("commit", p, data, z.acl); err != nil {
		return err // a path that long
	}
	err := z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Set(p, data, -1); return err })
	if errors.Is(err, zk.ErrNoNode) {
		err = z.create(ctx, "commit", p, data, false)
		if errors.Is(err, ErrNodeExists) { // created meanwhile
			err = z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Set(p, data, -1); return err })
		}
	}
	return pathErr("commit", p, err)
}

// Offset reads the committed offset of partition: the next offset to
// consume. No committed offset gives an error that matches ErrNoNode; data
// that is not a decimal offset one that matches ErrBadData.
func (z *Client) Offset(ctx context.Context, group, topic string, partition int32) (int64, error) {
	if err := checkNames("read offset", "group", group, "topic", topic); err != nil {
		return 0, err
	}
	p := z.paths.Offset(group, topic, partition)
	data, _, err := z.get(ctx, "read offset", p)
	if err != nil {
		return 0, err
	}
	off, err := layout.ParseOffset(data)
	return off, pathErr("read offset", p, err)
}

// Offsets reads every committed offset of group: topic, then partition, to
// the next offset to consume. Unreadable nodes are left out and reported in
// the error, which matches ErrBadData; the map holds the others.
func (z *Client) Offsets(ctx context.Context, group string) (map[string]map[int32]int64, error) {
	out, _, err := z.offsets(ctx, group, false)
	return out, err
}

// OffsetsWithTimes is Offsets with OffsetCommitTimes' times, from the same
// reads: a look at a group's lag needs both, and reading the offset nodes
// once instead of twice is a third of the requests of groupctl lag.
// times holds every offset node read, the unreadable ones too (as
// OffsetCommitTimes does); nil with offsets nil.
func (z *Client) OffsetsWithTimes(ctx context.Context, group string) (offsets map[string]map[int32]int64, times map[TopicPartition]time.Time, err error) {
	return z.offsets(ctx, group, true)
}

// offsets is Offsets, and with withTimes OffsetsWithTimes.
func (z *Client) offsets(ctx context.Context, group string, withTimes bool) (map[string]map[int32]int64, map[TopicPartition]time.Time, error) {
	if err := checkNames("read offsets", "group", group); err != nil {
		return nil, nil, err
	}
	var times map[TopicPartition]time.Time
	if withTimes {
		times = map[TopicPartition]time.Time{}
	}
	topics, err := z.children(ctx, "read offsets", z.paths.Offsets(group))
	if errors.Is(err, ErrNoNode) {
		return map[string]map[int32]int64{}, times, nil
	}
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]map[int32]int64, len(topics))
	var errs []error
	for _, t := range topics {
		parts, err := z.children(ctx, "read offsets", z.paths.OffsetsTopic(group, t))
		if errors.Is(err, ErrNoNode) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, nil, err
		}
		if err := checkNames("read offset", "topic", t); err != nil {
			return nil, nil, err
		}
		var ps []int32
		var paths []string
		for _, n := range parts {
			part, perr := layout.ParsePartition(n)
			if perr != nil {
				errs = append(errs, pathErr("read offsets", z.paths.OffsetsTopic(group, t)+"/"+n, fmt.Errorf("%w: %v", layout.ErrBadData, perr)))
				continue
			}
			ps, paths = append(ps, part), append(paths, z.paths.Offset(group, t, part))
		}
		m := make(map[int32]int64, len(ps))
		for i, r := range z.getAll(ctx, "read offset", paths) {
			switch {
			case errors.Is(r.err, ErrNoNode):
			case r.err != nil:
				return nil, nil, r.err
			default:
				if times != nil {
					times[TopicPartition{Topic: t, Partition: ps[i]}] = time.UnixMilli(r.stat.Mtime)
				}
				off, perr := layout.ParseOffset(r.data)
				if perr != nil {
					errs = append(errs, pathErr("read offset", paths[i], perr))
					continue
				}
				m[ps[i]] = off
			}
		}
		out[t] = m
	}
	return out, times, errors.Join(errs...)
}

// CommitOffsets is the fenced commit of member id: it writes the offsets of
// many partitions (each the next offset to consume) in atomic multis that
// also check that id is still registered and still owns the partitions
// they write. Offset nodes that do not exist yet are created in them.
//
// The guarantee: an offset is written only in a multi that checks, in the
// same transaction, that id's registration exists and that the
// partition's owner node is still the one this member created (its
// version at the claim): no offset is ever written for a partition after
// its ownership ended, to a session expiry or a release. A member that
// lost a partition can never move its offset.
//
// The offsets go in one multi, or in as few as Config.MaxRequestBytes
// allows (chunks, in partition order: 10,000 partitions take 3 at the
// default budget), each carrying the checks of the partitions it writes
// and of the registration. Each chunk is all or nothing. When one fails
// its check, the error matches ErrNotOwner (or ErrNotRegistered): nothing
// of that chunk and of those after it is written, and the chunks before
// it, written while the member owned their partitions, stay (the error
// says how many partitions they hold). So a member that loses its session
// during a chunked commit writes nothing once the session is over; what it
// wrote before is what it committed while it owned the partitions. A
// commit is safe to repeat.
//
// Only partitions claimed through this Client, in the current session, can
// be committed, and a chunk is sent only while that session is the
// Client's. The fence is complete when, as package consumergroup does, a
// member takes a new consumer id whenever it registers again after losing
// its session.
func (z *Client) CommitOffsets(ctx context.Context, group, id string, offsets map[TopicPartition]int64) error {
	if err := checkNames("commit offsets", "group", group, "consumer id", id); err != nil {
		return err
	}
	if len(offsets) == 0 {
		return nil
	}
	tps := make([]TopicPartition, 0, len(offsets))
	for tp, off := range offsets {
		if err := checkOffsetArgs("commit offsets", group, tp.Topic, tp.Partition, off); err != nil {
			return err
		}
		tps = append(tps, tp)
	}
	sortPartitions(tps)

	z.claimMu.RLock()
	defer z.claimMu.RUnlock()
	c := &commitRun{z: z, group: group, tps: tps, offsets: offsets, sid: z.sessionID()}
	c.reg = &zk.CheckVersionRequest{Path: z.paths.ID(group, id), Version: -1}
	if err := c.fence(id); err != nil {
		return err
	}
	c.writes = z.offsetOps(ctx, group, tps, offsets)
	for c.done < len(tps) {
		if c.chunks > 0 && z.sessionID() != c.sid {
			return &PathError{Op: "commit offsets", Path: c.reg.Path, Err: ErrNotOwner, Cause: c.partial(errors.New("the session ended"))}
		}
		if err := c.chunk(ctx); err != nil {
			return err
		}
	}
	return nil
}

// commitRun is one CommitOffsets: the checks and writes of its partitions,
// in partition order, and how far it got.
type commitRun struct {
	z       *Client
	group   string
	tps     []TopicPartition
	offsets map[TopicPartition]int64
	sid     int64                   // the session committing
	reg     *zk.CheckVersionRequest // the registration's check, in every chunk
	checks  []any                   // each partition's owner node check
	writes  []any                   // each partition's offset write
	done    int                     // partitions committed
	chunks  int                     // chunks committed
	attempt int                     // tries of the chunk under way
}

// fence builds each partition's check that its owner node is still the one
// member id claimed in this session; a partition it does not hold so fails
// the whole commit at once, nothing sent.
func (c *commitRun) fence(id string) error {
	c.checks = make([]any, len(c.tps))
	for i, tp := range c.tps {
		owner := c.z.paths.Owner(c.group, tp.Topic, tp.Partition)
		cl, ok := c.z.claims[claimKey{c.group, tp.Topic, tp.Partition}]
		if !ok || cl.id != id || cl.session != c.sid || c.sid == 0 {
			return &PathError{Op: "commit offsets", Path: owner, Err: ErrNotOwner, Cause: errors.New("not claimed by this member in the current session")}
		}
		c.checks[i] = &zk.CheckVersionRequest{Path: owner, Version: cl.version}
	}
	return nil
}

// partial says, of err, how much earlier chunks committed.
func (c *commitRun) partial(err error) error {
	if c.done == 0 {
		return err
	}
	return fmt.Errorf("%w (the offsets of the first %d of %d partitions were committed, by earlier multis)", err, c.done, len(c.tps))
}

// chunk commits the next chunk in one fenced multi, or, when an offset
// node appeared or vanished meanwhile, prepares to try it again.
func (c *commitRun) chunk(ctx context.Context) error {
	z, done := c.z, c.done
	n, err := z.fit("commit offsets", len(c.tps)-done, opBytes(c.reg),
		func(i int) int { return opBytes(c.checks[done+i]) + opBytes(c.writes[done+i]) },
		func(i int) string { return opPath(c.writes[done+i]) })
	if err != nil {
		return c.partial(err)
	}
	ops := make([]any, 0, 1+2*n)
	ops = append(ops, c.reg)
	ops = append(ops, c.checks[done:done+n]...)
	nChecks := len(ops)
	ops = append(ops, c.writes[done:done+n]...)
	i, err := z.multi(ctx, ops...)
	chunkTPs := c.tps[done : done+n]
	switch {
	case err == nil:
		z.offMu.Lock()
		for _, tp := range chunkTPs {
			z.knownOffsets[z.paths.Offset(c.group, tp.Topic, tp.Partition)] = true
		}
		z.offMu.Unlock()
		if c.done += n; c.done < len(c.tps) {
			z.chunkDone("commit offsets", c.chunks)
			c.chunks++
		}
		c.attempt = 0
		return nil
	case i == 0 && errors.Is(err, zk.ErrNoNode):
		return &PathError{Op: "commit offsets", Path: c.reg.Path, Err: ErrNotRegistered, Cause: c.partial(err)}
	case i > 0 && i < nChecks:
		return &PathError{Op: "commit offsets", Path: opPath(ops[i]), Err: ErrNotOwner, Cause: c.partial(err)}
	case i >= nChecks && c.attempt < 2 && (errors.Is(err, zk.ErrNoNode) || errors.Is(err, zk.ErrNodeExists)):
		// An offset node appeared or vanished meanwhile: look again.
		c.attempt++
		z.offMu.Lock()
		for _, tp := range chunkTPs {
			delete(z.knownOffsets, z.paths.Offset(c.group, tp.Topic, tp.Partition))
		}
		z.offMu.Unlock()
		copy(c.writes[done:], z.offsetOps(ctx, c.group, chunkTPs, c.offsets))
		return nil
	}
	p := ""
	if i >= 0 {
		p = opPath(ops[i])
	}
	return pathErr("commit offsets", p, c.partial(err))
}

// offsetOps returns the ops that write the offsets of tps: a set where the
// node is known to exist, a create (its parents made) where it does not.
// Nodes not known are looked up, one by one, or by listing their topic's
// offset nodes when there are many (offsetListing): the first commit after
// claiming thousands of partitions is not thousands of round trips.
func (z *Client) offsetOps(ctx context.Context, group string, tps []TopicPartition, offsets map[TopicPartition]int64) []any {
	unknown := map[string]int{} // topic to its partitions not known
	z.offMu.Lock()
	for _, tp := range tps {
		if !z.knownOffsets[z.paths.Offset(group, tp.Topic, tp.Partition)] {
			unknown[tp.Topic]++
		}
	}
	z.offMu.Unlock()
	listed := map[string]map[string]bool{} // topic to its offset nodes, listed now
	for topic, n := range unknown {
		if n > offsetListing {
			if names, ok := z.listOffsets(ctx, group, topic); ok {
				listed[topic] = names
			}
		}
	}
	ops := make([]any, len(tps))
	for i, tp := range tps {
		names, ok := listed[tp.Topic]
		if !ok {
			ops[i] = z.offsetOp(ctx, group, tp, offsets[tp])
			continue
		}
		p := z.paths.Offset(group, tp.Topic, tp.Partition)
		data := layout.EncodeOffset(offsets[tp])
		if names[path.Base(p)] {
			ops[i] = &zk.SetDataRequest{Path: p, Data: data, Version: -1}
		} else {
			ops[i] = &zk.CreateRequest{Path: p, Data: data, Acl: z.acl}
		}
	}
	return ops
}

// listOffsets lists the offset nodes of topic, creating the topic's node
// when it does not exist, and records those that exist as known. ok is
// false when it could not: offsetOp then looks at each node.
func (z *Client) listOffsets(ctx context.Context, group, topic string) (names map[string]bool, ok bool) {
	p := z.paths.OffsetsTopic(group, topic)
	list, err := z.children(ctx, "commit offsets", p)
	if errors.Is(err, ErrNoNode) {
		list, err = nil, z.mkdirAll(ctx, p)
	}
	if err != nil {
		return nil, false
	}
	names = make(map[string]bool, len(list))
	z.offMu.Lock()
	defer z.offMu.Unlock()
	for _, n := range list {
		names[n] = true
		z.knownOffsets[p+"/"+n] = true
	}
	return names, true
}

// offsetOp returns the op that writes one offset: a set when the node is
// known to exist, a create (after creating its parents) when it does not.
func (z *Client) offsetOp(ctx context.Context, group string, tp TopicPartition, off int64) any {
	p := z.paths.Offset(group, tp.Topic, tp.Partition)
	data := layout.EncodeOffset(off)
	z.offMu.Lock()
	known := z.knownOffsets[p]
	z.offMu.Unlock()
	if !known {
		ok, err := z.exists(ctx, "commit offsets", p)
		if err == nil && !ok {
			if err := z.mkdirAll(ctx, path.Dir(p)); err == nil {
				return &zk.CreateRequest{Path: p, Data: data, Acl: z.acl}
			}
		}
	}
	return &zk.SetDataRequest{Path: p, Data: data, Version: -1}
}

func opPath(op any) string {
	switch op := op.(type) {
	case *zk.CheckVersionRequest:
		return op.Path
	case *zk.SetDataRequest:
		return op.Path
	case *zk.CreateRequest:
		return op.Path
	case *zk.DeleteRequest:
		return op.Path
	}
	return ""
}

func checkOffsetArgs(op, group, topic string, partition int32, offset int64) error {
	if err := checkNames(op, "group", group, "topic", topic); err != nil {
		return err
	}
	if partition < 0 || offset < 0 {
		return &PathError{Op: op, Err: ErrInvalidArgument, Cause: fmt.Errorf("%s/%d: partition and offset must not be negative (offset %d)", topic, partition, offset)}
	}
	return nil
}

// CreateMissingOffsets creates, in partition order, the offset nodes of
// group that do not exist yet for the partitions of offsets (all of one
// topic or several), each with its offset; nodes that exist keep theirs.
// They are created in one atomic multi, or in as few as
// Config.MaxRequestBytes allows (chunks, each atomic, in partition order:
// 10,000 partitions take 2 at the default budget), so that at every moment
// the nodes created are the first of the missing ones in partition order.
// Tools that enumerate a topic's offset nodes and read partitions 0..n-1
// by their count (Burrow's ZooKeeper consumer module) then never see a
// topic's nodes appear in waves, one member's partitions before another's.
// A node created meanwhile by another member (ErrNodeExists) fails its
// chunk: the nodes are listed again and what is still missing created.
func (z *Client) CreateMissingOffsets(ctx context.Context, group string, offsets map[TopicPartition]int64) error {
	tps := make([]TopicPartition, 0, len(offsets))
	for tp, off := range offsets {
		if err := checkOffsetArgs("create offsets", group, tp.Topic, tp.Partition, off); err != nil {
			return err
		}
		tps = append(tps, tp)
	}
	sortPartitions(tps)
	// Members that start together all create the same nodes: after a
	// NodeExists, list again and create what is still missing, rather than
	// dropping one node per round trip (50 members on 1,000 partitions
	// made that quadratic). A few rounds, then one node at a time.
	for round := 0; ; round++ {
		ops, err := z.missingOffsets(ctx, group, tps, offsets)
		if err != nil || len(ops) == 0 {
			return err
		}
		if round >= createOffsetsRounds {
			return z.createEach(ctx, ops)
		}
		if conflict, err := z.createChunks(ctx, ops); conflict < 0 {
			return err
		}
	}
}

// createChunks runs the creates in multis within the budget, in order,
// and stops at the first whose node another member made meanwhile:
// conflict is its index in the chunk (-1 when none did); err is any other
// failure, naming the path.
func (z *Client) createChunks(ctx context.Context, ops []any) (conflict int, err error) {
	for chunk := 0; len(ops) > 0; chunk++ {
		n, err := z.fit("create offsets", len(ops), 0, func(i int) int { return opBytes(ops[i]) }, func(i int) string { return opPath(ops[i]) })
		if err != nil {
			return -1, err
		}
		if conflict, err := z.createOffsets(ctx, ops[:n]); conflict >= 0 || err != nil {
			return conflict, err
		}
		if ops = ops[n:]; len(ops) > 0 {
			z.chunkDone("create offsets", chunk)
		}
	}
	return -1, nil
}

// createOffsets runs the creates in one multi. conflict is the index of a
// create whose node another member made meanwhile (nothing was created),
// -1 otherwise; err is any other failure, naming the path. The nodes are
// known to exist afterwards (CommitOffsets sets them).
func (z *Client) createOffsets(ctx context.Context, ops []any) (conflict int, err error) {
	i, err := z.multi(ctx, ops...)
	switch {
	case err == nil:
		z.offMu.Lock()
		for _, op := range ops {
			z.knownOffsets[opPath(op)] = true
		}
		z.offMu.Unlock()
		return -1, nil
	case i >= 0 && errors.Is(err, zk.ErrNodeExists):
		return i, nil
	}
	p := ""
	if i >= 0 {
		p = opPath(ops[i])
	}
	return -1, pathErr("create offsets", p, err)
}

// missingOffsets lists the offset nodes of tps' topics and returns the
// creates of those missing.
func (z *Client) missingOffsets(ctx context.Context, group string, tps []TopicPartition, offsets map[TopicPartition]int64) ([]any, error) {
	existing := map[string]map[string]bool{} // topic to its offset nodes
	for _, tp := range tps {
		if existing[tp.Topic] != nil {
			continue
		}
		names, err := z.children(ctx, "create offsets", z.paths.OffsetsTopic(group, tp.Topic))
		if errors.Is(err, ErrNoNode) {
			err = z.mkdirAll(ctx, z.paths.OffsetsTopic(group, tp.Topic))
		}
		if err != nil {
			return nil, err
		}
		existing[tp.Topic] = make(map[string]bool, len(names))
		for _, n := range names {
			existing[tp.Topic][n] = true
		}
	}
	var ops []any
	for _, tp := range tps {
		p := z.paths.Offset(group, tp.Topic, tp.Partition)
		if !existing[tp.Topic][path.Base(p)] {
			ops = append(ops, &zk.CreateRequest{Path: p, Data: layout.EncodeOffset(offsets[tp]), Acl: z.acl})
		}
	}
	return ops, nil
}

// createEach runs the creates in multis within the budget, dropping each
// that another member made meanwhile and trying again.
func (z *Client) createEach(ctx context.Context, ops []any) error {
	for len(ops) > 0 {
		n, err := z.fit("create offsets", len(ops), 0, func(i int) int { return opBytes(ops[i]) }, func(i int) string { return opPath(ops[i]) })
		if err != nil {
			return err
		}
		conflict, err := z.createOffsets(ctx, ops[:n])
		switch {
		case err != nil:
			return err
		case conflict < 0:
			ops = ops[n:]
		default:
			ops = slices.Delete(ops, conflict, conflict+1) // created meanwhile: keep it
		}
	}
	return nil
}
