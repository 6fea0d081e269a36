package consumergroup_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestKafkaJoinWaitIsNotSilence: a classic member waiting in JoinGroup for
// a rebalance that waits for another member hears nothing from the
// coordinator until every member has joined (here: until the crashed
// member's session ends, a session timeout after its last heartbeat), but
// the coordinator keeps it. Its own watch must not take that for a silent
// coordinator: no ErrSessionExpired, no partition stopped. The regression
// test of the quiet bench's finding: members behind a long hand-off
// stopped every partition and reported a lost session that was not lost.
//
// Real brokers only: kfake ends the session of a member waiting in
// JoinGroup (Kafka keeps it), so there the member is really lost.
func TestKafkaJoinWaitIsNotSilence(t *testing.T) {
	setups := slices.DeleteFunc(classicMatrix(), func(s setup) bool { return s.kind == testenv.KindKfake })
	if len(setups) == 0 {
		t.Skip("no real Kafka broker in this run")
	}
	forEachSetup(t, setups, testKafkaJoinWait)
}

func testKafkaJoinWait(t *testing.T, s setup) {
	const base, parts = "joinwait", 4
	c := startClusterSetup(t, s, map[string]int32{base: parts})
	topic, group := c.topic(base), c.group("g")
	l := newLedger()
	cfg := groupConfig()
	c.produce(topic, parts, 8)
	a := c.join("a", group, []string{topic}, cfg, false, l.handle)
	waitHeld(t, a, parts)
	b := c.join("b", group, []string{topic}, cfg, false, l.handle)
	waitSplit(t, time.Now(), map[*testMember]int{a: parts / 2, b: parts / 2}, "b joins a")

	// a crashes as the coordinator sees it; d joins at once: the rebalance
	// waits for a until its session ends, b waiting in JoinGroup with
	// its partitions (longer than the two thirds of the session timeout
	// after which a member's watch stops everything).
	a.cutter.Cut()
	t0 := time.Now()
	d := c.join("d", group, []string{topic}, cfg, false, l.handle)
	waitSplit(t, t0, map[*testMember]int{b: parts / 2, d: parts / 2}, "d joins while a is crashed")
	t.Logf("%s: b and d split the partitions %v after a's crash and d's join (session %v)", s.name(), time.Since(t0).Round(time.Millisecond), kafkaSession)
	for _, m := range []*testMember{b, d} {
		for _, n := range drainAll(m.events) {
			if n.Type == cg.REBALANCE_ERROR && errors.Is(n.Err, cg.ErrSessionExpired) {
				t.Errorf("%s, waiting in a rebalance the coordinator held it in, reported a lost session: %v", m.name, n.Err)
			}
		}
	}
	a.cutter.Restore()
	for _, m := range []*testMember{a, b, d} {
		m.close(t)
	}
	checkNoOverlap(t, l)
}

// TestKafkaLongRevocationIsNotSilence: a member whose revocation waits for
// the message in hand longer than two thirds of the session timeout (its
// heartbeats answered meanwhile) must not take the wait for a silent
// coordinator: no ErrSessionExpired, its other partitions never stopped.
// The regression test of the watch reading the time of the last answer
// before waiting for the revocation's lock.
func TestKafkaLongRevocationIsNotSilence(t *testing.T) {
	forEachSetup(t, classicMatrix(), testKafkaLongRevocation)
}

// classicMatrix is Kafka's coordinator, classic protocol, on every broker.
func classicMatrix() []setup {
	return slices.DeleteFunc(withClassic39(kafkaMatrix()), func(s setup) bool { return s.coord != coordClassic })
}

func testKafkaLongRevocation(t *testing.T, s setup) {
	const base, parts = "longrevoke", 2
	c := startClusterSetup(t, s, map[string]int32{base: parts})
	topic, group := c.topic(base), c.group("g")
	l := newLedger()
	cfg := groupConfig()
	cfg.HandoffTimeout = kafkaSession * 5 / 6 // past the watch's two thirds
	// No periodic commit: the member's run loop is then in the watch when
	// the revocation starts, not in a commit waiting for the same lock.
	cfg.CommitInterval = time.Hour
	a := c.join("a", group, []string{topic}, cfg, false, l.handle)
	// One message at a time, each processed before the next, until the
	// last is partition 1's: the message left in a's hands is then of the
	// partition the balancer moves. Produced at once, the two partitions'
	// messages could be delivered in either order (seen once on Kafka
	// 3.9: partition 0's came last and nothing waited).
	for n := 1; n <= 2 || c.seq%parts != 0; n++ {
		c.produce(topic, parts, 1)
		l.waitProcessed(t, n)
	}
	t0 := time.Now()
	b := c.join("b", group, []string{topic}, cfg, false, l.handle)
	waitSplit(t, t0, map[*testMember]int{a: 1, b: 1}, "b joins a")
	t.Logf("%s: b got %v after %v", s.name(), b.group.ClaimedPartitions(), time.Since(t0).Round(time.Millisecond))
	waited := false
	for _, n := range drainAll(a.events) {
		waited = waited || n.Type == cg.HANDOFF_TIMEOUT
		if n.Type == cg.REBALANCE_ERROR && errors.Is(n.Err, cg.ErrSessionExpired) {
			t.Errorf("a, heartbeating through its revocation, reported a lost session: %v", n.Err)
		}
	}
	if !waited {
		// franz-go's cooperative-sticky balancer moves partition 1, the
		// one of the message in a's hands (the last delivered).
		t.Fatalf("a's revocation did not wait for the message in hand (no HANDOFF_TIMEOUT): b got %v; the scenario needs it", b.group.ClaimedPartitions())
	}
	a.close(t)
	b.close(t)
}
