package main

import (
	"context"
	"sort"
	"time"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// lagTracker keeps, per partition of one group, the samples of its
// committed offset and lag, and judges them with lageval (docs/LAG.md).
type lagTracker struct {
	window int           // samples evaluated
	keep   time.Duration // samples kept (for charts); at least window of them
	hist   map[consumergroup.TopicPartition][]lageval.Sample
}

func newLagTracker(window int, keep time.Duration) *lagTracker {
	return &lagTracker{window: window, keep: keep, hist: make(map[consumergroup.TopicPartition][]lageval.Sample)}
}

// partStatus is the evaluation of one partition.
type partStatus struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
}

// lagReport is the evaluation of a group.
type lagReport struct {
	Status     string       `json:"status"`
	Partitions []partStatus `json:"partitions"`
}

// of returns a partition's status, "UNKNOWN" when it was not evaluated.
func (r lagReport) of(topic string, partition int32) string {
	for _, p := range r.Partitions {
		if p.Topic == topic && p.Partition == partition {
			return p.Status
		}
	}
	return lageval.Unknown.String()
}

// observe adds a sample of every partition of d, taken at at, with the
// commit times when known (nil otherwise), and evaluates the group.
// Partitions no longer in d are forgotten.
func (t *lagTracker) observe(d *consumergroup.GroupDescription, commitTimes map[consumergroup.TopicPartition]time.Time, at time.Time) lagReport {
	seen := make(map[consumergroup.TopicPartition]bool, len(d.Partitions))
	rep := lagReport{Partitions: []partStatus{}}
	var statuses []lageval.Status
	for _, p := range d.Partitions {
		tp := consumergroup.TopicPartition{Topic: p.Topic, Partition: p.Partition}
		seen[tp] = true
		s := lageval.Sample{At: at, Offset: p.Committed, Lag: p.Lag, CommitAt: commitTimes[tp]}
		if p.LogEnd < 0 {
			s.Lag = -1
		}
		h := append(t.hist[tp], s)
		cut := 0
		for cut < len(h)-t.window && at.Sub(h[cut].At) > t.keep {
			cut++
		}
		h = h[cut:]
		t.hist[tp] = h
		r := lageval.Evaluate(h, t.window)
		statuses = append(statuses, r.Status)
		rep.Partitions = append(rep.Partitions, partStatus{p.Topic, p.Partition, r.Status.String(), r.Reason})
	}
	for tp := range t.hist {
		if !seen[tp] {
			delete(t.hist, tp)
		}
	}
	rep.Status = lageval.GroupStatus(statuses).String()
	return rep
}

// history returns the samples kept of each partition, sorted by partition.
func (t *lagTracker) history() []partHistory {
	out := make([]partHistory, 0, len(t.hist))
	for tp, h := range t.hist {
		ph := partHistory{Topic: tp.Topic, Partition: tp.Partition, Points: make([][2]int64, 0, len(h))}
		for _, s := range h {
			if s.Lag >= 0 {
				ph.Points = append(ph.Points, [2]int64{s.At.UnixMilli(), s.Lag})
			}
		}
		out = append(out, ph)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// partHistory is a partition's lag over time: [unix ms, lag] pairs.
type partHistory struct {
	Topic     string     `json:"topic"`
	Partition int32      `json:"partition"`
	Points    [][2]int64 `json:"points"`
}

// commitTimes reads when the group's offsets were committed, within
// --timeout; nil when ZooKeeper does not answer (the evaluation then does
// without).
func commitTimes(ctx context.Context, c *common, z *zookeeper.Client, group string) map[consumergroup.TopicPartition]time.Time {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	ts, err := z.OffsetCommitTimes(ctx, group)
	if err != nil {
		return nil
	}
	return ts
}
