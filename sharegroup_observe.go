package consumergroup

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ShareCounts are what a share group member did with the records Kafka
// handed it, since it joined. Every record acquired ends up accepted,
// released or rejected (an expired lock counts as released, in Expired
// too), or is still held: Acquired = Accepted + Released + Rejected + held.
type ShareCounts struct {
	Acquired    int64 // records Kafka handed this member (each delivery counts)
	Redelivered int64 // of them, records delivered before (DeliveryCount > 1)
	Accepted    int64 // acknowledged as done: MarkDone, or taken past
	Released    int64 // handed back: Release, Close (fetched, never handed out), or expired
	Rejected    int64 // archived by Reject: never delivered again
	Renewed     int64 // lock renewals sent (automatic and Renew)
	Expired     int64 // locks that ran out before the record was finished (LOCK_EXPIRED)
	AckErrors   int64 // partitions whose acknowledgements Kafka refused (their records come again)
}

// ShareMetrics is implemented by a Metrics that also wants a share group's
// acknowledgements (ConsumerGroupConfig.Metrics): an interface of its own,
// so that implementations of Metrics written before share groups keep
// compiling. Its method follows Metrics' rules (fast, non-blocking, safe
// for concurrent use, must not call the group).
type ShareMetrics interface {
	// Shared: records of a partition were acquired, acknowledged, renewed
	// or expired; the event counts what changed.
	Shared(ShareEvent)
}

// ShareEvent is a change of a share group member's records of one
// partition: each field of Counts says how many (most events count one
// thing).
type ShareEvent struct {
	Group     string
	Partition TopicPartition
	Counts    ShareCounts
}

// ShareCounts returns the member's totals when it is a share group
// (JoinKafkaShareGroup), and ErrNotShareGroup otherwise.
func (g *ConsumerGroup) ShareCounts() (ShareCounts, error) {
	if g.share == nil {
		return ShareCounts{}, fmt.Errorf("%w: ShareCounts: group %q is a consumer group", ErrNotShareGroup, g.name)
	}
	g.share.mu.Lock()
	defer g.share.mu.Unlock()
	return g.share.counts, nil
}

// report sends one change to ShareMetrics, if any.
func (sg *shareGroup) report(topic string, partition int32, c ShareCounts) {
	if sg.sm != nil {
		sg.sm.Shared(ShareEvent{Group: sg.g.name, Partition: TopicPartition{Topic: topic, Partition: partition}, Counts: c})
	}
}

// acquiredLocked counts the records of a poll.
func (sg *shareGroup) acquiredLocked(recs []*heldRecord) {
	for _, h := range recs {
		c := ShareCounts{Acquired: 1}
		if h.delivery > 1 {
			c.Redelivered = 1
		}
		sg.counts.Acquired += c.Acquired
		sg.counts.Redelivered += c.Redelivered
		sg.report(h.topic, h.partition, c)
	}
}

// ackedLocked counts an acknowledgement of h.
func (sg *shareGroup) ackedLocked(h *heldRecord, status kgo.AckStatus) {
	var c ShareCounts
	switch status {
	case kgo.AckAccept:
		c.Accepted = 1
	case kgo.AckRelease:
		c.Released = 1
	case kgo.AckReject:
		c.Rejected = 1
	}
	sg.counts.Accepted += c.Accepted
	sg.counts.Released += c.Released
	sg.counts.Rejected += c.Rejected
	sg.report(h.topic, h.partition, c)
}

// renewedLocked counts a renewal of h.
func (sg *shareGroup) renewedLocked(h *heldRecord) {
	sg.counts.Renewed++
	sg.report(h.topic, h.partition, ShareCounts{Renewed: 1})
}

// expiredLocked counts a lock that ran out.
func (sg *shareGroup) expiredLocked(h *heldRecord) {
	sg.counts.Expired++
	sg.report(h.topic, h.partition, ShareCounts{Expired: 1})
}

// delivered tells Metrics that u was handed to the application.
func (sg *shareGroup) delivered(u shareUnit) {
	m := sg.g.cfg.Metrics
	if m == nil || len(u.recs) == 0 {
		return
	}
	e := DeliveredEvent{Group: sg.g.name}
	if u.ev != nil {
		e.Partition = TopicPartition{Topic: u.ev.Topic, Partition: u.ev.Partition}
		e.Messages, e.Bytes = 1, eventBytes(u.ev)
	} else {
		e.Partition = TopicPartition{Topic: u.b.Topic, Partition: u.b.Partition}
		e.Messages = len(u.b.Events)
		for i := range u.b.Events {
			e.Bytes += eventBytes(&u.b.Events[i])
		}
	}
	m.Delivered(e)
}
