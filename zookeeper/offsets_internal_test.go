package zookeeper

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// Members that start together create the group's missing offset nodes at
// once: every creator succeeds, every node exists once with its value, and
// a creator that lost a race lists again instead of retrying node by node.
func TestCreateMissingOffsetsConcurrently(t *testing.T) {
	const creators, parts = 8, 300
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	chroot := testenv.Chroot(t)
	offsets := make(map[TopicPartition]int64, parts)
	for p := range int32(parts) {
		offsets[TopicPartition{"t", p}] = int64(p) * 10
	}
	var wg sync.WaitGroup
	errs := make(chan error, creators)
	for range creators {
		z, err := Dial(ctx, Config{Servers: testenv.ZooKeeperAddrs(t), Chroot: chroot, SessionTimeout: 4 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- z.CreateMissingOffsets(ctx, "g", offsets)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a creator failed: %v", err)
		}
	}
	z, err := Dial(ctx, Config{Servers: testenv.ZooKeeperAddrs(t), Chroot: chroot, SessionTimeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	got, err := z.Offsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(got["t"]) != parts {
		t.Fatalf("%d offset nodes, want %d", len(got["t"]), parts)
	}
	for p, off := range got["t"] {
		if off != int64(p)*10 {
			t.Fatalf("partition %d: offset %d, want %d", p, off, int64(p)*10)
		}
	}
}

// createEach, the fallback past createOffsetsRounds, keeps the nodes others
// made and creates the rest.
func TestCreateEachKeepsExisting(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	z, err := Dial(ctx, Config{Servers: testenv.ZooKeeperAddrs(t), Chroot: testenv.Chroot(t), SessionTimeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	all := map[TopicPartition]int64{}
	some := map[TopicPartition]int64{}
	for p := range int32(10) {
		all[TopicPartition{"t", p}] = 5
		if p%3 == 0 {
			some[TopicPartition{"t", p}] = 7 // made by "another member" first
		}
	}
	if err := z.CreateMissingOffsets(ctx, "g", some); err != nil {
		t.Fatal(err)
	}
	var ops []any
	tps := slices.Collect(maps.Keys(all))
	sortPartitions(tps)
	for _, tp := range tps {
		ops = append(ops, &zk.CreateRequest{Path: z.paths.Offset("g", tp.Topic, tp.Partition), Data: layout.EncodeOffset(5), Acl: z.acl})
	}
	if err := z.createEach(ctx, ops); err != nil {
		t.Fatal(err)
	}
	got, err := z.Offsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(10) {
		want := int64(5)
		if p%3 == 0 {
			want = 7
		}
		if got["t"][p] != want {
			t.Fatalf("partition %d: %d, want %d (%v)", p, got["t"][p], want, got)
		}
	}
}
