package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup/zookeeper"
	"github.com/twmb/franz-go/pkg/kadm"
)

// Taking partitions: the claim policy (those nobody owns in one multi, a
// claimer waiting on a watch for each of the others) and the take-over of
// what was claimed (committed offsets, InitialOffset, then the engine
// delivers them).

// claimFree claims those of tps that nobody owns at once, in one multi
// (after a look at their owner nodes, OwnedAmong), and takes them over; a
// claimer waits, through a watch, for each of the others. Many members
// starting together, or one taking a thousand partitions, so claim in a
// few round trips instead of one per partition.
func (m *member) claimFree(tps []TopicPartition) error {
	c, g := m.c, m.c.g
	seen := time.Now()
	owned := make(map[TopicPartition]bool)
	byTopic := make(map[string][]int32)
	for _, tp := range tps {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	for topic, parts := range byTopic {
		ownedParts, err := c.zk.OwnedAmong(m.ctx, g.name, topic, parts)
		if err != nil {
			ownedParts = parts // unknown: leave them to the claimers
		}
		for _, p := range ownedParts {
			owned[TopicPartition{Topic: topic, Partition: p}] = true
		}
	}
	var free []TopicPartition
	for _, tp := range tps {
		// One with a claimer still ending waits for it (claim).
		if !owned[tp] && !m.claimerRunning(tp) {
			free = append(free, tp)
		}
	}
	got := make(map[TopicPartition]bool)
	if len(free) > 0 {
		claimed, err := c.zk.ClaimAll(m.ctx, g.name, m.id, free)
		if err != nil {
			g.log.Debug("claiming at once failed: one by one", "err", err)
		}
		for _, tp := range claimed {
			got[tp] = true
		}
	}
	var batch []claimResult
	for _, tp := range tps {
		if got[tp] {
			m.claiming[tp] = func() {} // taken over by started below
			batch = append(batch, claimResult{tp, seen})
			continue
		}
		m.claim(tp)
	}
	if len(batch) == 0 {
		return nil
	}
	return m.started(batch)
}

// claim starts a claimer for tp: it waits, through a watch on the owner
// node, until nobody owns tp, claims it and reports it on m.claimed. A
// partition has one claimer at work at a time: a new one starts once the
// one before it (canceled) has ended, so that one's release of its claim
// never deletes the node the new one claimed (both claim under the same
// id).
func (m *member) claim(tp TopicPartition) {
	ctx, cancel := context.WithCancel(m.ctx)
	m.claiming[tp] = cancel
	prev := m.claimDone[tp]
	done := make(chan struct{})
	if m.claimDone == nil {
		m.claimDone = make(map[TopicPartition]chan struct{})
	}
	m.claimDone[tp] = done
	m.claimers.Add(1)
	go func() {
		defer m.claimers.Done()
		defer close(done)
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
				return
			}
		}
		m.claimer(ctx, tp)
	}()
}

// claimer is the work of claim's goroutine: until ctx ends or the member
// is over, it waits for tp to have no owner, then claims it (takeFree).
func (m *member) claimer(ctx context.Context, tp TopicPartition) {
	c, g := m.c, m.c.g
	var waitFrom time.Time // since when the previous owner holds tp
	var prevOwner string
	for ctx.Err() == nil {
		owner, w, err := c.zk.OwnerW(ctx, g.name, tp.Topic, tp.Partition)
		if err == nil && owner != "" && owner != m.id && owner != prevOwner {
			if prevOwner == "" {
				waitFrom = time.Now()
			}
			prevOwner = owner
			g.log.Debug("hand-off waits for the previous owner's release", "partition", tp, "owner", owner)
		}
		// Its own id: a claim of this member's that was reported as
		// failed yet applied; Claim recognizes it as this session's.
		if err == nil && (owner == "" || owner == m.id) {
			free := time.Now()
			if prevOwner != "" {
				logWait(g.log, "hand-off: the previous owner released", free.Sub(waitFrom), "partition", tp, "owner", prevOwner)
			}
			var over bool
			if over, err = m.takeFree(ctx, tp, free); over {
				return
			}
			if errors.Is(err, ErrAlreadyClaimed) {
				continue
			}
		}
		switch {
		case err == nil, errors.Is(err, ErrBadData):
			// Owned by someone (or by a node we cannot read): wait
			// for it to change.
			if w != nil {
				select {
				case <-w:
				case <-ctx.Done():
				}
				continue
			}
		case errors.Is(err, ErrNotRegistered), errors.Is(err, ErrSessionExpired), errors.Is(err, ErrClosed):
			return // the member is over; run starts again
		}
		if ctx.Err() == nil && err != nil {
			g.log.Debug("claim failed, retrying", "partition", tp, "err", err)
		}
		select {
		case <-time.After(claimRetry):
		case <-ctx.Done():
		}
	}
}

// takeFree claims tp, seen without an owner at free, and reports it on
// m.claimed. over: the claimer's work is done (claimed and reported, or
// given up); otherwise err says why the claim failed.
func (m *member) takeFree(ctx context.Context, tp TopicPartition, free time.Time) (over bool, err error) {
	c, g := m.c, m.c.g
	err = m.claimBatched(ctx, tp)
	if err == nil {
		select {
		case m.claimed <- claimResult{tp, free}:
			return true, nil
		case <-ctx.Done():
		}
		// Given up meanwhile, after the claim: let go of it (no other
		// claimer of tp runs until this one ends).
		rctx, rcancel := context.WithTimeout(context.Background(), g.cfg.ZookeeperTimeout)
		c.zk.Release(rctx, g.name, tp.Topic, tp.Partition, m.id)
		rcancel()
		return true, nil
	}
	if ctx.Err() != nil {
		return true, err // Claim undid what it may have created
	}
	return false, err
}

// claimBatch gathers the claims of the claimers (claimBatched): one
// ZooKeeper session sends one request at a time, and claims are serialized
// (zookeeper.Client's claim lock), so a member taking 900 partitions as
// their owners release them made 900 round trips in a row (about 0.8 s of a
// join at 10 members on 10,000 partitions). The claims that arrive while a
// batch is under way go in the next one.
type claimBatch struct {
	mu      sync.Mutex
	pending []*claimWait
	running bool // a goroutine sends the pending claims (sendClaims)
	sent    int  // batches sent (ClaimAll calls)
}

// claimWait is one claimer's claim in a batch, answered on done.
type claimWait struct {
	tp   TopicPartition
	done chan error
}

// errNotInBatch: the batch claimed other partitions but not this one,
// without saying why (zookeeper.Client.ClaimAll leaves owned ones out).
var errNotInBatch = errors.New("not claimed in the batch")

// claimBatched claims tp for this member, as zookeeper.Client.Claim does,
// in a batch with the other claimers' claims (ClaimAll: one transaction per
// chunk). A partition the batch leaves out is claimed alone (Claim), which
// says why: ErrAlreadyClaimed when another member owns it. The claim, once
// queued, is waited for even when ctx ends, as Claim's is: takeFree lets go
// of a claim made for a claimer given up meanwhile.
func (m *member) claimBatched(ctx context.Context, tp TopicPartition) error {
	w := &claimWait{tp: tp, done: make(chan error, 1)}
	b := &m.batch
	b.mu.Lock()
	b.pending = append(b.pending, w)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		m.claimers.Add(1) // called by a claimer: the count is above zero
		go func() {
			defer m.claimers.Done()
			m.sendClaims()
		}()
	}
	err := <-w.done
	if errors.Is(err, errNotInBatch) {
		err = m.c.zk.Claim(ctx, m.c.g.name, tp.Topic, tp.Partition, m.id)
	}
	return err
}

// sendClaims sends the pending claims, a batch at a time, until none is
// left.
func (m *member) sendClaims() {
	b := &m.batch
	for {
		b.mu.Lock()
		batch := b.pending
		b.pending = nil
		if len(batch) == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.sent++
		b.mu.Unlock()
		tps := make([]TopicPartition, len(batch))
		for i, w := range batch {
			tps[i] = w.tp
		}
		claimed, err := m.c.zk.ClaimAll(m.ctx, m.c.g.name, m.id, tps)
		got := make(map[TopicPartition]bool, len(claimed))
		for _, tp := range claimed {
			got[tp] = true
		}
		for _, w := range batch {
			switch {
			case got[w.tp]:
				w.done <- nil
			case err != nil:
				w.done <- err
			default:
				w.done <- errNotInBatch
			}
		}
	}
}

// claimerRunning reports whether a claimer of tp has not ended yet.
func (m *member) claimerRunning(tp TopicPartition) bool {
	done := m.claimDone[tp]
	if done == nil {
		return false
	}
	select {
	case <-done:
		delete(m.claimDone, tp)
		return false
	default:
		return true
	}
}

// cancelClaims stops every claimer and waits for them. It returns what
// they claimed and reported without the loop taking it over.
func (m *member) cancelClaims() []TopicPartition {
	for tp, cancel := range m.claiming {
		cancel()
		delete(m.claiming, tp)
	}
	m.claimers.Wait()
	var orphans []TopicPartition
	for {
		select {
		case r := <-m.claimed:
			if !m.held[r.tp] {
				orphans = append(orphans, r.tp)
			}
		default:
			return orphans
		}
	}
}

// release lets go of a claimed partition this member does not hold, even
// when Close is under way (Close cancels m.ctx; the session's end still
// stops it, and takes the claim with it).
func (m *member) release(tp TopicPartition) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), m.c.g.cfg.ZookeeperTimeout)
	defer cancel()
	return m.c.zk.Release(ctx, m.c.g.name, tp.Topic, tp.Partition, m.id)
}

// started takes over claimed partitions: it reads their committed offsets
// (or applies InitialOffset and writes it at once, in one write for all, so
// that tools enumerating offsets see every partition) and starts fetching.
func (m *member) started(batch []claimResult) error {
	tps, err := m.claimedNow(batch)
	if err != nil {
		return err
	}
	if len(tps) == 0 {
		m.maybeDone()
		return nil
	}
	return m.takeOver(tps)
}

// claimedNow sorts out claim results: it returns, sorted, the claimed
// partitions to take over (claimed for the assignment in force, not held
// yet), lets go of those claimed for an assignment that has passed, and
// starts a claimer again for one released since it was claimed.
func (m *member) claimedNow(batch []claimResult) ([]TopicPartition, error) {
	c, g := m.c, m.c.g
	mine := m.mine()
	var tps []TopicPartition
	for _, r := range batch {
		if !m.held[r.tp] && !c.zk.ClaimedBy(g.name, r.tp, m.id) {
			// Released since it was claimed (a result that waited in
			// the channel while the partition was taken over and given
			// up): nothing to take over; a claimer at work goes on, one
			// that ended is started again.
			if mine[r.tp] && m.claiming[r.tp] != nil && !m.claimerRunning(r.tp) {
				m.claim(r.tp)
			}
			continue
		}
		g.obs.claimed(r.free)
		cancel := m.claiming[r.tp]
		if cancel != nil {
			cancel()
			delete(m.claiming, r.tp)
		}
		if m.held[r.tp] || m.kafkaWait[r.tp] {
			continue
		}
		if cancel == nil || !mine[r.tp] {
			// Claimed for a generation that has passed: let go of it.
			if err := m.release(r.tp); err != nil {
				return nil, err
			}
			continue
		}
		tps = append(tps, r.tp)
	}
	sortPartitions(tps)
	return tps, nil
}

// takeOver starts delivering tps, claimed: from their committed offsets,
// or from InitialOffset, written at once for every partition of their
// topics that has none. Offsets it cannot read in ZooKeeper give the
// partitions back; offsets Kafka cannot list keep them, waiting for Kafka
// (awaitKafka).
func (m *member) takeOver(tps []TopicPartition) error {
	c, g := m.c, m.c.g
	t0 := time.Now()
	starts, err := m.startOffsets(tps)
	logWait(g.log, "hand-off: read the committed offsets", time.Since(t0), "partitions", partitionList(tps))
	if errors.Is(err, ErrKafkaUnreachable) && m.ctx.Err() == nil {
		m.awaitKafka(tps, err) // keep them: asked again, backing off
		return nil
	}
	if err != nil {
		// Could not read offsets: give the partitions back; the leader's
		// assignment still names this member, so apply claims them again.
		for _, tp := range tps {
			if rerr := m.release(tp); rerr != nil {
				g.log.Warn("releasing after a failed start", "partition", tp, "err", rerr)
			}
		}
		return err
	}
	// Those without a usable committed offset start at InitialOffset's,
	// written at once (the leader wrote the missing nodes of the whole topic
	// beforehand: see fillOffsets).
	initial := make(map[TopicPartition]int64)
	for _, tp := range tps {
		if s := starts[tp]; s.initial {
			initial[tp] = s.offset
		}
	}
	m.kafkaAnswered()
	for _, tp := range tps {
		m.held[tp] = true
	}
	if err := c.zk.CommitOffsets(m.ctx, g.name, m.id, initial); err != nil {
		return err
	}
	begin := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		m.committed[tp] = starts[tp].offset
		begin[tp] = starts[tp].offset
		m.gotNow = append(m.gotNow, tp)
	}
	c.dual.add(begin) // Kafka's copy starts from ZooKeeper's offsets
	c.eng.assigned(begin)
	m.publishHeld()
	g.log.Debug("claimed", "id", m.id, "partitions", partitionList(tps))
	m.maybeDone()
	return nil
}

// start is where a partition starts, and whether it had no committed offset
// (or one out of range).
type start struct {
	offset  int64
	initial bool
}

// startOffsets reads the committed offsets of tps and checks them against
// the log's bounds; partitions without a usable one start at InitialOffset.
func (m *member) startOffsets(tps []TopicPartition) (map[TopicPartition]start, error) {
	g := m.c.g
	// The committed offsets (ZooKeeper) read while Kafka lists the bounds.
	var committed map[TopicPartition]zookeeper.OffsetRead
	var readErr error
	var wg sync.WaitGroup
	wg.Go(func() { committed, readErr = m.c.zk.ReadOffsets(m.ctx, g.name, tps) })
	lows, highs, err := m.listBounds(tps)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	bound := func(l kadm.ListedOffsets, tp TopicPartition) (int64, error) {
		o, ok := l.Lookup(tp.Topic, tp.Partition)
		if !ok {
			return 0, fmt.Errorf("%w: no offsets listed for %s/%d", ErrKafkaUnreachable, tp.Topic, tp.Partition)
		}
		if o.Err != nil {
			return 0, fmt.Errorf("%w: offsets of %s/%d: %w", ErrKafkaUnreachable, tp.Topic, tp.Partition, o.Err)
		}
		return o.Offset, nil
	}
	out := make(map[TopicPartition]start, len(tps))
	for _, tp := range tps {
		low, err := bound(lows, tp)
		if err != nil {
			return nil, err
		}
		high, err := bound(highs, tp)
		if err != nil {
			return nil, err
		}
		out[tp] = m.startOf(tp, committed[tp], low, high)
	}
	return out, nil
}

// startOf is where tp starts: its committed offset, or InitialOffset's
// when it has none, or one outside the log's bounds low..high (retention
// removed it: reported), or one that cannot be read (reported: the oldest
// message, so that nothing is lost).
func (m *member) startOf(tp TopicPartition, committed zookeeper.OffsetRead, low, high int64) start {
	g := m.c.g
	policy := low
	if g.cfg.InitialOffset == OffsetNewest {
		policy = high
	}
	off, err := committed.Offset, committed.Err
	switch {
	case errors.Is(err, ErrNoNode):
		return start{policy, true}
	case errors.Is(err, ErrBadData):
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: err})
		return start{low, true}
	case off < low || off > high:
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: fmt.Errorf(
			"%w: %s/%d committed %d, log holds %d..%d: restarting at %d", ErrOffsetReset, tp.Topic, tp.Partition, off, low, high, policy)})
		return start{policy, true}
	}
	return start{off, false}
}
