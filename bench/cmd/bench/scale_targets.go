package main

import (
	"fmt"
	"strings"
	"time"
)

// The goals for the curve: a start of at most 2 s up to 100
// members × 1,000 partitions and 10 s beyond (up to 500 × 10,000), a join
// or a graceful leave of at most 500 ms p99 at every size.
const (
	scaleStartSmall = 2 * time.Second
	scaleStartLarge = 10 * time.Second
	scaleChange     = 500 * time.Millisecond
	// scaleBareSlack: on Kafka's coordinator, a figure beyond the goal is
	// the broker's bound when franz-go's bare consumer misses it too, and
	// ours is within this factor of the bare one's.
	scaleBareSlack = 1.25
)

// scaleTargets adds a target per cell of ours: on ZooKeeper the goals; on
// Kafka the same goals, or, where franz-go's bare consumer of the same
// protocol misses them in the same run, the bare consumer's figure.
func scaleTargets(b *bench, cells []*cellResult) {
	for _, c := range cells {
		if strings.HasPrefix(c.key.key, "bare") {
			continue
		}
		limit := scaleStartLarge
		if c.members <= 100 && c.partitions <= 1000 {
			limit = scaleStartSmall
		}
		name := fmt.Sprintf("scale, %s, %d × %d: converges, start ≤ %v, join and leave p99 ≤ %v", c.key.sys.name,
			c.members, c.partitions, limit, scaleChange)
		fig, ok := c.figures()
		if !ok {
			b.rep.target(name, false, "%s", fig)
			continue
		}
		goal := [3]time.Duration{limit, scaleChange, scaleChange}
		bare := bareCell(cells, c)
		met, figure := judgeCell(c, goal, bare)
		b.rep.target(name, met, "%s", figure)
	}
}

// figures are the cell's start and its joins' and leaves' p99; ok when
// every convergence happened.
func (c *cellResult) figures() (string, bool) {
	switch {
	case c.failed != "":
		return "start " + c.failed, false
	case c.join.failed != "":
		return "join " + c.join.failed, false
	case c.leave.failed != "":
		return "leave " + c.leave.failed, false
	}
	return "", true
}

// p99s are the start and the p99 of the joins and of the leaves.
func (c *cellResult) p99s() [3]time.Duration {
	return [3]time.Duration{c.start, percentile(c.join.conv, 99), percentile(c.leave.conv, 99)}
}

// bareCell is the cell of franz-go's bare consumer of c's protocol at c's
// size, or nil.
func bareCell(cells []*cellResult, c *cellResult) *cellResult {
	want := map[string]string{"classic": "bare-classic", "848": "bare-848"}[c.key.key]
	for _, o := range cells {
		if want != "" && o.key.key == want && o.members == c.members && o.partitions == c.partitions {
			if _, ok := o.figures(); ok {
				return o
			}
		}
	}
	return nil
}

// judgeCell compares the cell's figures with the goals; a figure beyond
// its goal still counts when the bare consumer's is beyond it too and ours
// is within scaleBareSlack of it.
func judgeCell(c *cellResult, goal [3]time.Duration, bare *cellResult) (bool, string) {
	names := [3]string{"start", "join p99", "leave p99"}
	got := c.p99s()
	met := true
	var parts []string
	for i := range got {
		s := fmt.Sprintf("%s %s", names[i], secs(got[i]))
		if got[i] > goal[i] {
			if bare != nil && bare.p99s()[i] > goal[i] && float64(got[i]) <= scaleBareSlack*float64(bare.p99s()[i]) {
				s += fmt.Sprintf(" (the broker's bound: bare %s)", secs(bare.p99s()[i]))
			} else {
				met = false
			}
		}
		parts = append(parts, s)
	}
	return met, strings.Join(parts, ", ")
}
