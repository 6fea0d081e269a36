package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// cellResult is one system's figures at one size of the scale part.
type cellResult struct {
	key                 scaleKey
	members, partitions int
	failed              string        // why the start failed or did not converge ("": it did)
	start               time.Duration // every member started at once, until converged
	cpuProc, cpuMachine float64       // share of all cores during the start: this process's, the machine's
	cpuPerMember        time.Duration // this process's CPU during the start, per member
	heap                int64         // heap in use of the whole group after the start, bytes
	heapPerK            float64       // heap in use per member per 1,000 partitions held, bytes
	zkStart             zkDelta       // ZooKeeper's counters during the start
	idle                zkDelta       // ZooKeeper's counters per second at rest (pings)
	lost                int           // ZooKeeper sessions lost during the start
	join, leave         changeStats
}

// changeStats are the figures of one kind of change (a join, a leave).
type changeStats struct {
	conv   []time.Duration
	moved  []int     // partitions whose owner changed
	least  []int     // the fewest that had to move
	zk     []zkDelta // ZooKeeper's counters, net of the idle rate
	failed string    // why the last one did not converge ("": all did)
}

// runCell measures one system at one size: every member started at once,
// then -reps joins and graceful leaves. A cell that fails or does not
// converge is reported as such; only a cancelled run is an error.
func runCell(ctx context.Context, b *bench, k scaleKey, topic, group string, n, parts int) (*cellResult, error) {
	c := &cellResult{key: k, members: n, partitions: parts}
	b.logf("scale: %s: starting %d members on %d partitions", k.sys.name, n, parts)
	s, err := newScaleGroup(ctx, b, k, topic, group, parts)
	if err != nil {
		c.failed = err.Error()
		return c, ctx.Err()
	}
	defer s.close()
	if err := s.startAll(c, n); err != nil {
		c.failed = err.Error()
		return c, ctx.Err()
	}
	if k.zk {
		c.idle = s.idleRate(b.zkWindow())
	}
	for rep := range b.scale.reps {
		if err := s.change("join", &c.join, 0); err != nil {
			c.join.failed = err.Error()
			break
		}
		if err := s.change("leave", &c.leave, (rep*7+3)%n); err != nil {
			c.leave.failed = err.Error()
			break
		}
		b.logf("scale: %s %d×%d: repetition %d/%d: join %s ms, leave %s ms", k.key, n, parts, rep+1, b.scale.reps,
			ms(c.join.conv[rep]), ms(c.leave.conv[rep]))
	}
	return c, ctx.Err()
}

// zkWindow is the window of ZooKeeper's counters at rest: the run's, but
// 3 s in a curve of many cells.
func (b *bench) zkWindow() time.Duration {
	if b.scale.grid {
		return min(b.sz.zkWindow, 3*time.Second)
	}
	return b.sz.zkWindow
}

// startAll starts n members at once and waits until they converge: the
// start, the CPU and the ZooKeeper requests meanwhile, then the heap held.
func (s *scaleGroup) startAll(c *cellResult, n int) error {
	heap0 := heapInUse()
	m0 := s.mntr()
	cpu0 := cpuNow()
	t0 := time.Now()
	s.tr.startEvent(t0)
	members := make([]liveMember, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := s.sys.start(s.ctx, s.b, s.topic, s.group, i, s.tr)
			members[i], errs[i] = liveMember{i, m}, err
		})
	}
	wg.Wait()
	var first error
	for i := range n {
		if errs[i] != nil {
			first = cmpOr(first, fmt.Errorf("member %d: %w", i, errs[i]))
			continue
		}
		s.live = append(s.live, members[i])
	}
	s.next = n
	if first != nil {
		return first
	}
	snap, err := s.await(t0, nil)
	if err != nil {
		return err
	}
	c.start = snap.at
	c.cpuProc, c.cpuMachine = snap.cpu.procShare(cpu0), snap.cpu.machineShare(cpu0)
	c.cpuPerMember = (snap.cpu.proc - cpu0.proc) / time.Duration(n)
	c.zkStart = zkDiff(m0, snap.zk, snap.at)
	c.heap = heapInUse() - heap0
	c.heapPerK = float64(c.heap) / float64(n) / (float64(s.parts) / 1000)
	c.lost = s.sessionsLost()
	return nil
}

// cmpOr returns a unless it is nil, else b.
func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// change runs one measured change after a pause: a member joins (from its
// creation, connecting included) or one leaves gracefully (from its
// Close), until the group converged again.
func (s *scaleGroup) change(kind string, st *changeStats, victim int) error {
	select {
	case <-time.After(scalePause):
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
	before := s.owners()
	m0 := s.mntr()
	t0 := time.Now()
	least := 0
	if kind == "join" {
		s.tr.startEvent(t0)
		if err := s.add(); err != nil {
			return err
		}
		least = s.parts / len(s.live)
	} else {
		lm := s.remove(victim)
		for _, o := range before {
			if o == lm.idx {
				least++
			}
		}
		s.tr.startEvent(t0, lm.idx)
		s.bg.Go(lm.m.leave)
	}
	snap, err := s.await(t0, before)
	if err != nil {
		return err
	}
	st.conv = append(st.conv, snap.at)
	st.moved = append(st.moved, snap.moved)
	st.least = append(st.least, least)
	st.zk = append(st.zk, zkDiff(m0, snap.zk, snap.at).net(s.idle))
	return nil
}
