package consumergroup_test

import (
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestGroupSessionExpiryFences: a member cut off from ZooKeeper stops
// delivering as soon as its session ends, and can commit nothing after.
func TestGroupSessionExpiryFences(t *testing.T) { forEachKind(t, testGroupSessionExpiryFences) }

func testGroupSessionExpiryFences(t *testing.T, kind testenv.Kind) {
	const base, parts = "t", 8
	c := startClusterKind(t, kind, map[string]int32{base: parts})
	topic, group := c.topic(base), c.group("g")
	l := newLedger()
	var mu sync.Mutex
	var afterEnd []string // messages a started processing after its session ended
	var ended time.Time
	handle := func(m *testMember, ev *cg.ConsumerEvent) {
		if m.name == "a" {
			mu.Lock()
			if !ended.IsZero() {
				afterEnd = append(afterEnd, string(ev.Value))
			}
			mu.Unlock()
		}
		l.handle(m, ev)
	}
	cfg := groupConfig()
	a := c.join("a", group, []string{topic}, cfg, true, handle)
	b := c.join("b", group, []string{topic}, cfg, false, handle)
	c.produce(topic, parts, 2000)
	l.waitProcessed(t, 2000)
	held := a.group.ClaimedPartitions()
	if len(held) == 0 {
		t.Fatal("a holds nothing")
	}
	sess, err := a.zk.Session(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	watcher := dialZK(t, c.chroot)
	before, err := watcher.Offsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}

	a.proxy.Cut()
	// a has nothing left to deliver: it has processed everything. Keep
	// producing so that it would have, were it still delivering.
	waitClosed(t, sess.Done(), "a's session end")
	mu.Lock()
	ended = time.Now()
	mu.Unlock()
	c.produce(topic, parts, 2000)
	l.waitProcessed(t, 4000) // b took a's partitions over

	mu.Lock()
	n := len(afterEnd)
	mu.Unlock()
	// The message in a's hands when the session ended may still be
	// processed; nothing after it.
	if n > 1 {
		t.Fatalf("a processed %d messages after its session ended", n)
	}
	err = a.group.CommitOffset(testCtx(t), topic, held[0].Partition, 999999)
	if !errors.Is(err, cg.ErrNotOwner) && !errors.Is(err, cg.ErrNotRegistered) {
		t.Fatalf("commit by a member whose session expired: %v, want ErrNotOwner", err)
	}
	after, err := watcher.Offsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range held {
		if after[tp.Topic][tp.Partition] == 999999 {
			t.Fatalf("a moved the offset of %v after losing it", tp)
		}
		if after[tp.Topic][tp.Partition] < before[tp.Topic][tp.Partition] {
			t.Fatalf("offset of %v went back", tp)
		}
	}
	if got := len(b.group.ClaimedPartitions()); got != parts {
		t.Fatalf("b holds %d partitions after a's session ended, want all %d", got, parts)
	}
	a.proxy.Restore()
	b.close(t)
	a.close(t)
}

// TestGroupUnmovedPartitions: a rebalance stops only the partitions that
// move; the others are neither released nor claimed again, and keep
// delivering (their longest gap is logged).
func TestGroupUnmovedPartitions(t *testing.T) {
	forEachSetup(t, fullMatrix(), testGroupUnmovedPartitions)
}

func testGroupUnmovedPartitions(t *testing.T, s setup) {
	const base, parts = "t", 16
	c := startClusterSetup(t, s, map[string]int32{base: parts})
	topic, group := c.topic(base), c.group("g")
	l := newLedger()
	var mu sync.Mutex
	lastSeen := map[cg.TopicPartition]time.Time{}
	gaps := map[cg.TopicPartition]time.Duration{}
	measuring := false
	handle := func(m *testMember, ev *cg.ConsumerEvent) {
		tp := cg.TopicPartition{Topic: ev.Topic, Partition: ev.Partition}
		now := time.Now()
		mu.Lock()
		if prev, ok := lastSeen[tp]; ok && measuring {
			gaps[tp] = max(gaps[tp], now.Sub(prev))
		}
		lastSeen[tp] = now
		mu.Unlock()
		l.handle(m, ev)
	}
	cfg := groupConfig()
	cfg.Strategy = cg.StrategySticky
	a := c.join("a", group, []string{topic}, cfg, false, handle)
	waitNotification(t, a, cg.REBALANCE_OK, "a's first assignment")
	if got := len(a.group.ClaimedPartitions()); got != parts {
		t.Fatalf("a holds %d partitions", got)
	}

	// Steady production while b joins.
	stop := make(chan struct{})
	produced := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				produced <- n
				return
			default:
			}
			c.produce(topic, parts, parts) // one message per partition
			n += parts
		}
	}()
	l.waitProcessed(t, 10*parts)
	mu.Lock()
	measuring = true
	mu.Unlock()
	b := c.join("b", group, []string{topic}, cfg, false, handle)
	n := waitNotification(t, a, cg.REBALANCE_OK, "a's rebalance on b's join")
	waitNotification(t, b, cg.REBALANCE_OK, "b's first assignment")
	l.waitProcessed(t, l.processedNow()+10*parts)
	close(stop)
	total := <-produced
	l.waitProcessed(t, total)

	kept := a.group.ClaimedPartitions()
	if len(kept) != parts/2 || len(n.Released) != parts/2 || len(n.Claimed) != 0 {
		t.Fatalf("after b's join a keeps %v, released %v, claimed %v; want half kept, half released", kept, n.Released, n.Claimed)
	}
	for _, tp := range kept {
		if slices.Contains(n.Released, tp) {
			t.Fatalf("%v was released and kept", tp)
		}
	}
	mu.Lock()
	var worst time.Duration
	for _, tp := range kept {
		worst = max(worst, gaps[tp])
	}
	mu.Unlock()
	t.Logf("partitions that did not move: longest gap between deliveries while b joined: %v", worst)
	a.close(t)
	b.close(t)
}

// TestGroupZooKeeperLeaderLoss: a 3-node ZooKeeper loses its leader while
// the group consumes: nothing is lost.
func TestGroupZooKeeperLeaderLoss(t *testing.T) {
	if os.Getenv(testenv.EnvZooKeeper) != "" || testing.Short() {
		t.Skip("starts its own 3-node ensemble")
	}
	ens, err := testenv.StartEnsemble(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ens.Close() })
	const topic, parts = "t", 8
	c := startClusterOn(t, ens.Addrs(), map[string]int32{topic: parts})
	l := newLedger()
	cfg := groupConfig()
	cfg.ZookeeperTimeout = 6 * time.Second
	a := c.join("a", "g", []string{topic}, cfg, false, l.handle)
	b := c.join("b", "g", []string{topic}, cfg, false, l.handle)
	c.produce(topic, parts, 3000)
	l.waitProcessed(t, 1000)
	leader, err := ens.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if err := ens.Kill(leader); err != nil {
		t.Fatal(err)
	}
	c.produce(topic, parts, 3000)
	l.waitProcessed(t, 6000)
	if err := ens.Restart(leader); err != nil {
		t.Fatal(err)
	}
	c.produce(topic, parts, 1000)
	l.waitProcessed(t, 7000)
	a.close(t)
	b.close(t)
	l.mu.Lock()
	dups := 0
	for _, n := range l.count {
		dups += n - 1
	}
	l.mu.Unlock()
	t.Logf("7000 produced, %d distinct processed, %d duplicates", l.processedNow(), dups)
	if dups > 0 {
		t.Errorf("%d duplicates: the members' sessions should have survived the leader's loss", dups)
	}
	checkClean(t, c, "g", l)
}
