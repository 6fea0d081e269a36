package zookeeper_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// requestLog records the requests a Client writes (their length, as the
// server checks it) and the chunks of its chunked requests.
type requestLog struct {
	mu     sync.Mutex
	sizes  []int
	chunks map[string]int
	hook   func(op string, chunk int) // called after each chunk but the last
}

func (l *requestLog) config(c *zookeeper.Config) {
	zookeeper.SetTestHooks(c, func(op string, chunk int) {
		l.mu.Lock()
		l.chunks[op]++
		h := l.hook
		l.mu.Unlock()
		if h != nil {
			h(op, chunk)
		}
	}, func(n int) {
		l.mu.Lock()
		l.sizes = append(l.sizes, n)
		l.mu.Unlock()
	})
}

func newRequestLog() *requestLog { return &requestLog{chunks: map[string]int{}} }

// take returns the lengths of the requests over 4 KiB written since the
// last take (the multis of many partitions), the largest request of all,
// and the number of chunks of op.
func (l *requestLog) take(op string) (multis []int, largest, chunks int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.sizes {
		largest = max(largest, n)
		if n > 4<<10 {
			multis = append(multis, n)
		}
	}
	chunks = l.chunks[op] + 1
	l.sizes = nil
	l.chunks = map[string]int{}
	return multis, largest, chunks
}

func (l *requestLog) setHook(h func(op string, chunk int)) {
	l.mu.Lock()
	l.hook = h
	l.mu.Unlock()
}

func partitions(topic string, n int) []zookeeper.TopicPartition {
	tps := make([]zookeeper.TopicPartition, n)
	for p := range n {
		tps[p] = zookeeper.TopicPartition{Topic: topic, Partition: int32(p)}
	}
	return tps
}

// ownedCount returns the number of owner nodes of topic in group g.
func ownedCount(t *testing.T, z *zookeeper.Client, topic string) int {
	t.Helper()
	parts, err := z.OwnedPartitions(testCtx(t), "g", topic)
	if err != nil {
		t.Fatal(err)
	}
	return len(parts)
}

// TestLargeTopic (issue 19): one member of a topic of 10,000 partitions
// claims them all, creates their offset nodes, commits and releases them,
// as package consumergroup's member does, every request under the budget.
// Before, the claim was one multi of 1,559,016 bytes, over ZooKeeper's
// jute.maxbuffer: the server closed the connection at every try and the
// member held nothing.
func TestLargeTopic(t *testing.T) {
	const n = 10000
	chroot := testenv.Chroot(t)
	log := newRequestLog()
	z := dialZK(t, chroot, log.config, func(c *zookeeper.Config) { c.SessionTimeout = 10 * time.Second })
	raw := rawZK(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := register(t, z, "g", "t")
	tps := partitions("t", n)
	log.take("")
	step := func(what, op string, f func() error) {
		t.Helper()
		start := time.Now()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		took := time.Since(start)
		multis, largest, chunks := log.take(op)
		if largest > zookeeper.DefaultMaxRequestBytes {
			t.Fatalf("%s: a request of %d bytes, over the budget %d", what, largest, zookeeper.DefaultMaxRequestBytes)
		}
		t.Logf("%s of %d partitions: %v, %d multis (chunks %d) of %v bytes", what, n, took.Round(time.Millisecond), len(multis), chunks, multis)
	}

	step("claim", "claim", func() error {
		owned, err := z.OwnedPartitions(ctx, "g", "t")
		if err != nil || len(owned) != 0 {
			return fmt.Errorf("owned before: %v, %v", owned, err)
		}
		claimed, err := z.ClaimAll(ctx, "g", id, tps)
		if err == nil && len(claimed) != n {
			err = fmt.Errorf("%d claimed", len(claimed))
		}
		return err
	})
	if got := ownedCount(t, z, "t"); got != n {
		t.Fatalf("%d owner nodes, want %d", got, n)
	}
	step("offset-node creation", "create offsets", func() error { return z.CreateMissingOffsets(ctx, "g", offsetsOf(n, 0)) })
	step("first commit", "commit offsets", func() error { return z.CommitOffsets(ctx, "g", id, offsetsOf(n, 1000)) })
	step("commit", "commit offsets", func() error { return z.CommitOffsets(ctx, "g", id, offsetsOf(n, 2000)) })
	names, _, err := raw.Children(chroot + "/consumers/g/offsets/t")
	if err != nil || len(names) != n {
		t.Fatalf("%d offset nodes, %v; want %d", len(names), err, n)
	}
	for _, p := range []int{0, 1, 4999, 5000, 7777, n - 1} {
		if got := get(t, raw, fmt.Sprintf("%s/consumers/g/offsets/t/%d", chroot, p)); got != fmt.Sprint(2000+p) {
			t.Fatalf("offset of %d = %s, want %d", p, got, 2000+p)
		}
	}
	step("release", "release", func() error { return z.ReleaseAll(ctx, "g", id, tps) })
	if got := ownedCount(t, z, "t"); got != 0 {
		t.Fatalf("%d owner nodes after the release", got)
	}
	step("reset", "reset offsets", func() error {
		if err := z.DeregisterConsumer(ctx, "g", id); err != nil {
			return err
		}
		return z.ResetOffsets(ctx, "g", offsetsOf(n, 7))
	})
	if got := get(t, raw, fmt.Sprintf("%s/consumers/g/offsets/t/%d", chroot, n-1)); got != fmt.Sprint(7+n-1) {
		t.Fatalf("offset of %d after the reset = %s", n-1, got)
	}
	if z.Sessions() != 1 {
		t.Fatalf("%d sessions: the connection was lost", z.Sessions())
	}
}

// smallRequests makes chunks of a few dozen partitions.
func smallRequests(c *zookeeper.Config) { c.MaxRequestBytes = 4 << 10 }

// TestChunkedCommitFenced: a member that loses its session between two
// chunks of a commit writes nothing more: the chunks before were
// written while it owned their partitions; the new owner's commits stand.
// And a member whose registration vanishes between two chunks writes
// nothing of the next.
func TestChunkedCommitFenced(t *testing.T) {
	const n = 300
	chroot := testenv.Chroot(t)
	log := newRequestLog()
	a, proxy := dialThroughProxy(t, chroot, log.config, smallRequests)
	b := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	idA := register(t, a, "g", "t")
	tps := partitions("t", n)
	if claimed, err := a.ClaimAll(ctx, "g", idA, tps); err != nil || len(claimed) != n {
		t.Fatalf("claimed %d: %v", len(claimed), err)
	}
	if err := a.CommitOffsets(ctx, "g", idA, offsetsOf(n, 100)); err != nil {
		t.Fatal(err)
	}
	if _, _, chunks := log.take("commit offsets"); chunks < 3 {
		t.Fatalf("the commit of %d partitions took %d chunks: too few for the test", n, chunks)
	}
	offsets := func() []int64 {
		t.Helper()
		out := make([]int64, n)
		for p := range n {
			fmt.Sscan(get(t, raw, fmt.Sprintf("%s/consumers/g/offsets/t/%d", chroot, p)), &out[p])
		}
		return out
	}

	// Between chunk 1 and 2 the member's registration vanishes (deleted
	// behind its back here; a session expiry the client has not noticed
	// yet does the same, and takes the owner nodes with it): the next
	// chunk fails its check, and nothing of it nor after it is written.
	log.setHook(func(_ string, chunk int) {
		if chunk == 0 {
			if err := raw.Delete(chroot+"/consumers/g/ids/"+idA, -1); err != nil {
				t.Error(err)
			}
		}
	})
	err := a.CommitOffsets(ctx, "g", idA, offsetsOf(n, 200))
	log.setHook(nil)
	if !errors.Is(err, zookeeper.ErrNotRegistered) {
		t.Fatalf("commit whose registration vanished after a chunk: %v, want ErrNotRegistered", err)
	}
	got := offsets()
	first := 0 // the first partition not written
	for first < n && got[first] == int64(200+first) {
		first++
	}
	if first == 0 || first == n {
		t.Fatalf("offsets after the fenced chunk: first not written %d", first)
	}
	for p := first; p < n; p++ {
		if got[p] != int64(100+p) {
			t.Fatalf("offset of %d is %d, want %d: written after the chunk that failed (at %d)", p, got[p], 100+p, first)
		}
	}
	t.Logf("fenced at partition %d: %v", first, err)
	if err := a.RegisterConsumer(ctx, "g", idA, "t"); err != nil { // the same session: its claims stand
		t.Fatal(err)
	}
	idB := register(t, b, "g", "t")

	// The member's session expires between chunk 1 and 2; b takes the
	// partitions over and commits: a writes nothing after the first chunk.
	rest := tps[:250]
	offs := make(map[zookeeper.TopicPartition]int64, len(rest))
	for _, tp := range rest {
		offs[tp] = 300 + int64(tp.Partition)
	}
	sess, err := a.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log.setHook(func(_ string, chunk int) {
		if chunk != 0 {
			return
		}
		proxy.Cut()
		waitClosed(t, sess.Done(), "a's session end")
		// The server expires it: every owner node of a vanishes at once.
		for {
			owner, watch, err := b.OwnerW(ctx, "g", "t", 249)
			if err != nil {
				t.Error(err)
				return
			}
			if owner == "" {
				break
			}
			waitEvent(t, watch, "expiry of a's claims")
		}
		if claimed, err := b.ClaimAll(ctx, "g", idB, rest); err != nil || len(claimed) != len(rest) {
			t.Errorf("b claimed %d: %v", len(claimed), err)
		}
		if err := b.CommitOffsets(ctx, "g", idB, map[zookeeper.TopicPartition]int64{tps[249]: 8888}); err != nil {
			t.Error(err)
		}
		proxy.Restore()
	})
	err = a.CommitOffsets(ctx, "g", idA, offs)
	log.setHook(nil)
	if !errors.Is(err, zookeeper.ErrNotOwner) {
		t.Fatalf("commit across the session's end: %v, want ErrNotOwner", err)
	}
	after := offsets()
	written := 0
	for p := 0; p < 249; p++ {
		switch after[p] {
		case int64(300 + p):
			if written != p {
				t.Fatalf("partition %d written after partition %d was not", p, written)
			}
			written++
		case got[p]:
		default:
			t.Fatalf("offset of %d is %d", p, after[p])
		}
	}
	if written == 0 || written == 249 || after[249] != 8888 {
		t.Fatalf("%d partitions written before the session ended, partition 249 at %d; want the first chunk only and b's commit", written, after[249])
	}
	t.Logf("session lost after %d partitions: %v", written, err)
}

// TestChunkedClaimFailsPartWay: a claim whose later chunk fails (the
// registration deleted, or ctx ended, after the first) leaves no owner
// node: the first chunks' claims are undone, and returned as not claimed.
func TestChunkedClaimFailsPartWay(t *testing.T) {
	const n = 200
	chroot := testenv.Chroot(t)
	log := newRequestLog()
	z := dialZK(t, chroot, log.config, smallRequests)
	other := dialZK(t, chroot)
	ctx := testCtx(t)
	tps := partitions("t", n)
	idO := register(t, other, "g", "t")
	if err := other.Claim(ctx, "g", "t", n+1, idO); err != nil {
		t.Fatal(err)
	}
	for _, fail := range []string{"deregistered", "canceled"} {
		id := register(t, z, "g", "t")
		// One partition this session already holds stays held.
		if err := z.Claim(ctx, "g", "t", n, id); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		log.setHook(func(_ string, chunk int) {
			if chunk != 1 {
				return
			}
			if got := ownedCount(t, other, "t"); got < 3 {
				t.Errorf("%d owner nodes after two chunks", got)
			}
			if fail == "canceled" {
				cancel()
			} else if err := other.DeleteAll(ctx, "/consumers/g/ids/"+id); err != nil {
				t.Error(err)
			}
		})
		claimed, err := z.ClaimAll(cctx, "g", id, append([]zookeeper.TopicPartition{{Topic: "t", Partition: n}}, tps...))
		log.setHook(nil)
		cancel()
		if err == nil || !slices.Equal(claimed, []zookeeper.TopicPartition{{Topic: "t", Partition: n}}) {
			t.Fatalf("%s: claimed %v, %v; want only the partition held before, and an error", fail, claimed, err)
		}
		owners, oerr := other.Owners(ctx, "g", "t")
		if oerr != nil || len(owners) != 2 || owners[n] != id || owners[n+1] != idO {
			t.Fatalf("%s: owners after the failed claim: %v, %v", fail, owners, oerr)
		}
		if _, _, chunks := log.take("claim"); chunks < 3 {
			t.Fatalf("%s: %d chunks", fail, chunks)
		}
		if err := z.ReleaseAll(ctx, "g", id, []zookeeper.TopicPartition{{Topic: "t", Partition: n}}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v", fail, err)
	}
}

// TestChunkedRelease: a release in chunks deletes the member's nodes and
// never another member's; a node deleted behind its back fails its chunk,
// whose partitions are then released one by one.
func TestChunkedRelease(t *testing.T) {
	const n = 200
	chroot := testenv.Chroot(t)
	log := newRequestLog()
	a := dialZK(t, chroot, log.config, smallRequests)
	b := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	idA := register(t, a, "g", "t")
	idB := register(t, b, "g", "t")
	tps := partitions("t", n)
	if claimed, err := a.ClaimAll(ctx, "g", idA, tps[:n-1]); err != nil || len(claimed) != n-1 {
		t.Fatalf("claimed %d: %v", len(claimed), err)
	}
	if err := b.Claim(ctx, "g", "t", n-1, idB); err != nil {
		t.Fatal(err)
	}
	log.take("")
	log.setHook(func(_ string, chunk int) {
		if chunk == 0 {
			if err := raw.Delete(fmt.Sprintf("%s/consumers/g/owners/t/%d", chroot, n-10), -1); err != nil {
				t.Error(err)
			}
		}
	})
	err := a.ReleaseAll(ctx, "g", idA, tps)
	log.setHook(nil)
	if !errors.Is(err, zookeeper.ErrNotOwner) || !strings.Contains(err.Error(), fmt.Sprintf("owners/t/%d", n-1)) {
		t.Fatalf("release including b's partition: %v; want ErrNotOwner naming it", err)
	}
	if owners, err := b.Owners(ctx, "g", "t"); err != nil || len(owners) != 1 || owners[n-1] != idB {
		t.Fatalf("owners after the release: %v, %v; want b's only", owners, err)
	}
	if _, _, chunks := log.take("release"); chunks < 3 {
		t.Fatalf("%d chunks", chunks)
	}
}

// TestRequestTooLarge: a request over the budget is refused before it is
// sent, naming the node and the size; the connection and the session are
// untouched. Before, ZooKeeper closed the connection at every try and the
// caller saw a lost connection.
func TestRequestTooLarge(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	ctx := testCtx(t)
	sess, err := z.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1100000)
	err = z.Create(ctx, "/big", big, false)
	if !errors.Is(err, zookeeper.ErrRequestTooLarge) || !strings.Contains(err.Error(), chroot+"/big") || !strings.Contains(err.Error(), "1100") {
		t.Fatalf("create of %d bytes: %v; want ErrRequestTooLarge naming the node and its size", len(big), err)
	}
	topics := make([]string, 3000)
	for i := range topics {
		topics[i] = fmt.Sprintf("%0200d", i)
	}
	id, err := zookeeper.NewConsumerID("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := z.RegisterGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	err = z.RegisterConsumer(ctx, "g", id, topics...)
	if !errors.Is(err, zookeeper.ErrRequestTooLarge) || !strings.Contains(err.Error(), "/ids/"+id) {
		t.Fatalf("registration of %d topics: %v; want ErrRequestTooLarge naming the node", len(topics), err)
	}
	t.Log(err)
	if sess.Err() != nil || z.Sessions() != 1 {
		t.Fatalf("session %v, %d sessions: the refusal cost the connection", sess.Err(), z.Sessions())
	}
	if err := z.Create(ctx, "/small", big[:1000], false); err != nil {
		t.Fatal(err)
	}
}

// TestMaxRequestBytesValidated: the budget is bounded.
func TestMaxRequestBytesValidated(t *testing.T) {
	for _, v := range []int{-1, 100, 2 << 20} {
		c := zookeeper.Config{Servers: []string{"127.0.0.1:2181"}, MaxRequestBytes: v}
		if err := c.Validate(); !errors.Is(err, zookeeper.ErrInvalidArgument) || !strings.Contains(err.Error(), "MaxRequestBytes") {
			t.Fatalf("MaxRequestBytes %d: %v", v, err)
		}
	}
}
