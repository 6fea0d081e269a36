package zookeeper_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

func TestClaim(t *testing.T) {
	chroot := testenv.Chroot(t)
	a := dialZK(t, chroot)
	b := dialZK(t, chroot)
	ctx := testCtx(t)
	idA := register(t, a, "g", "t")
	idB := register(t, b, "g", "t")

	if err := a.Claim(ctx, "g", "t", 3, idA); err != nil {
		t.Fatal(err)
	}
	if err := a.Claim(ctx, "g", "t", 3, idA); err != nil {
		t.Fatalf("claiming again what this session holds: %v", err)
	}
	err := b.Claim(ctx, "g", "t", 3, idB)
	if !errors.Is(err, zookeeper.ErrAlreadyClaimed) || !strings.Contains(err.Error(), idA) || !strings.Contains(err.Error(), "owners/t/3") {
		t.Fatalf("claim of a claimed partition: %v; want ErrAlreadyClaimed naming the owner and the node", err)
	}
	// The same id from another session does not own it either.
	if err := b.Claim(ctx, "g", "t", 3, idA); !errors.Is(err, zookeeper.ErrAlreadyClaimed) && !errors.Is(err, zookeeper.ErrNotRegistered) {
		t.Fatalf("claim with another member's id: %v", err)
	}
	if err := b.Claim(ctx, "g", "t", 4, "g_unregistered-1-00000000"); !errors.Is(err, zookeeper.ErrNotRegistered) {
		t.Fatalf("claim by an unregistered id: %v, want ErrNotRegistered", err)
	}
	if owner, err := b.Owner(ctx, "g", "t", 3); err != nil || owner != idA {
		t.Fatalf("Owner = %q, %v; want %q", owner, err, idA)
	}
	if _, err := b.Owner(ctx, "g", "t", 9); !errors.Is(err, zookeeper.ErrNoNode) {
		t.Fatalf("Owner of an unowned partition: %v, want ErrNoNode", err)
	}

	// The new owner waits for the old one to let go, through a watch.
	owner, watch, err := b.OwnerW(ctx, "g", "t", 3)
	if err != nil || owner != idA {
		t.Fatalf("OwnerW = %q, %v", owner, err)
	}
	if err := b.Release(ctx, "g", "t", 3, idB); !errors.Is(err, zookeeper.ErrNotOwner) {
		t.Fatalf("release of another member's partition: %v, want ErrNotOwner", err)
	}
	if err := a.Release(ctx, "g", "t", 3, idA); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, watch, "release"); ev.Type != zk.EventNodeDeleted {
		t.Fatalf("watch event %+v, want node deleted", ev)
	}
	if err := a.Release(ctx, "g", "t", 3, idA); err != nil {
		t.Fatalf("release of a released partition: %v", err)
	}
	if err := b.Claim(ctx, "g", "t", 3, idB); err != nil {
		t.Fatal(err)
	}
	owners, err := a.Owners(ctx, "g", "t")
	if err != nil || len(owners) != 1 || owners[3] != idB {
		t.Fatalf("Owners = %v, %v", owners, err)
	}
	// Nobody owns it: the watch reports the creation.
	owner, watch, err = a.OwnerW(ctx, "g", "t", 5)
	if err != nil || owner != "" {
		t.Fatalf("OwnerW of an unowned partition = %q, %v", owner, err)
	}
	if err := b.Claim(ctx, "g", "t", 5, idB); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, watch, "claim"); ev.Type != zk.EventNodeCreated {
		t.Fatalf("watch event %+v, want node created", ev)
	}
}

// offsetsOf returns partitions 0..n-1 of topic t at offset off.
func offsetsOf(n int, off int64) map[zookeeper.TopicPartition]int64 {
	m := make(map[zookeeper.TopicPartition]int64, n)
	for p := range n {
		m[zookeeper.TopicPartition{Topic: "t", Partition: int32(p)}] = off + int64(p)
	}
	return m
}

// TestFencedCommit checks that the batched commit writes every offset in one
// step, and nothing at all once the member lost one partition: by a release,
// or by a session expiry after which another member claimed it.
func TestFencedCommit(t *testing.T) {
	chroot := testenv.Chroot(t)
	a, proxy := dialThroughProxy(t, chroot)
	b := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	idA := register(t, a, "g", "t")
	const n = 20
	for p := range n {
		if err := a.Claim(ctx, "g", "t", int32(p), idA); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.CommitOffsets(ctx, "g", idA, offsetsOf(n, 100)); err != nil {
		t.Fatal(err)
	}
	if err := a.CommitOffsets(ctx, "g", idA, offsetsOf(n, 200)); err != nil {
		t.Fatal(err)
	}
	checkOffsets := func(off int64) {
		t.Helper()
		for p := range n {
			want := fmt.Sprint(off + int64(p))
			if got := get(t, raw, fmt.Sprintf("%s/consumers/g/offsets/t/%d", chroot, p)); got != want {
				t.Fatalf("offset of partition %d is %q, want %q", p, got, want)
			}
		}
	}
	checkOffsets(200)

	// A released partition can no longer be committed, and nothing is.
	if err := a.Release(ctx, "g", "t", 7, idA); err != nil {
		t.Fatal(err)
	}
	err := a.CommitOffsets(ctx, "g", idA, offsetsOf(n, 300))
	if !errors.Is(err, zookeeper.ErrNotOwner) || !strings.Contains(err.Error(), "owners/t/7") {
		t.Fatalf("commit including a released partition: %v; want ErrNotOwner naming it", err)
	}
	checkOffsets(200)

	// A claims 7 again, loses its session, B takes 7 over: A's commit fails
	// as a whole.
	if err := a.Claim(ctx, "g", "t", 7, idA); err != nil {
		t.Fatal(err)
	}
	sess, err := a.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	idB := register(t, b, "g", "t")
	owner, watch, err := b.OwnerW(ctx, "g", "t", 7)
	for err == nil && owner != "" {
		waitEvent(t, watch, "expiry of A's claim")
		owner, watch, err = b.OwnerW(ctx, "g", "t", 7)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Claim(ctx, "g", "t", 7, idB); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, sess.Done(), "A's session end")
	proxy.Restore()
	if _, err := a.Session(ctx); err != nil {
		t.Fatal(err)
	}
	err = a.CommitOffsets(ctx, "g", idA, offsetsOf(n, 400))
	if !errors.Is(err, zookeeper.ErrNotOwner) && !errors.Is(err, zookeeper.ErrNotRegistered) {
		t.Fatalf("commit after losing the session: %v; want ErrNotOwner", err)
	}
	checkOffsets(200)
	// A registers again, under a new id as the group does: still nothing.
	idA2 := register(t, a, "g", "t")
	if err := a.CommitOffsets(ctx, "g", idA2, offsetsOf(n, 500)); !errors.Is(err, zookeeper.ErrNotOwner) {
		t.Fatalf("commit under a new id of partitions it never claimed: %v; want ErrNotOwner", err)
	}
	checkOffsets(200)
	// B, the owner of 7, commits it.
	if err := b.CommitOffsets(ctx, "g", idB, map[zookeeper.TopicPartition]int64{{Topic: "t", Partition: 7}: 777}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, raw, chroot+"/consumers/g/offsets/t/7"); got != "777" {
		t.Fatalf("offset of 7 = %q after its owner's commit", got)
	}
}

// TestFencedCommitCreatesOffsets checks that missing offset nodes are created
// inside the fenced commit.
func TestFencedCommitCreatesOffsets(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	id := register(t, z, "g", "t")
	for p := range 3 {
		if err := z.Claim(ctx, "g", "t", int32(p), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Commit(ctx, "g", "t", 1, 5); err != nil {
		t.Fatal(err)
	}
	if err := z.CommitOffsets(ctx, "g", id, offsetsOf(3, 10)); err != nil {
		t.Fatal(err)
	}
	for p, want := range []string{"10", "11", "12"} {
		if got := get(t, raw, fmt.Sprintf("%s/consumers/g/offsets/t/%d", chroot, p)); got != want {
			t.Fatalf("offset %d = %q, want %s", p, got, want)
		}
	}
	// Someone deletes the offsets behind the cache's back: the commit looks
	// again and creates them.
	if err := z.DeleteAll(ctx, "/consumers/g/offsets"); err != nil {
		t.Fatal(err)
	}
	if err := z.CommitOffsets(ctx, "g", id, offsetsOf(3, 20)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, raw, chroot+"/consumers/g/offsets/t/2"); got != "22" {
		t.Fatalf("offset 2 = %q, want 22", got)
	}
}
