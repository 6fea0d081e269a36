package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// bigZKGroup is a ZooKeeper-coordinated group "big" on a topic "t" of n
// partitions, each with a committed offset (its number) and owned by one
// member, with kfake registered in the same chroot for the log end
// offsets. It returns the flags describe and lag read it with.
func bigZKGroup(tb testing.TB, n int32) *common {
	tb.Helper()
	servers := testenv.ZooKeeperAddrs(tb)
	chroot := testenv.Chroot(tb)
	kafka, err := testenv.StartKafka(servers, chroot, 1, map[string]int32{"t": n})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { kafka.Close() })
	ctx := context.Background()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{Servers: servers, Chroot: chroot})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { z.Close() }) // the owner nodes are ephemeral: the member's session lasts the test
	tps := make([]zookeeper.TopicPartition, n)
	offsets := make(map[zookeeper.TopicPartition]int64, n)
	for p := range n {
		tps[p] = zookeeper.TopicPartition{Topic: "t", Partition: p}
		offsets[tps[p]] = int64(p)
	}
	if err := z.ResetOffsets(ctx, "big", offsets); err != nil {
		tb.Fatal(err)
	}
	id, _ := zookeeper.NewConsumerID("big")
	if err := z.RegisterConsumer(ctx, "big", id, "t"); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < len(tps); i += 1000 {
		if _, err := z.ClaimAll(ctx, "big", id, tps[i:min(i+1000, len(tps))]); err != nil {
			tb.Fatal(err)
		}
	}
	return &common{zookeeper: strings.Join(servers, ",") + chroot, timeout: 10 * time.Second, output: "table", getenv: os.Getenv}
}

// BenchmarkDescribeZK10k measures, end to end on a real ZooKeeper and
// kfake, what groupctl describe and lag do per request on a group of
// 10,000 partitions, on an open connection: DescribeGroup (the library's),
// describe (with Kafka's log end offsets, a Kafka client per call as the
// tool has), and a lag sample with the commit times, printed.
//
//	go test -run '^$' -bench DescribeZK10k -benchtime 20x ./cmd/groupctl/
func BenchmarkDescribeZK10k(b *testing.B) {
	c := bigZKGroup(b, 10000)
	ctx := context.Background()
	z, err := c.dial(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	b.Run("DescribeGroup", func(b *testing.B) {
		for b.Loop() {
			d, err := consumergroup.DescribeGroup(ctx, z, nil, "big")
			if err != nil || len(d.Partitions) != 10000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("describe", func(b *testing.B) {
		e := &env{stdout: io.Discard, stderr: io.Discard}
		for b.Loop() {
			d, err := describe(ctx, c, z, "big")
			if err == nil && d.kafkaErr != nil {
				err = d.kafkaErr
			}
			if err != nil || len(d.Partitions) != 10000 || d.TotalLag < 0 {
				b.Fatal(err)
			}
			if err := newPrinter(e, c).print(d.json(), func(t *tableWriter) { describeTable(t, d) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lag", func(b *testing.B) {
		e := &env{stdout: io.Discard, stderr: io.Discard}
		src := &zkSource{c: c, z: z}
		for b.Loop() {
			prev, trackers := map[lagKey]lagPoint{}, map[string]*lagTracker{}
			samples, errs, err := lagSamples(ctx, src, []string{"big"}, false, prev, trackers)
			if err == nil && len(errs) > 0 {
				err = errs[0]
			}
			if err == nil {
				err = printLag(e, c, samples)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
