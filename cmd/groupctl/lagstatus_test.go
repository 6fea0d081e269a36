package main

import (
	"testing"
	"time"
)

// TestLagTrackerBounded: a group of more partitions than chartPartitions
// keeps only the samples its evaluation needs per partition (not an hour
// of them: 10,000 partitions polled every 5 s would keep 7 million), and
// charts its topics' total lag instead; a small group keeps its
// partitions' history.
func TestLagTrackerBounded(t *testing.T) {
	for _, tc := range []struct {
		partitions int32
		kept       int // samples kept per partition after 30 polls
		charted    int // partition lines in history
	}{
		{chartPartitions, 30, chartPartitions},
		{chartPartitions + 1, 5, 0},
	} {
		d := bigDescribed(tc.partitions)
		tr := newLagTracker(5, time.Hour)
		at := time.Now()
		for i := range 30 {
			tr.observe(d.GroupDescription, nil, at.Add(time.Duration(i)*time.Second))
		}
		for tp, h := range tr.hist {
			if len(h) != tc.kept {
				t.Fatalf("%d partitions: %v keeps %d samples, want %d", tc.partitions, tp, len(h), tc.kept)
			}
		}
		if h := tr.history(); len(h) != tc.charted {
			t.Fatalf("%d partitions: %d lines of partitions, want %d", tc.partitions, len(h), tc.charted)
		}
		th := tr.topicHistory()
		if len(th) != 1 || th[0].Topic != "t" || len(th[0].Points) != 30 || th[0].Points[29][1] != 5*int64(tc.partitions) {
			t.Fatalf("%d partitions: topic history %v", tc.partitions, th)
		}
	}
}
