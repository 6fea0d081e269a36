package main

import (
	"sync"
	"time"
)

// tracker records, per partition, when messages were delivered and by
// which member, to time rebalances: from an event until every partition is
// owned by a live member that has delivered a message of it since.
type tracker struct {
	mu        sync.Mutex
	parts     []pstat
	dead      map[int]bool // members whose deliveries no longer count
	event     time.Time
	measuring bool
}

type pstat struct {
	last   time.Time         // last delivery
	maxGap time.Duration     // longest gap between deliveries since the last reset
	first  map[int]time.Time // since the event: each member's first delivery
}

func newTracker(partitions int) *tracker {
	return &tracker{parts: make([]pstat, partitions), dead: map[int]bool{}}
}

// deliver records that member m delivered a message (or a batch) of
// partition p at now.
func (t *tracker) deliver(m int, p int32, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead[m] || int(p) >= len(t.parts) {
		return
	}
	ps := &t.parts[p]
	if !ps.last.IsZero() {
		if gap := now.Sub(ps.last); gap > ps.maxGap {
			ps.maxGap = gap
		}
	}
	ps.last = now
	if t.measuring {
		if _, ok := ps.first[m]; !ok {
			ps.first[m] = now
		}
	}
}

// resetGaps returns the longest gap of any partition since the last reset
// and starts a new window.
func (t *tracker) resetGaps() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.takeGapsLocked()
}

// takeGapsLocked returns the longest gap of any partition and zeroes them.
func (t *tracker) takeGapsLocked() time.Duration {
	var longest time.Duration
	for i := range t.parts {
		longest = max(longest, t.parts[i].maxGap)
		t.parts[i].maxGap = 0
	}
	return longest
}

// startEvent marks the event: the members in dead stop counting, the gaps
// and first deliveries start afresh. It returns the longest gap of the
// window before (the baseline).
func (t *tracker) startEvent(now time.Time, dead ...int) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	longest := t.takeGapsLocked()
	for i := range t.parts {
		t.parts[i].first = map[int]time.Time{}
	}
	for _, m := range dead {
		t.dead[m] = true
	}
	t.event, t.measuring = now, true
	return longest
}

// stopEvent ends the measurement.
func (t *tracker) stopEvent() {
	t.mu.Lock()
	t.measuring = false
	t.mu.Unlock()
}

// outcome is a converged rebalance.
type outcome struct {
	converge time.Duration // event to the last partition's first delivery by its owner
	moved    int           // partitions whose owner changed
	gap      time.Duration // longest delivery gap of partitions that did not move
	gapPart  int           // the partition with that gap
	gapOwner int           // and its owner
}

// converged reports whether owners (each live member's partitions, by its
// own view) are complete, disjoint and balanced, and every partition has
// been delivered by its owner since the event. before is the owner of
// each partition at the event (-1: none).
func (t *tracker) converged(owners map[int][]int32, before []int) (outcome, bool) {
	n := len(t.parts)
	owner := make([]int, n)
	for i := range owner {
		owner[i] = -1
	}
	if len(owners) == 0 {
		return outcome{}, false
	}
	lo, hi := n/len(owners), (n+len(owners)-1)/len(owners)
	for m, ps := range owners {
		if len(ps) < lo || len(ps) > hi {
			return outcome{}, false
		}
		for _, p := range ps {
			if int(p) >= n || owner[p] != -1 {
				return outcome{}, false
			}
			owner[p] = m
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var o outcome
	for p := range n {
		if owner[p] == -1 {
			return outcome{}, false
		}
		f, ok := t.parts[p].first[owner[p]]
		if !ok {
			return outcome{}, false
		}
		o.converge = max(o.converge, f.Sub(t.event))
		if before != nil && before[p] == owner[p] {
			if g := t.parts[p].maxGap; g > o.gap {
				o.gap, o.gapPart, o.gapOwner = g, p, owner[p]
			}
		} else {
			o.moved++
		}
	}
	return o, true
}
