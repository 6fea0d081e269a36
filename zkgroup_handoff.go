package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Giving partitions up: the hand-off of what moved away (the engine's wait
// for the message in hand, one fenced commit, one release), the periodic
// commit, the graceful leave (Close) and the drop of a lost session.

// giveUp hands tps over: it stops delivering them, waits (at most
// HandoffTimeout) for the message in the application's hands if it is one
// of theirs, commits their processed offsets in one fenced write, and
// releases them. When closing, it does not wait: the message in hand
// counts as processed (Close).
func (m *member) giveUp(ctx context.Context, tps []TopicPartition, closing bool) error {
	if len(tps) == 0 {
		return nil
	}
	c, g := m.c, m.c.g
	processed := g.handOff(c.eng, tps, m.assign.Generation, closing)
	offsets := make(map[TopicPartition]int64, len(processed))
	for tp, off := range processed {
		if c, ok := m.committed[tp]; !ok || c != off {
			offsets[tp] = off
		}
	}
	var errs []error
	tc := time.Now()
	if err := c.zk.CommitOffsets(ctx, g.name, m.id, offsets); g.obs.committedErr(offsets, tc, err) != nil {
		errs = append(errs, fmt.Errorf("commit on release: %w", err))
		c.dual.forget(tps)
	} else if c.dual != nil {
		c.dual.handOff(ctx, m.final(tps, offsets))
	}
	// One multi for all: the members waiting for them are woken at once.
	if err := c.zk.ReleaseAll(ctx, g.name, m.id, tps); err != nil {
		errs = append(errs, err)
	}
	for _, tp := range tps {
		delete(m.held, tp)
		delete(m.committed, tp)
		m.gaveNow = append(m.gaveNow, tp)
	}
	m.publishHeld()
	logWait(g.log, "hand-off: committed and released", time.Since(tc), "id", m.id, "partitions", partitionList(tps))
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

// commit commits the processed offsets of the held partitions that moved
// since the last commit, in one fenced write.
func (m *member) commit(ctx context.Context) error {
	c, g := m.c, m.c.g
	offsets := c.eng.processed()
	for tp, off := range offsets {
		if !m.held[tp] || m.committed[tp] == off {
			delete(offsets, tp)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	t0 := time.Now()
	if err := c.zk.CommitOffsets(ctx, g.name, m.id, offsets); g.obs.committedErr(offsets, t0, err) != nil {
		return err
	}
	for tp, off := range offsets {
		m.committed[tp] = off
	}
	c.dual.add(offsets)
	return nil
}

// leave is the graceful end (Close): stop delivering, count the message in
// hand as processed, commit, release, deregister.
func (m *member) leave(orphans []TopicPartition) {
	c, g := m.c, m.c.g
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.HandoffTimeout+g.cfg.ZookeeperTimeout)
	defer cancel()
	if err := c.zk.ReleaseAll(ctx, g.name, m.id, orphans); err != nil {
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
	if err := c.zk.DeregisterConsumer(ctx, g.name, m.id); err != nil {
		g.log.Warn("deregistering", "err", err)
	}
	g.log.Info("left", "id", m.id)
}

// drop is the end of a registration whose session is gone: stop delivering
// at once; nothing can be committed or released any more (the fence would
// refuse it, and the owner nodes are gone with the session).
func (m *member) drop() {
	c, g := m.c, m.c.g
	var tps []TopicPartition
	for tp := range m.held {
		tps = append(tps, tp)
	}
	c.eng.lost(tps)
	c.dual.forget(tps)
	clear(m.held)
	m.publishHeld()
	g.member.setID("")
	g.log.Warn("lost the session: stopped every partition", "id", m.id, "partitions", len(tps))
}

// publishHeld refreshes the snapshot read by Claims.
func (m *member) publishHeld() {
	held := make([]TopicPartition, 0, len(m.held))
	for tp := range m.held {
		held = append(held, tp)
	}
	sortPartitions(held)
	m.c.g.obs.held(held)
	m.c.g.member.setHeld(held)
}
