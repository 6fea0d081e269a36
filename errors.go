package consumergroup

import (
	"errors"

	"github.com/consumergroup/consumergroup/zookeeper"
)

// Every sentinel of the package is in this file, one doc line each.

// Errors of the consumer group API, named as in the seed.
var (
	// DiscardCommit is returned by a Checkout callback to skip the commit of
	// what it consumed: the messages are delivered again. (The seed's name,
	// kept for its users: not ErrDiscardCommit.)
	DiscardCommit = errors.New("consumergroup: commit discarded")
	// NoCheckout is returned by Checkout when the member holds no partition.
	// (The seed's name, kept for its users: not ErrNoCheckout.)
	NoCheckout = errors.New("consumergroup: no partition to check out")
)

// ErrStrategyMismatch is reported (REBALANCE_ERROR) by a member whose
// ConsumerGroupConfig.Strategy differs from the one the group's leader
// publishes: the member takes no partition until the two agree.
var ErrStrategyMismatch = errors.New("consumergroup: members disagree on the assignment strategy")

// ErrSubscriptionMismatch is reported (REBALANCE_ERROR) when members of a
// ZooKeeper-coordinated group subscribe differently and one subscribes by
// pattern (ConsumerGroupConfig.TopicPattern): by the leader, naming the
// members that differ, and by a member subscribed by pattern whose group
// consumes topics it does not match. Each member is still assigned
// partitions of its own subscription only.
var ErrSubscriptionMismatch = errors.New("consumergroup: members subscribe to different topics")

// ErrUnknownTopic: a subscribed topic exists neither in ZooKeeper nor in
// Kafka's metadata.
var ErrUnknownTopic = errors.New("consumergroup: unknown topic")

// ErrOffsetReset is reported (REBALANCE_ERROR, with the partition) when a
// committed offset was out of range, retention having removed it, and the
// partition restarted at the initial offset.
var ErrOffsetReset = errors.New("consumergroup: committed offset out of range, reset")

// ErrGroupMigrated: JoinConsumerGroup (or NewConsumerGroup) found the
// group's migration marker: the group was moved to Kafka's coordinator
// (groupctl migrate). The error names the move and how to override it
// (ConsumerGroupConfig.IgnoreMigration).
var ErrGroupMigrated = errors.New("consumergroup: group migrated to Kafka's coordinator")

// ErrDualCommit is reported (DUAL_COMMIT_ERROR, Metrics.DualCommitted, a
// warning) when the copy of a ZooKeeper commit to Kafka failed
// (ConsumerGroupConfig.DualCommit); it is retried at the next interval.
var ErrDualCommit = errors.New("consumergroup: dual commit to Kafka failed")

// Errors of the ZooKeeper client (package zookeeper), re-exported with the
// same values: errors.Is matches either name. They come wrapped in a
// *PathError that names the operation and the znode.
var (
	// ErrNoNode: the znode does not exist (no such group, offset, owner).
	ErrNoNode = zookeeper.ErrNoNode
	// ErrNodeExists: Create found the znode already there.
	ErrNodeExists = zookeeper.ErrNodeExists
	// ErrAlreadyClaimed: Claim found the partition owned by another member.
	ErrAlreadyClaimed = zookeeper.ErrAlreadyClaimed
	// ErrNotOwner: a fenced commit or a release named a partition that this
	// member does not own (any more) in its current session; nothing was
	// written.
	ErrNotOwner = zookeeper.ErrNotOwner
	// ErrNotRegistered: the member's registration under ids/ does not exist,
	// for instance because the session that created it expired.
	ErrNotRegistered = zookeeper.ErrNotRegistered
	// ErrSessionExpired: the member's session with its coordinator ended.
	// On ZooKeeper: the server expired it, or the client was cut off for
	// longer than the session timeout, and with it every ephemeral node it
	// held (registrations and claims). On Kafka's coordinator: the
	// coordinator fenced the member, or the member heard nothing from it
	// for two thirds of SessionTimeout and stopped on its own. Either way
	// its partitions were stopped at once and nothing more was committed
	// for them.
	ErrSessionExpired = zookeeper.ErrSessionExpired
	// ErrConnectionLoss: the connection dropped while a request was in
	// flight; whether the server applied it is unknown.
	ErrConnectionLoss = zookeeper.ErrConnectionLoss
	// ErrBadData: a znode holds data that does not follow Kafka's layout
	// (an offset "abc", truncated broker JSON, a negative port).
	ErrBadData = zookeeper.ErrBadData
	// ErrInvalidArgument: a group, topic, id, chroot or path that cannot be
	// used, or a bad configuration value.
	ErrInvalidArgument = zookeeper.ErrInvalidArgument
	// ErrNoBrokers: ZooKeeper lists no broker that can be dialed.
	ErrNoBrokers = zookeeper.ErrNoBrokers
	// ErrRequestTooLarge: a ZooKeeper request would be over ZKConfig.MaxRequestBytes; it was not sent.
	ErrRequestTooLarge = zookeeper.ErrRequestTooLarge
	// ErrClosed: the ZK (or group) was closed.
	ErrClosed = zookeeper.ErrClosed
	// ErrGroupActive: an operation that needs a group without members
	// (offset resets, deletion) found members; nothing was changed.
	ErrGroupActive = zookeeper.ErrGroupActive
	// ErrUnknownGroup: the group does not exist in ZooKeeper.
	ErrUnknownGroup = zookeeper.ErrUnknownGroup
)

// ErrNotShareGroup: a call of share groups only (Release, Reject, Renew)
// was made on a consumer group; the error names the call.
var ErrNotShareGroup = errors.New("consumergroup: not a share group")

// ErrShareGroup: a call that needs partitions owned or offsets committed
// by the member (Checkout, CommitOffset, OffsetOf, Lag, PollRecords, ...)
// was made on a share group, whose members own no partition; the error
// names the call and what to use instead.
var ErrShareGroup = errors.New("consumergroup: not available on a share group")

// ErrLockExpired: MarkDone, Release, Reject or Renew of a share group's
// message whose acquisition lock ran out while the application held it.
// The group did not acknowledge it late as if it still held it: the
// message was released, and Kafka delivers it again (to any member, with
// its delivery count + 1).
var ErrLockExpired = errors.New("consumergroup: the message's acquisition lock ran out")

// ErrShareGroupsUnavailable: JoinKafkaShareGroup found brokers without
// share groups (KIP-932): before Kafka 4.0, or a 4.x cluster whose
// share.version feature is not enabled. The error says which.
var ErrShareGroupsUnavailable = errors.New("consumergroup: the brokers do not offer share groups")
