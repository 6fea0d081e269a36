package consumergroup_test

import (
	"fmt"
	"testing"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// startBurrow starts Burrow (LinkedIn's lag monitor, Debian's package) on
// c's ZooKeeper (under c's chroot) and Kafka, and waits until its cluster
// module lists topic's parts partitions: Burrow keeps consumer offsets only
// of partitions it knows. It is stopped when the test ends; its output is
// logged if the test failed.
func startBurrow(t *testing.T, c *cluster, topic string, parts int) *testenv.Burrow {
	t.Helper()
	if !testenv.BurrowInstalled() {
		t.Fatal("Burrow is not installed: run scripts/ensure-burrow.sh (make test does), or apt-get install burrow")
	}
	// Burrow lists /consumers once at its start and never again if it is
	// missing: a Kafka cluster's ZooKeeper has it.
	if err := dialZK(t, c.chroot).MkdirAll(testCtx(t), "/consumers"); err != nil {
		t.Fatal(err)
	}
	b, err := testenv.StartBurrow(testenv.BurrowConfig{ZooKeeper: c.servers, Chroot: c.chroot, Kafka: c.kafka.Addrs(), Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("Burrow's output:\n%s", b.Output())
		}
	})
	testenv.WaitFor(t, testTimeout, "Burrow's cluster module to list "+topic, func() error {
		offsets, err := b.TopicOffsets(topic)
		if err == nil && len(offsets) != parts {
			err = fmt.Errorf("offsets %v", offsets)
		}
		return err
	})
	return b
}

// waitBurrowOffsets waits until Burrow lists parts partitions of topic for
// group, each with an offset, and returns, for each, whether it has one.
func waitBurrowOffsets(t *testing.T, b *testenv.Burrow, group, topic string, parts int) []bool {
	t.Helper()
	var last []bool
	testenv.WaitFor(t, testTimeout, "Burrow to see an offset for every partition of "+topic, func() error {
		offsets, err := b.ConsumerOffsets(group, topic)
		if err != nil {
			return err
		}
		last = last[:0]
		var missing []int
		for p, o := range offsets {
			last = append(last, len(o) > 0)
			if len(o) == 0 {
				missing = append(missing, p)
			}
		}
		if len(offsets) != parts || len(missing) > 0 {
			return fmt.Errorf("Burrow lists %d partitions, without an offset: %v", len(offsets), missing)
		}
		return nil
	})
	return last
}

// TestBurrow runs the real Burrow (its ZooKeeper consumer module) against a
// group of ours that consumes half of a topic: one member runs, the other
// half of the partitions is assigned to a member that has not started. Burrow
// reads a topic's offset nodes by their count, once, so it must see every
// partition's node at once; it then reports an offset for every partition.
func TestBurrow(t *testing.T) {
	const topic, parts, group = "orders", 8, "burrowed"
	c := startCluster(t, map[string]int32{topic: parts})
	c.produce(topic, parts, 8*parts)
	b := startBurrow(t, c, topic, parts)

	idleMember(t, dialZK(t, c.chroot), group, topic)
	l := newLedger()
	m := c.join("a", group, []string{topic}, groupConfig(), false, l.handle)
	l.waitProcessed(t, 4*parts) // its half: 4 partitions of 8 messages

	t.Logf("Burrow sees offsets of partitions: %v", waitBurrowOffsets(t, b, group, topic, parts))
	m.close(t)
}

// TestBurrowTwoMembers is the case Burrow was seen to miss partitions in:
// two members that start together, with interleaved partitions
// (round-robin), each writing its initial offsets.
func TestBurrowTwoMembers(t *testing.T) {
	const topic, parts, group = "orders", 8, "pair"
	c := startCluster(t, map[string]int32{topic: parts})
	c.produce(topic, parts, 8*parts)
	b := startBurrow(t, c, topic, parts)
	cfg := groupConfig()
	cfg.Strategy = cg.StrategyRoundRobin
	l := newLedger()
	m1 := c.join("a", group, []string{topic}, cfg, false, l.handle)
	m2 := c.join("b", group, []string{topic}, cfg, false, l.handle)
	l.waitProcessed(t, 8*parts)
	waitBurrowOffsets(t, b, group, topic, parts)
	m1.close(t)
	m2.close(t)
}
