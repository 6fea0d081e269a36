package consumergroup

import (
	"slices"
	"time"

	"github.com/consumergroup/consumergroup/zookeeper"
)

// TopicPartition names one partition of a topic; the ZooKeeper client's
// type (zookeeper.TopicPartition), which its claims and commits take.
type TopicPartition = zookeeper.TopicPartition

// sortPartitions sorts topic-partitions by topic, then partition.
func sortPartitions(tps []TopicPartition) { slices.SortFunc(tps, TopicPartition.Compare) }

// Notification types, as in the seed (whose names they keep, upper case
// included), and HANDOFF_TIMEOUT.
const (
	REBALANCE_START uint8 = iota + 1
	REBALANCE_OK
	REBALANCE_ERROR
	// HANDOFF_TIMEOUT: a partition was handed over while the application
	// still held one of its messages when HandoffTimeout ran out. That
	// message was not committed: the partition's next owner delivers it
	// again, maybe while the application here is still processing it.
	HANDOFF_TIMEOUT
	// DUAL_COMMIT_ERROR: with ConsumerGroupConfig.DualCommit, the copy of
	// committed offsets to Kafka failed (Err wraps ErrDualCommit and names
	// the partitions). ZooKeeper's commit, the source of truth, was made;
	// the copy is retried at the next commit interval.
	DUAL_COMMIT_ERROR
	// TOPICS_CHANGED: with ConsumerGroupConfig.TopicPattern, the topics the
	// pattern matches changed: TopicsAdded were created (or first seen),
	// TopicsRemoved deleted. The partitions of a removed topic are given
	// up (a REBALANCE_OK names them in Released); nothing is reported as
	// an error. On ZooKeeper the matching topics are those the group's
	// published assignment names; on Kafka's coordinator, those franz-go
	// consumes, looked at every CommitInterval.
	TOPICS_CHANGED
	// LOCK_EXPIRED (share groups): the acquisition lock of a message ran
	// out before it was acknowledged, in the application's hands or
	// waiting to be handed out (Topic, Partition, Offset name it). The
	// group released it: Kafka delivers it again, maybe to another member
	// while the application here still processes it; MarkDone of it
	// returns ErrLockExpired.
	LOCK_EXPIRED
)

// Notification is sent to the listener of a group (see NewConsumerGroup) at
// the start and at the end of every rebalance, on errors, and when a
// hand-off times out with a message in the application's hands.
//
// Notifications are sent without blocking: when the listener's channel is
// full, the notification is dropped and counted (DroppedNotifications). A
// listener nobody reads never slows the group; give the channel a buffer
// if you want them all.
type Notification struct {
	Type uint8          // REBALANCE_START, REBALANCE_OK, REBALANCE_ERROR, HANDOFF_TIMEOUT, DUAL_COMMIT_ERROR, TOPICS_CHANGED or LOCK_EXPIRED
	Src  *ConsumerGroup // the group it comes from
	Err  error          // with REBALANCE_ERROR and DUAL_COMMIT_ERROR: what went wrong

	Generation int              // the assignment's generation
	Claimed    []TopicPartition // REBALANCE_OK: partitions this member took
	Released   []TopicPartition // REBALANCE_OK: partitions this member gave up

	// TOPICS_CHANGED: the topics the pattern matches that appeared, and
	// those that disappeared, sorted.
	TopicsAdded   []string
	TopicsRemoved []string

	// HANDOFF_TIMEOUT: the partition handed over and the offset of the
	// message still in the application's hands (with Batches, the first of
	// the batch; with Checkout, the first the callback consumed). The
	// partition's commit stopped before it. LOCK_EXPIRED: the message
	// whose lock ran out.
	Topic     string
	Partition int32
	Offset    int64
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// ConsumerEvent is one message, with the seed's field names.
type ConsumerEvent struct {
	Topic     string
	Partition int32
	// DeliveryCount (share groups) is how many times Kafka has delivered
	// this message: 1 the first time, more after a Release, a lock that
	// ran out or a member that left or died holding it. 0 on consumer
	// groups. (Beside Partition, in what was padding.)
	DeliveryCount int32
	Offset        int64
	Key           []byte
	Value         []byte
	Headers       []Header
	Timestamp     time.Time

	// AcquisitionDeadline (share groups) is when the message's acquisition
	// lock runs out as Kafka set it at the fetch: past it, unless renewed
	// (automatically while it is in hand, see
	// ConsumerGroupConfig.ShareManualRenew, or by Renew), Kafka delivers
	// it again. Renewals do not change this field. Zero on consumer
	// groups.
	AcquisitionDeadline time.Time

	held *heldRecord // share groups: the record's state, to acknowledge it
}

// EventBatch is a batch of messages of one topic-partition, in offset order.
type EventBatch struct {
	Topic     string
	Partition int32
	Events    []ConsumerEvent
}
