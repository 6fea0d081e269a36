package consumergroup_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// TestShareConfigValidation: the fields a share group has no use for are
// refused by JoinKafkaShareGroup, each error naming the field (before any
// connection: the address is never dialed), and ShareManualRenew by the
// consumer groups' constructors.
func TestShareConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		field string
		mod   func(*cg.ConsumerGroupConfig)
	}{
		{"ZookeeperChroot", func(c *cg.ConsumerGroupConfig) { c.ZookeeperChroot = "/kafka" }},
		{"ZookeeperAuth", func(c *cg.ConsumerGroupConfig) { c.ZookeeperAuth = []cg.ZKAuth{{Scheme: "digest"}} }},
		{"ZookeeperACL", func(c *cg.ConsumerGroupConfig) { c.ZookeeperACL = zookeeper.WorldACL(zookeeper.PermAll) }},
		{"ZookeeperTimeout", func(c *cg.ConsumerGroupConfig) { c.ZookeeperTimeout = time.Minute }},
		{"Brokers", func(c *cg.ConsumerGroupConfig) { c.Brokers = []string{"127.0.0.1:9092"} }},
		{"BrokerListener", func(c *cg.ConsumerGroupConfig) { c.BrokerListener = "PLAINTEXT" }},
		{"DualCommit", func(c *cg.ConsumerGroupConfig) { c.DualCommit = true }},
		{"IgnoreMigration", func(c *cg.ConsumerGroupConfig) { c.IgnoreMigration = true }},
		{"Strategy", func(c *cg.ConsumerGroupConfig) { c.Strategy = cg.StrategySticky }},
		{"GroupProtocol", func(c *cg.ConsumerGroupConfig) { c.GroupProtocol = cg.GroupProtocolConsumer }},
		{"InstanceID", func(c *cg.ConsumerGroupConfig) { c.InstanceID = "a" }},
		{"CheckoutInterval", func(c *cg.ConsumerGroupConfig) { c.CheckoutInterval = time.Minute }},
		{"HandoffTimeout", func(c *cg.ConsumerGroupConfig) { c.HandoffTimeout = time.Minute }},
		{"CommitInterval", func(c *cg.ConsumerGroupConfig) { c.CommitInterval = time.Minute }},
		{"SessionTimeout", func(c *cg.ConsumerGroupConfig) { c.SessionTimeout = time.Minute }},
		{"JoinTimeout", func(c *cg.ConsumerGroupConfig) { c.JoinTimeout = 0 }},
	} {
		cfg := cg.NewConsumerGroupConfig()
		tc.mod(cfg)
		g, err := cg.JoinKafkaShareGroup(testCtx(t), "g", []string{"t"}, []string{"127.0.0.1:1"}, cfg)
		if g != nil {
			g.Close()
		}
		if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "ConsumerGroupConfig."+tc.field) {
			t.Errorf("%s: JoinKafkaShareGroup = %v, want ErrInvalidArgument naming it", tc.field, err)
		}
	}
	cfg := cg.NewConsumerGroupConfig()
	cfg.ShareManualRenew = true
	if _, err := cg.JoinKafkaConsumerGroup(testCtx(t), "g", []string{"t"}, []string{"127.0.0.1:1"}, cfg); !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "ShareManualRenew") {
		t.Errorf("JoinKafkaConsumerGroup with ShareManualRenew = %v, want ErrInvalidArgument naming it", err)
	}
	if _, err := cg.JoinConsumerGroupTopics(testCtx(t), "g", []string{"t"}, []string{"127.0.0.1:1"}, cfg); !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "ShareManualRenew") {
		t.Errorf("JoinConsumerGroup with ShareManualRenew = %v, want ErrInvalidArgument naming it", err)
	}
	if _, err := cg.JoinKafkaShareGroup(testCtx(t), "g", []string{"t"}, nil, nil); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("no broker: %v, want ErrInvalidArgument", err)
	}
}

// TestShareBrokersWithout: brokers without share groups are refused at the
// join with ErrShareGroupsUnavailable saying why: kfake speaking Kafka
// 3.9, kfake and Kafka 4.4 with share.version downgraded to 0, and a real
// Kafka 3.9.
func TestShareBrokersWithout(t *testing.T) {
	join := func(t *testing.T, addrs []string, topic, want string) {
		t.Helper()
		g, err := cg.JoinKafkaShareGroup(testCtx(t), "g", []string{topic}, addrs, nil)
		if g != nil {
			g.Close()
		}
		if !errors.Is(err, cg.ErrShareGroupsUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("JoinKafkaShareGroup = %v, want ErrShareGroupsUnavailable saying %q", err, want)
		}
	}
	t.Run("kfake-3.9", func(t *testing.T) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.MaxVersions(kversion.V3_9_0()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		join(t, c.ListenAddrs(), "t", "ShareGroupHeartbeat")
	})
	t.Run("kfake-share.version-0", func(t *testing.T) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		setShareVersion(t, cl, 0)
		join(t, c.ListenAddrs(), "t", "share.version")
	})
	t.Run("kafka-4-share.version-0", func(t *testing.T) {
		if !hasKind(testenv.KindKafka4) {
			t.Skip("no Kafka 4 in this run")
		}
		// The shared broker, share groups turned off for the time of the
		// join, then on again (the package's tests run one at a time).
		sc := startShareCluster(t, testenv.KindKafka4)
		topic := sc.topic("t", 1)
		setShareVersion(t, sc.admin, 0)
		defer setShareVersion(t, sc.admin, 2)
		join(t, sc.addrs, topic, "share.version")
	})
	t.Run(string(testenv.KindKafka39), func(t *testing.T) {
		if !hasKind(testenv.KindKafka39) {
			t.Skip("no Kafka 3.9 in this run")
		}
		c := startClusterKind(t, testenv.KindKafka39, map[string]int32{"t": 1})
		join(t, c.kafka.Addrs(), c.topic("t"), "ShareGroupHeartbeat")
	})
}

// setShareVersion sets the cluster's share.version feature to level (0:
// off) and waits until the broker reports it (ApiVersions).
func setShareVersion(t *testing.T, cl *kgo.Client, level int16) {
	t.Helper()
	ctx := testCtx(t)
	req := kmsg.NewPtrUpdateFeaturesRequest()
	u := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	u.Feature, u.MaxVersionLevel, u.AllowDowngrade, u.UpgradeType = "share.version", level, level == 0, 1
	if level == 0 {
		u.UpgradeType = 2 // a safe downgrade
	}
	req.FeatureUpdates = append(req.FeatureUpdates, u)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("set share.version to %d: %v", level, err)
	}
	for {
		v, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
		if err == nil {
			var now int16
			for _, f := range v.FinalizedFeatures {
				if f.Name == "share.version" {
					now = f.MaxVersionLevel
				}
			}
			if now == level {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("share.version never reached %d", level)
		case <-time.After(50 * time.Millisecond): // polling the broker's features, not synchronizing
		}
	}
}

// hasKind reports whether the run has brokers of kind.
func hasKind(kind testenv.Kind) bool {
	for _, k := range testenv.KafkaKinds() {
		if k == kind {
			return true
		}
	}
	return false
}

// TestShareMisuse: on a share group, the calls that need an owned partition
// or a committed offset are refused with ErrShareGroup naming the call; a
// message not handed out, or finished already, with ErrInvalidArgument.
func TestShareMisuse(t *testing.T) {
	sc := startShareCluster(t, testenv.KindKfake)
	topic, group := sc.topic("misuse", 1), sc.group("misuse")
	g := sc.join(group, []string{topic}, nil)
	ctx := testCtx(t)
	refusedShare := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, cg.ErrShareGroup) || !strings.Contains(err.Error(), what) {
			t.Errorf("%s on a share group: %v, want ErrShareGroup naming it", what, err)
		}
	}
	refusedShare("Checkout", g.Checkout(func(*cg.PartitionConsumer) error { return nil }))
	_, err := g.PollRecords(ctx)
	refusedShare("PollRecords", err)
	refusedShare("MarkRecordsDone", g.MarkRecordsDone(&cg.RecordBatch{}))
	refusedShare("Commit", g.Commit(0, 1))
	refusedShare("CommitOffset", g.CommitOffset(ctx, topic, 0, 1))
	_, err = g.Offset(0)
	refusedShare("Offset", err)
	_, err = g.OffsetOf(ctx, topic, 0)
	refusedShare("OffsetOf", err)
	_, err = g.Lag(ctx)
	refusedShare("Lag", err)
	_, err = g.EventsBehindLatest()
	refusedShare("EventsBehindLatest", err)
	if len(g.ClaimedPartitions()) != 0 || len(g.Claims()) != 0 {
		t.Errorf("a share member claims %v", g.ClaimedPartitions())
	}

	sc.produce(topic, 0, "m")
	ev, err := g.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	invalid := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, cg.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", what, err)
		}
	}
	copied := *ev
	invalid("Release of a copy", g.Release(&copied))
	invalid("MarkDone of a message never handed out", g.MarkDone(&cg.ConsumerEvent{Topic: topic, Value: []byte("m")}))
	invalid("Reject(nil)", g.Reject(nil))
	if err := g.MarkDone(ev); err != nil {
		t.Fatal(err)
	}
	if err := g.MarkDone(ev); err != nil {
		t.Errorf("MarkDone twice: %v, want nil", err)
	}
	invalid("Release of an accepted message", g.Release(ev))
	if g.Stream() != nil || g.Batches() != nil {
		t.Error("Stream or Batches after Next: want nil")
	}
	h := g.Health()
	if !h.Healthy {
		t.Errorf("a joined share member: %v, want healthy", h)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Next(ctx); !errors.Is(err, cg.ErrClosed) {
		t.Errorf("Next after Close: %v, want ErrClosed", err)
	}
	select {
	case <-g.Done():
	default:
		t.Error("Done not closed after Close")
	}
}

// TestShareCallsOnConsumerGroup: the share groups' calls on a consumer
// group are refused with ErrNotShareGroup naming the call.
func TestShareCallsOnConsumerGroup(t *testing.T) {
	sc := startShareCluster(t, testenv.KindKfake)
	topic := sc.topic("classic", 1)
	k, err := cg.JoinKafkaConsumerGroup(testCtx(t), "classic", []string{topic}, sc.addrs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ev := &cg.ConsumerEvent{Topic: topic}
	for what, err := range map[string]error{"Release": k.Release(ev), "Reject": k.Reject(ev), "Renew": k.Renew(ev)} {
		if !errors.Is(err, cg.ErrNotShareGroup) || !strings.Contains(err.Error(), what) {
			t.Errorf("%s on a consumer group: %v, want ErrNotShareGroup naming it", what, err)
		}
	}
	if _, err := k.ShareCounts(); !errors.Is(err, cg.ErrNotShareGroup) {
		t.Errorf("ShareCounts on a consumer group: %v", err)
	}
}

// TestShareNameTaken: the name of a consumer group is refused at the join,
// saying so (Kafka would answer the share member's heartbeats with
// GROUP_ID_NOT_FOUND for ever).
func TestShareNameTaken(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("taken", 1), sc.group("taken")
		k, err := cg.JoinKafkaConsumerGroup(testCtx(t), group, []string{topic}, sc.addrs, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		g, err := cg.JoinKafkaShareGroup(testCtx(t), group, []string{topic}, sc.addrs, shareConfig())
		if g != nil {
			g.Close()
		}
		if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "classic group") {
			t.Errorf("JoinKafkaShareGroup with a classic group's name = %v, want ErrInvalidArgument naming the classic group", err)
		}
	})
}
