package consumergroup

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// TestTakeOverLeadersFromClient: a member taking over partitions of a
// topic whose other partitions it fetches finds their leaders in its
// client's metadata and asks them for the bounds directly, with no
// Metadata request: on a cluster without partition state nodes in
// ZooKeeper (KRaft), every take-over fetched the whole topic's metadata
// (10,000 partitions; at 100 members a graceful leave's 99 take-overs did
// so at once, 0.6-1.2 s).
func TestTakeOverLeadersFromClient(t *testing.T) {
	ctx := testenv.Ctx(t)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(64, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if l, _, _ := cl.PartitionLeader("t", 5); l >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the client never loaded the topic's metadata")
		}
		time.Sleep(10 * time.Millisecond) // polling the client's metadata, not synchronizing
	}
	z, err := DialZK(ctx, ZKConfig{Servers: testenv.ZooKeeperAddrs(t), Chroot: testenv.Chroot(t), SessionTimeout: 6 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()

	var metas atomic.Int64
	kc.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		metas.Add(1)
		return nil, nil, false
	})
	m := &member{c: &zkCoordinator{zk: z, g: &ConsumerGroup{name: "g", client: cl}}, ctx: ctx}
	tps := []TopicPartition{{Topic: "t", Partition: 5}, {Topic: "t", Partition: 40}}
	leaders := m.leadersOf(tps)
	for _, tp := range tps {
		if _, ok := leaders[tp]; !ok {
			t.Errorf("leadersOf: no leader for %v, which the client's metadata has", tp)
		}
	}
	highs, err := listOffsetsAt(ctx, cl, tps, -1, leaders)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range tps {
		if o, ok := highs.Lookup(tp.Topic, tp.Partition); !ok || o.Err != nil || o.Offset != 0 {
			t.Errorf("end offset of %v: %+v, %v; want 0", tp, o, ok)
		}
	}
	if n := metas.Load(); n != 0 {
		t.Errorf("the take-over's bounds sent %d Metadata requests: want none (the leaders are in the client's metadata)", n)
	}
}
