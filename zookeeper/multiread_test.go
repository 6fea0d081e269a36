package zookeeper_test

import (
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// TestReadGroupMultiRead: a whole group of 3,000 partitions (offsets
// missing, one unreadable, owners of two thirds) reads the same in
// multiReads (the test server is 3.6 or later), in multiReads cut small by
// Config.MaxRequestBytes, and as getData (what a 3.5 server gets): every
// offset, commit time and owner, and the same errors. Each request stays
// within the budget, and the way of reading is the one asked for (a
// multiRead of many nodes is a request far larger than any getData).
func TestReadGroupMultiRead(t *testing.T) {
	t.Parallel()
	const n, owned, bad = 3000, 2000, 1234
	ctx := testCtx(t)
	chroot := testenv.Chroot(t)
	w := dialZK(t, chroot)
	offsets := map[zookeeper.TopicPartition]int64{}
	for p := range int32(n) {
		if p%97 != 5 { // no offset node
			offsets[zookeeper.TopicPartition{Topic: "t", Partition: p}] = int64(p) * 3
		}
	}
	if err := w.ResetOffsets(ctx, "g", offsets); err != nil {
		t.Fatal(err)
	}
	put(t, rawZK(t), fmt.Sprintf("%s/consumers/g/offsets/t/%d", chroot, bad), "not an offset")
	delete(offsets, zookeeper.TopicPartition{Topic: "t", Partition: bad})
	id := register(t, w, "g", "t")
	var tps []zookeeper.TopicPartition
	for p := range int32(owned) {
		tps = append(tps, zookeeper.TopicPartition{Topic: "t", Partition: p})
	}
	if _, err := w.ClaimAll(ctx, "g", id, tps); err != nil {
		t.Fatal(err)
	}

	type reader struct {
		name       string
		budget     int  // Config.MaxRequestBytes, 0 for the default
		getData    bool // SetNoMultiRead
		minLargest int  // the largest request is at least this long
		maxLargest int  // and at most this long
	}
	for _, r := range []reader{
		{name: "multiRead", minLargest: 30_000, maxLargest: zookeeper.DefaultMaxRequestBytes},
		{name: "multiRead within 4 KiB", budget: 4096, minLargest: 3_000, maxLargest: 4096},
		{name: "getData", getData: true, maxLargest: 1_000},
	} {
		t.Run(r.name, func(t *testing.T) {
			var mu sync.Mutex
			largest := 0
			z := dialZK(t, chroot, func(cfg *zookeeper.Config) {
				cfg.MaxRequestBytes = r.budget
				zookeeper.SetTestHooks(cfg, nil, func(n int) { mu.Lock(); largest = max(largest, n); mu.Unlock() })
				if r.getData {
					zookeeper.SetNoMultiRead(cfg)
				}
			})
			got, err := z.Offsets(ctx, "g")
			if !errors.Is(err, zookeeper.ErrBadData) {
				t.Fatalf("Offsets: the unreadable node: %v", err)
			}
			want := map[int32]int64{}
			for tp, o := range offsets {
				want[tp.Partition] = o
			}
			if !maps.Equal(got["t"], want) || len(got) != 1 {
				t.Fatalf("Offsets: %d partitions, want %d", len(got["t"]), len(want))
			}
			times, err := z.OffsetCommitTimes(ctx, "g")
			if err != nil || len(times) != len(offsets)+1 { // the unreadable node has a time
				t.Fatalf("OffsetCommitTimes: %d, want %d: %v", len(times), len(offsets)+1, err)
			}
			for tp, at := range times {
				if at.IsZero() {
					t.Fatalf("OffsetCommitTimes: %v at zero", tp)
				}
			}
			owners, err := z.Owners(ctx, "g", "t")
			if err != nil || len(owners) != owned {
				t.Fatalf("Owners: %d, want %d: %v", len(owners), owned, err)
			}
			for p, o := range owners {
				if o != id || p >= owned {
					t.Fatalf("Owners: %d owned by %q", p, o)
				}
			}
			all := make([]zookeeper.TopicPartition, n)
			for p := range int32(n) {
				all[p] = zookeeper.TopicPartition{Topic: "t", Partition: p}
			}
			reads, err := z.ReadOffsets(ctx, "g", all)
			if err != nil || len(reads) != n {
				t.Fatalf("ReadOffsets: %d: %v", len(reads), err)
			}
			for tp, rd := range reads {
				o, ok := offsets[tp]
				switch {
				case tp.Partition == bad:
					ok = errors.Is(rd.Err, zookeeper.ErrBadData)
				case tp.Partition%97 == 5:
					ok = errors.Is(rd.Err, zookeeper.ErrNoNode)
				default:
					ok = ok && rd.Err == nil && rd.Offset == o
				}
				if !ok {
					t.Fatalf("ReadOffsets: %v: %+v", tp, rd)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if largest < r.minLargest || largest > r.maxLargest {
				t.Fatalf("the largest request was %d bytes, want [%d, %d]", largest, r.minLargest, r.maxLargest)
			}
		})
	}
}

// TestReadGroupVersionUnknown: when a server of Config.Servers cannot be
// asked its version (here nothing listens there: a server down), the
// Client cannot know that it takes multiRead, and the connection may move
// to it: a group is read as getData, correctly. (srvr itself cannot be
// refused: ZooKeeper 3.5.3 and later add it to any
// 4lw.commands.whitelist, zkServer.sh needing it.)
func TestReadGroupVersionUnknown(t *testing.T) {
	t.Parallel()
	const n = 1000
	ctx := testCtx(t)
	var mu sync.Mutex
	largest := 0
	z := dialZK(t, testenv.Chroot(t), func(cfg *zookeeper.Config) {
		cfg.Servers = append(cfg.Servers, closedPort(t))
		zookeeper.SetTestHooks(cfg, nil, func(n int) { mu.Lock(); largest = max(largest, n); mu.Unlock() })
	})
	offsets := map[zookeeper.TopicPartition]int64{}
	for p := range int32(n) {
		offsets[zookeeper.TopicPartition{Topic: "t", Partition: p}] = int64(p) + 7
	}
	if err := z.ResetOffsets(ctx, "g", offsets); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	largest = 0 // the reset's multis
	mu.Unlock()
	got, err := z.Offsets(ctx, "g")
	if err != nil || len(got["t"]) != n {
		t.Fatalf("Offsets: %d of %d: %v", len(got["t"]), n, err)
	}
	for p, o := range got["t"] {
		if o != int64(p)+7 {
			t.Fatalf("Offsets: partition %d at %d", p, o)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if largest > 1000 {
		t.Fatalf("a request of %d bytes: a multiRead while a server's version is unknown", largest)
	}
}
