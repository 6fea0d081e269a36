package consumergroup_test

import (
	"errors"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestCheckoutRotates: with CheckoutInterval, Checkout hands every claimed
// partition out in turn, commits what the callback consumed, and
// DiscardCommit delivers it again.
func TestCheckoutRotates(t *testing.T) {
	setups := []setup{{coord: coordClassic, kind: testenv.KindKfake}, {coord: coordConsumer, kind: testenv.KindKfake}}
	for _, k := range testenv.KafkaKinds() {
		setups = append(setups, setup{coord: coordZK, kind: k})
	}
	forEachSetup(t, setups, testCheckoutRotates)
}

func testCheckoutRotates(t *testing.T, s setup) {
	const parts = 4
	c := startClusterSetup(t, s, map[string]int32{"t": parts})
	topic, group := c.topic("t"), c.group("g")
	c.produce(topic, parts, 400)
	cfg := groupConfig()
	cfg.CheckoutInterval = 50 * time.Millisecond
	var g *cg.ConsumerGroup
	if c.kafkaCoord() {
		m := &testMember{name: "a", events: make(chan *cg.Notification, 1000)}
		c.joinKafka(m, group, []string{topic}, cfg)
		g = m.group
	} else {
		var err error
		if g, err = cg.JoinConsumerGroup(group, topic, c.joinAddrs(cfg), cfg); err != nil {
			t.Fatal(err)
		}
	}
	defer g.Close()

	seen := map[int32]int{} // partition to messages consumed (committed)
	var order []int32
	discarded := false
	deadline := time.Now().Add(testTimeout)
	for total(seen) < 400 {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of 400 messages: %v", total(seen), seen)
		}
		err := g.Checkout(func(pc *cg.PartitionConsumer) error {
			ch := make(chan *cg.ConsumerEvent, 1000)
			if err := pc.Fetch(ch, 20*time.Millisecond, nil); err != nil {
				return err
			}
			close(ch)
			n := 0
			for ev := range ch {
				if ev.Partition != pc.Partition() {
					t.Errorf("Fetch of partition %d delivered partition %d", pc.Partition(), ev.Partition)
				}
				n++
			}
			order = append(order, pc.Partition()) // a discarded turn is a turn too
			if n > 0 && !discarded {
				discarded = true
				return cg.DiscardCommit // delivered again next time
			}
			seen[pc.Partition()] += n
			return nil
		})
		if errors.Is(err, cg.NoCheckout) {
			time.Sleep(10 * time.Millisecond) // nothing claimed yet: the documented way is to call again
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// A few more turns, with nothing left to read: the rotation goes on.
	for range 3 * parts {
		if err := g.Checkout(func(pc *cg.PartitionConsumer) error {
			order = append(order, pc.Partition())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != parts || total(seen) != 400 {
		t.Fatalf("consumed %v, want 100 of each of %d partitions, each once", seen, parts)
	}
	// Rotation: once the member holds every partition (claims arrive one by
	// one at the start), four consecutive checkouts name four different
	// partitions.
	start, seenAll := 0, map[int32]bool{}
	for i, p := range order {
		seenAll[p] = true
		if len(seenAll) == parts {
			start = i + 1
			break
		}
	}
	if len(order)-start < 2*parts {
		t.Fatalf("too few checkouts after the member held every partition to judge rotation: %v", order)
	}
	for i := start; i+parts <= len(order); i++ {
		distinct := map[int32]bool{}
		for _, p := range order[i : i+parts] {
			distinct[p] = true
		}
		if len(distinct) != parts {
			t.Fatalf("checkouts %v do not rotate through the %d partitions", order, parts)
		}
	}
	committed := c.committed(group)
	for p := range int32(parts) {
		if off, ok := committed[topic][p]; !ok || off != 100 {
			t.Fatalf("committed offset of %d = %d (%v); want 100", p, off, ok)
		}
	}
}

func total(m map[int32]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestCheckoutDiscardWhilePaused is the regression test of a stall: a
// DiscardCommit on a partition whose fetching was paused (its queue full)
// rewound it but left franz-go's pause in place, and nothing of it came
// again.
func TestCheckoutDiscardWhilePaused(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 1})
	c.produce("t", 1, 20000) // more than a queue holds: fetching pauses
	cfg := groupConfig()
	cfg.CheckoutInterval = 200 * time.Millisecond
	g, err := cg.NewConsumerGroup(newClient(t, c), dialZK(t, c.chroot), "g", "t", nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got, discarded := 0, false
	deadline := time.Now().Add(testTimeout)
	for got < 20000 {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of 20000 messages", got)
		}
		err := g.Checkout(func(pc *cg.PartitionConsumer) error {
			ch := make(chan *cg.ConsumerEvent, 20000)
			if err := pc.Fetch(ch, 100*time.Millisecond, nil); err != nil {
				return err
			}
			if !discarded && len(ch) > 0 {
				discarded = true
				return cg.DiscardCommit
			}
			got += len(ch)
			return nil
		})
		if errors.Is(err, cg.NoCheckout) {
			time.Sleep(10 * time.Millisecond) // nothing claimed yet: call again, as documented
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got != 20000 {
		t.Fatalf("consumed %d messages, want 20000 exactly once", got)
	}
}
