package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// Claims and releases of many partitions at once, in multis within the
// budget of a request (requests.go), and the undoing of claims whose caller
// was told they failed.

// claimMulti sends a claim's multi (ops: a check of the registration, then
// the creates of the owner nodes of keys) and returns multi's answer.
// go-zookeeper cannot cancel a request: when ctx ends first, the claim may
// still be applied. A claim reported as failed must leave no owner node
// behind (its caller, told it failed, never releases it, and the node
// would outlive the member's leave), so claimMulti then waits for the
// answer, at most a session timeout, and deletes the nodes the request
// created; past that wait a goroutine of the Client does it when the answer
// comes (or the connection ends, and the nodes with it). Called with
// claimMu held.
func (z *Client) claimMulti(ctx context.Context, keys []claimKey, id string, ops []any) (int, error) {
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	type answer struct {
		i   int
		err error
	}
	done := make(chan answer, 1)
	if !z.goFuncOpen(func() {
		i, err := z.multi(z.ctx, ops...)
		done <- answer{i, err}
	}) {
		return -1, ErrClosed
	}
	select {
	case a := <-done:
		return a.i, a.err
	case <-ctx.Done():
	}
	// Maybe created by this request (node exists: by an earlier attempt of
	// it, resent after a lost connection).
	created := func(a answer) bool { return a.err == nil || errors.Is(a.err, zk.ErrNodeExists) }
	timer := time.NewTimer(z.timeout)
	defer timer.Stop()
	select {
	case a := <-done:
		if created(a) {
			z.undoClaims(keys, id)
		}
	case <-timer.C:
		z.goFuncOpen(func() {
			if a := <-done; created(a) {
				z.claimMu.Lock()
				defer z.claimMu.Unlock()
				z.undoClaims(keys, id)
			}
		})
	}
	return -1, ctx.Err()
}

// undoClaims deletes the owner nodes of keys that this session created for
// id and that no claim of this Client holds: claims whose caller was told
// they failed. A node is deleted only if it holds id and this session is
// its ephemeral owner (read first), at the version read: a node another
// member created, or another session of this Client, is left alone. It
// stops at the first failure to reach ZooKeeper for a session timeout: the
// server then ends the session, and its nodes with it. Called with claimMu
// held.
func (z *Client) undoClaims(keys []claimKey, id string) {
	sid := z.sessionID()
	if sid == 0 {
		return // no session: its nodes are gone, or going with it
	}
	for _, key := range keys {
		if _, held := z.claims[key]; held {
			continue
		}
		owner := z.paths.Owner(key.group, key.topic, key.partition)
		ctx, cancel := context.WithTimeout(z.ctx, z.timeout)
		data, stat, err := z.get(ctx, "undo claim", owner)
		if err == nil && string(data) == id && stat.EphemeralOwner == sid {
			err = pathErr("undo claim", owner, z.call(ctx, func(conn *zk.Conn) error { return conn.Delete(owner, stat.Version) }))
		}
		cancel()
		switch {
		case err == nil, errors.Is(err, ErrNoNode), errors.Is(err, zk.ErrBadVersion):
		case errors.Is(err, ErrConnectionLoss), errors.Is(err, ErrClosed), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			z.log.Warn("undoing a failed claim: left to the session's end", "path", owner, "err", err)
			return
		default:
			z.log.Warn("undoing a failed claim", "path", owner, "err", err)
		}
	}
}

// ClaimAll claims the partitions tps for member id, as Claim claims each:
// a check that id is registered and the creation of their owner nodes, in
// one transaction, or in as few as Config.MaxRequestBytes allows (chunks,
// in the order of tps: 10,000 partitions take 3 at the default budget).
// Partitions that turn out to be owned by another member are left out and
// the rest claimed again (at most a few times: a caller expecting them
// free lists the owned ones first); it returns the partitions claimed, the
// others are owned by someone or left for the caller to claim one by one
// (Claim, OwnerW). Partitions this session already claimed for id count as
// claimed. ErrNotRegistered when id is not registered in this session's
// view.
//
// A claim that fails leaves no owner node behind, chunked or not: each
// chunk is all or nothing, and when one fails (registration gone, ctx
// ended, ZooKeeper unreachable) the owner nodes the earlier chunks of this
// call created are deleted again (undoClaims: only those holding id whose
// ephemeral owner is this session) and are not returned. A node whose
// deletion cannot be sent ends with the session. A partition whose owner
// node would alone be over the budget fails the call, before anything is
// sent, with ErrRequestTooLarge.
func (z *Client) ClaimAll(ctx context.Context, group, id string, tps []TopicPartition) ([]TopicPartition, error) {
	r := &claimRun{z: z, group: group, id: id}
	r.reg = &zk.CheckVersionRequest{Path: z.paths.ID(group, id), Version: -1}
	if err := r.check(tps); err != nil {
		return nil, err
	}
	z.claimMu.Lock()
	defer z.claimMu.Unlock()
	r.sid = z.sessionID()
	r.todo = slices.Clone(tps)
	if err := r.makeOwners(ctx); err != nil {
		return nil, err
	}
	for len(r.todo) > 0 {
		done, err := r.chunk(ctx)
		if done || err != nil {
			return r.claimed, err
		}
	}
	return r.claimed, nil
}

// claimRun is one ClaimAll: what it claimed and created so far.
type claimRun struct {
	z         *Client
	group, id string
	sid       int64                   // the session claiming
	reg       *zk.CheckVersionRequest // the registration's check, in every chunk
	todo      []TopicPartition        // not claimed yet
	claimed   []TopicPartition        // held, to return
	created   []claimKey              // created by this call: undone if it fails
	chunks    int                     // chunks done
	conflicts int                     // conflicts met (bounded by claimConflicts)
}

// create is the creation of tp's owner node.
func (r *claimRun) create(tp TopicPartition) *zk.CreateRequest {
	return &zk.CreateRequest{Path: r.z.paths.Owner(r.group, tp.Topic, tp.Partition), Data: []byte(r.id), Acl: r.z.acl, Flags: zk.FlagEphemeral}
}

// check refuses, before anything is sent, names that cannot be used and
// owner nodes that cannot fit in a request.
func (r *claimRun) check(tps []TopicPartition) error {
	if err := checkNames("claim", "group", r.group, "consumer id", r.id); err != nil {
		return err
	}
	for _, tp := range tps {
		if err := checkNames("claim", "topic", tp.Topic); err != nil {
			return err
		}
		if tp.Partition < 0 {
			return &PathError{Op: "claim", Path: r.z.paths.Owner(r.group, tp.Topic, tp.Partition), Err: ErrInvalidArgument, Cause: errors.New("negative partition")}
		}
		if size := multiBytes([]any{r.reg, r.create(tp)}); size > r.z.maxRequest() {
			return r.z.tooLarge("claim", r.create(tp).Path, size)
		}
	}
	return nil
}

// makeOwners, when the claim takes several chunks, makes the topics'
// owners nodes first rather than learn of a missing one from a failed
// multi of half a megabyte.
func (r *claimRun) makeOwners(ctx context.Context) error {
	n, _ := r.z.fit("claim", len(r.todo), opBytes(r.reg), func(i int) int { return opBytes(r.create(r.todo[i])) }, func(int) string { return "" })
	if n == len(r.todo) {
		return nil
	}
	made := map[string]bool{}
	for _, tp := range r.todo {
		if !made[tp.Topic] {
			made[tp.Topic] = true
			if err := r.z.mkdirAll(ctx, r.z.paths.OwnersTopic(r.group, tp.Topic)); err != nil {
				return err
			}
		}
	}
	return nil
}

// chunk claims the next chunk of todo in one multi. done: the claim is
// over (what was claimed stands, err says why it stopped).
func (r *claimRun) chunk(ctx context.Context) (done bool, err error) {
	z := r.z
	n, err := z.fit("claim", len(r.todo), opBytes(r.reg),
		func(i int) int { return opBytes(r.create(r.todo[i])) },
		func(i int) string { return r.create(r.todo[i]).Path })
	if err != nil {
		return true, r.fail(err)
	}
	keys := make([]claimKey, n)
	ops := make([]any, 0, 1+n)
	ops = append(ops, r.reg)
	for i, tp := range r.todo[:n] {
		keys[i] = claimKey{r.group, tp.Topic, tp.Partition}
		ops = append(ops, r.create(tp))
	}
	i, err := z.claimMulti(ctx, keys, r.id, ops)
	switch {
	case err == nil:
		for _, k := range keys {
			z.claims[k] = claim{id: r.id, session: r.sid}
		}
		r.created = append(r.created, keys...)
		r.claimed = append(r.claimed, r.todo[:n]...)
		if r.todo = r.todo[n:]; len(r.todo) > 0 {
			z.chunkDone("claim", r.chunks)
			r.chunks++
		}
		return false, nil
	case i == 0 && errors.Is(err, zk.ErrNoNode):
		return true, r.fail(&PathError{Op: "claim", Path: r.reg.Path, Err: ErrNotRegistered, Cause: err})
	case i > 0 && errors.Is(err, zk.ErrNoNode): // no owners/<topic> yet
		owner := opPath(ops[i])
		if r.conflicts++; r.conflicts > claimConflicts {
			return true, nil
		}
		if err := z.mkdirAll(ctx, path.Dir(owner)); err != nil {
			return true, r.fail(pathErr("claim", owner, err))
		}
		return false, nil
	case i > 0 && errors.Is(err, zk.ErrNodeExists):
		r.taken(ctx, keys[i-1], opPath(ops[i]), i-1)
		r.conflicts++
		return r.conflicts > claimConflicts, nil
	}
	p := ""
	if i >= 0 {
		p = opPath(ops[i])
	}
	return true, r.fail(pathErr("claim", p, err))
}

// taken handles todo[i], whose owner node exists: it is left out of the
// claim, and counted as claimed when the node is this session's (a claim
// of this member reported as failed yet applied).
func (r *claimRun) taken(ctx context.Context, k claimKey, owner string, i int) {
	tp := r.todo[i]
	r.todo = slices.Delete(r.todo, i, i+1)
	data, stat, err := r.z.get(ctx, "claim", owner)
	if err == nil && string(data) == r.id && stat.EphemeralOwner == r.sid && r.sid != 0 {
		r.z.claims[k] = claim{id: r.id, session: r.sid, version: stat.Version}
		r.claimed = append(r.claimed, tp)
	}
}

// fail undoes what this call created and returns err, with what is still
// claimed (claimed before the call and found this session's).
func (r *claimRun) fail(err error) error {
	if len(r.created) > 0 {
		undone := make(map[TopicPartition]bool, len(r.created))
		for _, k := range r.created {
			delete(r.z.claims, k)
			undone[TopicPartition{k.topic, k.partition}] = true
		}
		r.z.undoClaims(r.created, r.id)
		r.claimed = slices.DeleteFunc(r.claimed, func(tp TopicPartition) bool { return undone[tp] })
	}
	return err
}

// ReleaseAll gives up member id's claims on tps, as Release does for each,
// in one ZooKeeper multi, or in as few as Config.MaxRequestBytes allows
// (chunks, in the order of tps: 10,000 partitions take 2 at the default
// budget): the owner nodes vanish a transaction at a time, and every member
// waiting for one of them is woken then. Each multi checks that id is
// still registered (its registration node is ephemeral in the same session
// as its owner nodes) and each node's version, so it deletes only nodes
// this member holds: never a node another member created. Partitions
// claimed through this Client in the current session need no read; others
// are read first. When a multi fails (a node vanished meanwhile, the
// registration is gone), its partitions are released one by one, each
// checked as Release checks it, and the next chunk is sent. Once
// ReleaseAll starts, CommitOffsets no longer commits for tps.
func (z *Client) ReleaseAll(ctx context.Context, group, id string, tps []TopicPartition) error {
	if err := checkNames("release", "group", group, "consumer id", id); err != nil {
		return err
	}
	for _, tp := range tps {
		if err := checkNames("release", "topic", tp.Topic); err != nil {
			return err
		}
		if tp.Partition < 0 {
			return &PathError{Op: "release", Path: z.paths.Owner(group, tp.Topic, tp.Partition), Err: ErrInvalidArgument, Cause: errors.New("negative partition")}
		}
	}
	if len(tps) == 0 {
		return nil
	}
	z.claimMu.Lock()
	defer z.claimMu.Unlock()
	sid := z.sessionID()
	reg := &zk.CheckVersionRequest{Path: z.paths.ID(group, id), Version: -1}
	var errs []error
	var dels []any               // the deletes, in the order of tps
	var deletes []TopicPartition // their partitions
	for _, tp := range tps {
		key := claimKey{group, tp.Topic, tp.Partition}
		c, ok := z.claims[key]
		delete(z.claims, key)
		owner := z.paths.Owner(group, tp.Topic, tp.Partition)
		if ok && c.id == id && c.session == sid && sid != 0 {
			dels = append(dels, &zk.DeleteRequest{Path: owner, Version: c.version})
			deletes = append(deletes, tp)
			continue
		}
		data, stat, err := z.get(ctx, "release", owner)
		switch {
		case errors.Is(err, ErrNoNode):
		case err != nil:
			return err
		case string(data) != id:
			errs = append(errs, &PathError{Op: "release", Path: owner, Err: ErrNotOwner, Cause: fmt.Errorf("owned by %q", data)})
		default:
			dels = append(dels, &zk.DeleteRequest{Path: owner, Version: stat.Version})
			deletes = append(deletes, tp)
		}
	}
	for chunk := 0; len(dels) > 0; chunk++ {
		n, err := z.fit("release", len(dels), opBytes(reg),
			func(i int) int { return opBytes(dels[i]) },
			func(i int) string { return opPath(dels[i]) })
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if _, err := z.multi(ctx, append([]any{reg}, dels[:n]...)...); err != nil {
			if ctx.Err() != nil {
				return errors.Join(append(errs, pathErr("release", z.paths.OwnersTopic(group, deletes[0].Topic), err))...)
			}
			for _, tp := range deletes[:n] {
				if err := z.release(ctx, group, tp.Topic, tp.Partition, id); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if dels, deletes = dels[n:], deletes[n:]; len(dels) > 0 {
			z.chunkDone("release", chunk)
		}
	}
	return errors.Join(errs...)
}

// ClaimedBy reports whether this Client holds member id's claim of tp in
// the current session: claimed (Claim, ClaimAll) and not released since,
// and so a partition CommitOffsets commits for id. It asks nothing of the
// server: a member checks with it that a claim it made (on another
// goroutine, a while ago) still stands before it starts consuming.
func (z *Client) ClaimedBy(group string, tp TopicPartition, id string) bool {
	z.claimMu.RLock()
	defer z.claimMu.RUnlock()
	c, ok := z.claims[claimKey{group, tp.Topic, tp.Partition}]
	sid := z.sessionID()
	return ok && c.id == id && c.session == sid && sid != 0
}
