package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// mine returns the partitions the published assignment gives this member.
func (m *member) mine() map[TopicPartition]bool {
	out := make(map[TopicPartition]bool)
	for t, ps := range m.assign.Members[m.id] {
		for _, p := range ps {
			out[TopicPartition{t, p}] = true
		}
	}
	return out
}

// apply moves the member toward the published assignment: it gives up what
// moved away (stop, drain, commit, release) and starts claiming what moved
// to it. Partitions that stay are not touched.
func (m *member) apply() error {
	g := m.g
	if m.assign.Generation == 0 {
		return nil // nothing published yet
	}
	if m.assign.Strategy != g.strategy.Name() && m.mismatch != m.assign.Generation {
		m.mismatch = m.assign.Generation
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: fmt.Errorf(
			"%w: the leader %s uses %q, this member %q", ErrStrategyMismatch, m.assign.Leader, m.assign.Strategy, g.strategy.Name())})
	}
	mine := m.mine()
	var give []TopicPartition
	for tp := range m.held {
		if !mine[tp] {
			give = append(give, tp)
		}
	}
	for tp, cancel := range m.claiming {
		if !mine[tp] {
			cancel()
			delete(m.claiming, tp)
		}
	}
	var take []TopicPartition
	for tp := range mine {
		if !m.held[tp] && m.claiming[tp] == nil {
			take = append(take, tp)
		}
	}
	if len(give) == 0 && len(take) == 0 {
		m.maybeDone()
		return nil
	}
	if !m.rebalancing {
		m.rebalancing = true
		g.notify(&Notification{Type: REBALANCE_START, Generation: m.assign.Generation})
	}
	sortPartitions(give)
	sortPartitions(take)
	// A hand-off under way completes even if Close comes meanwhile: Close
	// only cancels m.ctx; the session's end still stops it (fenced).
	hctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), 2*g.cfg.HandoffTimeout+g.cfg.ZookeeperTimeout)
	err := m.giveUp(hctx, give, false)
	cancel()
	if serr := m.claimFree(take); serr != nil {
		err = errors.Join(err, serr)
	}
	m.maybeDone()
	return err
}

// claimFree claims those of tps that nobody owns at once, in one multi
// (after one listing of owners/<topic> per topic), and takes them over; a
// claimer waits, through a watch, for each of the others. Many members
// starting together, or one taking a thousand partitions, so claim in a
// few round trips instead of one per partition.
func (m *member) claimFree(tps []TopicPartition) error {
	g := m.g
	seen := time.Now()
	owned := make(map[TopicPartition]bool)
	listed := make(map[string]bool)
	for _, tp := range tps {
		if listed[tp.Topic] {
			continue
		}
		listed[tp.Topic] = true
		names, err := g.zk.children(m.ctx, "list owners", g.zk.paths.OwnersTopic(g.name, tp.Topic))
		if err != nil && !errors.Is(err, ErrNoNode) {
			names = nil
			for _, o := range tps { // unknown: leave them to the claimers
				if o.Topic == tp.Topic {
					owned[o] = true
				}
			}
		}
		for _, n := range names {
			if p, err := layout.ParsePartition(n); err == nil {
				owned[TopicPartition{tp.Topic, p}] = true
			}
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
		claimed, err := g.zk.ClaimAll(m.ctx, g.name, m.id, free)
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

// maybeDone sends REBALANCE_OK once nothing is being claimed.
func (m *member) maybeDone() {
	if !m.rebalancing || len(m.claiming) > 0 {
		return
	}
	m.rebalancing = false
	sortPartitions(m.gotNow)
	sortPartitions(m.gaveNow)
	m.g.notify(&Notification{Type: REBALANCE_OK, Generation: m.assign.Generation, Claimed: m.gotNow, Released: m.gaveNow})
	m.gotNow, m.gaveNow = nil, nil
}

// giveUp hands tps over: it stops delivering them, waits (at most
// HandoffTimeout) for the message in the application's hands if it is one
// of theirs, commits their processed offsets in one fenced write, and
// releases them. When closing, it does not wait: the message in hand
// counts as processed (Close).
func (m *member) giveUp(ctx context.Context, tps []TopicPartition, closing bool) error {
	if len(tps) == 0 {
		return nil
	}
	g := m.g
	t0 := g.obs.handoff()
	var processed map[TopicPartition]int64
	var limit time.Duration // what the wait was bounded by; 0 when closing
	if closing {
		processed = g.deliverer().closing(tps)
	} else {
		limit = g.cfg.HandoffTimeout
		processed = g.handOff(g.deliverer(), tps, m.assign.Generation)
	}
	g.obs.handedOff(tps, t0, limit)
	offsets := make(map[TopicPartition]int64, len(processed))
	for tp, off := range processed {
		if c, ok := m.committed[tp]; !ok || c != off {
			offsets[tp] = off
		}
	}
	var errs []error
	tc := time.Now()
	if err := g.zk.CommitOffsets(ctx, g.name, m.id, offsets); g.obs.committedErr(offsets, tc, err) != nil {
		errs = append(errs, fmt.Errorf("commit on release: %w", err))
		g.dual.forget(tps)
	} else if g.dual != nil {
		g.dual.handOff(ctx, m.final(tps, offsets))
	}
	// One multi for all: the members waiting for them are woken at once.
	if err := g.zk.ReleaseAll(ctx, g.name, m.id, tps); err != nil {
		errs = append(errs, err)
	}
	for _, tp := range tps {
		delete(m.held, tp)
		delete(m.committed, tp)
		m.gaveNow = append(m.gaveNow, tp)
	}
	m.publishHeld()
	logWait(g.log, "hand-off: committed and released", time.Since(tc), "id", m.id, "partitions", tps)
	return errors.Join(errs...)
}

// final returns the offsets of tps as committed in ZooKeeper: those just
// written, the others as committed before.
func (m *member) final(tps []TopicPartition, written map[TopicPartition]int64) map[TopicPartition]int64 {
	out := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		if off, ok := written[tp]; ok {
			out[tp] = off
		} else if off, ok := m.committed[tp]; ok {
			out[tp] = off
		}
	}
	return out
}

// claim starts a claimer for tp: it waits, through a watch on the owner
// node, until nobody owns tp, claims it and reports it on m.claimed. A
// partition has one claimer at work at a time: a new one starts once the
// one before it (canceled) has ended, so that one's release of its claim
// never deletes the node the new one claimed (both claim under the same
// id).
func (m *member) claim(tp TopicPartition) {
	g := m.g
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
		var waitFrom time.Time // since when the previous owner holds tp
		var prevOwner string
		for ctx.Err() == nil {
			owner, w, err := g.zk.OwnerW(ctx, g.name, tp.Topic, tp.Partition)
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
				err = g.zk.Claim(ctx, g.name, tp.Topic, tp.Partition, m.id)
				if err == nil {
					select {
					case m.claimed <- claimResult{tp, free}:
						return
					case <-ctx.Done():
					}
					// Given up meanwhile, after the claim: let go of it
					// (no other claimer of tp runs until this one ends).
					rctx, rcancel := context.WithTimeout(context.Background(), g.cfg.ZookeeperTimeout)
					g.zk.Release(rctx, g.name, tp.Topic, tp.Partition, m.id)
					rcancel()
					return
				}
				if ctx.Err() != nil {
					return // Claim undid what it may have created
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
	}()
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

// started takes over claimed partitions: it reads their committed offsets
// (or applies InitialOffset and writes it at once, in one write for all, so
// that tools enumerating offsets see every partition) and starts fetching.
func (m *member) started(batch []claimResult) error {
	g := m.g
	mine := m.mine()
	var tps []TopicPartition
	for _, r := range batch {
		if !m.held[r.tp] && !g.zk.claimedBy(g.name, r.tp, m.id) {
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
		if m.held[r.tp] {
			continue
		}
		if cancel == nil || !mine[r.tp] {
			// Claimed for a generation that has passed: let go of it.
			if err := m.release(r.tp); err != nil {
				return err
			}
			continue
		}
		tps = append(tps, r.tp)
	}
	if len(tps) == 0 {
		m.maybeDone()
		return nil
	}
	sortPartitions(tps)
	t0 := time.Now()
	starts, policies, err := m.startOffsets(tps)
	logWait(g.log, "hand-off: read the committed offsets", time.Since(t0), "partitions", tps)
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
	initial := make(map[TopicPartition]int64)
	for _, tp := range tps {
		if s := starts[tp]; s.initial {
			initial[tp] = s.offset
		}
	}
	for _, tp := range tps {
		m.held[tp] = true
	}
	if len(initial) > 0 {
		// Every missing offset node of these topics, the other members'
		// too, appears at once (the owners keep the value or commit theirs).
		fill := make(map[TopicPartition]int64, len(policies))
		for tp, off := range policies {
			if s, ok := starts[tp]; ok {
				off = s.offset
			}
			fill[tp] = off
		}
		if err := g.zk.createMissingOffsets(m.ctx, g.name, fill); err != nil {
			return err
		}
	}
	if err := g.zk.CommitOffsets(m.ctx, g.name, m.id, initial); err != nil {
		return err
	}
	begin := make(map[TopicPartition]int64, len(tps))
	for _, tp := range tps {
		m.committed[tp] = starts[tp].offset
		begin[tp] = starts[tp].offset
		m.gotNow = append(m.gotNow, tp)
	}
	g.dual.add(begin) // Kafka's copy starts from ZooKeeper's offsets
	g.deliverer().assigned(begin)
	m.publishHeld()
	g.log.Debug("claimed", "id", m.id, "partitions", tps)
	m.maybeDone()
	return nil
}

// release lets go of a claimed partition this member does not hold, even
// when Close is under way (Close cancels m.ctx; the session's end still
// stops it, and takes the claim with it).
func (m *member) release(tp TopicPartition) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), m.g.cfg.ZookeeperTimeout)
	defer cancel()
	return m.g.zk.Release(ctx, m.g.name, tp.Topic, tp.Partition, m.id)
}

// start is where a partition starts, and whether it had no committed offset
// (or one out of range).
type start struct {
	offset  int64
	initial bool
}

// startOffsets reads the committed offsets of tps and checks them against
// the log's bounds; partitions without a usable one start at InitialOffset.
// It also returns InitialOffset's offset for every partition of the topics
// of tps.
func (m *member) startOffsets(tps []TopicPartition) (map[TopicPartition]start, map[TopicPartition]int64, error) {
	g := m.g
	topics := make([]string, 0, len(tps))
	for _, tp := range tps {
		if !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
	}
	lows, highs, err := m.listBounds(topics, tps)
	if err != nil {
		return nil, nil, err
	}
	bound := func(l kadm.ListedOffsets, tp TopicPartition) (int64, error) {
		o, ok := l.Lookup(tp.Topic, tp.Partition)
		if !ok {
			return 0, fmt.Errorf("consumergroup: no offsets listed for %s/%d", tp.Topic, tp.Partition)
		}
		return o.Offset, o.Err
	}
	committed := m.readOffsets(tps)
	out := make(map[TopicPartition]start, len(tps))
	for _, tp := range tps {
		low, err := bound(lows, tp)
		if err != nil {
			return nil, nil, err
		}
		high, err := bound(highs, tp)
		if err != nil {
			return nil, nil, err
		}
		policy := low
		if g.cfg.InitialOffset == OffsetNewest {
			policy = high
		}
		off, err := committed[tp].offset, committed[tp].err
		switch {
		case errors.Is(err, ErrNoNode):
			out[tp] = start{policy, true}
		case errors.Is(err, ErrBadData):
			// Nothing is lost from the oldest message still in the log.
			g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: err})
			out[tp] = start{low, true}
		case err != nil:
			return nil, nil, err
		case off < low || off > high:
			g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: fmt.Errorf(
				"%w: %s/%d committed %d, log holds %d..%d: restarting at %d", ErrOffsetReset, tp.Topic, tp.Partition, off, low, high, policy)})
			out[tp] = start{policy, true}
		default:
			out[tp] = start{off, false}
		}
	}
	policies := make(map[TopicPartition]int64)
	pick := lows
	if g.cfg.InitialOffset == OffsetNewest {
		pick = highs
	}
	pick.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset >= 0 {
			policies[TopicPartition{o.Topic, o.Partition}] = o.Offset
		}
	})
	return out, policies, nil
}

// readResult is a committed offset read, or why not.
type readResult struct {
	offset int64
	err    error
}

// readOffsets reads the committed offsets of tps, a few requests in flight
// at once (go-zookeeper pipelines them on the connection): a member taking
// a thousand partitions reads them in a few round trips.
func (m *member) readOffsets(tps []TopicPartition) map[TopicPartition]readResult {
	g := m.g
	out := make(map[TopicPartition]readResult, len(tps))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, offsetReadsInFlight)
	for _, tp := range tps {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			off, err := g.zk.Offset(m.ctx, g.name, tp.Topic, tp.Partition)
			mu.Lock()
			out[tp] = readResult{off, err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// listBounds lists the first and end offsets of topics. Partitions just
// added may be unknown to the client's metadata for a moment: it refreshes
// and asks again, for a few seconds at most.
func (m *member) listBounds(topics []string, tps []TopicPartition) (lows, highs kadm.ListedOffsets, err error) {
	g := m.g
	for attempt := 0; ; attempt++ {
		if lows, err = g.admin.ListStartOffsets(m.ctx, topics...); err != nil {
			return nil, nil, fmt.Errorf("consumergroup: list start offsets: %w", err)
		}
		if highs, err = g.admin.ListEndOffsets(m.ctx, topics...); err != nil {
			return nil, nil, fmt.Errorf("consumergroup: list end offsets: %w", err)
		}
		complete := true
		for _, tp := range tps {
			l, ok1 := lows.Lookup(tp.Topic, tp.Partition)
			h, ok2 := highs.Lookup(tp.Topic, tp.Partition)
			if !ok1 || !ok2 || l.Err != nil || h.Err != nil {
				complete = false
			}
		}
		if complete || attempt == boundsAttempts {
			return lows, highs, nil
		}
		g.client.ForceMetadataRefresh()
		select {
		case <-time.After(boundsRetry):
		case <-m.ctx.Done():
			return nil, nil, m.ctx.Err()
		}
	}
}

// commit commits the processed offsets of the held partitions that moved
// since the last commit, in one fenced write.
func (m *member) commit(ctx context.Context) error {
	g := m.g
	offsets := g.deliverer().processed()
	for tp, off := range offsets {
		if !m.held[tp] || m.committed[tp] == off {
			delete(offsets, tp)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	t0 := time.Now()
	if err := g.zk.CommitOffsets(ctx, g.name, m.id, offsets); g.obs.committedErr(offsets, t0, err) != nil {
		return err
	}
	for tp, off := range offsets {
		m.committed[tp] = off
	}
	g.dual.add(offsets)
	g.mu.Lock()
	for tp, off := range offsets {
		g.commits[tp] = off
	}
	g.mu.Unlock()
	return nil
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

// leave is the graceful end (Close): stop delivering, count the message in
// hand as processed, commit, release, deregister.
func (m *member) leave(orphans []TopicPartition) {
	g := m.g
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.HandoffTimeout+g.cfg.ZookeeperTimeout)
	defer cancel()
	if err := g.zk.ReleaseAll(ctx, g.name, m.id, orphans); err != nil {
		g.log.Warn("leaving", "err", err)
	}
	var tps []TopicPartition
	for tp := range m.held {
		tps = append(tps, tp)
	}
	sortPartitions(tps)
	if err := m.giveUp(ctx, tps, true); err != nil {
		g.log.Warn("leaving", "err", err)
	}
	if err := g.zk.DeregisterConsumer(ctx, g.name, m.id); err != nil {
		g.log.Warn("deregistering", "err", err)
	}
	g.log.Info("left", "id", m.id)
}

// drop is the end of a registration whose session is gone: stop delivering
// at once; nothing can be committed or released any more (the fence would
// refuse it, and the owner nodes are gone with the session).
func (m *member) drop() {
	g := m.g
	var tps []TopicPartition
	for tp := range m.held {
		tps = append(tps, tp)
	}
	g.deliverer().lost(tps)
	g.dual.forget(tps)
	clear(m.held)
	m.publishHeld()
	g.mu.Lock()
	g.id = ""
	g.mu.Unlock()
	g.log.Warn("lost the session: stopped every partition", "id", m.id, "partitions", len(tps))
}

// publishHeld refreshes the snapshot read by Claims.
func (m *member) publishHeld() {
	held := make([]TopicPartition, 0, len(m.held))
	for tp := range m.held {
		held = append(held, tp)
	}
	sortPartitions(held)
	m.g.obs.held(held)
	m.g.mu.Lock()
	m.g.held = held
	for tp := range m.g.commits {
		if !m.held[tp] {
			delete(m.g.commits, tp)
		}
	}
	m.g.mu.Unlock()
}
