package consumergroup

import (
	"errors"
	"fmt"
)

// Every sentinel of the package is in this file, one doc line each.

// Errors of the consumer group API, named as in the seed.
var (
	// DiscardCommit is returned by a Checkout callback to skip the commit of
	// what it consumed: the messages are delivered again.
	DiscardCommit = errors.New("consumergroup: commit discarded") //nolint:revive,staticcheck // the seed's name
	// NoCheckout is returned by Checkout when the member holds no partition.
	NoCheckout = errors.New("consumergroup: no partition to check out") //nolint:revive,staticcheck // the seed's name
)

// ErrStrategyMismatch is reported (REBALANCE_ERROR) by a member whose
// ConsumerGroupConfig.Strategy differs from the one the group's leader
// publishes: the member takes no partition until the two agree.
var ErrStrategyMismatch = errors.New("consumergroup: members disagree on the assignment strategy")

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

// Errors of the ZooKeeper layer. Compare with errors.Is: they come wrapped
// in a *PathError that names the operation and the znode, and that also
// wraps the cause (a go-zookeeper error such as zk.ErrNoAuth, or a parse
// error).
var (
	// ErrNoNode: the znode does not exist (no such group, offset, owner).
	ErrNoNode = errors.New("consumergroup: no such node")
	// ErrNodeExists: Create found the znode already there.
	ErrNodeExists = errors.New("consumergroup: node already exists")
	// ErrAlreadyClaimed: Claim found the partition owned by another member.
	ErrAlreadyClaimed = errors.New("consumergroup: partition already claimed")
	// ErrNotOwner: a fenced commit or a release named a partition that this
	// member does not own (any more) in its current session; nothing was
	// written.
	ErrNotOwner = errors.New("consumergroup: partition not owned by this consumer")
	// ErrNotRegistered: the member's registration under ids/ does not exist,
	// for instance because the session that created it expired.
	ErrNotRegistered = errors.New("consumergroup: consumer not registered")
	// ErrSessionExpired: the member's session with its coordinator ended.
	// On ZooKeeper: the server expired it, or the client was cut off for
	// longer than the session timeout, and with it every ephemeral node it
	// held (registrations and claims). On Kafka's coordinator: the
	// coordinator fenced the member, or the member heard nothing from it
	// for two thirds of SessionTimeout and stopped on its own. Either way
	// its partitions were stopped at once and nothing more was committed
	// for them.
	ErrSessionExpired = errors.New("consumergroup: group session expired")
	// ErrConnectionLoss: the connection dropped while a request was in
	// flight; whether the server applied it is unknown.
	ErrConnectionLoss = errors.New("consumergroup: zookeeper connection lost")
	// ErrBadData: a znode holds data that does not follow Kafka's layout
	// (an offset "abc", truncated broker JSON, a negative port).
	ErrBadData = errors.New("consumergroup: bad data in zookeeper")
	// ErrInvalidArgument: a group, topic, id, chroot or path that cannot be
	// used, or a bad configuration value.
	ErrInvalidArgument = errors.New("consumergroup: invalid argument")
	// ErrNoBrokers: ZooKeeper lists no broker that can be dialed.
	ErrNoBrokers = errors.New("consumergroup: no brokers")
	// ErrClosed: the ZK (or group) was closed.
	ErrClosed = errors.New("consumergroup: closed")
)

// PathError records the znode and the operation that failed. Err is one of
// the package's sentinels (or nil), Cause what went wrong underneath; both
// are matched by errors.Is and errors.As.
type PathError struct {
	Op    string // what was being done, e.g. "claim", "read offset"
	Path  string // the absolute znode path, chroot included
	Err   error  // a sentinel such as ErrNoNode, or nil
	Cause error  // the go-zookeeper or parse error, or nil
}

func (e *PathError) Error() string {
	msg := "consumergroup: " + e.Op + " " + e.Path
	switch {
	case e.Err != nil && e.Cause != nil:
		return fmt.Sprintf("%s: %s: %v", msg, trimPrefix(e.Err), e.Cause)
	case e.Err != nil:
		return msg + ": " + trimPrefix(e.Err)
	case e.Cause != nil:
		return msg + ": " + e.Cause.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *PathError) Unwrap() []error {
	var errs []error
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

func trimPrefix(err error) string {
	const p = "consumergroup: "
	s := err.Error()
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
