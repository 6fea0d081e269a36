package consumergroup_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestJoinWakesWhatMoves: on ZooKeeper, a join or a leave costs the group
// in proportion to what moves. Only the leader watches the group's
// membership (ids/): the other members each watch the member registered
// right before them. A member whose part of the assignment stays is not
// written to (its part's node keeps its zxid) and starts no rebalance.
// Before, every member watched ids/ and read the whole assignment at
// every change.
func TestJoinWakesWhatMoves(t *testing.T) {
	c := startCluster(t, map[string]int32{"x": 4, "y": 2})
	cfg := gracefulConfig() // range: each topic's partitions among its subscribers
	m1 := c.join("m1", "g", []string{"x"}, cfg, false, nil)
	m2 := c.join("m2", "g", []string{"x"}, cfg, false, nil)
	m3 := c.join("m3", "g", []string{"y"}, cfg, false, nil)
	waitHolds(t, m1, 2, "start")
	waitHolds(t, m2, 2, "start")
	waitHolds(t, m3, 2, "start")
	checkIDWatches(t, c.chroot, m1, m2, m3)

	raw := testenv.RawZK(t)
	part := c.chroot + "/consumers/g/assignment/" + m3.group.ID()
	_, before, err := raw.Get(part)
	if err != nil {
		t.Fatalf("m3's part of the assignment: %v", err)
	}
	drain(m3.events)
	m4 := c.join("m4", "g", []string{"x"}, cfg, false, nil)
	waitHolds(t, m4, 1, "m4's join")
	waitHolds(t, m1, 2, "m4's join") // range: 2, 1, 1 in id order
	waitHolds(t, m2, 1, "m4's join")
	_, after, err := raw.Get(part)
	if err != nil || after.Mzxid != before.Mzxid {
		t.Errorf("m3's part, unchanged by m4's join, was written (zxid %d, was %d; %v)", after.Mzxid, before.Mzxid, err)
	}
	for len(m3.events) > 0 {
		if n := <-m3.events; n.Type == cg.REBALANCE_START {
			t.Errorf("m3, whose partitions stay, started a rebalance at m4's join (generation %d)", n.Generation)
		}
	}
	checkIDWatches(t, c.chroot, m1, m2, m3, m4)
}

// checkIDWatches checks, from the shared ZooKeeper's "wchp" (data and
// existence watches by path; a watch on the children of ids/, the
// leader's, is not listed), that the members of group g but the first (in
// id order, the leader) each watch one registration of a member before it
// (the one right before it when it read the group), and nothing else under
// ids/ is watched.
func checkIDWatches(t *testing.T, chroot string, members ...*testMember) {
	t.Helper()
	var ids []string
	for _, m := range members {
		ids = append(ids, m.group.ID())
	}
	slices.Sort(ids)
	prefix := chroot + "/consumers/g/ids/"
	out, err := testenv.SharedZooKeeper().FourLetter("wchp")
	if err != nil {
		t.Fatalf("wchp: %v", err)
	}
	got, n, path := map[string]int{}, 0, ""
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "\t"):
			if id, ok := strings.CutPrefix(path, prefix); ok {
				got[id]++
				n++
			}
		default:
			path = strings.TrimSpace(line)
		}
	}
	for id := range got {
		if i := slices.Index(ids, id); i < 0 || i == len(ids)-1 {
			t.Errorf("%s%s is watched: not a member's registration before another's", prefix, id)
		}
	}
	if n != len(ids)-1 {
		t.Errorf("%d watches of registrations %v, want %d: one for each member but the leader", n, got, len(ids)-1)
	}
}

// TestLargeTopic: one member on a topic of 10,000 partitions, on a real
// ZooKeeper, takes every partition, consumes, commits and, at Close,
// releases them all. Before, claiming them was one ZooKeeper request of
// 1.5 MB, over the server's limit: the server closed the connection every
// time and the member held nothing, for good.
func TestLargeTopic(t *testing.T) {
	const topic, parts = "large", 10_000
	c := startCluster(t, map[string]int32{topic: parts})
	l := newLedger()
	m := c.join("m", "g", []string{topic}, gracefulConfig(), false, l.handle)
	t0 := time.Now()
	waitHolds(t, m, parts, "the start")
	t.Logf("holds every partition after %v", time.Since(t0))
	c.produce(topic, parts, parts)
	t.Logf("produced after %v", time.Since(t0))
	l.waitProcessed(t, parts)
	t.Logf("processed after %v", time.Since(t0))
	if err := m.group.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("closed after %v", time.Since(t0))
	z := testenv.RawZK(t)
	owners, _, err := z.Children(c.chroot + "/consumers/g/owners/" + topic)
	if err != nil || len(owners) != 0 {
		t.Fatalf("after Close, %d partitions still owned (%v)", len(owners), err)
	}
	zc, err := cg.DialZK(testCtx(t), cg.ZKConfig{Servers: c.servers, Chroot: c.chroot})
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	offsets, err := zc.Offsets(testCtx(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(parts) {
		if got := offsets[topic][p]; got != 1 {
			t.Fatalf("partition %d committed %d, want 1 (its message)", p, got)
		}
	}
}
