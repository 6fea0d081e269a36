package consumergroup

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/assign"
	"github.com/consumergroup/consumergroup/internal/layout"
)

// Initial offsets: where a member starts a partition that has no committed
// offset (and where it restarts one whose committed offset is out of range).
const (
	OffsetOldest int64 = -2 // the oldest message still in the log
	OffsetNewest int64 = -1 // the next message produced
)

// Assignment strategies.
const (
	StrategyRange      = assign.RangeName      // contiguous ranges per topic, balanced within one
	StrategyRoundRobin = assign.RoundRobinName // partitions dealt one by one
	StrategySticky     = assign.StickyName     // moves only what must move
)

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
	// the ACL set on every node the group creates (see ZKConfig). A nil
	// ZookeeperACL means the default, open to all; an empty one is refused.
	ZookeeperAuth []ZKAuth
	ZookeeperACL  []zk.ACL

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
	// fenced write per member. Default 1 s. After a crash, what was
	// processed in the last interval is delivered again.
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

	// Strategy is the assignment strategy: StrategyRange (default),
	// StrategyRoundRobin or StrategySticky. Every member of a group must
	// use the same one.
	Strategy string

	// MetadataInterval is how often partition counts are read from Kafka
	// for topics that ZooKeeper does not describe (no /brokers/topics).
	// Default 10 s.
	MetadataInterval time.Duration

	// KafkaOptions are passed to the franz-go client the group creates
	// (JoinConsumerGroup), after the group's own: for TLS, SASL, fetch
	// sizes. Options that choose what to consume are the group's.
	KafkaOptions []kgo.Opt

	// Logger receives the group's events. Default: silent.
	Logger *slog.Logger

	// Metrics receives the member's measurements (see Metrics and the
	// plugin/cgprom module). Default nil: nothing is measured.
	Metrics Metrics
}

// NewConsumerGroupConfig returns a configuration with every default set.
func NewConsumerGroupConfig() *ConsumerGroupConfig {
	return &ConsumerGroupConfig{
		ZookeeperTimeout: DefaultZookeeperTimeout,
		CheckoutInterval: time.Second,
		InitialOffset:    OffsetOldest,
		CommitInterval:   time.Second,
		HandoffTimeout:   5 * time.Second,
		Strategy:         StrategyRange,
		MetadataInterval: 10 * time.Second,
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
	} {
		if d.v <= 0 {
			return bad(d.name, "must be positive, got %v (start from NewConsumerGroupConfig)", d.v)
		}
	}
	if _, err := layout.NormalizeChroot(c.ZookeeperChroot); err != nil {
		return bad("ZookeeperChroot", "%v", err)
	}
	if c.InitialOffset != OffsetOldest && c.InitialOffset != OffsetNewest {
		return bad("InitialOffset", "must be OffsetOldest (-2) or OffsetNewest (-1), got %d", c.InitialOffset)
	}
	if _, err := assign.ByName(c.Strategy); err != nil {
		return bad("Strategy", "%v", err)
	}
	for i, b := range c.Brokers {
		if err := checkAddr(b); err != nil {
			return bad(fmt.Sprintf("Brokers[%d]", i), "%v", err)
		}
	}
	for i, a := range c.ZookeeperAuth {
		if a.Scheme == "" {
			return bad(fmt.Sprintf("ZookeeperAuth[%d]", i), "empty scheme")
		}
	}
	if err := checkACL(c.ZookeeperACL); err != nil {
		return bad("ZookeeperACL", "%v", err)
	}
	for i, o := range c.KafkaOptions {
		if o == nil {
			return bad(fmt.Sprintf("KafkaOptions[%d]", i), "nil")
		}
	}
	return nil
}
