package zookeeper_test

import (
	"errors"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// TestOffsetCommitTimes reads when offsets were written: a rewrite moves
// the time, bad partition names are skipped, a group without offsets has
// none.
func TestOffsetCommitTimes(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	conn := rawZK(t)
	ctx := testCtx(t)
	if ts, err := z.OffsetCommitTimes(ctx, "g"); err != nil || len(ts) != 0 {
		t.Fatalf("no group: %v, %v", ts, err)
	}
	before := time.Now().Add(-time.Second) // ZooKeeper's clock is this machine's, in milliseconds
	put(t, conn, chroot+"/consumers/g/offsets/t/0", "5")
	put(t, conn, chroot+"/consumers/g/offsets/t/1", "7")
	put(t, conn, chroot+"/consumers/g/offsets/t/x", "7")
	ts, err := z.OffsetCommitTimes(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	t0, t1 := ts[zookeeper.TopicPartition{Topic: "t", Partition: 0}], ts[zookeeper.TopicPartition{Topic: "t", Partition: 1}]
	if len(ts) != 2 || t0.Before(before) || t0.After(time.Now().Add(time.Second)) || t1.IsZero() {
		t.Fatalf("times %v", ts)
	}
	deadline := time.Now().Add(testTimeout)
	for { // a rewrite in a later millisecond moves the time
		put(t, conn, chroot+"/consumers/g/offsets/t/0", "6")
		ts, err = z.OffsetCommitTimes(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		if ts[zookeeper.TopicPartition{Topic: "t", Partition: 0}].After(t0) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the commit time did not move")
		}
		time.Sleep(5 * time.Millisecond) // waiting for the clock to tick, not synchronizing
	}
	if _, err := z.OffsetCommitTimes(ctx, "bad/name"); !errors.Is(err, zookeeper.ErrInvalidArgument) {
		t.Fatalf("bad group name: %v", err)
	}
}
