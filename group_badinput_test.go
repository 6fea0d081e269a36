package consumergroup_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestBadInputValidate: Validate refuses every bad value with an error that
// matches ErrInvalidArgument and names the field.
func TestBadInputValidate(t *testing.T) {
	if err := cg.NewConsumerGroupConfig().Validate(); err != nil {
		t.Fatalf("the default configuration does not validate: %v", err)
	}
	cases := []struct {
		name  string
		field string // what the error must name
		mod   func(*cg.ConsumerGroupConfig)
	}{
		{"zero ZookeeperTimeout", "ZookeeperTimeout", func(c *cg.ConsumerGroupConfig) { c.ZookeeperTimeout = 0 }},
		{"negative ZookeeperTimeout", "ZookeeperTimeout", func(c *cg.ConsumerGroupConfig) { c.ZookeeperTimeout = -time.Second }},
		{"zero CheckoutInterval", "CheckoutInterval", func(c *cg.ConsumerGroupConfig) { c.CheckoutInterval = 0 }},
		{"negative CheckoutInterval", "CheckoutInterval", func(c *cg.ConsumerGroupConfig) { c.CheckoutInterval = -time.Millisecond }},
		{"zero CommitInterval", "CommitInterval", func(c *cg.ConsumerGroupConfig) { c.CommitInterval = 0 }},
		{"negative CommitInterval", "CommitInterval", func(c *cg.ConsumerGroupConfig) { c.CommitInterval = -time.Second }},
		{"zero HandoffTimeout", "HandoffTimeout", func(c *cg.ConsumerGroupConfig) { c.HandoffTimeout = 0 }},
		{"negative HandoffTimeout", "HandoffTimeout", func(c *cg.ConsumerGroupConfig) { c.HandoffTimeout = -time.Second }},
		{"zero MetadataInterval", "MetadataInterval", func(c *cg.ConsumerGroupConfig) { c.MetadataInterval = 0 }},
		{"negative MetadataInterval", "MetadataInterval", func(c *cg.ConsumerGroupConfig) { c.MetadataInterval = -time.Second }},
		{"unknown Strategy", "Strategy", func(c *cg.ConsumerGroupConfig) { c.Strategy = "bogus" }},
		{"InitialOffset 5", "InitialOffset", func(c *cg.ConsumerGroupConfig) { c.InitialOffset = 5 }},
		{"relative chroot", "ZookeeperChroot", func(c *cg.ConsumerGroupConfig) { c.ZookeeperChroot = "kafka" }},
		{"broker without port", "Brokers[0]", func(c *cg.ConsumerGroupConfig) { c.Brokers = []string{"nohost"} }},
		{"broker with port 0", "Brokers[1]", func(c *cg.ConsumerGroupConfig) { c.Brokers = []string{"h:9092", "h:0"} }},
		{"auth without scheme", "ZookeeperAuth[0]", func(c *cg.ConsumerGroupConfig) {
			c.ZookeeperAuth = []cg.ZKAuth{{Scheme: "", Credentials: "user:password"}}
		}},
		{"nil KafkaOptions entry", "KafkaOptions[1]: nil", func(c *cg.ConsumerGroupConfig) {
			c.KafkaOptions = []kgo.Opt{kgo.ClientID("x"), nil}
		}},
		{"empty non-nil ZookeeperACL", "ZookeeperACL: empty", func(c *cg.ConsumerGroupConfig) { c.ZookeeperACL = []zk.ACL{} }},
		{"ZookeeperACL entry without scheme", "ZookeeperACL", func(c *cg.ConsumerGroupConfig) {
			c.ZookeeperACL = []zk.ACL{{Perms: zk.PermAll, ID: "anyone"}}
		}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			cfg := cg.NewConsumerGroupConfig()
			tc.mod(cfg)
			err := cfg.Validate()
			if !errors.Is(err, cg.ErrInvalidArgument) {
				t.Fatalf("Validate() = %v, want an error matching ErrInvalidArgument", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate() = %q, want it to name the field %s", err, tc.field)
			}
			// JoinConsumerGroup validates too, before dialing anything.
			_, err = cg.JoinConsumerGroup("g", "t", []string{closedPort(t)}, cfg)
			if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("JoinConsumerGroup with the bad config = %v, want ErrInvalidArgument naming %s", err, tc.field)
			}
		})
	}
}

// TestBadInputJoinArguments: a group or topic name that cannot be a znode,
// no topic and no ZooKeeper address are refused before anything is dialed.
func TestBadInputJoinArguments(t *testing.T) {
	addr := []string{closedPort(t)}
	ctx := testCtx(t)
	cases := []struct {
		name string
		join func() (*cg.ConsumerGroup, error)
	}{
		{"empty group", func() (*cg.ConsumerGroup, error) { return cg.JoinConsumerGroup("", "t", addr, nil) }},
		{"group with a slash", func() (*cg.ConsumerGroup, error) { return cg.JoinConsumerGroup("a/b", "t", addr, nil) }},
		{"empty topic", func() (*cg.ConsumerGroup, error) { return cg.JoinConsumerGroup("g", "", addr, nil) }},
		{"no topics", func() (*cg.ConsumerGroup, error) {
			return cg.JoinConsumerGroupTopics(ctx, "g", nil, addr, nil)
		}},
		{"one empty topic of two", func() (*cg.ConsumerGroup, error) {
			return cg.JoinConsumerGroupTopics(ctx, "g", []string{"t", ""}, addr, nil)
		}},
		{"nil ZooKeeper addresses", func() (*cg.ConsumerGroup, error) { return cg.JoinConsumerGroup("g", "t", nil, nil) }},
		{"empty ZooKeeper addresses", func() (*cg.ConsumerGroup, error) { return cg.JoinConsumerGroup("g", "t", []string{}, nil) }},
		{"ZooKeeper address without port", func() (*cg.ConsumerGroup, error) {
			return cg.JoinConsumerGroup("g", "t", []string{"nohost"}, nil)
		}},
	}
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			start := time.Now()
			g, err := tc.join()
			if g != nil {
				g.Close()
			}
			if !errors.Is(err, cg.ErrInvalidArgument) {
				t.Fatalf("got %v, want an error matching ErrInvalidArgument", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v: a bad argument should be refused before dialing", d)
			}
		})
	}
}

// TestBadInputZooKeeperUnreachable: with nothing listening at the
// ZooKeeper address, JoinConsumerGroup gives up after about
// ZookeeperTimeout with an error naming the address.
func TestBadInputZooKeeperUnreachable(t *testing.T) {
	addr := closedPort(t)
	cfg := cg.NewConsumerGroupConfig()
	cfg.ZookeeperTimeout = time.Second
	start := time.Now()
	g, err := cg.JoinConsumerGroup("g", "t", []string{addr}, cfg)
	elapsed := time.Since(start)
	if g != nil {
		g.Close()
		t.Fatal("JoinConsumerGroup succeeded without a ZooKeeper")
	}
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("JoinConsumerGroup = %v, want an error naming %s", err, addr)
	}
	// A bound against hanging, not a speed test.
	if elapsed > 5*time.Second {
		t.Fatalf("JoinConsumerGroup returned after %v with a 1 s ZookeeperTimeout", elapsed)
	}
	t.Logf("gave up after %v: %v", elapsed, err)
}

// TestBadInputUnknownTopic: a topic that exists neither in ZooKeeper nor in
// Kafka is refused with ErrUnknownTopic, and nothing is registered.
func TestBadInputUnknownTopic(t *testing.T) {
	c := startCluster(t, map[string]int32{"known": 2})
	zkAddr := []string{testenvAddr(t) + c.chroot}

	g, err := cg.JoinConsumerGroup("g", "nosuchtopic", zkAddr, groupConfig())
	if g != nil {
		g.Close()
	}
	if !errors.Is(err, cg.ErrUnknownTopic) || !strings.Contains(err.Error(), "nosuchtopic") {
		t.Fatalf("JoinConsumerGroup(nosuchtopic) = %v, want ErrUnknownTopic naming the topic", err)
	}

	// One known and one unknown topic: refused as well.
	g, err = cg.JoinConsumerGroupTopics(testCtx(t), "g", []string{"known", "nosuchtopic"}, zkAddr, groupConfig())
	if g != nil {
		g.Close()
	}
	if !errors.Is(err, cg.ErrUnknownTopic) || !strings.Contains(err.Error(), "nosuchtopic") {
		t.Fatalf("JoinConsumerGroupTopics(known, nosuchtopic) = %v, want ErrUnknownTopic naming the topic", err)
	}

	z := dialZK(t, c.chroot)
	ids, _, err := z.Consumers(testCtx(t), "g")
	if err != nil && !errors.Is(err, cg.ErrNoNode) {
		t.Fatal(err)
	}
	if len(ids) != 0 {
		t.Fatalf("a refused join left registrations: %v", ids)
	}
}

// TestBadInputChrootInAddress: as in Kafka's zookeeper.connect, the last
// ZooKeeper address may carry the chroot; a different
// ConsumerGroupConfig.ZookeeperChroot is a conflict.
func TestBadInputChrootInAddress(t *testing.T) {
	const topic, parts, n = "t", 2, 20
	c := startCluster(t, map[string]int32{topic: parts})
	c.produce(topic, parts, n)
	addr := testenvAddr(t)

	cfg := groupConfig()
	cfg.ZookeeperChroot = "/elsewhere"
	g, err := cg.JoinConsumerGroup("g", topic, []string{addr + c.chroot}, cfg)
	if g != nil {
		g.Close()
	}
	if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "/elsewhere") || !strings.Contains(err.Error(), c.chroot) {
		t.Fatalf("chroot %s in the address and /elsewhere in the config: %v, want ErrInvalidArgument naming both", c.chroot, err)
	}

	for _, tc := range []struct {
		name   string
		group  string
		addrs  []string
		chroot string // in the config
	}{
		{"one address", "g1", []string{addr + c.chroot}, ""},
		{"trailing slash", "g2", []string{addr + c.chroot + "/"}, ""},
		{"on the last of two", "g3", []string{addr, addr + c.chroot}, ""},
		{"same chroot in the config", "g4", []string{addr + c.chroot}, c.chroot},
		// "A trailing slash is removed" (ConsumerGroupConfig.ZookeeperChroot).
		{"same chroot in the config with a trailing slash", "g5", []string{addr + c.chroot}, c.chroot + "/"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			cfg := groupConfig()
			cfg.ZookeeperChroot = tc.chroot
			// A newly claimed partition waits for the fetch in flight: keep
			// it short (the default is 5 s).
			cfg.KafkaOptions = []kgo.Opt{kgo.FetchMaxWait(50 * time.Millisecond)}
			g, err := cg.JoinConsumerGroup(tc.group, topic, tc.addrs, cfg)
			if err != nil {
				t.Fatalf("JoinConsumerGroup(%v): %v", tc.addrs, err)
			}
			defer g.Close()
			seen := map[string]bool{}
			stream := g.Stream()
			deadline := time.After(testTimeout)
			for len(seen) < n {
				select {
				case ev, ok := <-stream:
					if !ok {
						t.Fatal("the stream closed")
					}
					seen[string(ev.Value)] = true
				case <-deadline:
					t.Fatalf("consumed %d of %d messages", len(seen), n)
				}
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			// The group lives under the chroot.
			z := dialZK(t, c.chroot)
			offsets, err := z.Offsets(testCtx(t), tc.group)
			if err != nil {
				t.Fatal(err)
			}
			if got := offsets[topic]; len(got) != parts || got[0]+got[1] != n {
				t.Fatalf("offsets of %s under %s = %v, want the %d messages committed", tc.group, c.chroot, got, n)
			}
		})
	}
}

// TestBadInputCorruptOffset: an offset node holding "abc" is reported
// (REBALANCE_ERROR, ErrBadData, naming the node) and the partition starts
// from its oldest message: nothing is lost, and the node is overwritten.
func TestBadInputCorruptOffset(t *testing.T) {
	const topic, parts, n = "t", 4, 400
	c := startCluster(t, map[string]int32{topic: parts})
	c.produce(topic, parts, n)
	bad := c.chroot + "/consumers/g/offsets/" + topic + "/0"
	put(t, rawZK(t), bad, "abc")

	l := newLedger()
	a := c.join("a", "g", []string{topic}, groupConfig(), false, l.handle)
	waitBadData(t, a, bad)
	l.waitProcessed(t, n)
	a.close(t)

	l.mu.Lock()
	for seq := range n {
		if l.count[seq] != 1 {
			t.Errorf("message %d processed %d times, want once", seq, l.count[seq])
		}
	}
	for p := range int32(parts) {
		if got := l.last[cg.TopicPartition{Topic: topic, Partition: p}]; got != n/parts-1 {
			t.Errorf("last offset processed of partition %d = %d, want %d", p, got, n/parts-1)
		}
	}
	l.mu.Unlock()
	checkClean(t, c, "g", l)
}

// TestBadInputCorruptAssignment: an assignment node overwritten with
// truncated JSON while the group runs is reported (REBALANCE_ERROR,
// ErrBadData), the group keeps consuming, and the leader publishes a valid
// assignment again, with a later generation.
func TestBadInputCorruptAssignment(t *testing.T) {
	const topic, parts = "t", 4
	c := startCluster(t, map[string]int32{topic: parts})
	l := newLedger()
	cfg := groupConfig()
	a := c.join("a", "g", []string{topic}, cfg, false, l.handle)
	b := c.join("b", "g", []string{topic}, cfg, false, l.handle)
	c.produce(topic, parts, 400)
	l.waitProcessed(t, 400)
	// Both hold their share: the assignment is settled.
	deadline := time.After(testTimeout)
	for len(a.group.ClaimedPartitions()) != parts/2 || len(b.group.ClaimedPartitions()) != parts/2 {
		select {
		case <-a.events:
		case <-b.events:
		case <-deadline:
			t.Fatalf("a holds %v, b holds %v: want %d each", a.group.ClaimedPartitions(), b.group.ClaimedPartitions(), parts/2)
		}
	}

	conn := rawZK(t)
	node := c.chroot + "/consumers/g/assignment"
	before := parseGeneration(t, get(t, conn, node))
	drain(a.events)
	drain(b.events)
	put(t, conn, node, `{"version":1,"generation":`)
	waitBadData(t, a, node)

	c.produce(topic, parts, 400)
	l.waitProcessed(t, 800)

	// The leader overwrites the node with a valid assignment.
	deadline = time.After(5 * time.Second)
	for gaveUp := false; !gaveUp; {
		data, _, w, err := conn.GetW(node)
		if err != nil {
			t.Fatal(err)
		}
		var gen struct {
			Version    int `json:"version"`
			Generation int `json:"generation"`
		}
		if json.Unmarshal(data, &gen) == nil && gen.Version == 2 && gen.Generation > before {
			break
		}
		select {
		case <-w:
		case <-deadline:
			// Go on: the group must still consume.
			t.Errorf("the assignment node still holds %q 5 s after it was corrupted (generation before: %d): the leader did not publish a valid one", data, before)
			gaveUp = true
		}
	}

	c.produce(topic, parts, 400)
	l.waitProcessed(t, 1200)
	a.close(t)
	b.close(t)
	l.mu.Lock()
	for seq := range 1200 {
		if l.count[seq] != 1 {
			t.Errorf("message %d processed %d times, want once", seq, l.count[seq])
		}
	}
	l.mu.Unlock()
	checkClean(t, c, "g", l)
}

// TestBadInputNewConsumerGroupClient: NewConsumerGroup refuses a client
// that consumes by itself, and missing clients.
func TestBadInputNewConsumerGroupClient(t *testing.T) {
	z := dialZK(t, testenv.Chroot(t))
	seed := kgo.SeedBrokers(closedPort(t))
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"ConsumerGroup", []kgo.Opt{seed, kgo.ConsumerGroup("x")}},
		{"ConsumerGroup and ConsumeTopics", []kgo.Opt{seed, kgo.ConsumerGroup("x"), kgo.ConsumeTopics("t")}},
		{"ConsumeTopics", []kgo.Opt{seed, kgo.ConsumeTopics("t")}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			cl, err := kgo.NewClient(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			g, err := cg.NewConsumerGroup(cl, z, "g", "t", nil, nil)
			if g != nil {
				g.Close()
			}
			if !errors.Is(err, cg.ErrInvalidArgument) {
				t.Fatalf("NewConsumerGroup = %v, want ErrInvalidArgument", err)
			}
		})
	}
	cl, err := kgo.NewClient(seed)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cg.NewConsumerGroup(nil, z, "g", "t", nil, nil); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Fatalf("NewConsumerGroup without a client = %v, want ErrInvalidArgument", err)
	}
	if _, err := cg.NewConsumerGroup(cl, nil, "g", "t", nil, nil); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Fatalf("NewConsumerGroup without a ZK = %v, want ErrInvalidArgument", err)
	}
	groups, err := z.Groups(testCtx(t))
	if err != nil || len(groups) != 0 {
		t.Fatalf("refused groups left nodes: %v, %v", groups, err)
	}
}

// waitBadData waits for m's REBALANCE_ERROR matching ErrBadData that names
// path; it fails with the notifications seen meanwhile.
func waitBadData(t *testing.T, m *testMember, path string) *cg.Notification {
	t.Helper()
	var seen []string
	deadline := time.After(testTimeout)
	for {
		select {
		case n := <-m.events:
			if n.Type == cg.REBALANCE_ERROR && errors.Is(n.Err, cg.ErrBadData) && strings.Contains(n.Err.Error(), path) {
				return n
			}
			seen = append(seen, fmt.Sprintf("type %d err %v", n.Type, n.Err))
		case <-deadline:
			t.Fatalf("%s: no REBALANCE_ERROR matching ErrBadData naming %s within %v; saw %v", m.name, path, testTimeout, seen)
		}
	}
}

// parseGeneration returns the generation of an assignment node's data.
func parseGeneration(t *testing.T, data string) int {
	t.Helper()
	var a struct {
		Generation int `json:"generation"`
	}
	if err := json.Unmarshal([]byte(data), &a); err != nil || a.Generation < 1 {
		t.Fatalf("assignment node %q: generation %d, %v", data, a.Generation, err)
	}
	return a.Generation
}

// drain empties a notification channel.
func drain(ch chan *cg.Notification) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
