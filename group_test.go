package consumergroup_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// checkClean checks, after every member closed, that no owner node and no
// registration is left, and that the committed offsets are the last
// processed ones plus one.
func checkClean(t *testing.T, c *cluster, group string, l *ledger) {
	t.Helper()
	checkCleanAnnounced(t, c, group, l, nil)
}

// checkCleanAnnounced is checkClean where the members announced hand-offs
// that timed out (HANDOFF_TIMEOUT, see handoffTimeouts): such a message is
// committed as not processed, to be delivered again; when the group ended
// before its new owner took it, the committed offset is that message's.
func checkCleanAnnounced(t *testing.T, c *cluster, group string, l *ledger, announced map[location]string) {
	t.Helper()
	if c.kafkaCoord() {
		checkCleanKafka(t, c, group, l, announced)
		return
	}
	z := dialZK(t, c.chroot, func(cfg *cg.ZKConfig) { cfg.Servers = c.servers })
	ctx := testCtx(t)
	ids, _, err := z.Consumers(ctx, group)
	if err != nil || len(ids) != 0 {
		t.Fatalf("registrations left after Close: %v, %v", ids, err)
	}
	offsets, err := z.Offsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for tp, last := range l.last {
		owners, err := z.Owners(ctx, group, tp.Topic)
		if err != nil || len(owners) != 0 {
			t.Fatalf("owner nodes left after Close: %v, %v", owners, err)
		}
		got := offsets[tp.Topic][tp.Partition]
		if _, pending := announced[location{tp, last}]; pending && got == last {
			continue
		}
		if got != last+1 {
			t.Errorf("committed offset of %s/%d is %d, want the last processed %d plus one", tp.Topic, tp.Partition, got, last)
		}
	}
}

// TestGroupGracefulChanges: members join and leave gracefully while
// messages flow: every message is processed exactly once, never by two
// members at once.
func TestGroupGracefulChanges(t *testing.T) {
	forEachSetup(t, append(withClassic39(fullMatrix()), withModes(kfakeMatrix(), modePull, modeDone)...), testGroupGracefulChanges)
}

func testGroupGracefulChanges(t *testing.T, s setup) {
	const base, parts = "events", 8
	c := startClusterSetup(t, s, map[string]int32{base: parts})
	topic, group := c.topic(base), c.group("g")
	l := newLedger()
	cfg := gracefulConfig()
	a := c.join("a", group, []string{topic}, cfg, false, l.handle)
	b := c.join("b", group, []string{topic}, cfg, false, l.handle)
	c.produce(topic, parts, 2000)
	l.waitProcessed(t, 2000)

	d := c.join("c", group, []string{topic}, cfg, false, l.handle)
	c.produce(topic, parts, 2000)
	l.waitProcessed(t, 4000)

	b.close(t)
	c.produce(topic, parts, 2000)
	l.waitProcessed(t, 6000)
	for _, m := range []*testMember{a, d} {
		if got := len(m.group.ClaimedPartitions()); got < 3 || got > 5 {
			t.Errorf("%s holds %d partitions after b left, want 4", m.name, got)
		}
	}
	a.close(t)
	d.close(t)
	announced := checkExactlyOnce(t, l, a, b, d)
	checkCleanAnnounced(t, c, group, l, announced)
}

// checkExactlyOnce fails t if a message was processed more than once or a
// partition by two members at once. The members (closed) tell which
// messages they announced as delivered again (HANDOFF_TIMEOUT: an idle
// loop's last message, see handoffTimeouts): those may be processed twice.
func checkExactlyOnce(t *testing.T, l *ledger, members ...*testMember) map[location]string {
	t.Helper()
	announced, lost := drainNotifications(members...)
	l.mu.Lock()
	var dups []string
	redelivered := 0
	for seq, n := range l.count {
		if announcedDuplicate(l, announced, seq, n) {
			redelivered++
			continue
		}
		if n != 1 {
			dups = append(dups, fmt.Sprintf("%d×%d by %v", seq, n, l.by[seq]))
		}
	}
	sort.Strings(dups)
	overlaps := l.overlaps
	l.mu.Unlock()
	if redelivered > 0 {
		t.Logf("%d messages delivered again after a hand-off timed out with them in an idle loop's hands (announced)", redelivered)
	}
	if len(dups) > 0 {
		why := ""
		if len(lost) > 0 {
			// Not a graceful change: a member cut off from ZooKeeper
			// for two thirds of its session timeout leaves like a
			// crashed one (see gracefulSession).
			why = fmt.Sprintf(" (members %v lost their ZooKeeper session meanwhile: what they processed after their last commit is delivered again by design)", lost)
		}
		t.Errorf("%d messages processed more than once across graceful changes%s: %s", len(dups), why, strings.Join(dups[:min(10, len(dups))], ", "))
	}
	if len(overlaps) > 0 {
		t.Errorf("partitions processed by two members at once: %v", overlaps)
	}
	return announced
}

// TestGroupGracefulChangesUnderBacklog: members join and leave while slow
// members work through a backlog, so that every hand-off finds the given-up
// partitions' messages queued in the Stream buffer: none of them reaches
// the old owner after the hand-off, none is lost or processed twice.
func TestGroupGracefulChangesUnderBacklog(t *testing.T) {
	// The pull API on kfake, over every coordinator: its own path from
	// the fetch to the application (MarkDone's take-backs are Stream's,
	// run by the other suites).
	forEachSetup(t, append(fullMatrix(), withModes(kfakeMatrix(), modePull)...), testGroupGracefulChangesUnderBacklog)
}

func testGroupGracefulChangesUnderBacklog(t *testing.T, s setup) {
	const base, parts, total = "backlog", 8, 12000
	c := startClusterSetup(t, s, map[string]int32{base: parts})
	topic, group := c.topic(base), c.group("g")
	l := newLedger()
	slow := func(m *testMember, ev *cg.ConsumerEvent) {
		time.Sleep(100 * time.Microsecond) // slower than fetching: the buffer stays full
		l.handle(m, ev)
	}
	c.produce(topic, parts, total)
	cfg := gracefulConfig()
	a := c.join("a", group, []string{topic}, cfg, false, slow)
	b := c.join("b", group, []string{topic}, cfg, false, slow)
	l.waitProcessed(t, 2000)
	d := c.join("c", group, []string{topic}, cfg, false, slow)
	l.waitProcessed(t, 5000)
	b.close(t)
	l.waitProcessed(t, total)
	a.close(t)
	d.close(t)
	announced := checkExactlyOnce(t, l, a, b, d)
	checkCleanAnnounced(t, c, group, l, announced)
}

// TestGroupNotifications checks the notifications of a join.
func TestGroupNotifications(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 4})
	l := newLedger()
	a := c.join("a", "g", []string{"t"}, groupConfig(), false, l.handle)
	waitNotification(t, a, cg.REBALANCE_START, "a's first rebalance")
	ok := waitNotification(t, a, cg.REBALANCE_OK, "a's first rebalance")
	if len(ok.Claimed) != 4 || ok.Src != a.group || ok.Generation < 1 {
		t.Fatalf("first REBALANCE_OK = %+v, want 4 partitions claimed", ok)
	}
	b := c.join("b", "g", []string{"t"}, groupConfig(), false, l.handle)
	ok = waitNotification(t, a, cg.REBALANCE_OK, "a's rebalance on b's join")
	if len(ok.Released) != 2 {
		t.Fatalf("REBALANCE_OK on b's join = %+v, want 2 partitions released", ok)
	}
	ok = waitNotification(t, b, cg.REBALANCE_OK, "b's first rebalance")
	if len(ok.Claimed) != 2 {
		t.Fatalf("b's REBALANCE_OK = %+v, want 2 partitions claimed", ok)
	}
}
