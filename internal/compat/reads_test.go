package compat

import (
	"context"
	"sync/atomic"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// widePartitions: a group wide enough that its reads are batched
// (zookeeper's multiRead on ZooKeeper 3.6 and later; getData on 3.5,
// which would close the connection on a multiRead).
const widePartitions = 600

// readWideGroup describes a group of widePartitions partitions, with
// offsets and owners, and reads its offsets and their commit times: every
// one is read, and the connection is never lost doing so.
func (r *run) readWideGroup() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{Servers: r.e.servers, Chroot: r.e.chroot})
	if err != nil {
		r.t.Fatal(err)
	}
	defer z.Close()
	var lost atomic.Int32
	defer z.WatchConnection(func(connected bool) {
		if !connected {
			lost.Add(1)
		}
	})()
	const g, tp = "compat-wide", "compat-wide-topic"
	offsets := map[zookeeper.TopicPartition]int64{}
	var tps []zookeeper.TopicPartition
	for p := range int32(widePartitions) {
		tps = append(tps, zookeeper.TopicPartition{Topic: tp, Partition: p})
		offsets[tps[p]] = int64(p) * 2
	}
	if err := z.ResetOffsets(ctx, g, offsets); err != nil {
		r.t.Fatal(err)
	}
	id, err := zookeeper.NewConsumerID(g)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := z.RegisterConsumer(ctx, g, id, tp); err != nil {
		r.t.Fatal(err)
	}
	if _, err := z.ClaimAll(ctx, g, id, tps); err != nil {
		r.t.Fatal(err)
	}
	d, err := cg.DescribeGroup(ctx, z, nil, g)
	if err != nil {
		r.t.Fatalf("describe a group of %d partitions: %v", widePartitions, err)
	}
	if len(d.Partitions) != widePartitions {
		r.t.Fatalf("describe a group of %d partitions: %d described", widePartitions, len(d.Partitions))
	}
	for _, p := range d.Partitions {
		if p.Committed != int64(p.Partition)*2 || p.Owner != id {
			r.t.Fatalf("describe a group of %d partitions: %+v", widePartitions, p)
		}
	}
	times, err := z.OffsetCommitTimes(ctx, g)
	if err != nil || len(times) != widePartitions {
		r.t.Fatalf("commit times of a group of %d partitions: %d: %v", widePartitions, len(times), err)
	}
	if n := lost.Load(); n > 0 {
		r.t.Fatalf("the connection was lost %d times reading a group of %d partitions", n, widePartitions)
	}
}
