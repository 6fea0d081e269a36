package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// chartPartitions is the most partitions of a group charted one line
// each: a larger group's partitions keep only the samples their
// evaluation needs, and its chart has a line per topic (the topic's total
// lag), so that memory and answers stay proportional to the partitions.
const chartPartitions = 20

// lagTracker keeps, per partition of one group, the samples of its
// committed offset and lag, and judges them with lageval (docs/LAG.md);
// and per topic, the total lag over time. It is not safe for concurrent
// use: each has one owner (serve's poller, a lag --watch).
type lagTracker struct {
	window int           // samples evaluated
	keep   time.Duration // samples kept (for charts); at least window of them
	hist   map[consumergroup.TopicPartition][]lageval.Sample
	topics map[string][][2]int64 // per topic: [unix ms, total lag], when known
}

func newLagTracker(window int, keep time.Duration) *lagTracker {
	return &lagTracker{window: window, keep: keep, hist: make(map[consumergroup.TopicPartition][]lageval.Sample),
		topics: make(map[string][][2]int64)}
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
	Needs      int          `json:"needs_samples,omitempty"` // UNKNOWN for too few samples: how many it takes
	Partitions []partStatus `json:"partitions"`

	// index is the position of each partition in Partitions (observe's),
	// so that of is O(1); nil in a report made otherwise (of then scans).
	index map[consumergroup.TopicPartition]int
}

// of returns a partition's status, "UNKNOWN" when it was not evaluated.
func (r lagReport) of(topic string, partition int32) string {
	if p, ok := r.find(topic, partition); ok {
		return p.Status
	}
	return lageval.Unknown.String()
}

// find returns a partition's evaluation.
func (r lagReport) find(topic string, partition int32) (partStatus, bool) {
	if r.index != nil {
		i, ok := r.index[consumergroup.TopicPartition{Topic: topic, Partition: partition}]
		if !ok {
			return partStatus{}, false
		}
		return r.Partitions[i], true
	}
	for _, p := range r.Partitions {
		if p.Topic == topic && p.Partition == partition {
			return p, true
		}
	}
	return partStatus{}, false
}

// observe adds a sample of every partition of d, taken at at, with the
// commit times when known (nil otherwise), and evaluates the group.
// Partitions no longer in d are forgotten.
func (t *lagTracker) observe(d *consumergroup.GroupDescription, commitTimes map[consumergroup.TopicPartition]time.Time, at time.Time) lagReport {
	seen := make(map[consumergroup.TopicPartition]bool, len(d.Partitions))
	rep := lagReport{Partitions: make([]partStatus, 0, len(d.Partitions)), index: make(map[consumergroup.TopicPartition]int, len(d.Partitions))}
	statuses := make([]lageval.Status, 0, len(d.Partitions))
	charted := len(d.Partitions) <= chartPartitions
	topicLag := map[string]int64{} // -1: unknown
	for _, p := range d.Partitions {
		tp := consumergroup.TopicPartition{Topic: p.Topic, Partition: p.Partition}
		seen[tp] = true
		s := lageval.Sample{At: at, Offset: p.Committed, Lag: p.Lag, CommitAt: commitTimes[tp], End: p.LogEnd, Owner: p.Owner,
			Rebalancing: d.State == consumergroup.StateRebalancing}
		if p.LogEnd < 0 {
			s.Lag, s.End = -1, 0
		}
		switch {
		case s.Lag < 0 || topicLag[p.Topic] < 0:
			topicLag[p.Topic] = -1
		default:
			topicLag[p.Topic] += s.Lag
		}
		h := append(t.hist[tp], s)
		cut := 0
		for cut < len(h)-t.window && (!charted || at.Sub(h[cut].At) > t.keep) {
			cut++
		}
		h = h[cut:]
		t.hist[tp] = h
		r := lageval.Evaluate(h, t.window)
		statuses = append(statuses, r.Status)
		rep.Needs = max(rep.Needs, r.Needs)
		rep.index[tp] = len(rep.Partitions)
		rep.Partitions = append(rep.Partitions, partStatus{p.Topic, p.Partition, r.Status.String(), r.Reason})
	}
	for tp := range t.hist {
		if !seen[tp] {
			delete(t.hist, tp)
		}
	}
	t.observeTopics(topicLag, at)
	rep.Status = lageval.GroupStatus(statuses).String()
	if rep.Status != lageval.Unknown.String() {
		rep.Needs = 0
	}
	return rep
}

// text is the group's status for a table: "needs 3 samples" rather than
// UNKNOWN when that is all it lacks.
func (r lagReport) text() string {
	if r.Status == lageval.Unknown.String() && r.Needs > 0 {
		return fmt.Sprintf("needs %d samples (lag --watch)", r.Needs)
	}
	return r.Status
}

// partText is a partition's status for a table: "-" when it needs more
// samples.
func (r lagReport) partText(topic string, partition int32) string {
	if p, ok := r.find(topic, partition); ok && p.Status == lageval.Unknown.String() && strings.HasPrefix(p.Reason, "needs ") {
		return "-"
	}
	return r.of(topic, partition)
}

// observeTopics adds a point of each topic's total lag (none when a
// partition's is unknown), drops the points older than keep, and forgets
// the topics no longer in the group.
func (t *lagTracker) observeTopics(lags map[string]int64, at time.Time) {
	for topic := range t.topics {
		if _, ok := lags[topic]; !ok {
			delete(t.topics, topic)
		}
	}
	for topic, lag := range lags {
		h := t.topics[topic]
		if lag >= 0 {
			h = append(h, [2]int64{at.UnixMilli(), lag})
		}
		cut := 0
		for cut < len(h)-1 && at.UnixMilli()-h[cut][0] > t.keep.Milliseconds() {
			cut++
		}
		t.topics[topic] = h[cut:]
	}
}

// history returns the samples kept of each partition, sorted by
// partition; none when the group has more than chartPartitions (its chart
// is topicHistory's).
func (t *lagTracker) history() []partHistory {
	if len(t.hist) > chartPartitions {
		return []partHistory{}
	}
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

// topicHistory returns each topic's total lag over time, sorted by topic.
func (t *lagTracker) topicHistory() []topicHistory {
	out := make([]topicHistory, 0, len(t.topics))
	for topic, h := range t.topics {
		out = append(out, topicHistory{Topic: topic, Points: slices.Clone(h)})
	}
	slices.SortFunc(out, func(a, b topicHistory) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}

// topicHistory is a topic's total lag over time: [unix ms, lag] pairs.
type topicHistory struct {
	Topic  string     `json:"topic"`
	Points [][2]int64 `json:"points"`
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
