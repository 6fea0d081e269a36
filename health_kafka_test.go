package consumergroup_test

import (
	"errors"
	"fmt"
	"path"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestHealthKafkaUnreachable: a ZooKeeper member whose Kafka cannot be
// reached (Brokers behind a proxy that refuses every connection) keeps the
// partitions it claimed and waits for Kafka instead of churning: its claims
// stay (the owner nodes are not created again), Health names Kafka
// unreachable (so HealthyExcept(ReasonNoPartitions, ReasonRebalancing), a
// readiness check, says not ready), and one REBALANCE_ERROR matching
// ErrKafkaUnreachable tells the application, not one per retry. It used to
// release and claim again 20 times in 4 s, with only "no partitions" in
// Health. A partition the assignment moves away is still released, and
// once Kafka answers the member delivers.
func TestHealthKafkaUnreachable(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 2})
	c.produce("t", 2, 10)
	proxy, err := testenv.NewProxy(c.kafka.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	proxy.Cut()

	join := func(notes chan *cg.Notification) *cg.ConsumerGroup {
		cfg := groupConfig()
		cfg.Brokers = []string{proxy.Addr()}
		cfg.Notifications = notes
		g, err := cg.JoinConsumerGroupTopics(testCtx(t), "g", []string{"t"}, []string{c.servers[0] + c.chroot}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	notes := make(chan *cg.Notification, 1000)
	a := join(notes)
	h := waitHealth(t, a, "Kafka unreachable", func(h cg.Health) bool { return hasReason(h, cg.ReasonKafkaUnreachable) })
	t.Logf("health: %v", h)
	if h.HealthyExcept(cg.ReasonNoPartitions, cg.ReasonRebalancing) {
		t.Fatalf("a readiness check says ready with Kafka unreachable: %v", h)
	}

	conn := rawZK(t)
	owner := func(p int) (string, int64) {
		data, st, err := conn.Get(path.Join(c.chroot, "consumers/g/owners/t", fmt.Sprint(p)))
		if err != nil {
			return "", 0
		}
		return string(data), st.Czxid
	}
	waitFor(t, "a claims both partitions", func() bool {
		o0, _ := owner(0)
		o1, _ := owner(1)
		return o0 != "" && o0 == o1
	}, func() string { o0, _ := owner(0); o1, _ := owner(1); return o0 + " " + o1 })
	id0, z0 := owner(0)
	_, z1 := owner(1)
	time.Sleep(3 * time.Second) // what churned 15 times in 3 s must stay still
	if id, z := owner(0); id != id0 || z != z0 {
		t.Fatalf("partition 0's claim changed while Kafka was unreachable: %s (czxid %d), was %s (%d)", id, z, id0, z0)
	}
	if _, z := owner(1); z != z1 {
		t.Fatalf("partition 1's claim was created again while Kafka was unreachable")
	}
	unreachable := 0
	for _, n := range drainAll(notes) {
		if n.Type == cg.REBALANCE_ERROR {
			if !errors.Is(n.Err, cg.ErrKafkaUnreachable) {
				t.Errorf("REBALANCE_ERROR: %v, want ErrKafkaUnreachable", n.Err)
			}
			unreachable++
		}
	}
	if unreachable != 1 {
		t.Fatalf("%d REBALANCE_ERROR notifications while Kafka was unreachable, want 1", unreachable)
	}
	if got := a.ClaimedPartitions(); len(got) != 0 {
		t.Fatalf("delivering %v without Kafka's offsets", got)
	}

	// b joins: the partition moved to b is released by a and claimed by b.
	b := join(nil)
	waitFor(t, "one partition each", func() bool {
		o0, _ := owner(0)
		o1, _ := owner(1)
		return o0 != "" && o1 != "" && o0 != o1
	}, func() string { o0, _ := owner(0); o1, _ := owner(1); return o0 + " " + o1 })

	proxy.Restore()
	waitFor(t, "both deliver once Kafka answers", func() bool {
		return len(a.ClaimedPartitions()) == 1 && len(b.ClaimedPartitions()) == 1
	}, func() string { return fmt.Sprint(a.Health(), b.Health()) })
	waitHealth(t, a, "Kafka answers again", func(h cg.Health) bool { return !hasReason(h, cg.ReasonKafkaUnreachable) })
}
