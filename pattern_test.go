package consumergroup_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestPatternSubscription: members subscribed by pattern (TopicPattern)
// consume every matching topic and nothing else; a matching topic created
// later is consumed (ZooKeeper: within the leader's watch; Kafka's
// coordinator: within MetadataInterval); a deleted one is given up
// (TOPICS_CHANGED, its partitions released, no error about it); nothing
// lost, no partition processed by two members at once. On every
// coordinator and broker.
func TestPatternSubscription(t *testing.T) {
	// MarkDone: an idle partition's hand-off does not wait HandoffTimeout
	// for the message in hand.
	forEachSetup(t, withModes(fullMatrix(), modeDone), testPatternSubscription)
}

func testPatternSubscription(t *testing.T, s setup) {
	c := startClusterSetup(t, s, map[string]int32{"orders-a": 4, "orders-b": 2, "other": 2})
	group := c.group("g")
	cfg := groupConfig()
	cfg.TopicPattern = "orders-[a-z]" + regexp.QuoteMeta(c.suffix)
	cfg.DualCommit = !c.kafkaCoord() // a deleted topic's copy to Kafka is no error either
	l := newLedger()
	a := c.join("a", group, nil, cfg, false, l.handle)
	b := c.join("b", group, nil, cfg, false, l.handle)
	if !c.kafkaCoord() {
		checkPatternRegistration(t, c, group, a, cfg.TopicPattern)
	}
	c.produce(c.topic("orders-a"), 4, 200)
	c.produce(c.topic("orders-b"), 2, 100)
	c.produce(c.topic("other"), 2, 100) // seq 300..399: never consumed
	c.produce(c.topic("orders-a"), 4, 40)
	l.waitProcessed(t, 300+40)
	if _, err := a.group.Offset(0); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("Offset on a group subscribed by pattern = %v, want ErrInvalidArgument", err)
	}
	if ps := a.group.Claims(); ps != nil {
		t.Errorf("Claims on a group subscribed by pattern = %v, want nil", ps)
	}
	if lag, err := a.group.Lag(testCtx(t)); err != nil || lag[c.topic("orders-a")] == nil || lag[c.topic("other")] != nil {
		t.Errorf("Lag = %v, %v: want the matching topics only", lag, err)
	}

	// A matching topic created later: consumed.
	ctx := testCtx(t)
	t0 := time.Now()
	if err := c.kafka.CreateTopic(ctx, c.topic("orders-c"), 3); err != nil {
		t.Fatal(err)
	}
	c.produce(c.topic("orders-c"), 3, 60)
	l.waitProcessed(t, 300+40+60)
	t.Logf("%s: a topic created later consumed %v after its creation (MetadataInterval %v)", s.name(), time.Since(t0).Round(time.Millisecond), cfg.MetadataInterval)

	// A matching topic deleted: given up.
	gone := c.topic("orders-b")
	t1 := time.Now()
	if err := c.kafka.DeleteTopic(ctx, gone); err != nil {
		t.Fatal(err)
	}
	notes := &patternNotes{announced: map[location]string{}}
	for _, m := range []*testMember{a, b} {
		notes.waitTopicRemoved(t, m, gone)
	}
	for _, m := range []*testMember{a, b} {
		waitNotHolding(t, m, gone)
	}
	t.Logf("%s: a deleted topic given up %v after its deletion", s.name(), time.Since(t1).Round(time.Millisecond))
	c.produce(c.topic("orders-a"), 4, 40)
	l.waitProcessed(t, 300+40+60+40)
	a.close(t)
	b.close(t)
	for _, m := range []*testMember{a, b} {
		notes.drain(m)
	}
	for _, err := range notes.errs {
		t.Logf("notified: %v", err)
		if strings.Contains(err.Error(), gone) || strings.Contains(err.Error(), "UNKNOWN_TOPIC") {
			t.Errorf("an error about the deleted topic: %v", err)
		}
	}
	l.mu.Lock()
	for seq, loc := range l.where {
		if loc.tp.Topic == c.topic("other") {
			t.Errorf("message %d of %s consumed: the pattern does not match it", seq, loc.tp.Topic)
		}
	}
	for tp := range l.last {
		if tp.Topic == gone {
			delete(l.last, tp) // deleted with its topic on Kafka's coordinator
		}
	}
	l.mu.Unlock()
	checkNoOverlap(t, l)
	checkCleanAnnounced(t, c, group, l, notes.announced)
}

// patternNotes are the notifications a pattern test read: errors, and
// the messages announced as delivered again (HANDOFF_TIMEOUT).
type patternNotes struct {
	errs      []error
	announced map[location]string
}

// note records n, of member m.
func (p *patternNotes) note(m *testMember, n *cg.Notification) {
	switch n.Type {
	case cg.REBALANCE_ERROR, cg.DUAL_COMMIT_ERROR:
		p.errs = append(p.errs, n.Err)
	case cg.HANDOFF_TIMEOUT:
		p.announced[location{cg.TopicPartition{Topic: n.Topic, Partition: n.Partition}, n.Offset}] = m.name
	}
}

// checkPatternRegistration checks that m registered as Kafka's consumer
// registers a whitelist: the pattern as the subscription's key.
func checkPatternRegistration(t *testing.T, c *cluster, group string, m *testMember, pattern string) {
	t.Helper()
	z := dialZK(t, c.chroot, func(cfg *cg.ZKConfig) { cfg.Servers = c.servers })
	deadline := time.Now().Add(testTimeout)
	for m.group.ID() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the member's state
	}
	r, err := z.Registration(testCtx(t), group, m.group.ID())
	if err != nil {
		t.Fatal(err)
	}
	if r.Pattern != "white_list" || !slices.Equal(r.Topics, []string{pattern}) {
		t.Fatalf("registration of %s: pattern %q, subscription %v; want white_list, [%s]", m.name, r.Pattern, r.Topics, pattern)
	}
	raw := testenv.GetZNode(t, rawZK(t), c.chroot+"/consumers/"+group+"/ids/"+m.group.ID())
	var js struct {
		Subscription map[string]int `json:"subscription"`
		Pattern      string         `json:"pattern"`
	}
	if err := json.Unmarshal([]byte(raw), &js); err != nil || js.Pattern != "white_list" || js.Subscription[pattern] != 1 {
		t.Fatalf("registration bytes %s (%v): want Kafka's whitelist layout", raw, err)
	}
}

// waitTopicRemoved waits for m's TOPICS_CHANGED that names topic removed,
// noting the notifications read meanwhile.
func (p *patternNotes) waitTopicRemoved(t *testing.T, m *testMember, topic string) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case n := <-m.events:
			if n.Type == cg.TOPICS_CHANGED && slices.Contains(n.TopicsRemoved, topic) {
				return
			}
			p.note(m, n)
		case <-deadline:
			t.Fatalf("%s: no TOPICS_CHANGED removing %s within %v", m.name, topic, testTimeout)
		}
	}
}

// drain notes m's notifications still queued.
func (p *patternNotes) drain(m *testMember) {
	for {
		select {
		case n := <-m.events:
			p.note(m, n)
		default:
			return
		}
	}
}

// waitNotHolding waits until m holds no partition of topic.
func waitNotHolding(t *testing.T, m *testMember, topic string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		held := m.group.ClaimedPartitions()
		if !slices.ContainsFunc(held, func(tp cg.TopicPartition) bool { return tp.Topic == topic }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds %v after %s was deleted", m.name, held, topic)
		}
		time.Sleep(10 * time.Millisecond) // polling the member's state
	}
}

// TestPatternValidation: Validate refuses a TopicPattern that is not a
// regular expression, naming the field; the constructors refuse both a
// list of topics and a pattern, and neither; the seed's methods about "the
// first topic" refuse a group subscribed by pattern.
func TestPatternValidation(t *testing.T) {
	cfg := cg.NewConsumerGroupConfig()
	cfg.TopicPattern = "orders-(eu"
	err := cfg.Validate()
	if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "ConsumerGroupConfig.TopicPattern") || !strings.Contains(err.Error(), "orders-(eu") {
		t.Fatalf("Validate(TopicPattern %q) = %v, want ErrInvalidArgument naming the field and the pattern", cfg.TopicPattern, err)
	}
	cfg.TopicPattern = "a)|(b" // compiles once wrapped, not alone
	if err := cfg.Validate(); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Fatalf("Validate(TopicPattern %q) = %v, want ErrInvalidArgument", cfg.TopicPattern, err)
	}
	cfg.TopicPattern = strings.Repeat("a", cg.MaxTopicPatternBytes+1)
	if err := cfg.Validate(); !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "MaxTopicPatternBytes") {
		t.Fatalf("Validate(a pattern of %d bytes) = %v, want ErrInvalidArgument naming the bound", len(cfg.TopicPattern), err)
	}
	cfg.TopicPattern = "orders-.*"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate(TopicPattern %q) = %v", cfg.TopicPattern, err)
	}
	ctx := testCtx(t)
	for _, tc := range []struct {
		name   string
		topics []string
		cfg    *cg.ConsumerGroupConfig
		want   string
	}{
		{"both", []string{"orders"}, cfg, "both topics"},
		{"neither", nil, cg.NewConsumerGroupConfig(), "no topic to consume"},
	} {
		g, err := cg.JoinKafkaConsumerGroup(ctx, "g", tc.topics, []string{"127.0.0.1:1"}, tc.cfg)
		if g != nil {
			g.Close()
		}
		if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: JoinKafkaConsumerGroup = %v, want ErrInvalidArgument saying %q", tc.name, err, tc.want)
		}
		g, err = cg.JoinConsumerGroupTopics(ctx, "g", tc.topics, []string{"127.0.0.1:1"}, tc.cfg)
		if g != nil {
			g.Close()
		}
		if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: JoinConsumerGroupTopics = %v, want ErrInvalidArgument saying %q", tc.name, err, tc.want)
		}
	}
}

// TestPatternInternalTopics: a pattern that matches internal topics
// consumes none of them: a Kafka 4.4 broker resolving a KIP-848 regex
// itself assigned __consumer_offsets to a member subscribed to ".*".
func TestPatternInternalTopics(t *testing.T) {
	setups := append([]setup{{coord: coordZK, kind: testenv.KindKfake}}, kafkaMatrix()...)
	forEachSetup(t, withModes(setups, modeDone), testPatternInternalTopics)
}

func testPatternInternalTopics(t *testing.T, s setup) {
	c := startClusterSetup(t, s, map[string]int32{"plain": 2})
	cfg := groupConfig()
	cfg.TopicPattern = regexp.QuoteMeta(c.topic("plain")) + "|__.*"
	l := newLedger()
	var internal atomic.Value // the first internal topic consumed
	a := c.join("a", c.group("g"), nil, cfg, false, func(m *testMember, ev *cg.ConsumerEvent) {
		if strings.HasPrefix(ev.Topic, "__") {
			internal.CompareAndSwap(nil, ev.Topic)
			return
		}
		l.handle(m, ev)
	})
	c.produce(c.topic("plain"), 2, 20)
	l.waitProcessed(t, 20)
	waitHeld(t, a, 2) // both of plain's partitions, and nothing else
	for _, tp := range a.group.ClaimedPartitions() {
		if strings.HasPrefix(tp.Topic, "__") {
			t.Errorf("holds %s/%d: an internal topic", tp.Topic, tp.Partition)
		}
	}
	a.close(t)
	if topic := internal.Load(); topic != nil {
		t.Errorf("consumed messages of internal topic %s", topic)
	}
}

// TestPatternMismatch: members of a ZooKeeper group subscribing by
// different patterns are reported (ErrSubscriptionMismatch), each is
// assigned partitions of its own subscription only, and every subscribed
// message is consumed.
func TestPatternMismatch(t *testing.T) {
	c := startClusterSetup(t, setup{coord: coordZK, kind: testenv.KindKfake, mode: modeDone},
		map[string]int32{"orders-eu": 2, "orders-us": 2, "audit": 2})
	group := c.group("g")
	l := newLedger()
	cfgA, cfgB := groupConfig(), groupConfig()
	cfgA.TopicPattern, cfgB.TopicPattern = "orders-.*", "audit|orders-eu"
	a := c.join("a", group, nil, cfgA, false, l.handle)
	b := c.join("b", group, nil, cfgB, false, l.handle)
	c.produce("orders-eu", 2, 40)
	c.produce("orders-us", 2, 40)
	c.produce("audit", 2, 40)
	l.waitProcessed(t, 120)
	for _, m := range []*testMember{a, b} {
		n := waitMismatch(t, m)
		t.Logf("%s: %v", m.name, n.Err)
	}
	for _, tp := range a.group.ClaimedPartitions() {
		if tp.Topic == "audit" {
			t.Errorf("a holds %v: its pattern does not match it", tp)
		}
	}
	for _, tp := range b.group.ClaimedPartitions() {
		if tp.Topic == "orders-us" {
			t.Errorf("b holds %v: its pattern does not match it", tp)
		}
	}
	a.close(t)
	b.close(t)
	checkNoOverlap(t, l)
	checkClean(t, c, group, l)
}

// waitMismatch waits for m's REBALANCE_ERROR wrapping
// ErrSubscriptionMismatch.
func waitMismatch(t *testing.T, m *testMember) *cg.Notification {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case n := <-m.events:
			if n.Type == cg.REBALANCE_ERROR && errors.Is(n.Err, cg.ErrSubscriptionMismatch) {
				return n
			}
		case <-deadline:
			t.Fatalf("%s: no ErrSubscriptionMismatch within %v", m.name, testTimeout)
		}
	}
}

// TestPatternNoMatchAtJoin: a pattern that matches no topic yet joins at
// once (franz-go joins Kafka's group only once a topic matches), and
// consumes the first matching topic when it is created.
func TestPatternNoMatchAtJoin(t *testing.T) {
	forEachSetup(t, withModes(kfakeMatrix(), modeDone), func(t *testing.T, s setup) {
		c := startClusterSetup(t, s, map[string]int32{"other": 1})
		cfg := groupConfig()
		cfg.TopicPattern = "late-.*"
		cfg.JoinTimeout = testTimeout
		l := newLedger()
		t0 := time.Now()
		a := c.join("a", c.group("g"), nil, cfg, false, l.handle)
		if d := time.Since(t0); d > testTimeout/2 {
			t.Fatalf("the join took %v: it waited for a topic to match", d)
		}
		if err := c.kafka.CreateTopic(testCtx(t), "late-x", 2); err != nil {
			t.Fatal(err)
		}
		c.produce("late-x", 2, 20)
		l.waitProcessed(t, 20)
		a.close(t)
		checkClean(t, c, c.group("g"), l)
	})
}

// TestTopicRecreated: on ZooKeeper, a topic deleted and created again
// under the same name is consumed from its start, not from the offsets
// committed for the deleted one (Kafka's layout keeps them; the leader
// drops them): before, the group started the new topic at the old offsets
// and skipped its first messages. By pattern and by name.
func TestTopicRecreated(t *testing.T) {
	for _, byPattern := range []bool{true, false} {
		t.Run(map[bool]string{true: "pattern", false: "topics"}[byPattern], func(t *testing.T) {
			c := startClusterSetup(t, setup{coord: coordZK, kind: testenv.KindKfake, mode: modeDone}, map[string]int32{"orders-x": 2})
			cfg, topics := groupConfig(), []string{"orders-x"}
			if byPattern {
				cfg.TopicPattern, topics = "orders-.*", nil
			}
			l := newLedger()
			a := c.join("a", "g", topics, cfg, false, l.handle)
			c.produce("orders-x", 2, 40)
			l.waitProcessed(t, 40)
			a.close(t)
			ctx := testCtx(t)
			if err := c.kafka.DeleteTopic(ctx, "orders-x"); err != nil {
				t.Fatal(err)
			}
			c.producer.PurgeTopicsFromClient("orders-x") // franz-go keeps the deleted topic's id otherwise
			if err := c.kafka.CreateTopic(ctx, "orders-x", 2); err != nil {
				t.Fatal(err)
			}
			c.produce("orders-x", 2, 40) // offsets 0..19 of each partition again
			b := c.join("b", "g", topics, cfg, false, l.handle)
			l.waitProcessed(t, 80)
			b.close(t)
		})
	}
}
