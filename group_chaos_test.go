package consumergroup_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestGroupChaos: 4 members on 32 partitions consume 50,000
// sequence-numbered messages while members join, leave gracefully and crash
// (session expiry through the proxy; on Kafka's coordinator also a blip of a
// member's connections), and partitions are added. Every message is
// processed; never by two members at once; duplicates only from the crash
// and other session losses (a loaded machine makes them), only inside the
// lost member's uncommitted window, or announced by HANDOFF_TIMEOUT.
func TestGroupChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	// The pull API and MarkDone, on kfake, once each (the engine's paths
	// are the same for every coordinator).
	modes := []setup{{coord: coordClassic, kind: testenv.KindKfake, mode: modePull}, {coord: coordZK, kind: testenv.KindKfake, mode: modeDone}}
	forEachSetup(t, append(fullMatrix(), modes...), testGroupChaos)
}

func testGroupChaos(t *testing.T, s setup) {
	c := startClusterSetup(t, s, map[string]int32{"chaos": 32})
	topic, group := c.topic("chaos"), c.group("g")
	l := newLedger()
	losses := newLossRecorder(t, c, group, l)
	join := func(name string, proxy bool) *testMember {
		// The member that crashes (through its proxy) has the short
		// session; the others keep theirs through a stall of ZooKeeper on
		// a loaded machine, which would otherwise make crashes of them too.
		cfg := gracefulConfig()
		if proxy {
			cfg = groupConfig()
		}
		cfg.Metrics = losses.metrics(name)
		return c.join(name, group, []string{topic}, cfg, proxy, l.handle)
	}

	a, b := join("a", false), join("b", false)
	c.produce(topic, 32, 10000)
	crashy := join("c", true) // c and d join while messages flow
	d := join("d", false)
	l.waitProcessed(t, 10000)

	c.produce(topic, 32, 10000)
	if c.kafkaCoord() {
		// A blip of d's connections while messages flow: d stops on its
		// own (franz-go's OnPartitionsLost, or two thirds of the
		// session without an answer) and joins again, a session loss
		// as a loaded machine makes them: crash-like, its redeliveries
		// inside its uncommitted window (see lossRecorder).
		d.cutter.Cut()
		waitHeld(t, d, 0)
		d.cutter.Restore()
	}
	l.waitProcessed(t, 20000)

	// b leaves gracefully.
	b.close(t)
	c.produce(topic, 32, 10000)
	l.waitProcessed(t, 30000)

	// c crashes: cut off from its coordinator (ZooKeeper, or Kafka's: all
	// its Kafka connections), it gets no chance to commit.
	oldID := crashy.group.ID()
	held := crashy.group.ClaimedPartitions()
	if c.kafkaCoord() {
		crashy.cutter.Cut()
		// It stops on its own before the coordinator's session timeout.
		waitHeld(t, crashy, 0)
	} else {
		sess, err := crashy.zk.Session(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		crashy.proxy.Cut()
		waitClosed(t, sess.Done(), "c's session end")
	}
	// From here c delivers nothing and can commit nothing: what is committed
	// now bounds what may be delivered twice.
	committedAtCrash := map[cg.TopicPartition]int64{}
	committed := c.committed(group)
	for _, tp := range held {
		committedAtCrash[tp] = committed[tp.Topic][tp.Partition]
	}
	l.mu.Lock()
	processedAtCrash := map[cg.TopicPartition]int64{}
	for tp, off := range l.perMember["c"] {
		processedAtCrash[tp] = off
	}
	l.mu.Unlock()
	c.produce(topic, 32, 10000)
	l.waitProcessed(t, 40000)

	// Partitions are added; c comes back (a new session, a new id); e joins.
	if err := c.kafka.AddPartitions(testCtx(t), topic, 40); err != nil {
		t.Fatal(err)
	}
	if c.kafkaCoord() {
		c.waitKafkaGone(oldID)
		crashy.cutter.Restore()
	} else {
		waitGone(t, dialZK(t, c.chroot), group, oldID)
		crashy.proxy.Restore()
	}
	e := join("e", false)
	c.produce(topic, 40, 10000)
	l.waitProcessed(t, 50000)

	for _, m := range []*testMember{a, crashy, d, e} {
		m.close(t)
	}

	announced := handoffTimeouts(a, b, crashy, d, e)
	redelivered := 0
	l.mu.Lock()
	if len(l.overlaps) > 0 {
		t.Errorf("partitions processed by two members at once: %v", l.overlaps[:min(10, len(l.overlaps))])
	}
	inWindow, lossDups, outside := 0, 0, []string{}
	for seq, n := range l.count {
		if n == 1 {
			continue
		}
		// The only duplicates allowed: first processed by c before the
		// crash, above what c had committed.
		tp, off := l.where[seq].tp, l.where[seq].off
		first := l.by[seq][0]
		if first == "c" && off >= committedAtCrash[tp] && off <= processedAtCrash[tp] && n == 2 {
			inWindow++
			continue
		}
		// And those announced by HANDOFF_TIMEOUT (an idle loop's last
		// message, see handoffTimeouts).
		if announcedDuplicate(l, announced, seq, n) {
			redelivered++
			continue
		}
		// And those of another session loss (on a loaded machine, a
		// member not meant to crash may lose its session too): a
		// crash's, inside that member's uncommitted window then.
		if losses.covers(seq, n) {
			lossDups++
			continue
		}
		outside = append(outside, fmt.Sprintf("seq %d (%s/%d@%d) %d× by %v", seq, tp.Topic, tp.Partition, off, n, l.by[seq]))
	}
	sort.Strings(outside)
	if len(outside) > 0 {
		t.Errorf("%d duplicates outside the crash's uncommitted window (sessions lost: %s): %s", len(outside), losses, strings.Join(outside[:min(10, len(outside))], "; "))
	}
	window := int64(0)
	for tp, committed := range committedAtCrash {
		if p, ok := processedAtCrash[tp]; ok && p >= committed {
			window += p - committed + 1
		}
	}
	missing := 0
	for seq := range 50000 {
		if l.count[seq] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d messages never processed", missing)
	}
	t.Logf("produced 50000, processed %d distinct, lost %d, duplicates %d (crash window %d messages over %d partitions), %d announced by HANDOFF_TIMEOUT, %d inside the windows of sessions lost (%s)",
		l.processed, missing, inWindow, window, len(committedAtCrash), redelivered, lossDups, losses)
	l.mu.Unlock()
	checkCleanAnnounced(t, c, group, l, announced)
}

// waitGone waits until member id's registration is gone from group.
func waitGone(t *testing.T, z *cg.ZK, group, id string) {
	t.Helper()
	for {
		ids, w, err := z.Consumers(testCtx(t), group)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ids, id) {
			return
		}
		waitEvent(t, w, "the crashed member's registration to go")
	}
}
