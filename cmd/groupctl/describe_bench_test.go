package main

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup"
)

// bigDescribed is a group of n partitions over one topic, one member
// owning them all, with lags known.
func bigDescribed(n int32) described {
	d := &consumergroup.GroupDescription{Group: "big", State: consumergroup.StateStable, Generation: 1,
		Members: []consumergroup.MemberDescription{{ID: "m1", Host: "h"}}}
	for p := range n {
		d.Partitions = append(d.Partitions, consumergroup.PartitionDescription{Topic: "t", Partition: p, Owner: "m1",
			Committed: int64(p), LogEnd: int64(p) + 5, Lag: 5})
		d.TotalLag += 5
	}
	return described{GroupDescription: d}.evaluated()
}

// bigSource is a groupSource of one bigDescribed group.
type bigSource struct{ d described }

func (s bigSource) groups(context.Context) ([]string, error) { return []string{s.d.Group}, nil }
func (s bigSource) describe(context.Context, string) (described, error) {
	return s.d, nil
}
func (s bigSource) commitTimes(context.Context, string) map[consumergroup.TopicPartition]time.Time {
	return nil
}
func (s bigSource) where() string { return "memory" }
func (s bigSource) close()        {}

// BenchmarkDescribe10k: describe's evaluation, JSON and table, and a sample
// of lag (JSON and table), of a group of 10,000 partitions: linear in the
// partitions (a partition's status was looked up by a scan of them all).
//
//	go test -run '^$' -bench 'Describe10k|Lag10k' ./cmd/groupctl/
func BenchmarkDescribe10k(b *testing.B) {
	d := bigDescribed(10000)
	for _, out := range []string{"json", "table"} {
		b.Run(out, func(b *testing.B) {
			e := &env{stdout: io.Discard, stderr: io.Discard}
			for b.Loop() {
				d := d.evaluated()
				err := newPrinter(e, &common{output: out}).print(d.json(), func(t *tableWriter) { describeTable(t, d) })
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLag10k(b *testing.B) {
	src := bigSource{bigDescribed(10000)}
	for _, out := range []string{"json", "table"} {
		b.Run(out, func(b *testing.B) {
			e := &env{stdout: io.Discard, stderr: io.Discard}
			prev, trackers := map[lagKey]lagPoint{}, map[string]*lagTracker{}
			for b.Loop() {
				samples, _, err := lagSamples(context.Background(), src, []string{"big"}, false, prev, trackers)
				if err == nil {
					err = printLag(e, &common{output: out}, samples)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLagReportOfIndexed: a report's lookup by partition, indexed, agrees
// with the report's partitions, and says UNKNOWN for a partition not in it.
func TestLagReportOfIndexed(t *testing.T) {
	d := bigDescribed(1000)
	for i, p := range d.status.Partitions {
		if got := d.status.of(p.Topic, p.Partition); got != p.Status || p.Partition != int32(i) {
			t.Fatalf("of(%s, %d) = %s, want %s", p.Topic, p.Partition, got, p.Status)
		}
	}
	if got := d.status.of("t", 1000); got != "UNKNOWN" {
		t.Fatalf("of a partition not evaluated: %s", got)
	}
	if got := (lagReport{Partitions: []partStatus{{"t", 1, "OK", ""}}}).of("t", 1); got != "OK" {
		t.Fatalf("of in a report without index: %s", got)
	}
}
