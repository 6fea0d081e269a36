package consumergroup

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// The constructors of a member coordinated through ZooKeeper (the seed's),
// and the checks every constructor shares. JoinKafkaConsumerGroup is in
// kafkagroup.go.

// JoinConsumerGroup joins group name as a new member consuming topic, with
// ZooKeeper at zookeeper: it discovers Kafka's brokers there (unless
// config.Brokers lists them). topic is "" when config.TopicPattern
// subscribes by pattern instead. As in Kafka's zookeeper.connect, the last
// address may end with the chroot: "zk1:2181", "zk2:2181/kafka". A nil
// config means NewConsumerGroupConfig().
func JoinConsumerGroup(name string, topic string, zookeeper []string, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	return JoinConsumerGroupTopics(context.Background(), name, topicArg(topic), zookeeper, config)
}

// JoinConsumerGroupTopics is JoinConsumerGroup for several topics, with a
// context that bounds joining (not the group's life: Close ends that).
// topics is nil when config.TopicPattern subscribes by pattern instead.
func JoinConsumerGroupTopics(ctx context.Context, name string, topics []string, zookeeper []string, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	if ctx == nil {
		return nil, errNilContext("JoinConsumerGroupTopics")
	}
	cfg, err := prepareConfig(name, topics, config)
	if err != nil {
		return nil, err
	}
	if err := cfg.validateZK(); err != nil {
		return nil, err
	}
	if len(zookeeper) == 0 {
		return nil, fmt.Errorf("%w: no ZooKeeper address", ErrInvalidArgument)
	}
	zookeeper, chroot := splitChroot(zookeeper)
	if chroot != "" {
		if own, _ := layout.NormalizeChroot(cfg.ZookeeperChroot); own != "" && own != chroot {
			return nil, fmt.Errorf("%w: chroot %q in the ZooKeeper address and ConsumerGroupConfig.ZookeeperChroot %q differ", ErrInvalidArgument, chroot, cfg.ZookeeperChroot)
		}
		cfg.ZookeeperChroot = chroot
	}
	dctx, cancel := context.WithTimeout(ctx, max(cfg.ZookeeperTimeout, time.Second))
	defer cancel()
	z, err := DialZK(dctx, ZKConfig{
		Servers:        zookeeper,
		Chroot:         cfg.ZookeeperChroot,
		SessionTimeout: cfg.ZookeeperTimeout,
		Auth:           cfg.ZookeeperAuth,
		ACL:            cfg.ZookeeperACL,
		BrokerListener: cfg.BrokerListener,
		Logger:         cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	brokers := cfg.Brokers
	if len(brokers) == 0 {
		brokers, err = z.Brokers(dctx)
		if len(brokers) == 0 {
			z.Close()
			return nil, fmt.Errorf("consumergroup: discover Kafka brokers in ZooKeeper: %w", err)
		}
	}
	// A partition claimed while a fetch waits starts with the next fetch:
	// a short wait keeps hand-offs fast (franz-go's default is 5 s).
	opts := append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.FetchMaxWait(fetchMaxWait), kgo.WithPools(recordsPool)}, cfg.KafkaOptions...)
	client, err := kgo.NewClient(opts...)
	if err != nil {
		z.Close()
		return nil, fmt.Errorf("consumergroup: kafka client: %w", err)
	}
	g, err := newZKGroup(ctx, client, z, name, topics, nil, cfg, true)
	if err != nil {
		client.Close()
		z.Close()
		return nil, err
	}
	return g, nil
}

// NewConsumerGroup creates a member of group name consuming topic with a
// franz-go client and a ZK of the caller's, which stay the caller's to
// close after the group. The client must not consume anything itself (no
// ConsumeTopics, ConsumePartitions, ConsumerGroup or regex): the group adds
// and removes partitions as it claims and releases them. Notifications go
// to listener, when not nil, without ever blocking (see Notification).
//
// A partition the group adds while the client waits in a fetch starts with
// the next fetch: give the client a short kgo.FetchMaxWait (JoinConsumerGroup
// uses 250 ms) so that hand-offs stay fast.
func NewConsumerGroup(client *kgo.Client, zoo *ZK, name string, topic string, listener chan *Notification, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	return NewConsumerGroupTopics(context.Background(), client, zoo, name, topicArg(topic), listener, config)
}

// NewConsumerGroupTopics is NewConsumerGroup for several topics (nil with
// ConsumerGroupConfig.TopicPattern).
func NewConsumerGroupTopics(ctx context.Context, client *kgo.Client, zoo *ZK, name string, topics []string, listener chan *Notification, config *ConsumerGroupConfig) (*ConsumerGroup, error) {
	if ctx == nil {
		return nil, errNilContext("NewConsumerGroupTopics")
	}
	if client == nil || zoo == nil {
		return nil, fmt.Errorf("%w: NewConsumerGroup needs a client and a ZK", ErrInvalidArgument)
	}
	if g, _ := client.OptValue(kgo.ConsumerGroup).(string); g != "" {
		return nil, fmt.Errorf("%w: the client is a member of Kafka group %q: give a client without kgo.ConsumerGroup", ErrInvalidArgument, g)
	}
	for _, opt := range []struct {
		name string
		fn   any
	}{{"kgo.ConsumeTopics", kgo.ConsumeTopics}, {"kgo.ConsumePartitions", kgo.ConsumePartitions}, {"kgo.ConsumeRegex", kgo.ConsumeRegex}} {
		if set(client.OptValue(opt.fn)) {
			return nil, fmt.Errorf("%w: the client consumes by itself (%s): give a client without it; the group adds and removes partitions", ErrInvalidArgument, opt.name)
		}
	}
	cfg, err := prepareConfig(name, topics, config)
	if err != nil {
		return nil, err
	}
	if err := cfg.validateZK(); err != nil {
		return nil, err
	}
	return newZKGroup(ctx, client, zoo, name, topics, listener, cfg, false)
}

// prepareConfig checks what every constructor is given: the config (nil
// means NewConsumerGroupConfig()), the group's and the topics' names, or
// the config's TopicPattern instead of topics.
func prepareConfig(name string, topics []string, config *ConsumerGroupConfig) (ConsumerGroupConfig, error) {
	if config == nil {
		config = NewConsumerGroupConfig()
	}
	if err := config.Validate(); err != nil {
		return ConsumerGroupConfig{}, err
	}
	if err := layout.CheckName("group", name); err != nil {
		return ConsumerGroupConfig{}, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if err := subscriptionArgs(topics, config); err != nil {
		return ConsumerGroupConfig{}, err
	}
	return *config, nil
}

// errNilContext is the error of a constructor given a nil context (as
// Next's).
func errNilContext(what string) error {
	return fmt.Errorf("%w: %s: nil context", ErrInvalidArgument, what)
}

// splitChroot splits a chroot suffix off the last address, as Kafka's
// zookeeper.connect writes it: ["a:2181", "b:2181/kafka"].
func splitChroot(servers []string) ([]string, string) {
	out := slices.Clone(servers)
	last := out[len(out)-1]
	if i := strings.IndexByte(last, '/'); i >= 0 {
		out[len(out)-1] = last[:i]
		return out, strings.TrimRight(last[i:], "/")
	}
	return out, ""
}

// set reports whether an option value read with kgo's OptValue is set: a
// non-empty map or slice, or true.
func set(v any) bool {
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Map, reflect.Slice:
		return rv.Len() > 0
	case reflect.Bool:
		return rv.Bool()
	}
	return false
}
