package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The take-overs of a ZooKeeper leave, by franz-go's direct consumer alone
// (-systems herd): the reference for ours on ZooKeeper, as franz-go's bare
// group consumers are for ours on Kafka's coordinator. In a graceful leave
// of n members on P partitions, up to n-1 members each take one or more of
// the leaver's P/n partitions, and each starts fetching them with
// AddConsumePartitions, which makes franz-go fetch the metadata of the
// whole topic at once (kgo triggers an immediate update; a direct consumer
// assigns the partitions it adds from the metadata). herd times exactly
// that, with no group at all: n-1 clients, each already consuming its share
// of the topic, each add one partition at the same instant, until each has
// fetched its partition's one record.

// herdResult is one herd measurement: the time from the instant the
// partitions are added until each client fetched its record.
type herdResult struct {
	members, partitions, takers int
	firsts                      []time.Duration // one per taker, sorted
	failed                      string
}

// herd measures franz-go's direct consumer's take-overs of one leave of n
// members on topic's parts partitions.
func herd(ctx context.Context, b *bench, topic string, n, parts int) herdResult {
	r := herdResult{members: n, partitions: parts}
	if n < 2 {
		r.failed = "needs 2 members"
		return r
	}
	err := func() error {
		adm, err := kgo.NewClient(kgo.SeedBrokers(b.kafka.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			return err
		}
		defer adm.Close()
		cls := make([]*kgo.Client, n-1)
		defer func() {
			for _, cl := range cls {
				if cl != nil {
					cl.Close()
				}
			}
		}()
		ends, err := endOffsets(ctx, adm, topic)
		if err != nil {
			return err
		}
		// Each client consumes its share (partitions p with p%n == i), from
		// the end: as a member holding its partitions on a quiet topic.
		for i := range cls {
			if cls[i], err = kgo.NewClient(memberOpts(b)...); err != nil {
				return err
			}
			share := map[int32]kgo.Offset{}
			for p := int32(i); p < int32(parts); p += int32(n) {
				share[p] = kgo.NewOffset().At(ends[p])
			}
			cls[i].AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: share})
		}
		// Settled when each client fetched a record of its own share.
		first := make([]int32, len(cls))
		for i := range cls {
			first[i] = int32(i)
		}
		if _, err := herdRound(ctx, b, adm, cls, topic, first, ends, false); err != nil {
			return fmt.Errorf("settling: %w", err)
		}
		// The leaver's partitions (p%n == n-1), one per taker: one round
		// (a second would add partitions some client already consumes).
		var leaver []int32
		for p := int32(n - 1); p < int32(parts); p += int32(n) {
			leaver = append(leaver, p)
		}
		r.takers = min(len(cls), len(leaver))
		ds, err := herdRound(ctx, b, adm, cls[:r.takers], topic, leaver[:r.takers], ends, true)
		if err != nil {
			return err
		}
		slices.Sort(ds)
		r.firsts = ds
		return nil
	}()
	if err != nil {
		r.failed = err.Error()
	}
	return r
}

// herdRound writes one record to each of take's partitions, then (add:
// after adding take[i] to client i, all at once) waits until client i
// fetched the record of take[i]; it returns each client's time.
func herdRound(ctx context.Context, b *bench, adm *kgo.Client, cls []*kgo.Client, topic string, take []int32, ends map[int32]int64, add bool) ([]time.Duration, error) {
	for _, p := range take {
		rec := &kgo.Record{Topic: topic, Partition: p, Value: []byte("herd")}
		if err := adm.ProduceSync(ctx, rec).FirstErr(); err != nil {
			return nil, fmt.Errorf("produce to partition %d: %w", p, err)
		}
		ends[p] = rec.Offset + 1
	}
	rctx, cancel := context.WithTimeout(ctx, b.scale.timeout)
	defer cancel()
	t0 := time.Now()
	ds := make([]time.Duration, len(take))
	errs := make([]error, len(take))
	var wg sync.WaitGroup
	for i, p := range take {
		cl := cls[i]
		wg.Go(func() {
			if add {
				cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(ends[p] - 1)}})
			}
			for {
				fs := cl.PollFetches(rctx)
				if rctx.Err() != nil {
					errs[i] = fmt.Errorf("client %d: partition %d's record not fetched within %v", i, p, b.scale.timeout)
					return
				}
				found := false
				fs.EachRecord(func(r *kgo.Record) { found = found || r.Partition == p })
				if found {
					ds[i] = time.Since(t0)
					return
				}
			}
		})
	}
	wg.Wait()
	return ds, errors.Join(errs...)
}

// endOffsets lists the end offset of every partition of topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var lerr error
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = fmt.Errorf("end offset of %s/%d: %w", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out, lerr
}

// summary is the log line of one herd measurement.
func (r herdResult) summary() string {
	if r.failed != "" {
		return fmt.Sprintf("herd %d×%d: %s", r.members, r.partitions, r.failed)
	}
	return fmt.Sprintf("herd %d×%d: %d takers, first record p50 %s / p99 %s / max %s ms", r.members, r.partitions, r.takers,
		ms(percentile(r.firsts, 50)), ms(percentile(r.firsts, 99)), ms(r.firsts[len(r.firsts)-1]))
}

// renderHerd is the report's section of the herd measurements.
func renderHerd(rs []herdResult) string {
	var rows [][]string
	for _, r := range rs {
		if r.failed != "" {
			rows = append(rows, []string{fmt.Sprintf("%d × %d", r.members, r.partitions), r.failed, "–"})
			continue
		}
		rows = append(rows, []string{fmt.Sprintf("%d × %d", r.members, r.partitions), fmt.Sprintf("%d", r.takers),
			fmt.Sprintf("%s / %s / %s", ms(percentile(r.firsts, 50)), ms(percentile(r.firsts, 99)), ms(r.firsts[len(r.firsts)-1]))})
	}
	return "### franz-go's direct consumer: the take-overs of a leave alone (-systems herd)\n\n" +
		"The reference for ours on ZooKeeper: members-1 franz-go clients (the members' options), each consuming its share " +
		"of the topic, each add one of a leaver's partitions at the same instant (AddConsumePartitions: franz-go fetches " +
		"the whole topic's metadata for it), until each fetched that partition's one record. No group, no ZooKeeper: " +
		"what franz-go itself needs for the take-overs a leave makes.\n\n" +
		table([]string{"members × partitions", "takers", "first record p50 / p99 / max ms"}, rows)
}
