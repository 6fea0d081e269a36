package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/bench/env"
)

// scaleGroup is one group of the scale part: a groupRun, and for ours on
// ZooKeeper a connection of its own reading the owner nodes.
type scaleGroup struct {
	*groupRun
	k          scaleKey
	zkc        *zk.Conn // ZooKeeper only: reads /consumers/<group>/owners/<topic>
	ownersPath string   // that path
	idle       zkDelta  // ZooKeeper's counters per second at rest
	timeout    time.Duration
	traffic    bool
}

func newScaleGroup(ctx context.Context, b *bench, k scaleKey, topic, group string, parts int) (*scaleGroup, error) {
	s := &scaleGroup{
		groupRun: &groupRun{ctx: ctx, b: b, sys: k.sys, topic: topic, group: group, tr: newTracker(parts), parts: parts},
		k:        k, timeout: b.scale.timeout, traffic: b.scale.traffic,
		ownersPath: "/consumers/" + group + "/owners/" + topic,
	}
	if k.zk {
		var err error
		if s.zkc, err = env.Connect(b.zk.Addr(), 10*time.Second, 10*time.Second); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// close makes every member leave and closes the ZooKeeper reader.
func (s *scaleGroup) close() {
	s.closeAll()
	if s.zkc != nil {
		s.zkc.Close()
	}
}

// convSnap is what is taken at the moment the group converged.
type convSnap struct {
	at    time.Duration // since the event
	moved int           // partitions whose owner changed
	zk    zkSnap        // ZooKeeper's counters (ZooKeeper only)
	cpu   cpuSample
}

// await polls the members' own views (ClaimedPartitions, or franz-go's
// callbacks) every 5 ms until every partition has exactly one owner among
// the live members and each holds its even share (with -traffic, also
// until each owner delivered a message of it since the event). On
// ZooKeeper the owner nodes are then read, and must say the same, or the
// polling goes on. A group that does not converge within the cell's
// timeout is an error saying how far it got.
func (s *scaleGroup) await(t0 time.Time, before []int) (convSnap, error) {
	defer s.tr.stopEvent()
	deadline := t0.Add(s.timeout)
	for {
		views := s.views()
		if snap, ok := s.converged(views, before, t0); ok {
			snap.zk, snap.cpu = s.mntr(), cpuNow()
			agree, err := s.zkAgrees(views)
			if err != nil {
				return convSnap{}, err
			}
			if agree {
				return snap, nil
			}
			s.b.logf("scale: %s: the members' views converged, ZooKeeper's owners not yet", s.k.key)
		}
		if time.Now().After(deadline) {
			return convSnap{}, s.notConverged(views)
		}
		select {
		case <-s.ctx.Done():
			return convSnap{}, s.ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// views returns each live member's partitions, by its own view.
func (s *scaleGroup) views() map[int][]int32 {
	views := make(map[int][]int32, len(s.live))
	for _, lm := range s.live {
		views[lm.idx] = lm.m.owned()
	}
	return views
}

// converged reports whether views are complete, disjoint and balanced
// (and with -traffic, delivered since the event: the tracker's test).
func (s *scaleGroup) converged(views map[int][]int32, before []int, t0 time.Time) (convSnap, bool) {
	if s.traffic {
		o, ok := s.tr.converged(views, before)
		return convSnap{at: o.converge, moved: o.moved}, ok
	}
	if _, _, _, ok := shares(views, s.parts); !ok {
		return convSnap{}, false
	}
	snap := convSnap{at: time.Since(t0)}
	for m, ps := range views {
		for _, p := range ps {
			if before == nil || before[p] != m {
				snap.moved++
			}
		}
	}
	return snap, true
}

// shares counts the partitions with exactly one owner in views, and the
// fewest and most any member holds; ok when every partition has exactly
// one owner and every member its even share.
func shares(views map[int][]int32, parts int) (owned int, fewest, most int, ok bool) {
	count := make([]int, parts)
	fewest = parts
	for _, ps := range views {
		fewest, most = min(fewest, len(ps)), max(most, len(ps))
		for _, p := range ps {
			if int(p) < parts {
				count[p]++
			}
		}
	}
	dup := false
	for _, c := range count {
		if c == 1 {
			owned++
		}
		dup = dup || c > 1
	}
	if len(views) == 0 {
		return owned, 0, 0, false
	}
	lo, hi := parts/len(views), (parts+len(views)-1)/len(views)
	return owned, fewest, most, !dup && owned == parts && fewest >= lo && most <= hi
}

// notConverged says how far the group got.
func (s *scaleGroup) notConverged(views map[int][]int32) error {
	owned, fewest, most, _ := shares(views, s.parts)
	msg := fmt.Sprintf("did not converge after %v: %d of %d partitions owned (members hold %d to %d, want %d to %d)",
		s.timeout, owned, s.parts, fewest, most, s.parts/max(1, len(views)), (s.parts+len(views)-1)/max(1, len(views)))
	if s.zkc != nil {
		if nodes, _, err := s.zkc.Children(s.ownersPath); err == nil {
			msg += fmt.Sprintf("; %d owner nodes in ZooKeeper", len(nodes))
		}
	}
	return errors.New(msg)
}

// zkAgrees reads every owner node of the topic and reports whether each
// names the member whose view holds the partition (true at once but on
// ZooKeeper).
func (s *scaleGroup) zkAgrees(views map[int][]int32) (bool, error) {
	if s.zkc == nil {
		return true, nil
	}
	want := make([]string, s.parts)
	for _, lm := range s.live {
		id := lm.m.(*ours).g.ID()
		for _, p := range views[lm.idx] {
			want[p] = id
		}
	}
	nodes, _, err := s.zkc.Children(s.ownersPath)
	if err != nil || len(nodes) != s.parts {
		return false, nil
	}
	var bad sync.Map
	work := make(chan string)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for node := range work {
				p, perr := strconv.Atoi(node)
				data, _, gerr := s.zkc.Get(s.ownersPath + "/" + node)
				if perr != nil || gerr != nil || p >= s.parts || string(data) != want[p] {
					bad.Store(node, true)
				}
			}
		})
	}
	for _, node := range nodes {
		work <- node
	}
	close(work)
	wg.Wait()
	agree := true
	bad.Range(func(any, any) bool { agree = false; return false })
	return agree, s.ctx.Err()
}

// sessionsLost counts the ZooKeeper sessions ours' members had to replace.
func (s *scaleGroup) sessionsLost() int {
	lost := 0
	for _, lm := range s.live {
		if m, ok := lm.m.(*ours); ok {
			lost += m.zk.Sessions() - 1
		}
	}
	return lost
}
