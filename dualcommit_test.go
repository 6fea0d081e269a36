package consumergroup_test

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// dualRecorder counts DualCommitted calls.
type dualRecorder struct {
	cg.NopMetrics
	mu          sync.Mutex
	copies      int
	failures    []error
	copiedLater bool // a copy succeeded after a failure
}

func (r *dualRecorder) DualCommitted(e cg.CommitEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Err != nil {
		r.failures = append(r.failures, e.Err)
		return
	}
	r.copies++
	if len(r.failures) > 0 {
		r.copiedLater = true
	}
}

func (r *dualRecorder) snapshot() (int, []error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copies, append([]error(nil), r.failures...), r.copiedLater
}

// kafkaOffsets is the group's offsets of topic in Kafka's
// __consumer_offsets, whatever coordinates the members.
func (c *cluster) kafkaOffsets(group, topic string) map[int32]int64 {
	c.t.Helper()
	out, err := testenv.CommittedOffsets(testCtx(c.t), c.admin(), group)
	if err != nil {
		c.t.Fatal(err)
	}
	return out[topic]
}

// zkOffsets is the group's offsets of topic in ZooKeeper.
func zkOffsets(t *testing.T, z *cg.ZK, group, topic string) map[int32]int64 {
	t.Helper()
	offsets, err := z.Offsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	return offsets[topic]
}

// waitSameOffsets waits until Kafka holds the offsets ZooKeeper does, and
// they add up to at least atLeast; it returns them.
func waitSameOffsets(t *testing.T, c *cluster, zc *cg.ZK, group, topic string, atLeast int64) map[int32]int64 {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		z, k := zkOffsets(t, zc, group, topic), c.kafkaOffsets(group, topic)
		if sum(z) >= atLeast && maps.Equal(z, k) {
			return z
		}
		if time.Now().After(deadline) {
			t.Fatalf("offsets of %s: ZooKeeper %v, Kafka %v; want the same, adding up to %d at least", topic, z, k, atLeast)
		}
		time.Sleep(20 * time.Millisecond) // polling both stores
	}
}

// TestDualCommit: a ZooKeeper group with DualCommit consumes half a topic;
// Kafka's view of its offsets equals ZooKeeper's after an interval, and
// right after Close (the final commit is copied before Close returns).
func TestDualCommit(t *testing.T) {
	forEachSetup(t, []setup{{coord: coordZK, kind: testenv.KindKfake}, {coord: coordZK, kind: testenv.KindKafka39}}, testDualCommit)
}

func testDualCommit(t *testing.T, s setup) {
	c := startClusterSetup(t, s, map[string]int32{"dual": 4})
	topic, group := c.topic("dual"), c.group("g")
	z := dialZK(t, c.chroot)
	cfg := gracefulConfig()
	cfg.DualCommit = true
	rec := &dualRecorder{}
	cfg.Metrics = rec
	l := newLedger()
	c.produce(topic, 4, 200)
	a := c.join("a", group, []string{topic}, cfg, false, l.handle)
	l.waitProcessed(t, 200)
	// Half of the topic consumed: the message in the application's hands
	// counts as processed when it takes the next one.
	half := waitSameOffsets(t, c, z, group, topic, 200-1)
	t.Logf("after half the topic: ZooKeeper and Kafka hold %v", half)
	c.produce(topic, 4, 200)

	l.waitProcessed(t, 400)
	a.close(t)
	want := map[int32]int64{0: 100, 1: 100, 2: 100, 3: 100}
	if zo, k := zkOffsets(t, z, group, topic), c.kafkaOffsets(group, topic); !maps.Equal(zo, want) || !maps.Equal(k, want) {
		t.Fatalf("right after Close: ZooKeeper %v, Kafka %v; want both %v", zo, k, want)
	}
	checkExactlyOnce(t, l, a)
	if copies, failures, _ := rec.snapshot(); copies == 0 || len(failures) > 0 {
		t.Fatalf("Metrics.DualCommitted: %d copies, failures %v", copies, failures)
	}
}

// TestDualCommitFailure: while Kafka refuses the copy (the group has a
// member on Kafka's coordinator), delivery and ZooKeeper's commits go on,
// the failure is reported (DUAL_COMMIT_ERROR, Metrics.DualCommitted) and
// the copy retried at every interval; once the Kafka member is gone, the
// next interval copies ZooKeeper's offsets.
func TestDualCommitFailure(t *testing.T) {
	c := startCluster(t, map[string]int32{"dual": 2, "other": 1})
	topic, group := c.topic("dual"), c.group("g")
	z := dialZK(t, c.chroot)

	// A member of the same group on Kafka's coordinator.
	kafkaMember, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...), kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(c.topic("other")), kgo.HeartbeatInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer kafkaMember.Close()
	adm := c.admin()
	deadline := time.Now().Add(testTimeout)
	for {
		d, err := adm.DescribeGroups(testCtx(t), group)
		if err == nil && len(d[group].Members) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Kafka member did not join %s: %v", group, err)
		}
		pctx, cancel := ctxWithTimeout(100 * time.Millisecond)
		kafkaMember.PollRecords(pctx, 1) // the member joins while it polls
		cancel()
	}

	cfg := gracefulConfig()
	cfg.DualCommit = true
	rec := &dualRecorder{}
	cfg.Metrics = rec
	l := newLedger()
	c.produce(topic, 2, 100)
	a := c.join("a", group, []string{topic}, cfg, false, l.handle)
	l.waitProcessed(t, 100)
	n := waitNotification(t, a, cg.DUAL_COMMIT_ERROR, "a refused copy")
	if !errors.Is(n.Err, cg.ErrDualCommit) || !errors.Is(n.Err, kerr.UnknownMemberID) || !strings.Contains(n.Err.Error(), group) {
		t.Fatalf("DUAL_COMMIT_ERROR carries %v: want ErrDualCommit naming the group, with Kafka's UNKNOWN_MEMBER_ID", n.Err)
	}
	deadline = time.Now().Add(testTimeout)
	for sum(zkOffsets(t, z, group, topic)) < 100-1 {
		if time.Now().After(deadline) {
			t.Fatalf("ZooKeeper's offsets %v: the failed copy held up ZooKeeper's commit", zkOffsets(t, z, group, topic))
		}
		time.Sleep(20 * time.Millisecond) // polling ZooKeeper
	}
	if k := c.kafkaOffsets(group, topic); len(k) != 0 {
		t.Fatalf("Kafka took offsets %v from a non-member while the group had a member", k)
	}
	// Retried at every interval: more than one failure.
	waitNotification(t, a, cg.DUAL_COMMIT_ERROR, "the retry")

	kafkaMember.Close() // leaves the group: the next retry succeeds
	waitSameOffsets(t, c, z, group, topic, 100-1)
	a.close(t)
	copies, failures, later := rec.snapshot()
	if len(failures) < 2 || !later {
		t.Fatalf("Metrics.DualCommitted: %d copies, %d failures, copied after failing: %v", copies, len(failures), later)
	}
	t.Logf("%d failed copies reported before the Kafka member left, then copied: %v", len(failures), failures[0])
}

// TestKafkaGroupRefusesZooKeeperOptions: DualCommit and IgnoreMigration
// are ZooKeeper's; JoinKafkaConsumerGroup refuses them, naming the field.
func TestKafkaGroupRefusesZooKeeperOptions(t *testing.T) {
	for _, tc := range []struct {
		field string
		set   func(*cg.ConsumerGroupConfig)
	}{
		{"DualCommit", func(c *cg.ConsumerGroupConfig) { c.DualCommit = true }},
		{"IgnoreMigration", func(c *cg.ConsumerGroupConfig) { c.IgnoreMigration = true }},
	} {
		cfg := cg.NewConsumerGroupConfig()
		tc.set(cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: Validate: %v (valid for ZooKeeper)", tc.field, err)
		}
		_, err := cg.JoinKafkaConsumerGroup(testCtx(t), "g", []string{"t"}, []string{"127.0.0.1:1"}, cfg)
		if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "ConsumerGroupConfig."+tc.field) {
			t.Errorf("JoinKafkaConsumerGroup with %s: %v; want ErrInvalidArgument naming ConsumerGroupConfig.%s", tc.field, err, tc.field)
		}
	}
}

// TestJoinMigratedGroup: a group whose migration marker says it moved to
// Kafka's coordinator is refused by JoinConsumerGroup, with an error that
// names the move and the way out; IgnoreMigration joins anyway; the marker
// sits beside Kafka's nodes without disturbing them.
func TestJoinMigratedGroup(t *testing.T) {
	c := startCluster(t, map[string]int32{"moved": 1})
	topic, group := c.topic("moved"), c.group("g")
	z := dialZK(t, c.chroot)
	ctx := testCtx(t)
	if err := z.Commit(ctx, group, topic, 0, 7); err != nil {
		t.Fatal(err)
	}
	if m, err := z.Migration(ctx, group); m != nil || err != nil {
		t.Fatalf("Migration of a group never moved: %+v, %v", m, err)
	}
	m, err := z.MarkMigrated(ctx, group, "test", "k1:9092")
	if err != nil || m == nil || m.To != "kafka" || m.By != "test" || m.Bootstrap != "k1:9092" || time.Since(m.At) > time.Minute {
		t.Fatalf("MarkMigrated: %+v, %v", m, err)
	}
	raw := rawZK(t)
	data := get(t, raw, c.chroot+"/consumers/"+group+"/migration")
	if !strings.HasPrefix(data, `{"version":1,"to":"kafka","timestamp":"`) {
		t.Fatalf("the marker holds %s", data)
	}
	again, err := z.MarkMigrated(ctx, group, "other", "k2:9092")
	if err != nil || again.By != "test" || !again.At.Equal(m.At) {
		t.Fatalf("a second MarkMigrated changed the marker: %+v, %v", again, err)
	}

	// Kafka's nodes and the tools reading them are not disturbed.
	if groups, err := z.Groups(ctx); err != nil || len(groups) != 1 || groups[0] != group {
		t.Fatalf("Groups with a marker: %v, %v", groups, err)
	}
	if d, err := cg.DescribeGroup(ctx, z, nil, group); err != nil || len(d.Partitions) != 1 || d.Partitions[0].Committed != 7 {
		t.Fatalf("DescribeGroup with a marker: %+v, %v", d, err)
	}

	cfg := gracefulConfig()
	_, err = cg.JoinConsumerGroup(group, topic, []string{c.servers[0] + c.chroot}, cfg)
	if !errors.Is(err, cg.ErrGroupMigrated) {
		t.Fatalf("JoinConsumerGroup of a migrated group: %v; want ErrGroupMigrated", err)
	}
	for _, s := range []string{group, "JoinKafkaConsumerGroup", "IgnoreMigration", "k1:9092", "--to zookeeper", "/migration"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("the refusal does not say %q: %v", s, err)
		}
	}
	t.Logf("refused: %v", err)

	cfg.IgnoreMigration = true
	l := newLedger()
	a := c.join("a", group, []string{topic}, cfg, false, l.handle)
	c.produce(topic, 1, 10)
	l.waitProcessed(t, 3) // from offset 7
	a.close(t)

	// A marker that cannot be read still refuses: better safe.
	put(t, raw, c.chroot+"/consumers/"+group+"/migration", "garbage")
	_, err = cg.JoinConsumerGroup(group, topic, []string{c.servers[0] + c.chroot}, gracefulConfig())
	if !errors.Is(err, cg.ErrGroupMigrated) || !errors.Is(err, cg.ErrBadData) {
		t.Fatalf("JoinConsumerGroup with an unreadable marker: %v; want ErrGroupMigrated and ErrBadData", err)
	}
	if err := z.ClearMigration(ctx, group); err != nil {
		t.Fatal(err)
	}
	if err := z.ClearMigration(ctx, group); err != nil {
		t.Fatalf("ClearMigration without a marker: %v", err)
	}
	g, err := cg.JoinConsumerGroup(group, topic, []string{c.servers[0] + c.chroot}, gracefulConfig())
	if err != nil {
		t.Fatalf("JoinConsumerGroup after the rollback: %v", err)
	}
	g.Close()
}

func sum(offsets map[int32]int64) int64 {
	n := int64(0)
	for _, off := range offsets {
		n += off
	}
	return n
}
