package zookeeper_test

import (
	"errors"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// TestBrokersAndPartitions discovers a kfake cluster registered in ZooKeeper
// as Kafka brokers register, and watches a topic grow.
func TestBrokersAndPartitions(t *testing.T) {
	chroot := testenv.Chroot(t)
	kafka, err := testenv.StartKafka(testenv.ZooKeeperAddrs(t), chroot, 3, map[string]int32{"orders": 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kafka.Close() })
	z := dialZK(t, chroot)
	ctx := testCtx(t)

	brokers, err := z.Brokers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := kafka.Addrs()
	slices.Sort(want)
	got := slices.Clone(brokers)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Brokers = %v, want the cluster's %v", brokers, want)
	}
	n, watch, err := z.Partitions(ctx, "orders")
	if err != nil || n != 4 {
		t.Fatalf("Partitions = %d, %v; want 4", n, err)
	}
	if err := kafka.AddPartitions(ctx, "orders", 6); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, watch, "partitions added"); ev.Type != zk.EventNodeDataChanged {
		t.Fatalf("watch event %+v, want data changed", ev)
	}
	if n, _, err := z.Partitions(ctx, "orders"); err != nil || n != 6 {
		t.Fatalf("Partitions after adding = %d, %v; want 6", n, err)
	}

	// A named listener that no broker has is an error naming it.
	other := dialZK(t, chroot, func(c *zookeeper.Config) { c.BrokerListener = "SSL" })
	if _, err := other.Brokers(ctx); !errors.Is(err, zookeeper.ErrNoBrokers) || !errors.Is(err, zookeeper.ErrBadData) {
		t.Fatalf("Brokers with a listener nobody has: %v", err)
	}
	// No broker registered at all.
	empty := dialZK(t, chroot+"/empty")
	if _, err := empty.Brokers(ctx); !errors.Is(err, zookeeper.ErrNoBrokers) {
		t.Fatalf("Brokers with none registered: %v, want ErrNoBrokers", err)
	}
}

// TestEnsembleLeaderLoss kills the leader of a 3-node ensemble: the layer
// reconnects to another node, keeps its session, and keeps working.
func TestEnsembleLeaderLoss(t *testing.T) {
	if os.Getenv(testenv.EnvZooKeeper) != "" {
		t.Skip("an external ZooKeeper is in use: this test starts its own ensemble")
	}
	if testing.Short() {
		t.Skip("starts a 3-node ensemble")
	}
	ens, err := testenv.StartEnsemble(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ens.Close() })
	chroot := "/ensemble"
	z := dialZK(t, chroot, func(c *zookeeper.Config) { c.Servers = ens.Addrs(); c.SessionTimeout = 6 * time.Second })
	watcher := dialZK(t, chroot, func(c *zookeeper.Config) { c.Servers = ens.Addrs(); c.SessionTimeout = 6 * time.Second })
	ctx := testCtx(t)
	sess, err := z.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := register(t, z, "g", "t")
	for p := range 4 {
		if err := z.Claim(ctx, "g", "t", int32(p), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.CommitOffsets(ctx, "g", id, offsetsOf(4, 10)); err != nil {
		t.Fatal(err)
	}
	_, watch, err := watcher.Consumers(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}

	leader, err := ens.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if err := ens.Kill(leader); err != nil {
		t.Fatal(err)
	}
	// Requests wait for a new leader and for the client to reconnect.
	if err := z.CommitOffsets(ctx, "g", id, offsetsOf(4, 20)); err != nil {
		t.Fatalf("commit after the leader died: %v", err)
	}
	if got, err := watcher.Offset(ctx, "g", "t", 3); err != nil || got != 23 {
		t.Fatalf("Offset after the leader died = %d, %v; want 23", got, err)
	}
	id2 := register(t, z, "g", "t")
	ev := waitEvent(t, watch, "join after the leader died")
	if ev.Type != zk.EventNodeChildrenChanged {
		// The watcher's own connection may have been to the dead leader: a
		// disconnection event; list again to re-arm.
		_, watch, err = watcher.Consumers(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		_ = watch
	}
	ids, _, err := watcher.Consumers(ctx, "g")
	if err != nil || !slices.Contains(ids, id) || !slices.Contains(ids, id2) {
		t.Fatalf("Consumers = %v, %v; want both registrations", ids, err)
	}
	if sess.Err() != nil {
		t.Fatalf("the session ended when the leader died: %v", sess.Err())
	}
	if err := ens.Restart(leader); err != nil {
		t.Fatal(err)
	}
	if err := ens.WaitQuorum(testTimeout); err != nil {
		t.Fatal(err)
	}
	if err := z.CommitOffsets(ctx, "g", id, offsetsOf(4, 30)); err != nil {
		t.Fatalf("commit after the old leader came back: %v", err)
	}
}

// TestDigestAuth creates nodes with a digest ACL: a client without the
// credentials cannot change them.
func TestDigestAuth(t *testing.T) {
	chroot := testenv.Chroot(t)
	acl := append(zk.DigestACL(zk.PermAll, "app", "secret"), zk.WorldACL(zk.PermRead)...)
	owner := dialZK(t, chroot, func(c *zookeeper.Config) {
		c.Auth = []zookeeper.Auth{{Scheme: "digest", Credentials: "app:secret"}}
		c.ACL = acl
	})
	ctx := testCtx(t)
	id := register(t, owner, "g", "t")
	if err := owner.Claim(ctx, "g", "t", 0, id); err != nil {
		t.Fatal(err)
	}
	if err := owner.CommitOffsets(ctx, "g", id, offsetsOf(1, 5)); err != nil {
		t.Fatal(err)
	}
	stranger := dialZK(t, chroot)
	if off, err := stranger.Offset(ctx, "g", "t", 0); err != nil || off != 5 {
		t.Fatalf("world-readable offset: %d, %v", off, err)
	}
	err := stranger.Commit(ctx, "g", "t", 0, 99)
	if !errors.Is(err, zk.ErrNoAuth) || !errorsAsPath(err) {
		t.Fatalf("commit without credentials: %v; want zk.ErrNoAuth in a PathError", err)
	}
	if off, _ := owner.Offset(ctx, "g", "t", 0); off != 5 {
		t.Fatalf("offset changed to %d by a client without credentials", off)
	}
	friend := dialZK(t, chroot, func(c *zookeeper.Config) { c.Auth = []zookeeper.Auth{{Scheme: "digest", Credentials: "app:secret"}} })
	if err := friend.Commit(ctx, "g", "t", 0, 99); err != nil {
		t.Fatalf("commit with the credentials: %v", err)
	}
}

func errorsAsPath(err error) bool {
	var pe *zookeeper.PathError
	return errors.As(err, &pe)
}

// TestPartitionLeaders: the leaders the registry's controller records
// (those kfake's metadata names), one read per partition asked; a
// partition without a leader, with a state that cannot be read, or of a
// topic without state nodes is left out.
func TestPartitionLeaders(t *testing.T) {
	chroot := testenv.Chroot(t)
	kafka, err := testenv.StartKafka(testenv.ZooKeeperAddrs(t), chroot, 3, map[string]int32{"orders": 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kafka.Close() })
	z := dialZK(t, chroot)
	ctx := testCtx(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	topics, err := kadm.NewClient(cl).ListTopics(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	raw := testenv.RawZK(t)
	testenv.PutZNode(t, raw, chroot+"/brokers/topics/orders/partitions/2/state", `{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":3,"isr":[]}`)
	testenv.PutZNode(t, raw, chroot+"/brokers/topics/orders/partitions/3/state", `{"version":1}`)
	tps := []zookeeper.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}, {Topic: "orders", Partition: 2},
		{Topic: "orders", Partition: 3}, {Topic: "nothere", Partition: 0}}
	leaders, err := z.PartitionLeaders(ctx, tps)
	if err != nil {
		t.Fatal(err)
	}
	want := map[zookeeper.TopicPartition]int32{
		{Topic: "orders", Partition: 0}: topics["orders"].Partitions[0].Leader,
		{Topic: "orders", Partition: 1}: topics["orders"].Partitions[1].Leader,
	}
	if !maps.Equal(leaders, want) {
		t.Errorf("PartitionLeaders = %v, want %v", leaders, want)
	}
	if _, err := z.PartitionLeaders(ctx, []zookeeper.TopicPartition{{Topic: "bad/name", Partition: 0}}); !errors.Is(err, zookeeper.ErrInvalidArgument) {
		t.Errorf("PartitionLeaders of a bad topic name: %v, want ErrInvalidArgument", err)
	}
}
