package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// dualCommitter copies the offsets a member coordinated through ZooKeeper
// committed there to Kafka's __consumer_offsets
// (ConsumerGroupConfig.DualCommit), as a group without members (generation
// -1, as Kafka's admin tools commit). ZooKeeper's fenced commit comes
// first and stays the source of truth; the copy never holds up delivery.
//
// The member's run goroutine adds what it committed; the committer's own
// goroutine copies it right away and, after a failure, again at every
// commit interval. Partitions handed over are copied before their release,
// under the same semaphore as the goroutine's copies, so that no copy of
// this member's reaches Kafka after one of the partition's next owner. A
// nil *dualCommitter (DualCommit off) does nothing.
type dualCommitter struct {
	g       *ConsumerGroup
	timeout time.Duration // bounds one copy
	kick    chan struct{} // capacity one: something was added
	sem     chan struct{} // capacity one: one copy at a time

	mu      sync.Mutex // guards pending
	pending map[TopicPartition]int64
}

func newDualCommitter(g *ConsumerGroup) *dualCommitter {
	return &dualCommitter{
		g:       g,
		timeout: g.cfg.HandoffTimeout,
		kick:    make(chan struct{}, 1),
		sem:     make(chan struct{}, 1),
		pending: make(map[TopicPartition]int64),
	}
}

// add queues offsets committed in ZooKeeper for the copy.
func (d *dualCommitter) add(offsets map[TopicPartition]int64) {
	if d == nil || len(offsets) == 0 {
		return
	}
	d.mu.Lock()
	maps.Copy(d.pending, offsets)
	d.mu.Unlock()
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// forget drops the copies of partitions lost with the session: another
// member may own them already.
func (d *dualCommitter) forget(tps []TopicPartition) {
	if d == nil {
		return
	}
	d.mu.Lock()
	for _, tp := range tps {
		delete(d.pending, tp)
	}
	d.mu.Unlock()
}

// handOff copies the final offsets of partitions being given up, before
// their release, within d.timeout (and ctx). A failure is reported and
// not retried: the partitions' next owner copies ZooKeeper's offsets when
// it takes them over.
func (d *dualCommitter) handOff(ctx context.Context, offsets map[TopicPartition]int64) {
	if d == nil || len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		d.forget(slices.Collect(maps.Keys(offsets)))
		d.report(offsets, time.Now(), fmt.Errorf("%w: group %q: %d partitions handed over not copied: a copy was still in flight (%v)",
			ErrDualCommit, d.g.name, len(offsets), ctx.Err()), false)
		return
	}
	defer func() { <-d.sem }()
	d.forget(slices.Collect(maps.Keys(offsets)))
	t0 := time.Now()
	_, err := d.send(ctx, offsets)
	d.report(offsets, t0, err, false)
}

// run copies what is added until the member's run goroutine has ended,
// then what is left (the offsets of Close's final commit went through
// handOff already; this copies what an earlier failure left).
func (d *dualCommitter) run() {
	retry := time.NewTicker(d.g.cfg.CommitInterval)
	defer retry.Stop()
	for {
		select {
		case <-d.kick:
		case <-retry.C:
		case <-d.g.done:
			d.flush()
			return
		}
		d.flush()
	}
}

// flush copies what is pending; what fails stays pending.
func (d *dualCommitter) flush() {
	d.sem <- struct{}{}
	defer func() { <-d.sem }()
	d.mu.Lock()
	offsets := maps.Clone(d.pending)
	d.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	t0 := time.Now()
	copied, err := d.send(ctx, offsets)
	d.mu.Lock()
	for tp, off := range copied {
		if d.pending[tp] == off {
			delete(d.pending, tp)
		}
	}
	d.mu.Unlock()
	d.report(offsets, t0, err, true)
}

// send commits offsets to Kafka and returns those Kafka took.
func (d *dualCommitter) send(ctx context.Context, offsets map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	os := make(kadm.Offsets)
	for tp, off := range offsets {
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: off, LeaderEpoch: -1})
	}
	resp, err := d.g.admin.CommitOffsets(ctx, d.g.name, os)
	if err != nil {
		return nil, fmt.Errorf("%w: group %q, %d partitions: %w", ErrDualCommit, d.g.name, len(offsets), err)
	}
	copied := make(map[TopicPartition]int64, len(offsets))
	var errs []error
	resp.Each(func(r kadm.OffsetResponse) {
		if r.Err != nil && d.g.sub.byPattern() && topicGone(r.Err) {
			r.Err = nil // deleted: the member gives it up (TOPICS_CHANGED), nothing to copy
		}
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d at %d: %w", r.Topic, r.Partition, r.At, r.Err))
			return
		}
		copied[TopicPartition{Topic: r.Topic, Partition: r.Partition}] = r.At
	})
	if n := len(offsets) - len(copied) - len(errs); n > 0 {
		errs = append(errs, fmt.Errorf("%d partitions without an answer", n))
	}
	if len(errs) == 0 {
		return copied, nil
	}
	return copied, fmt.Errorf("%w: group %q: %w", ErrDualCommit, d.g.name, errors.Join(errs...))
}

// report measures a copy and reports its failure.
func (d *dualCommitter) report(offsets map[TopicPartition]int64, t0 time.Time, err error, retried bool) {
	d.g.obs.dualCommitted(offsets, t0, err)
	if err == nil {
		return
	}
	if retried {
		d.g.log.Warn("copying committed offsets to Kafka failed; retrying at the next commit interval", "err", err)
	} else {
		d.g.log.Warn("copying the offsets of partitions handed over to Kafka failed; their next owner copies ZooKeeper's", "err", err)
	}
	d.g.notify(&Notification{Type: DUAL_COMMIT_ERROR, Err: err})
}
