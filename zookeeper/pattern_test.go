package zookeeper_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// TestRegisterConsumerPattern: a member subscribed by pattern registers as
// Kafka's consumer registers a whitelist, byte for byte; Registration reads
// it back, Subscribes matches whole names, DeleteOffsets counts it as a
// subscriber; an expression that does not compile is refused.
func TestRegisterConsumerPattern(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	ctx := testCtx(t)
	id, err := zookeeper.NewConsumerID("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := z.RegisterGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "orders-(eu"} {
		if err := z.RegisterConsumerPattern(ctx, "g", id, bad); !errors.Is(err, zookeeper.ErrInvalidArgument) {
			t.Errorf("RegisterConsumerPattern(%q) = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if err := z.RegisterConsumerPattern(ctx, "g", id, "orders-.*"); err != nil {
		t.Fatal(err)
	}
	raw := get(t, rawZK(t), chroot+"/consumers/g/ids/"+id)
	if want := `{"version":1,"subscription":{"orders-.*":1},"pattern":"white_list","timestamp":"`; len(raw) < len(want) || raw[:len(want)] != want {
		t.Fatalf("registration %s, want Kafka's whitelist %s...", raw, want)
	}
	r, err := z.Registration(ctx, "g", id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pattern != "white_list" || !slices.Equal(r.Topics, []string{"orders-.*"}) {
		t.Fatalf("Registration = %+v", r)
	}
	for topic, want := range map[string]bool{"orders-eu": true, "orders-": true, "old-orders-eu": false, "orders": false} {
		if got := r.Subscribes(topic); got != want {
			t.Errorf("Subscribes(%q) = %v, want %v", topic, got, want)
		}
	}
	black := zookeeper.Registration{Pattern: "black_list", Topics: []string{"orders-.*"}}
	if !black.Subscribes("audit") || black.Subscribes("orders-eu") {
		t.Errorf("a black_list of orders-.* subscribes to audit, not to orders-eu")
	}
	put(t, rawZK(t), chroot+"/consumers/g/offsets/orders-eu/0", "5")
	if err := z.DeleteOffsets(ctx, "g", "orders-eu"); !errors.Is(err, zookeeper.ErrGroupActive) {
		t.Errorf("DeleteOffsets of a topic the pattern matches = %v, want ErrGroupActive", err)
	}
}

// TestTopics: Topics lists /brokers/topics and its watch fires when a topic
// is created; a cluster without the node gives ErrNoNode.
func TestTopics(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	ctx := testCtx(t)
	if _, _, err := z.Topics(ctx, true); !errors.Is(err, zookeeper.ErrNoNode) {
		t.Fatalf("Topics without /brokers/topics = %v, want ErrNoNode", err)
	}
	conn := rawZK(t)
	put(t, conn, chroot+"/brokers/topics/b", `{"version":1,"partitions":{"0":[1]}}`)
	put(t, conn, chroot+"/brokers/topics/a", `{"version":1,"partitions":{"0":[1]}}`)
	names, w, err := z.Topics(ctx, true)
	if err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("Topics = %v, %v; want [a b]", names, err)
	}
	if names, nw, err := z.Topics(ctx, false); err != nil || nw != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("Topics without a watch = %v, %v, %v; want [a b], no watch", names, nw, err)
	}
	put(t, conn, chroot+"/brokers/topics/c", `{"version":1,"partitions":{"0":[1]}}`)
	waitEvent(t, w, "the topics' watch on a creation")
}

// TestDropStaleOffsets: the offset nodes last written before their topic's
// creation (a deleted namesake's) are dropped; those written after, and
// the offsets of a topic ZooKeeper does not register, are kept.
func TestDropStaleOffsets(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	ctx := testCtx(t)
	conn := rawZK(t)
	for p := range 3 {
		put(t, conn, chroot+"/consumers/g/offsets/t/"+string(rune('0'+p)), "20")
	}
	if got, err := z.DropStaleOffsets(ctx, "g", "t"); err != nil || got != nil {
		t.Fatalf("DropStaleOffsets without the topic in ZooKeeper = %v, %v; want nothing dropped", got, err)
	}
	put(t, conn, chroot+"/brokers/topics/t", `{"version":1,"partitions":{"0":[1],"1":[1],"2":[1]}}`)
	if err := z.Commit(ctx, "g", "t", 2, 7); err != nil { // written after the topic's creation
		t.Fatal(err)
	}
	got, err := z.DropStaleOffsets(ctx, "g", "t")
	if err != nil || !slices.Equal(got, []int32{0, 1}) {
		t.Fatalf("DropStaleOffsets = %v, %v; want [0 1]", got, err)
	}
	offsets, err := z.Offsets(ctx, "g")
	if err != nil || len(offsets["t"]) != 1 || offsets["t"][2] != 7 {
		t.Fatalf("offsets after = %v, %v; want t/2 at 7 alone", offsets, err)
	}
	if got, err := z.DropStaleOffsets(ctx, "g", "t"); err != nil || got != nil {
		t.Fatalf("DropStaleOffsets again = %v, %v; want nothing dropped", got, err)
	}
}
