package consumergroup

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestClaimBatched: the claimers' claims go to ZooKeeper in batches, not
// one transaction each (a joining member waiting for 900 partitions made
// 900 round trips in a row, 0.8 s of its join at 10 members on 10,000
// partitions), with Claim's outcome for each: 200 claims at once, one of
// them on a partition another member owns, are 200 answers in a few
// batches; the owned one is ErrAlreadyClaimed, the others are this
// member's owner nodes. A member that is not registered gets
// ErrNotRegistered.
func TestClaimBatched(t *testing.T) {
	ctx := testenv.Ctx(t)
	chroot := testenv.Chroot(t)
	dial := func() *ZK {
		z, err := DialZK(ctx, ZKConfig{Servers: testenv.ZooKeeperAddrs(t), Chroot: chroot, SessionTimeout: 6 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { z.Close() })
		return z
	}
	za, zb := dial(), dial()
	if err := za.RegisterGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if err := za.RegisterConsumer(ctx, "g", "a", "t"); err != nil {
		t.Fatal(err)
	}
	if err := zb.RegisterConsumer(ctx, "g", "b", "t"); err != nil {
		t.Fatal(err)
	}
	if err := zb.Claim(ctx, "g", "t", 7, "b"); err != nil {
		t.Fatal(err)
	}

	const n = 200
	m := &member{c: &zkCoordinator{zk: za, g: &ConsumerGroup{name: "g"}}, ctx: ctx, id: "a"}
	errs := make([]error, n)
	var wg sync.WaitGroup
	m.claimers.Add(1) // as a claimer's own goroutine counts
	for p := range n {
		wg.Go(func() { errs[p] = m.claimBatched(ctx, TopicPartition{Topic: "t", Partition: int32(p)}) })
	}
	wg.Wait()
	m.claimers.Done()
	m.claimers.Wait()
	for p, err := range errs {
		switch {
		case p == 7 && !errors.Is(err, ErrAlreadyClaimed):
			t.Errorf("claim of partition 7, owned by b: %v, want ErrAlreadyClaimed", err)
		case p != 7 && err != nil:
			t.Errorf("claim of partition %d: %v", p, err)
		case p != 7:
			if owner, err := za.Owner(ctx, "g", "t", int32(p)); err != nil || owner != "a" {
				t.Errorf("owner of partition %d = %q, %v; want a", p, owner, err)
			}
		}
	}
	m.batch.mu.Lock()
	sent := m.batch.sent
	m.batch.mu.Unlock()
	if sent > n/4 {
		t.Errorf("%d claims took %d batches: want them gathered (at most %d)", n, sent, n/4)
	}
	t.Logf("%d claims in %d batches", n, sent)

	nobody := &member{c: m.c, ctx: ctx, id: "nobody"}
	nobody.claimers.Add(1)
	if err := nobody.claimBatched(ctx, TopicPartition{Topic: "t", Partition: n}); !errors.Is(err, ErrNotRegistered) {
		t.Errorf("claim by an unregistered member: %v, want ErrNotRegistered", err)
	}
	nobody.claimers.Done()
	nobody.claimers.Wait()
}
