package consumergroup

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Metrics receives the measurements of a member (set it in
// ConsumerGroupConfig.Metrics; nil records nothing and costs nothing). The
// plugin/cgprom module turns them into Prometheus metrics.
//
// The methods are called from the group's goroutines, Delivered on the
// delivery path for every message (Stream) or batch: they must be safe for
// concurrent use, fast, must not block and must not call the group. The
// events' maps and slices are the group's: read them during the call only.
//
// Embed NopMetrics to implement only some of the methods: methods added
// to Metrics later then cost nothing to existing implementations.
type Metrics interface {
	// Delivered: messages of one partition were handed to the
	// application.
	Delivered(DeliveredEvent)
	// Committed: the member wrote offsets (or failed to).
	Committed(CommitEvent)
	// Lag: a partition's committed offset or log end changed.
	Lag(LagEvent)
	// Rebalanced: a rebalance of this member ended (REBALANCE_OK).
	Rebalanced(RebalanceEvent)
	// HandedOff: the member gave partitions up, after waiting for the
	// message in the application's hands.
	HandedOff(HandoffEvent)
	// SessionLost: the coordination session ended under the member, which
	// stopped every partition and joins again.
	SessionLost(SessionLossEvent)
	// Polled: the member fetched; the event tells the delivery queue.
	Polled(PollEvent)
	// DualCommitted: with ConsumerGroupConfig.DualCommit, the member
	// copied offsets it committed in ZooKeeper to Kafka (or failed to:
	// Err set, retried at the next interval).
	DualCommitted(CommitEvent)
	// Closed: the member left the group (Close): it holds no partition
	// and measures nothing more, so what was reported of its state (lag,
	// partitions held) is over; totals stay true. Close calls it once,
	// after the group's goroutines have ended: no other call follows,
	// except from a Next or Poll the application runs while Close does.
	Closed(ClosedEvent)
}

// NopMetrics implements Metrics by doing nothing: embed it in an
// implementation of some of the methods.
type NopMetrics struct{}

func (NopMetrics) Delivered(DeliveredEvent)     {} // Delivered does nothing.
func (NopMetrics) Committed(CommitEvent)        {} // Committed does nothing.
func (NopMetrics) Lag(LagEvent)                 {} // Lag does nothing.
func (NopMetrics) Rebalanced(RebalanceEvent)    {} // Rebalanced does nothing.
func (NopMetrics) HandedOff(HandoffEvent)       {} // HandedOff does nothing.
func (NopMetrics) SessionLost(SessionLossEvent) {} // SessionLost does nothing.
func (NopMetrics) Polled(PollEvent)             {} // Polled does nothing.
func (NopMetrics) DualCommitted(CommitEvent)    {} // DualCommitted does nothing.
func (NopMetrics) Closed(ClosedEvent)           {} // Closed does nothing.

// DeliveredEvent: Messages messages of Partition, of Bytes bytes (keys,
// values and headers), were put into the Stream or Batches channel.
type DeliveredEvent struct {
	Group     string
	Partition TopicPartition
	Messages  int
	Bytes     int
}

// CommitEvent is one commit of the member: Offsets (next offsets to
// consume) written in Took, or not written when Err is set.
type CommitEvent struct {
	Group   string
	Offsets map[TopicPartition]int64
	Took    time.Duration
	Err     error
}

// LagEvent is a partition's progress as the member knows it: the offset it
// committed last, the log end (high watermark) Kafka reported with its last
// fetch, and their difference.
type LagEvent struct {
	Group     string
	Partition TopicPartition
	Committed int64
	LogEnd    int64
	Lag       int64
}

// RebalanceEvent is one rebalance of the member, from REBALANCE_START to
// REBALANCE_OK.
type RebalanceEvent struct {
	Group      string
	Generation int
	Took       time.Duration
	// Unowned is the longest time one of the Claimed partitions was
	// without an owner: from when this member saw it free (its previous
	// owner had let go) to its claim. Zero when nothing was claimed.
	Unowned  time.Duration
	Claimed  []TopicPartition
	Released []TopicPartition
	Held     int // partitions held after the rebalance
}

// HandoffEvent: the member gave Partitions up after waiting Waited for the
// application to finish the message in its hands; TimedOut when
// HandoffTimeout cut the wait short.
type HandoffEvent struct {
	Group      string
	Partitions []TopicPartition
	Waited     time.Duration
	TimedOut   bool
}

// SessionLossEvent: the member's coordination session ended (Err says
// why); it stopped delivering and registers again.
type SessionLossEvent struct {
	Group string
	Err   error
}

// PollEvent is one fetch of the member: Fetched messages to deliver (the
// delivery queue, which drains as the application takes them) and
// Buffered more that the Kafka client holds for the next ones.
type PollEvent struct {
	Group    string
	Fetched  int
	Buffered int64
}

// ClosedEvent: the member of Group closed.
type ClosedEvent struct {
	Group string
}

// observer turns what the group does into Metrics calls and its Health.
// Every method is safe on a group without Metrics; those on the delivery
// path return at once then, and also on a nil observer (a pump without a
// group, in benchmarks).
type observer struct {
	m     Metrics // nil: measure nothing
	group string

	mu      sync.Mutex // guards the fields below
	ends    map[TopicPartition]int64
	commits map[TopicPartition]int64
	rebAt   time.Time     // start of the rebalance in progress
	unowned time.Duration // its longest unowned time so far
	nheld   int           // partitions held

	health  healthState
	unwatch func() // stops watching the ZK's connection
}

func newObserver(group string, m Metrics) *observer {
	o := &observer{m: m, group: group, ends: make(map[TopicPartition]int64), commits: make(map[TopicPartition]int64)}
	o.health.init()
	return o
}

// delivered counts u, which was put into the output channel.
func (o *observer) delivered(u unit) {
	if o != nil && o.m != nil {
		o.deliveredSlow(u)
	}
}

func (o *observer) deliveredSlow(u unit) {
	e := DeliveredEvent{Group: o.group, Partition: u.ps.tp}
	if u.ev != nil {
		e.Messages, e.Bytes = 1, eventBytes(u.ev)
	} else if u.b != nil {
		e.Messages = len(u.b.Events)
		for i := range u.b.Events {
			e.Bytes += eventBytes(&u.b.Events[i])
		}
	} else if u.rb != nil {
		e.Messages = len(u.rb.Records)
		for _, r := range u.rb.Records {
			e.Bytes += len(r.Key) + len(r.Value)
			for _, h := range r.Headers {
				e.Bytes += len(h.Key) + len(h.Value)
			}
		}
	}
	o.m.Delivered(e)
}

func eventBytes(ev *ConsumerEvent) int {
	n := len(ev.Key) + len(ev.Value)
	for _, h := range ev.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// polled records a fetch of n records.
func (o *observer) polled(n int, cl *kgo.Client) {
	if o != nil && o.m != nil {
		o.m.Polled(PollEvent{Group: o.group, Fetched: n, Buffered: cl.BufferedFetchRecords()})
	}
}

// fetched records the log end Kafka reported with a fetch of a partition.
func (o *observer) fetched(topic string, partition int32, highWatermark int64) {
	if o != nil && o.m != nil && highWatermark >= 0 {
		o.fetchedSlow(TopicPartition{Topic: topic, Partition: partition}, highWatermark)
	}
}

func (o *observer) fetchedSlow(tp TopicPartition, end int64) {
	o.mu.Lock()
	old, had := o.ends[tp]
	c, known := o.commits[tp]
	if !known || (had && old == end) {
		o.mu.Unlock()
		return
	}
	o.ends[tp] = end
	o.mu.Unlock()
	o.m.Lag(LagEvent{Group: o.group, Partition: tp, Committed: c, LogEnd: end, Lag: PartitionLag(c, -1, end)})
}

// started records that the member starts consuming tp at offset (its
// committed offset).
func (o *observer) started(tp TopicPartition, offset int64) {
	if o == nil || o.m == nil {
		return
	}
	o.mu.Lock()
	o.commits[tp] = offset
	delete(o.ends, tp)
	o.mu.Unlock()
}

// claimed records the claim of tp, seen free at free.
func (o *observer) claimed(free time.Time) {
	if free.IsZero() {
		return
	}
	o.mu.Lock()
	o.unowned = max(o.unowned, time.Since(free))
	o.mu.Unlock()
}

// committed records a commit of offsets that started at start.
func (o *observer) committed(offsets map[TopicPartition]int64, start time.Time, err error) {
	if o.m == nil || len(offsets) == 0 {
		return
	}
	o.m.Committed(CommitEvent{Group: o.group, Offsets: offsets, Took: time.Since(start), Err: err})
	if err != nil {
		return
	}
	var lags []LagEvent
	o.mu.Lock()
	for tp, off := range offsets {
		if _, held := o.commits[tp]; !held {
			continue // given up meanwhile
		}
		o.commits[tp] = off
		if end, ok := o.ends[tp]; ok {
			lags = append(lags, LagEvent{Group: o.group, Partition: tp, Committed: off, LogEnd: end, Lag: PartitionLag(off, -1, end)})
		}
	}
	o.mu.Unlock()
	for _, l := range lags {
		o.m.Lag(l)
	}
}

// handoff returns the start of a wait for the application, for handedOff.
func (o *observer) handoff() time.Time { return time.Now() }

// handedOff records the hand-off of tps after a wait that began at start
// and was bounded by limit.
func (o *observer) handedOff(tps []TopicPartition, start time.Time, limit time.Duration) {
	if o.m == nil || len(tps) == 0 {
		return
	}
	waited := time.Since(start)
	o.m.HandedOff(HandoffEvent{Group: o.group, Partitions: tps, Waited: waited, TimedOut: limit > 0 && waited >= limit})
}

// held records the partitions the member holds now: the others are
// forgotten.
func (o *observer) held(held []TopicPartition) {
	o.health.setNoPartitions(len(held) == 0)
	o.mu.Lock()
	o.nheld = len(held)
	o.mu.Unlock()
	if o.m == nil {
		return
	}
	keep := make(map[TopicPartition]bool, len(held))
	for _, tp := range held {
		keep[tp] = true
	}
	o.mu.Lock()
	for tp := range o.commits {
		if !keep[tp] {
			delete(o.commits, tp)
			delete(o.ends, tp)
		}
	}
	o.mu.Unlock()
}

// notified follows the group's notifications: rebalances and session
// losses.
func (o *observer) notified(n *Notification) {
	switch n.Type {
	case REBALANCE_START:
		o.mu.Lock()
		o.rebAt, o.unowned = time.Now(), 0
		o.mu.Unlock()
		o.health.setRebalancing(true)
	case REBALANCE_OK:
		o.mu.Lock()
		took, unowned := time.Since(o.rebAt), o.unowned
		held := o.nheld
		o.mu.Unlock()
		o.health.setRebalancing(false)
		if o.m != nil {
			o.m.Rebalanced(RebalanceEvent{Group: o.group, Generation: n.Generation, Took: took, Unowned: unowned,
				Claimed: n.Claimed, Released: n.Released, Held: held})
		}
	case REBALANCE_ERROR:
		if isSessionLoss(n.Err) {
			o.health.sessionLost(n.Err)
			if o.m != nil {
				o.m.SessionLost(SessionLossEvent{Group: o.group, Err: n.Err})
			}
		}
	}
}

// committedErr is committed, returning err.
func (o *observer) committedErr(offsets map[TopicPartition]int64, start time.Time, err error) error {
	o.committed(offsets, start, err)
	return err
}

// dualCommitted records a copy of offsets to Kafka that started at start.
func (o *observer) dualCommitted(offsets map[TopicPartition]int64, start time.Time, err error) {
	if o.m != nil && len(offsets) > 0 {
		o.m.DualCommitted(CommitEvent{Group: o.group, Offsets: offsets, Took: time.Since(start), Err: err})
	}
}
