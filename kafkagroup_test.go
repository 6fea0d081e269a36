package consumergroup_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaConfigValidation: fields of one coordinator are refused by the
// other's constructor, and strategies a protocol cannot run by
// JoinKafkaConsumerGroup, each error naming the field.
func TestKafkaConfigValidation(t *testing.T) {
	c := startClusterSetup(t, setup{coord: coordClassic, kind: testenv.KindKfake}, map[string]int32{"t": 1})
	for _, tc := range []struct {
		name, field string
		mod         func(*cg.ConsumerGroupConfig)
	}{
		{"chroot", "ZookeeperChroot", func(c *cg.ConsumerGroupConfig) { c.ZookeeperChroot = "/kafka" }},
		{"brokers", "Brokers", func(c *cg.ConsumerGroupConfig) { c.Brokers = []string{"127.0.0.1:9092"} }},
		{"listener", "BrokerListener", func(c *cg.ConsumerGroupConfig) { c.BrokerListener = "PLAINTEXT" }},
		{"range on classic", "Strategy", func(c *cg.ConsumerGroupConfig) { c.Strategy = cg.StrategyRange }},
		{"round robin on consumer", "Strategy", func(c *cg.ConsumerGroupConfig) {
			c.GroupProtocol, c.Strategy = cg.GroupProtocolConsumer, cg.StrategyRoundRobin
		}},
		{"bad protocol", "GroupProtocol", func(c *cg.ConsumerGroupConfig) { c.GroupProtocol = "eager" }},
		{"bad instance id", "InstanceID", func(c *cg.ConsumerGroupConfig) { c.InstanceID = "a b" }},
		{"no session", "SessionTimeout", func(c *cg.ConsumerGroupConfig) { c.SessionTimeout = 0 }},
	} {
		cfg := cg.NewConsumerGroupConfig()
		tc.mod(cfg)
		g, err := cg.JoinKafkaConsumerGroup(testCtx(t), "g", []string{"t"}, c.kafka.Addrs(), cfg)
		if g != nil {
			g.Close()
		}
		if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "ConsumerGroupConfig."+tc.field) {
			t.Errorf("%s: JoinKafkaConsumerGroup = %v, want ErrInvalidArgument naming %s", tc.name, err, tc.field)
		}
	}
	for _, tc := range []struct {
		name, field string
		mod         func(*cg.ConsumerGroupConfig)
	}{
		{"protocol", "GroupProtocol", func(c *cg.ConsumerGroupConfig) { c.GroupProtocol = cg.GroupProtocolClassic }},
		{"instance id", "InstanceID", func(c *cg.ConsumerGroupConfig) { c.InstanceID = "a" }},
	} {
		cfg := cg.NewConsumerGroupConfig()
		tc.mod(cfg)
		_, err := cg.JoinConsumerGroupTopics(testCtx(t), "g", []string{"t"}, []string{c.servers[0] + c.chroot}, cfg)
		if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "ConsumerGroupConfig."+tc.field) {
			t.Errorf("%s: JoinConsumerGroup = %v, want ErrInvalidArgument naming %s", tc.name, err, tc.field)
		}
	}
	if _, err := cg.JoinKafkaConsumerGroup(testCtx(t), "g", []string{"missing"}, c.kafka.Addrs(), nil); !errors.Is(err, cg.ErrUnknownTopic) {
		t.Errorf("unknown topic: %v, want ErrUnknownTopic", err)
	}
}

// TestKafkaUnknownTopicEveryBroker: on every broker a join naming a topic
// that does not exist is refused with ErrUnknownTopic naming it, and one
// naming topics that exist joins. Kafka 4 and kfake are asked with
// DescribeTopicPartitions (one partition per topic), Kafka 3.9 in
// ZooKeeper mode, which lacks it, with Metadata.
func TestKafkaUnknownTopicEveryBroker(t *testing.T) {
	forEachSetup(t, withClassic39(kafkaMatrix()), func(t *testing.T, s setup) {
		c := startClusterSetup(t, s, map[string]int32{"k": 3, "l": 2})
		cfg := groupConfig()
		cfg.GroupProtocol = map[string]string{coordClassic: cg.GroupProtocolClassic, coordConsumer: cg.GroupProtocolConsumer}[s.coord]
		described := &keyWrites{key: kmsg.DescribeTopicPartitions}
		cfg.KafkaOptions = append(cfg.KafkaOptions, kgo.WithHooks(described))
		defer func() {
			n := described.n.Load()
			if s.kind == testenv.KindKafka39 && n != 0 {
				t.Errorf("%d DescribeTopicPartitions requests to Kafka 3.9 in ZooKeeper mode, which does not offer it", n)
			}
			if s.kind != testenv.KindKafka39 && n == 0 {
				t.Errorf("no DescribeTopicPartitions request: the join read its topics' metadata")
			}
		}()
		missing := c.topic("missing")
		_, err := cg.JoinKafkaConsumerGroup(testCtx(t), c.group("u"), []string{c.topic("k"), missing, c.topic("l")}, c.kafka.Addrs(), cfg)
		if !errors.Is(err, cg.ErrUnknownTopic) || !strings.Contains(err.Error(), missing) {
			t.Errorf("join naming %s = %v, want ErrUnknownTopic naming it", missing, err)
		}
		g, err := cg.JoinKafkaConsumerGroup(testCtx(t), c.group("u"), []string{c.topic("k"), c.topic("l")}, c.kafka.Addrs(), cfg)
		if err != nil {
			t.Fatalf("join naming existing topics: %v", err)
		}
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// keyWrites counts the requests of key written: kgo.HookBrokerWrite.
type keyWrites struct {
	key kmsg.Key
	n   atomic.Int64
}

func (h *keyWrites) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && key == h.key.Int16() {
		h.n.Add(1)
	}
}

// TestKafkaProtocolRuns: the protocol asked for is the one that runs
// (franz-go falls back to classic silently), and Kafka's tools see the
// group's members and committed offsets.
func TestKafkaProtocolRuns(t *testing.T) {
	forEachSetup(t, withClassic39(kafkaMatrix()), testKafkaProtocolRuns)
}

func testKafkaProtocolRuns(t *testing.T, s setup) {
	c := startClusterSetup(t, s, map[string]int32{"p": 4})
	topic, group := c.topic("p"), c.group("g")
	l := newLedger()
	a := c.join("a", group, []string{topic}, groupConfig(), false, l.handle)
	c.produce(topic, 4, 400)
	l.waitProcessed(t, 400)
	adm := c.admin()
	ctx := testCtx(t)
	if s.coord == coordConsumer {
		d, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		if g, ok := d[group]; !ok || g.Err != nil || len(g.Members) != 1 {
			t.Fatalf("ConsumerGroupDescribe (KIP-848) of %s: %+v", group, d)
		}
	} else {
		d, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		if g := d[group]; g.Protocol != "cooperative-sticky" || len(g.Members) != 1 {
			t.Fatalf("DescribeGroups of %s: protocol %q, %d members; want cooperative-sticky, 1", group, g.Protocol, len(g.Members))
		}
	}
	a.close(t)
	checkClean(t, c, group, l)
}

// TestKafkaStaticMembership: a member with an InstanceID that restarts
// within the session timeout gets its partitions back, and the other
// member's partitions never move.
func TestKafkaStaticMembership(t *testing.T) {
	forEachSetup(t, kafkaMatrix(), testKafkaStaticMembership)
}

func testKafkaStaticMembership(t *testing.T, s setup) {
	c := startClusterSetup(t, s, map[string]int32{"s": 8})
	topic, group := c.topic("s"), c.group("g")
	l := newLedger()
	cfgA, cfgB := groupConfig(), groupConfig()
	cfgA.InstanceID, cfgB.InstanceID = "a-1", "b-1"
	a := c.join("a", group, []string{topic}, cfgA, false, l.handle)
	b := c.join("b", group, []string{topic}, cfgB, false, l.handle)
	waitHeld(t, a, 4)
	waitHeld(t, b, 4)
	c.produce(topic, 8, 800)
	l.waitProcessed(t, 800)
	heldA, heldB := a.group.ClaimedPartitions(), b.group.ClaimedPartitions()
	drainAll(b.events)

	a.close(t)
	a2 := c.join("a2", group, []string{topic}, cfgA, false, l.handle)
	waitHeld(t, a2, 4)
	c.produce(topic, 8, 800)
	l.waitProcessed(t, 1600)
	// Kafka 4.4's KIP-848 coordinator does not keep a static member's
	// partitions for it while it restarts: they move to the others (and
	// back, or not). Nothing is lost or processed twice, but they move:
	// logged there, an error everywhere else.
	moves := t.Errorf
	if s.coord == coordConsumer && s.kind != testenv.KindKfake {
		moves = t.Logf
	}
	if got := a2.group.ClaimedPartitions(); !equalTPs(got, heldA) {
		moves("a restarted with %v, held %v before", got, heldA)
	}
	if got := b.group.ClaimedPartitions(); !equalTPs(got, heldB) {
		moves("b holds %v, held %v before a's restart", got, heldB)
	}
	notes := drainAll(b.events)
	for _, n := range notes {
		if len(n.Claimed)+len(n.Released) > 0 {
			moves("partitions of b moved during a's restart: claimed %v, released %v", n.Claimed, n.Released)
		}
	}
	for _, n := range notes {
		b.events <- n // for checkExactlyOnce: the HANDOFF_TIMEOUT announcements
	}
	a2.close(t)
	b.close(t)
	checkExactlyOnce(t, l, a, a2, b)
}

// TestKafkaFencing: a member cut off from Kafka stops delivering before
// its session can end (ErrSessionExpired), its partitions go to the other
// member, and once back its commits of them are refused (ErrNotOwner)
// until the group gives it partitions again; nothing is lost, no partition
// is processed by two members at once.
func TestKafkaFencing(t *testing.T) { forEachSetup(t, kafkaMatrix(), testKafkaFencing) }

func testKafkaFencing(t *testing.T, s setup) {
	c := startClusterSetup(t, s, map[string]int32{"f": 4})
	topic, group := c.topic("f"), c.group("g")
	l := newLedger()
	a := c.join("a", group, []string{topic}, groupConfig(), false, l.handle)
	b := c.join("b", group, []string{topic}, groupConfig(), false, l.handle)
	waitHeld(t, a, 2)
	waitHeld(t, b, 2)
	c.produce(topic, 4, 400)
	l.waitProcessed(t, 400)
	lost := a.group.ClaimedPartitions()
	oldID := a.group.ID()

	a.cutter.Cut()
	waitHeld(t, a, 0)
	waitHeld(t, b, 4)
	c.produce(topic, 4, 400)
	l.waitProcessed(t, 800)
	if err := a.group.CommitOffset(testCtx(t), lost[0].Topic, lost[0].Partition, 1); !errors.Is(err, cg.ErrNotOwner) {
		t.Errorf("commit of %v by the fenced member: %v, want ErrNotOwner", lost[0], err)
	}
	c.waitKafkaGone(oldID)
	a.cutter.Restore()
	waitHeld(t, a, 2)
	c.produce(topic, 4, 400)
	l.waitProcessed(t, 1200)
	a.close(t)
	b.close(t)
	sawLoss := false
	for _, n := range drainAll(a.events) {
		if n.Type == cg.REBALANCE_ERROR && errors.Is(n.Err, cg.ErrSessionExpired) {
			sawLoss = true
		}
	}
	if !sawLoss {
		t.Error("no REBALANCE_ERROR with ErrSessionExpired on the cut member")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.overlaps) > 0 {
		t.Errorf("partitions processed by two members at once: %v", l.overlaps)
	}
}

// drainAll returns the notifications queued in ch.
func drainAll(ch chan *cg.Notification) []*cg.Notification {
	var out []*cg.Notification
	for {
		select {
		case n := <-ch:
			out = append(out, n)
		case <-time.After(10 * time.Millisecond):
			return out
		}
	}
}

func equalTPs(a, b []cg.TopicPartition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestKafkaCloseWhileReading is TestCloseWhileReading on Kafka's
// coordinator: Close from another goroutine while the loop reads Stream;
// delivered offsets are contiguous and the commit is right after the last.
func TestKafkaCloseWhileReading(t *testing.T) {
	forEachSetup(t, []setup{{coord: coordClassic, kind: testenv.KindKfake}, {coord: coordConsumer, kind: testenv.KindKfake}}, func(t *testing.T, s setup) {
		for run := range 3 {
			c := startClusterSetup(t, s, map[string]int32{"t": 1})
			c.produce("t", 1, 5000)
			m := &testMember{name: "a", events: make(chan *cg.Notification, 1000)}
			c.joinKafka(m, "g", []string{"t"}, groupConfig())
			next := int64(0)
			for ev := range m.group.Stream() {
				if ev.Offset != next {
					t.Fatalf("run %d: offset %d delivered after %d: %d messages skipped", run, ev.Offset, next-1, ev.Offset-next)
				}
				next++
				if next == 500 {
					go m.group.Close()
				}
			}
			if off := c.committed("g")["t"][0]; off != next {
				t.Fatalf("run %d: committed %d after delivering up to %d", run, off, next-1)
			}
		}
	})
}
