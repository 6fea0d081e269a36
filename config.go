package consumergroup

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/assign"
	"github.com/consumergroup/consumergroup/internal/layout"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// Initial offsets: where a member starts a partition that has no committed
// offset (and where it restarts one whose committed offset is out of range).
const (
	OffsetOldest int64 = -2 // the oldest message still in the log
	OffsetNewest int64 = -1 // the next message produced
)

// Group protocols of Kafka's coordinator (ConsumerGroupConfig.GroupProtocol),
// Kafka's own names (group.protocol).
const (
	// GroupProtocolClassic: JoinGroup/SyncGroup, the assignment computed by
	// the group's leader with franz-go's cooperative-sticky balancer
	// (incremental: only what moves stops). Every Kafka since 2.4.
	GroupProtocolClassic = "classic"
	// GroupProtocolConsumer: KIP-848, the broker assigns (server-side
	// assignors "uniform" or "range"), each member acknowledges its
	// revocations with its heartbeats. Kafka 4.0+.
	GroupProtocolConsumer = "consumer"
)

// Assignment strategies.
const (
	StrategyRange      = assign.RangeName      // contiguous ranges per topic, balanced within one
	StrategyRoundRobin = assign.RoundRobinName // partitions dealt one by one
	StrategySticky     = assign.StickyName     // moves only what must move
)

// Floors of the intervals: Validate refuses shorter ones (the error names
// the field and the floor). Each tick wakes the member; below these, an
// idle member spends its time ticking instead of waiting.
const (
	MinCommitInterval   = 10 * time.Millisecond  // ConsumerGroupConfig.CommitInterval
	MinMetadataInterval = 100 * time.Millisecond // ConsumerGroupConfig.MetadataInterval
)

// DefaultMetadataInterval is ConsumerGroupConfig.MetadataInterval's
// default: Kafka's clients' metadata.max.age.ms.
const DefaultMetadataInterval = 5 * time.Minute

// DefaultJoinTimeout is ConsumerGroupConfig.JoinTimeout's default: how long
// JoinKafkaConsumerGroup waits for the topics and the first join.
const DefaultJoinTimeout = 30 * time.Second

// ConsumerGroupConfig configures a consumer group. Start from
// NewConsumerGroupConfig, which sets the defaults, and change what you need;
// JoinConsumerGroup calls Validate.
type ConsumerGroupConfig struct {
	// ZookeeperTimeout is the ZooKeeper session timeout: how long a crashed
	// member keeps its partitions before the others take them over, and how
	// long an unreachable ZooKeeper may take to give an error. Default 6 s.
	// Shorter means faster recovery from crashes and more rebalances on
	// network hiccups; the server bounds it to 2..20 of its ticks.
	ZookeeperTimeout time.Duration

	// ZookeeperChroot is the chroot of Kafka's nodes, e.g. "/kafka"; "" for
	// the root. A trailing slash is removed.
	ZookeeperChroot string

	// ZookeeperAuth and ZookeeperACL: credentials added to the session and
	// the ACL set on every node the group creates (see ZKConfig; build it
	// with zookeeper.WorldACL, AuthACL or DigestACL). A nil ZookeeperACL
	// means the default, open to all; an empty one is refused.
	ZookeeperAuth []ZKAuth
	ZookeeperACL  []zookeeper.ACL

	// Brokers are Kafka's addresses. Empty (the default): discovered in
	// ZooKeeper under /brokers/ids. Required for clusters without
	// ZooKeeper (KRaft).
	Brokers []string

	// BrokerListener names the listener whose address discovery uses.
	// Default: PLAINTEXT.
	BrokerListener string

	// CheckoutInterval is how long Checkout's callback may consume one
	// partition before Checkout moves to the next claimed partition.
	// Default 1 s.
	CheckoutInterval time.Duration

	// InitialOffset is where a partition without a committed offset starts:
	// OffsetOldest (default) or OffsetNewest. The member writes that start
	// at once when it claims the partition.
	InitialOffset int64

	// CommitInterval is how often processed offsets are committed, in one
	// fenced write per member. Default 1 s; at least MinCommitInterval
	// (10 ms), Validate refuses less: every tick wakes the member, and a
	// tick of a few nanoseconds kept an idle member busy on a whole core.
	// After a crash, what was processed in the last interval is delivered
	// again.
	CommitInterval time.Duration

	// HandoffTimeout bounds how long a member giving up a partition waits
	// for the message it delivered last to be processed before it commits
	// and lets go. Default 5 s. A message still in the application's hands
	// when it runs out is not counted as processed: the commit stops before
	// it, the partition's next owner delivers it again (at least once, never
	// lost), and the listener gets a HANDOFF_TIMEOUT notification naming the
	// partition and the offset; a warning is logged. Set it above the
	// longest time a message may take to process.
	HandoffTimeout time.Duration

	// Strategy is the assignment strategy: StrategyRange,
	// StrategyRoundRobin or StrategySticky; "" (the default) is the
	// coordinator's default. Every member of a group must use the same
	// one. On ZooKeeper the default is StrategyRange. On Kafka's
	// coordinator the strategy maps to the protocol's own: classic runs
	// franz-go's cooperative-sticky balancer (StrategySticky, the default:
	// range and round robin would be eager, stopping every partition at
	// every rebalance, and are refused); consumer (KIP-848) runs the
	// broker's assignors, "uniform" for StrategySticky (the default) and
	// "range" for StrategyRange (round robin has none, and is refused).
	Strategy string

	// GroupProtocol (Kafka's coordinator only: JoinKafkaConsumerGroup) is
	// the group protocol: GroupProtocolClassic or GroupProtocolConsumer
	// (KIP-848); "" (the default) is classic. Classic is the default
	// because it is safe on every broker we test (Kafka 3.9 and 4.x):
	// franz-go recommends KIP-848 only from Kafka 4.3, as before KIP-1251
	// an offset commit during a revocation can fail with
	// STALE_MEMBER_EPOCH; with consumer, a commit refused that way is
	// reported (ErrNotOwner) and its messages delivered again. Consumer
	// needs Kafka 4.0+: JoinKafkaConsumerGroup refuses brokers without it
	// rather than falling back silently.
	GroupProtocol string

	// InstanceID (Kafka's coordinator only) makes the member static
	// (KIP-345): a member that restarts with the same InstanceID within
	// SessionTimeout gets its partitions back without a rebalance, and
	// Close does not leave the group (its partitions wait for it for
	// SessionTimeout). Unique per member. Default "": dynamic membership.
	InstanceID string

	// SessionTimeout (Kafka's coordinator only) is how long the group
	// coordinator keeps a member it does not hear from: how long a
	// crashed member keeps its partitions. Classic sends it in JoinGroup
	// (within the broker's group.min/max.session.timeout.ms); with
	// consumer (KIP-848) the broker's group.consumer.session.timeout.ms
	// decides, and this must not exceed it. The member itself stops
	// delivering when the coordinator has not answered for two thirds of
	// it (ErrSessionExpired), so that it never delivers what another
	// member may own; an answer counts once franz-go sent the next
	// heartbeat, so kgo.HeartbeatInterval (KafkaOptions) should stay under
	// a third of it, as Kafka advises (classic: a longer one is warned
	// of). Default 45 s, Kafka's.
	SessionTimeout time.Duration

	// JoinTimeout (Kafka's coordinator only) bounds JoinKafkaConsumerGroup:
	// reading the topics, then the first join of the group (JoinGroup and
	// SyncGroup, or KIP-848's first heartbeat), until the first assignment.
	// The join's context bounds it too, whichever ends first. Default
	// DefaultJoinTimeout (30 s). Past it the join gives up, leaves, and
	// returns an error matching context.DeadlineExceeded that names
	// JoinTimeout: a broker that accepts connections and never answers
	// used to hold the join for 40 s. Too short, and a join that waits
	// for a slow rebalance (the broker's group.initial.rebalance.delay.ms,
	// other members rejoining) fails although the group is healthy.
	// ZooKeeper's join is bounded by ZookeeperTimeout instead.
	JoinTimeout time.Duration

	// MetadataInterval is how often partition counts are read from Kafka
	// for topics that ZooKeeper does not describe (no /brokers/topics),
	// and, on Kafka's coordinator and for share groups, the client's
	// metadata max age: partitions added and topics a TopicPattern matches
	// are seen within it. Default 5 minutes, Kafka's own clients' default
	// (metadata.max.age.ms): on Kafka's coordinator every member refreshes
	// the metadata of its topics' every partition at each interval, and at
	// the earlier default of 10 s 500 members of a topic of 10,000
	// partitions asked the brokers for 50 such answers a second (the group
	// never settled on 2 cores: bench/RESULTS-scale-stop19.md). Lower it
	// for small groups that must see new topics sooner. At least
	// MinMetadataInterval (100 ms), Validate refuses less: every tick wakes
	// the member (and may ask Kafka), and a tick of a few nanoseconds kept
	// an idle member busy on a whole core.
	MetadataInterval time.Duration

	// TopicPattern subscribes the member by regular expression instead of a
	// list of topics: the group consumes every topic whose whole name the
	// pattern matches ("orders-.*" matches orders-eu, not old-orders-eu),
	// topics created later included, and gives up topics deleted. Go's
	// RE2 syntax (package regexp), matched against the whole name as
	// Kafka's clients do; internal topics (__consumer_offsets, ...) are
	// never consumed. Exclusive with a list of topics: give the
	// constructors nil (or "") topics when it is set. Default "": the
	// topics given. The member resolves it itself on every coordinator
	// (never KIP-848's broker-side regex, which took in internal topics):
	// ZooKeeper's leader within its watch of /brokers/topics, Kafka's
	// coordinator within MetadataInterval (README, "Subscribing by
	// pattern").
	// Every member of a group should subscribe alike: a member whose
	// subscription differs from the leader's is reported
	// (ErrSubscriptionMismatch) and gets only partitions it subscribes to.
	TopicPattern string

	// KafkaOptions are passed to the franz-go client the group creates
	// (JoinConsumerGroup), after the group's own: for TLS, SASL, fetch
	// sizes. Options that choose what to consume are the group's.
	KafkaOptions []kgo.Opt

	// DualCommit (ZooKeeper only) also commits the processed offsets to
	// Kafka's __consumer_offsets under the group's name, as a group
	// without members (generation -1, the way Kafka's admin tools commit):
	// kafka-consumer-groups.sh --bootstrap-server, kadm and Kafka UIs then
	// show the group's progress, and a move to Kafka's coordinator
	// (groupctl migrate, docs/MIGRATION.md) finds it there. ZooKeeper's
	// fenced commit stays the source of truth and is made first; Kafka's
	// copy follows on a goroutine of its own after each periodic commit,
	// and before the release when partitions are handed over and at Close
	// (bounded by HandoffTimeout). A failed copy is reported
	// (DUAL_COMMIT_ERROR, Metrics.DualCommitted, a warning) and retried
	// at the next interval; it never blocks delivery. Kafka refuses the
	// copy while the group has members on its own coordinator. Default
	// false.
	DualCommit bool

	// IgnoreMigration (ZooKeeper only) lets JoinConsumerGroup join a group
	// whose migration marker says it was moved to Kafka's coordinator
	// (groupctl migrate); without it joining fails with ErrGroupMigrated.
	// Default false.
	IgnoreMigration bool

	// Notifications, when not nil, receives the group's notifications
	// (see Notification): rebalances, errors, hand-off timeouts, on both
	// coordinators. They are sent without blocking: when the channel is
	// full, a notification is dropped and counted (DroppedNotifications);
	// give it a buffer. NewConsumerGroup's listener argument, when not
	// nil, takes precedence. Default nil.
	Notifications chan<- *Notification

	// Logger receives the group's events. Default: silent.
	Logger *slog.Logger

	// Metrics receives the member's measurements (see Metrics and the
	// plugin/cgprom module). Default nil: nothing is measured. On a share
	// group, a Metrics that also implements ShareMetrics receives the
	// acknowledgements too.
	Metrics Metrics

	// ShareManualRenew (share groups only: JoinKafkaShareGroup) turns off
	// the automatic renewal of the acquisition lock of the message in the
	// application's hands. By default (false) the group renews it when two
	// thirds of the lock have passed and the message is still in hand
	// (Kafka 4.2+), so that a slow handler keeps its message instead of
	// Kafka delivering it to another member meanwhile; a handler that
	// hangs then holds its message until Close. With true, only Renew
	// renews, and a message held to near the end of its lock is released
	// (LOCK_EXPIRED). The messages waiting in the member's buffer are
	// renewed either way.
	ShareManualRenew bool
}

// NewConsumerGroupConfig returns a configuration with every default set.
func NewConsumerGroupConfig() *ConsumerGroupConfig {
	return &ConsumerGroupConfig{
		ZookeeperTimeout: DefaultZookeeperTimeout,
		CheckoutInterval: time.Second,
		InitialOffset:    OffsetOldest,
		CommitInterval:   time.Second,
		HandoffTimeout:   5 * time.Second,
		SessionTimeout:   45 * time.Second,
		JoinTimeout:      DefaultJoinTimeout,
		MetadataInterval: DefaultMetadataInterval,
	}
}

// Validate checks the configuration; the error names the field.
func (c *ConsumerGroupConfig) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: ConsumerGroupConfig.%s: %s", ErrInvalidArgument, field, fmt.Sprintf(format, args...))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ZookeeperTimeout", c.ZookeeperTimeout},
		{"CheckoutInterval", c.CheckoutInterval},
		{"CommitInterval", c.CommitInterval},
		{"HandoffTimeout", c.HandoffTimeout},
		{"MetadataInterval", c.MetadataInterval},
		{"SessionTimeout", c.SessionTimeout},
		{"JoinTimeout", c.JoinTimeout},
	} {
		if d.v <= 0 {
			return bad(d.name, "must be positive, got %v (start from NewConsumerGroupConfig)", d.v)
		}
	}
	for _, d := range []struct {
		name     string
		v, floor time.Duration
	}{
		{"CommitInterval", c.CommitInterval, MinCommitInterval},
		{"MetadataInterval", c.MetadataInterval, MinMetadataInterval},
	} {
		if d.v < d.floor {
			return bad(d.name, "%v is below the floor of %v: the member would spend its time ticking", d.v, d.floor)
		}
	}
	if _, err := layout.NormalizeChroot(c.ZookeeperChroot); err != nil {
		return bad("ZookeeperChroot", "%v", err)
	}
	if c.InitialOffset != OffsetOldest && c.InitialOffset != OffsetNewest {
		return bad("InitialOffset", "must be OffsetOldest (-2) or OffsetNewest (-1), got %d", c.InitialOffset)
	}
	if c.Strategy != "" {
		if _, err := assign.ByName(c.Strategy); err != nil {
			return bad("Strategy", "%v", err)
		}
	}
	switch c.GroupProtocol {
	case "", GroupProtocolClassic, GroupProtocolConsumer:
	default:
		return bad("GroupProtocol", "%q: want %q or %q", c.GroupProtocol, GroupProtocolClassic, GroupProtocolConsumer)
	}
	if c.TopicPattern != "" {
		if _, err := compilePattern(c.TopicPattern); err != nil {
			return bad("TopicPattern", "%v", err)
		}
	}
	if c.InstanceID != "" && !validInstanceID(c.InstanceID) {
		return bad("InstanceID", "%q: at most 249 of a-z, A-Z, 0-9, '.', '_', '-'", c.InstanceID)
	}
	for i, b := range c.Brokers {
		if err := layout.CheckAddr(b); err != nil {
			return bad(fmt.Sprintf("Brokers[%d]", i), "%v", err)
		}
	}
	for i, a := range c.ZookeeperAuth {
		if a.Scheme == "" {
			return bad(fmt.Sprintf("ZookeeperAuth[%d]", i), "empty scheme")
		}
	}
	if err := zookeeper.CheckACL(c.ZookeeperACL); err != nil {
		return bad("ZookeeperACL", "%v", err)
	}
	for i, o := range c.KafkaOptions {
		if o == nil {
			return bad(fmt.Sprintf("KafkaOptions[%d]", i), "nil")
		}
	}
	return nil
}

// configError is Validate's error for field.
func configError(field, format string, args ...any) error {
	return fmt.Errorf("%w: ConsumerGroupConfig.%s: %s", ErrInvalidArgument, field, fmt.Sprintf(format, args...))
}

// groupProtocol is GroupProtocol with the default applied.
func (c *ConsumerGroupConfig) groupProtocol() string {
	if c.GroupProtocol == "" {
		return GroupProtocolClassic
	}
	return c.GroupProtocol
}

// validateZK refuses what only Kafka's coordinator uses.
func (c *ConsumerGroupConfig) validateZK() error {
	if c.GroupProtocol != "" {
		return configError("GroupProtocol", "applies to Kafka's coordinator only (JoinKafkaConsumerGroup); leave it empty with ZooKeeper")
	}
	if c.InstanceID != "" {
		return configError("InstanceID", "applies to Kafka's coordinator only (JoinKafkaConsumerGroup); leave it empty with ZooKeeper")
	}
	if c.ShareManualRenew {
		return configError("ShareManualRenew", "applies to share groups only (JoinKafkaShareGroup); leave it unset with JoinConsumerGroup")
	}
	return nil
}

// validateKafka refuses what only ZooKeeper uses, and strategies the
// group protocol cannot run.
func (c *ConsumerGroupConfig) validateKafka() error {
	const brokers = " (brokers are its argument)"
	for _, f := range []struct {
		name string
		set  bool
		why  string
	}{
		{"ZookeeperChroot", c.ZookeeperChroot != "", brokers},
		{"ZookeeperAuth", len(c.ZookeeperAuth) > 0, brokers},
		{"ZookeeperACL", c.ZookeeperACL != nil, brokers},
		{"Brokers", len(c.Brokers) > 0, brokers},
		{"BrokerListener", c.BrokerListener != "", brokers},
		{"DualCommit", c.DualCommit, " (Kafka's coordinator commits to Kafka only: there is no second store to copy to)"},
		{"IgnoreMigration", c.IgnoreMigration, " (the migration marker is ZooKeeper's: it only stops JoinConsumerGroup)"},
	} {
		if f.set {
			return configError(f.name, "applies to ZooKeeper coordination only; leave it unset with JoinKafkaConsumerGroup%s", f.why)
		}
	}
	if c.ShareManualRenew {
		return configError("ShareManualRenew", "applies to share groups only (JoinKafkaShareGroup); leave it unset with JoinKafkaConsumerGroup")
	}
	switch {
	case c.groupProtocol() == GroupProtocolClassic && c.Strategy != "" && c.Strategy != StrategySticky:
		return configError("Strategy", "%q cannot run on the classic protocol without stopping every partition at every rebalance (eager): use StrategySticky (franz-go's cooperative-sticky balancer, the default)", c.Strategy)
	case c.groupProtocol() == GroupProtocolConsumer && c.Strategy == StrategyRoundRobin:
		return configError("Strategy", "%q has no server-side assignor in KIP-848: use StrategySticky (\"uniform\", the default) or StrategyRange (\"range\")", c.Strategy)
	}
	return nil
}

// validateShare refuses what a share group has no use for, naming the
// field: ZooKeeper's fields, the partition owner's (strategy, protocol,
// static membership, dual commit), and settings of hand-offs and commits
// changed from their defaults (a share group hands nothing over and
// commits nothing: Kafka tracks each message's state).
func (c *ConsumerGroupConfig) validateShare() error {
	const zk = "applies to ZooKeeper coordination only; leave it unset with JoinKafkaShareGroup (brokers are its argument)"
	const owner = "has no meaning for a share group, whose members own no partition; leave it unset with JoinKafkaShareGroup"
	def := NewConsumerGroupConfig()
	for _, f := range []struct {
		name string
		set  bool
		why  string
	}{
		{"ZookeeperChroot", c.ZookeeperChroot != "", zk},
		{"ZookeeperAuth", len(c.ZookeeperAuth) > 0, zk},
		{"ZookeeperACL", c.ZookeeperACL != nil, zk},
		{"ZookeeperTimeout", c.ZookeeperTimeout != def.ZookeeperTimeout, zk + ", or at its default"},
		{"Brokers", len(c.Brokers) > 0, zk},
		{"BrokerListener", c.BrokerListener != "", zk},
		{"DualCommit", c.DualCommit, zk},
		{"IgnoreMigration", c.IgnoreMigration, zk},
		{"Strategy", c.Strategy != "", owner + " (the broker assigns partitions to share members itself)"},
		{"GroupProtocol", c.GroupProtocol != "", owner + " (the share protocol is the only one)"},
		{"InstanceID", c.InstanceID != "", owner + " (share groups have no static membership)"},
		{"CheckoutInterval", c.CheckoutInterval != def.CheckoutInterval, owner + ", or at its default (Checkout is refused on a share group)"},
		{"HandoffTimeout", c.HandoffTimeout != def.HandoffTimeout, owner + ", or at its default (nothing is handed off: a message's lock decides, see ShareManualRenew)"},
		{"CommitInterval", c.CommitInterval != def.CommitInterval, owner + ", or at its default (nothing is committed: each message is acknowledged)"},
		{"SessionTimeout", c.SessionTimeout != def.SessionTimeout, owner + ", or at its default (the broker's group.share.session.timeout.ms decides)"},
	} {
		if f.set {
			return configError(f.name, "%s", f.why)
		}
	}
	return nil
}

// validInstanceID reports whether id is a legal Kafka group instance id.
func validInstanceID(id string) bool {
	if len(id) > 249 || id == "." || id == ".." {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
