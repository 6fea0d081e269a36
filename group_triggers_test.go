package consumergroup_test

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	cg "github.com/consumergroup/consumergroup"
)

// TestGroupPartitionsAddedKafkaOnly: for a topic ZooKeeper does not describe
// (no /brokers/topics node, as on a cluster without ZooKeeper), partition
// counts come from Kafka's metadata, and added partitions are consumed.
func TestGroupPartitionsAddedKafkaOnly(t *testing.T) {
	const topic = "kraft"
	c := startCluster(t, map[string]int32{topic: 2})
	z := dialZK(t, c.chroot)
	if err := z.DeleteAll(testCtx(t), "/brokers/topics/"+topic); err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	a := c.join("a", "g", []string{topic}, groupConfig(), false, l.handle)
	c.produce(topic, 2, 100)
	l.waitProcessed(t, 100)

	resp, err := kadm.NewClient(c.producer).CreatePartitions(testCtx(t), 2, topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatal(err)
	}
	c.produce(topic, 4, 400)
	l.waitProcessed(t, 500)
	if got := len(a.group.ClaimedPartitions()); got != 4 {
		t.Fatalf("a holds %d partitions after 2 were added, want 4", got)
	}
	a.close(t)
}

// TestGroupStrategyMismatch: a member configured with another strategy than
// the leader's gets ErrStrategyMismatch, and still follows the published
// assignment (nothing is left unconsumed).
func TestGroupStrategyMismatch(t *testing.T) {
	const topic = "t"
	c := startCluster(t, map[string]int32{topic: 4})
	l := newLedger()
	a := c.join("a", "g", []string{topic}, groupConfig(), false, l.handle)
	waitNotification(t, a, cg.REBALANCE_OK, "a's first assignment")
	other := groupConfig()
	other.Strategy = cg.StrategyRoundRobin
	b := c.join("b", "g", []string{topic}, other, false, l.handle)
	c.produce(topic, 4, 400)
	l.waitProcessed(t, 400)
	for {
		n := waitNotification(t, b, cg.REBALANCE_ERROR, "b's strategy mismatch")
		if errors.Is(n.Err, cg.ErrStrategyMismatch) {
			break
		}
	}
	a.close(t)
	b.close(t)
}
