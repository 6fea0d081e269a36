package consumergroup_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// quietHandoff is the tests' HandoffTimeout on quiet topics: far above any
// rebalance, so that a hand-off that waited for it is unmistakable.
const quietHandoff = 15 * time.Second

// TestGroupQuietHandoff: on a quiet topic (messages produced once, then
// silence), members that take messages with Next or mark them with
// MarkDone hold nothing once they are idle: a member joining and a member
// leaving converge without waiting for HandoffTimeout (no HANDOFF_TIMEOUT,
// every partition owned well before it), nothing is delivered twice, and
// the idle group's lag reaches 0 (CommitInterval at its default) after the
// applications finished. With a plain Stream loop the last message of each
// member stays in hand: the join waits HandoffTimeout, the new owner
// delivers that message again, and the lag stays at 1.
func TestGroupQuietHandoff(t *testing.T) {
	// Next over the whole matrix, MarkDone on kfake (the coordinators'
	// side of a hand-off is the same for both).
	forEachSetup(t, append(withModes(fullMatrix(), modePull), withModes(kfakeMatrix(), modeDone)...), testGroupQuietHandoff)
}

func testGroupQuietHandoff(t *testing.T, s setup) {
	const base, parts, n = "quiet", 8, 24
	c := startClusterSetup(t, s, map[string]int32{base: parts})
	topic, group := c.topic(base), c.group("g")
	l := newLedger()
	cfg := gracefulConfig()
	def := cg.NewConsumerGroupConfig()
	cfg.CommitInterval = def.CommitInterval
	cfg.HandoffTimeout = quietHandoff
	c.produce(topic, parts, n)
	a := c.join("a", group, []string{topic}, cfg, false, l.handle)
	l.waitProcessed(t, n)
	waitLagZero(t, a, "a alone, idle")

	t0 := time.Now()
	b := c.join("b", group, []string{topic}, cfg, false, l.handle)
	waitSplit(t, t0, map[*testMember]int{a: parts / 2, b: parts / 2}, "b joins the idle a")
	t.Logf("%s: join converged in %v", s.name(), time.Since(t0).Round(time.Millisecond))
	waitLagZero(t, a, "a and b, idle")

	t0 = time.Now()
	b.close(t)
	waitSplit(t, t0, map[*testMember]int{a: parts}, "b leaves the idle group")
	t.Logf("%s: leave converged in %v", s.name(), time.Since(t0).Round(time.Millisecond))
	a.close(t)
	if announced := checkExactlyOnce(t, l, a, b); len(announced) > 0 {
		t.Errorf("hand-offs timed out with messages in hand on an idle group: %v", announced)
	}
	checkClean(t, c, group, l)
}

// waitSplit waits until each member holds its count of partitions, all
// different, within quietHandoff from t0: a hand-off that waited for
// HandoffTimeout would take longer.
func waitSplit(t *testing.T, t0 time.Time, want map[*testMember]int, what string) {
	t.Helper()
	deadline := t0.Add(quietHandoff * 2 / 3)
	for {
		seen := map[cg.TopicPartition]bool{}
		ok := true
		for m, n := range want {
			held := m.group.ClaimedPartitions()
			ok = ok && len(held) == n
			for _, tp := range held {
				ok = ok && !seen[tp]
				seen[tp] = true
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			got := map[string][]cg.TopicPartition{}
			for m := range want {
				got[m.name] = m.group.ClaimedPartitions()
			}
			t.Fatalf("%s: not converged after %v (HandoffTimeout %v): %v", what, time.Since(t0), quietHandoff, got)
		}
		time.Sleep(5 * time.Millisecond) // polling the members' state
	}
}

// waitLagZero waits until m's group has a lag of 0 on every partition, and
// logs how long it took.
func waitLagZero(t *testing.T, m *testMember, what string) {
	t.Helper()
	t0 := time.Now()
	deadline := t0.Add(testTimeout / 3)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lag, err := m.group.Lag(ctx)
		cancel()
		total := int64(0)
		for _, ps := range lag {
			for _, n := range ps {
				total += n
			}
		}
		if err == nil && len(lag) > 0 && total == 0 {
			t.Logf("%s: lag 0 after %v", what, time.Since(t0).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: lag %v (err %v) after %v; want 0 on every partition of an idle group", what, lagString(lag), err, time.Since(t0))
		}
		time.Sleep(50 * time.Millisecond) // polling the committed offsets
	}
}

func lagString(lag map[string]map[int32]int64) map[int32]int64 {
	out := map[int32]int64{}
	for _, t := range slices.Sorted(maps.Keys(lag)) {
		maps.Copy(out, lag[t])
	}
	return out
}
