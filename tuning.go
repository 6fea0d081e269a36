package consumergroup

import "time"

// The tuning constants of the group, in one place. The configurable ones
// are ConsumerGroupConfig's (NewConsumerGroupConfig's defaults) and
// DefaultZookeeperTimeout; these are not configurable (the ZooKeeper
// client's are in package zookeeper). The delivery
// engine's buffer sizes (outputBuffer, queueLimit, pollMax) live with it.
const (
	// fetchMaxWait is how long a fetch waits for data (franz-go's
	// FetchMaxWait, default 5 s): a partition assigned while a fetch
	// waits starts with the next fetch, so a short wait keeps hand-offs
	// fast. Users override it through KafkaOptions.
	fetchMaxWait = 250 * time.Millisecond

	// memberRetry is how long a ZooKeeper member waits before trying a
	// failed step again (reading the group, leading, applying), and before
	// registering again after a failure that was not a session loss.
	memberRetry = time.Second

	// claimRetry is how long a claimer waits before trying a failed claim
	// of a partition again (a watch wakes it when the owner changes).
	claimRetry = 100 * time.Millisecond

	// boundsRetry and boundsAttempts: a partition just added may be
	// unknown to the client's metadata for a moment; listing its first
	// and end offsets is tried again after a metadata refresh, every
	// boundsRetry, at most boundsAttempts times.
	boundsRetry    = 50 * time.Millisecond
	boundsAttempts = 50

	// commitRetryBackoff is how long a commit refused while a Kafka
	// rebalance completes (REBALANCE_IN_PROGRESS, STALE_MEMBER_EPOCH) waits
	// before it is tried again.
	commitRetryBackoff = 50 * time.Millisecond

	// kafkaWatchDivisor and kafkaWatchMin: a Kafka member checks that the
	// coordinator still answers every session timeout / kafkaWatchDivisor,
	// at least every kafkaWatchMin apart (kafkagroup_watch.go).
	kafkaWatchDivisor = 20
	kafkaWatchMin     = 10 * time.Millisecond

	// abandonedLeave bounds the leave of a Kafka member whose first join
	// failed (JoinKafkaConsumerGroup returns the error after it): it holds
	// nothing, and the broker may not answer at all.
	abandonedLeave = 2 * time.Second

	// kafkaRetryMin and kafkaRetryMax: a ZooKeeper member that cannot list
	// the offsets of partitions it claimed asks Kafka again after
	// kafkaRetryMin, doubling up to kafkaRetryMax (zkgroup_kafkawait.go).
	kafkaRetryMin = 250 * time.Millisecond
	kafkaRetryMax = 5 * time.Second
)
