package zookeeper_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// benchZK is dialZK for benchmarks.
func benchZK(b *testing.B) (*zookeeper.Client, string) {
	b.Helper()
	chroot := testenv.Chroot(b)
	z, err := zookeeper.Dial(context.Background(), zookeeper.Config{Servers: testenv.ZooKeeperAddrs(b), Chroot: chroot, SessionTimeout: 4 * testSession})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { z.Close() })
	return z, chroot
}

// BenchmarkCommitOffsets measures the fenced batched commit of a member that
// owns n partitions: one multi of 1 + 2n ops per call.
func BenchmarkCommitOffsets(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			z, _ := benchZK(b)
			ctx := context.Background()
			id, _ := zookeeper.NewConsumerID("g")
			if err := z.RegisterConsumer(ctx, "g", id, "t"); err != nil {
				b.Fatal(err)
			}
			offsets := make(map[zookeeper.TopicPartition]int64, n)
			for p := range n {
				if err := z.Claim(ctx, "g", "t", int32(p), id); err != nil {
					b.Fatal(err)
				}
				offsets[zookeeper.TopicPartition{Topic: "t", Partition: int32(p)}] = 0
			}
			if err := z.CommitOffsets(ctx, "g", id, offsets); err != nil { // creates the nodes
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				for tp := range offsets {
					offsets[tp] = int64(i)
				}
				if err := z.CommitOffsets(ctx, "g", id, offsets); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "offsets/s")
		})
	}
}

// BenchmarkCommit measures the seed's unfenced single-offset commit.
func BenchmarkCommit(b *testing.B) {
	z, _ := benchZK(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := range b.N {
		if err := z.Commit(ctx, "g", "t", 0, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClaimRelease measures one claim and its release.
func BenchmarkClaimRelease(b *testing.B) {
	z, _ := benchZK(b)
	ctx := context.Background()
	id, _ := zookeeper.NewConsumerID("g")
	if err := z.RegisterConsumer(ctx, "g", id, "t"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		if err := z.Claim(ctx, "g", "t", 0, id); err != nil {
			b.Fatal(err)
		}
		if err := z.Release(ctx, "g", "t", 0, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadGroup10k measures the reads of a look at a whole group of
// 10,000 partitions with committed offsets and owners (what groupctl
// describe, lag and serve do at every request or poll): Offsets,
// OffsetCommitTimes, Owners.
func BenchmarkReadGroup10k(b *testing.B) {
	const n = 10_000
	z, _ := benchZK(b)
	ctx := context.Background()
	tps := make([]zookeeper.TopicPartition, n)
	offsets := make(map[zookeeper.TopicPartition]int64, n)
	for p := range n {
		tps[p] = zookeeper.TopicPartition{Topic: "t", Partition: int32(p)}
		offsets[tps[p]] = int64(p)
	}
	if err := z.ResetOffsets(ctx, "g", offsets); err != nil {
		b.Fatal(err)
	}
	id, _ := zookeeper.NewConsumerID("g")
	if err := z.RegisterConsumer(ctx, "g", id, "t"); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		if _, err := z.ClaimAll(ctx, "g", id, tps[i:i+1000]); err != nil {
			b.Fatal(err)
		}
	}
	for _, read := range []struct {
		name string
		f    func() (int, error)
	}{
		{"Offsets", func() (int, error) { m, err := z.Offsets(ctx, "g"); return len(m["t"]), err }},
		{"OffsetCommitTimes", func() (int, error) { m, err := z.OffsetCommitTimes(ctx, "g"); return len(m), err }},
		{"Owners", func() (int, error) { m, err := z.Owners(ctx, "g", "t"); return len(m), err }},
	} {
		b.Run(read.name, func(b *testing.B) {
			for range b.N {
				got, err := read.f()
				if err != nil || got != n {
					b.Fatalf("%s: %d of %d, %v", read.name, got, n, err)
				}
			}
		})
	}
}
