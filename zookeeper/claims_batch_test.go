package zookeeper_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// TestReleaseAll: a member's partitions of two topics are released in one
// multi (one transaction: both owners/ parents last changed in the same
// zxid); another member's partition is left alone and named in the error;
// a node gone meanwhile does not stop the others from being released.
func TestReleaseAll(t *testing.T) {
	chroot := testenv.Chroot(t)
	a := dialZK(t, chroot)
	b := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	idA := register(t, a, "g", "t", "u")
	idB := register(t, b, "g", "t")
	var mine []zookeeper.TopicPartition
	for p := range 5 {
		mine = append(mine, zookeeper.TopicPartition{Topic: "t", Partition: int32(p)}, zookeeper.TopicPartition{Topic: "u", Partition: int32(p)})
	}
	for _, tp := range mine {
		if err := a.Claim(ctx, "g", tp.Topic, tp.Partition, idA); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Claim(ctx, "g", "t", 7, idB); err != nil {
		t.Fatal(err)
	}
	tps := append(mine, zookeeper.TopicPartition{Topic: "t", Partition: 7}, zookeeper.TopicPartition{Topic: "t", Partition: 9})
	err := a.ReleaseAll(ctx, "g", idA, tps)
	if !errors.Is(err, zookeeper.ErrNotOwner) || !strings.Contains(err.Error(), "owners/t/7") {
		t.Fatalf("ReleaseAll including another member's partition: %v; want ErrNotOwner naming it", err)
	}
	for _, topic := range []string{"t", "u"} {
		owners, err := b.Owners(ctx, "g", topic)
		want := map[int32]string{}
		if topic == "t" {
			want[7] = idB
		}
		if err != nil || len(owners) != len(want) || owners[7] != want[7] {
			t.Fatalf("owners of %s after ReleaseAll: %v, %v; want %v", topic, owners, err, want)
		}
	}
	_, st, err := raw.Get(chroot + "/consumers/g/owners/t")
	if err != nil {
		t.Fatal(err)
	}
	_, su, err := raw.Get(chroot + "/consumers/g/owners/u")
	if err != nil {
		t.Fatal(err)
	}
	// b's claim of t/7 came after a's claims; the release is the last change
	// of both parents, in one transaction.
	if st.Pzxid != su.Pzxid {
		t.Fatalf("owners/t last changed in zxid %#x, owners/u in %#x: not one transaction", st.Pzxid, su.Pzxid)
	}

	// A node deleted behind the member's back: the multi fails, the others
	// are released one by one.
	for p := range 3 {
		if err := a.Claim(ctx, "g", "u", int32(p), idA); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Delete(chroot+"/consumers/g/owners/u/1", -1); err != nil {
		t.Fatal(err)
	}
	if err := a.ReleaseAll(ctx, "g", idA, []zookeeper.TopicPartition{{Topic: "u", Partition: 0}, {Topic: "u", Partition: 1}, {Topic: "u", Partition: 2}}); err != nil {
		t.Fatal(err)
	}
	if owners, err := b.Owners(ctx, "g", "u"); err != nil || len(owners) != 0 {
		t.Fatalf("owners of u after ReleaseAll: %v, %v", owners, err)
	}
	// A released partition can no longer be committed.
	if err := a.CommitOffsets(ctx, "g", idA, map[zookeeper.TopicPartition]int64{{Topic: "t", Partition: 0}: 1}); !errors.Is(err, zookeeper.ErrNotOwner) {
		t.Fatalf("commit of a released partition: %v; want ErrNotOwner", err)
	}
	if err := a.ReleaseAll(ctx, "g", idA, []zookeeper.TopicPartition{{Topic: "", Partition: 0}}); !errors.Is(err, zookeeper.ErrInvalidArgument) {
		t.Fatalf("ReleaseAll of an empty topic: %v; want ErrInvalidArgument", err)
	}
}

// TestClaimCanceledLeavesNoNode: a claim whose context ends while its
// request is in flight, followed by a release (what a canceled claimer
// does), leaves no owner node: Claim waits for the request's answer and
// undoes it. Before, Claim returned at once, the release could reach
// ZooKeeper before the claim, and the node stayed until the session ended.
func TestClaimCanceledLeavesNoNode(t *testing.T) {
	chroot := testenv.Chroot(t)
	a := dialZK(t, chroot)
	b := dialZK(t, chroot)
	ctx := testCtx(t)
	id := register(t, a, "g", "t")
	if err := a.Claim(ctx, "g", "t", 999, id); err != nil { // owners/t exists
		t.Fatal(err)
	}
	const n = 300
	for p := range int32(n) {
		cctx, cancel := context.WithCancel(ctx)
		go cancel()
		err := a.Claim(cctx, "g", "t", p, id)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("claim %d: %v", p, err)
		}
		if err := a.Release(ctx, "g", "t", p, id); err != nil {
			t.Fatalf("release %d: %v", p, err)
		}
	}
	if err := a.Release(ctx, "g", "t", 999, id); err != nil {
		t.Fatal(err)
	}
	// Every request of a was answered before its last release's.
	owners, err := b.Owners(ctx, "g", "t")
	if err != nil || len(owners) != 0 {
		t.Fatalf("%d owner nodes left after %d canceled claims and their releases (%v)", len(owners), n, err)
	}
}

// TestClaimAll: the free partitions are claimed in one multi (owners/<topic>
// created on the way), one owned by another member is left out, one this
// session already holds counts as claimed; the claims are fenced commits'
// as Claim's are.
func TestClaimAll(t *testing.T) {
	chroot := testenv.Chroot(t)
	a := dialZK(t, chroot)
	b := dialZK(t, chroot)
	ctx := testCtx(t)
	idA := register(t, a, "g", "t", "u")
	idB := register(t, b, "g", "t")
	if err := b.Claim(ctx, "g", "t", 2, idB); err != nil {
		t.Fatal(err)
	}
	if err := a.Claim(ctx, "g", "t", 3, idA); err != nil {
		t.Fatal(err)
	}
	var tps []zookeeper.TopicPartition
	for p := range 5 {
		tps = append(tps, zookeeper.TopicPartition{Topic: "t", Partition: int32(p)}, zookeeper.TopicPartition{Topic: "u", Partition: int32(p)})
	}
	got, err := a.ClaimAll(ctx, "g", idA, tps)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 || slices.Contains(got, zookeeper.TopicPartition{Topic: "t", Partition: 2}) {
		t.Fatalf("ClaimAll = %v; want all but t/2", got)
	}
	for _, topic := range []string{"t", "u"} {
		owners, err := b.Owners(ctx, "g", topic)
		if err != nil || len(owners) != 5 {
			t.Fatalf("owners of %s: %v, %v", topic, owners, err)
		}
		for p, o := range owners {
			if want := idA; (topic != "t" || p != 2) && o != want {
				t.Fatalf("%s/%d owned by %q, want %q", topic, p, o, want)
			}
		}
	}
	offsets := map[zookeeper.TopicPartition]int64{}
	for _, tp := range got {
		offsets[tp] = 7
	}
	if err := a.CommitOffsets(ctx, "g", idA, offsets); err != nil {
		t.Fatalf("commit of the partitions claimed at once: %v", err)
	}
	if _, err := b.ClaimAll(ctx, "g", "g_unregistered-1-00000000", tps[:1]); !errors.Is(err, zookeeper.ErrNotRegistered) {
		t.Fatalf("ClaimAll by an unregistered id: %v, want ErrNotRegistered", err)
	}
	if _, err := a.ClaimAll(ctx, "g", idA, []zookeeper.TopicPartition{{Topic: "t", Partition: -1}}); !errors.Is(err, zookeeper.ErrInvalidArgument) {
		t.Fatalf("ClaimAll of a negative partition: %v, want ErrInvalidArgument", err)
	}
}
