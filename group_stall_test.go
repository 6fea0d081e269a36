package consumergroup_test

import (
	"slices"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// TestGroupGracefulChangesThroughZooKeeperStall is the regression test of
// the duplicates TestGroupGracefulChangesUnderBacklog reported on a loaded
// machine ("52 messages processed more than once across graceful changes",
// 52 consecutive messages of one partition, by b then a). They were no
// graceful change's: ZooKeeper stalled, both members' clients read nothing
// from it for two thirds of their 1.2 s session (testSession), took their
// sessions as lost (see cg.Session) and left as crashed members, without a
// last commit; they registered again under new ids, whose order moved the
// partition from b to a, which started at b's last commit. The check
// counted that crash's redeliveries as graceful duplicates.
//
// Here the stall is made on purpose: the members reach ZooKeeper through
// proxies, cut for longer than two thirds of testSession while the members
// work through a backlog. With the graceful scenarios' configuration
// (gracefulConfig) they keep their sessions and ids through it, and the
// graceful leave that follows delivers nothing twice. With testSession as
// their session timeout (the configuration before the fix) they lose their
// sessions and this test fails.
func TestGroupGracefulChangesThroughZooKeeperStall(t *testing.T) {
	const base, parts, total = "stall", 8, 8000
	// The stall: longer than two thirds of testSession (800 ms), as long
	// as the pauses seen on the loaded machine. It is the length of the
	// fault, not a wait for something to happen.
	const stall = 1200 * time.Millisecond
	c := startCluster(t, map[string]int32{base: parts})
	topic, group := c.topic(base), c.group("g")
	l := newLedger()
	slow := func(m *testMember, ev *cg.ConsumerEvent) {
		time.Sleep(100 * time.Microsecond) // slower than fetching: a backlog stays queued
		l.handle(m, ev)
	}
	c.produce(topic, parts, total)
	cfg := gracefulConfig()
	a := c.join("a", group, []string{topic}, cfg, true, slow)
	b := c.join("b", group, []string{topic}, cfg, true, slow)
	l.waitProcessed(t, 1500)
	ids := []string{a.group.ID(), b.group.ID()}

	for _, m := range []*testMember{a, b} {
		m.proxy.Cut()
	}
	for _, m := range []*testMember{a, b} {
		waitHealth(t, m.group, m.name+": ZooKeeper unreachable", func(h cg.Health) bool { return hasReason(h, cg.ReasonCoordinatorUnreachable) })
	}
	<-time.After(stall)
	for _, m := range []*testMember{a, b} {
		m.proxy.Restore()
	}
	for _, m := range []*testMember{a, b} {
		waitHealth(t, m.group, m.name+": ZooKeeper reachable again", func(h cg.Health) bool { return !hasReason(h, cg.ReasonCoordinatorUnreachable) })
	}
	if got := []string{a.group.ID(), b.group.ID()}; !slices.Equal(got, ids) {
		t.Errorf("the members lost their sessions through a stall of %v (ids %v, then %v)", stall, ids, got)
	}

	l.waitProcessed(t, 4000)
	b.close(t)
	l.waitProcessed(t, total)
	a.close(t)
	announced := checkExactlyOnce(t, l, a, b)
	checkCleanAnnounced(t, c, group, l, announced)
}
