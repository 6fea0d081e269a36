package testenv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Timings of Kafka.
const (
	// kafkaZKSessionTimeout is the session timeout of the ZooKeeper
	// connection holding the brokers' ephemeral registrations.
	kafkaZKSessionTimeout = 4 * time.Second
	// kafkaStartTimeout bounds StartKafka (which takes no context): its
	// ZooKeeper session establishment, metadata requests and writes.
	kafkaStartTimeout = 20 * time.Second
	// kafkaPollInterval is how often Kafka re-checks metadata while
	// waiting for it to show a change.
	kafkaPollInterval = 10 * time.Millisecond
)

// Kafka is an in-process Kafka cluster (kfake) registered in ZooKeeper
// the way Kafka brokers in ZooKeeper mode register themselves: one
// ephemeral /brokers/ids/<id> per broker, and /brokers/topics/<topic> with
// its partitions' state, all under a chroot. Its methods are safe for
// concurrent use.
type Kafka struct {
	cluster *kfake.Cluster
	addrs   []string    // the brokers' addresses: kfake's accessors block forever after its Close
	client  *kgo.Client // admin requests and Produce; manual partitioner
	admin   *kadm.Client
	reg     *registry

	// brokers holds every broker of the cluster by node id; written by
	// StartKafka only.
	brokers map[int32]brokerDetail
	// topicMu serializes topic registrations, so that concurrent
	// CreateTopic and AddPartitions calls write in the cluster's order.
	topicMu sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

// brokerDetail is what a broker registration says about a broker.
type brokerDetail struct {
	id   int32
	host string
	port int32
}

// StartKafka starts a kfake cluster of brokers brokers (at least 1) on
// free 127.0.0.1 ports, with topics (name to partition count) created, and
// registers its brokers and topics in the ZooKeeper at zkServers, under
// chroot ("" or a path such as "/kafka", without a trailing slash). Broker
// ids are kfake's node ids, from 0. Close it to stop everything.
func StartKafka(zkServers []string, chroot string, brokers int, topics map[string]int32) (*Kafka, error) {
	if brokers < 1 {
		return nil, errorf("a Kafka cluster needs at least 1 broker, got %d", brokers)
	}
	for topic, partitions := range topics {
		if partitions < 1 {
			return nil, errorf("topic %q: %d partitions, need at least 1", topic, partitions)
		}
	}
	if err := validChroot(chroot); err != nil {
		return nil, err
	}

	// KIP-848 groups: sessions and heartbeats as short as the real
	// brokers' (apache.go); kfake's default heartbeat is 5 s.
	opts := []kfake.Opt{kfake.NumBrokers(brokers), kfake.BrokerConfigs(map[string]string{
		"group.consumer.session.timeout.ms":    "3000",
		"group.consumer.heartbeat.interval.ms": "250",
		"group.min.session.timeout.ms":         "500", // classic; kfake's default is 6 s
	})}
	for topic, partitions := range topics {
		opts = append(opts, kfake.SeedTopics(partitions, topic))
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("testenv: starting kfake: %w", err)
	}
	k := &Kafka{cluster: cluster, addrs: cluster.ListenAddrs(), brokers: make(map[int32]brokerDetail)}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(k.addrs...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("testenv: creating the Kafka client: %w", err), k.Close())
	}
	k.client = client
	k.admin = kadm.NewClient(client)

	ctx, cancel := context.WithTimeout(context.Background(), kafkaStartTimeout)
	defer cancel()
	if err := k.start(ctx, zkServers, chroot, topics); err != nil {
		return nil, errors.Join(err, k.Close())
	}
	return k, nil
}

// start learns the brokers, connects to ZooKeeper and registers the
// brokers and topics.
func (k *Kafka) start(ctx context.Context, zkServers []string, chroot string, topics map[string]int32) error {
	meta, err := k.metadata(ctx)
	if err != nil {
		return err
	}
	for _, b := range meta.Brokers {
		k.brokers[b.NodeID] = brokerDetail{id: b.NodeID, host: b.Host, port: b.Port}
	}
	k.reg, err = newRegistry(ctx, zkServers, chroot)
	if err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(k.brokers)) {
		if err := k.reg.registerBroker(ctx, k.brokers[id]); err != nil {
			return err
		}
	}
	k.topicMu.Lock()
	defer k.topicMu.Unlock()
	for _, topic := range slices.Sorted(maps.Keys(topics)) {
		if err := k.registerTopicLocked(ctx, topic, topics[topic]); err != nil {
			return err
		}
	}
	return nil
}

// Addrs returns the brokers' addresses, "127.0.0.1:port", in node id
// order: seed brokers for a kgo client.
func (k *Kafka) Addrs() []string { return slices.Clone(k.addrs) }

// Cluster returns the kfake cluster, for its controls (request
// interception, leader moves). Beware: after Close, kfake's accessors
// (ListenAddrs, LeaderFor, ...) block forever.
func (k *Kafka) Cluster() *kfake.Cluster { return k.cluster }

// Chroot returns the ZooKeeper path the cluster is registered under.
func (k *Kafka) Chroot() string { return k.reg.chroot }

// CreateTopic creates topic with partitions partitions in the cluster,
// replicated to up to 3 brokers, then registers it in ZooKeeper.
func (k *Kafka) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	if partitions < 1 {
		return errorf("topic %q: %d partitions, need at least 1", topic, partitions)
	}
	if _, err := k.admin.CreateTopic(ctx, partitions, -1, nil, topic); err != nil {
		return fmt.Errorf("testenv: creating topic %q: %w", topic, err)
	}
	k.topicMu.Lock()
	defer k.topicMu.Unlock()
	return k.registerTopicLocked(ctx, topic, partitions)
}

// DeleteTopic deletes topic from the cluster, then, as a Kafka controller
// would, removes /brokers/topics/<topic> and everything under it.
func (k *Kafka) DeleteTopic(ctx context.Context, topic string) error {
	resp, err := k.admin.DeleteTopic(ctx, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("testenv: deleting topic %q: %w", topic, err)
	}
	k.topicMu.Lock()
	defer k.topicMu.Unlock()
	return k.reg.deleteTree(ctx, k.reg.path("/brokers/topics/"+topic))
}

// AddPartitions grows topic to total partitions in the cluster, then, as
// a Kafka controller would, rewrites /brokers/topics/<topic> with the new
// assignment and creates the new partitions' state nodes. When it returns,
// Produce can write to the new partitions.
func (k *Kafka) AddPartitions(ctx context.Context, topic string, total int32) error {
	if total < 1 {
		return errorf("topic %q: %d partitions, need at least 1", topic, total)
	}
	resps, err := k.admin.UpdatePartitions(ctx, int(total), topic)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("testenv: growing topic %q to %d partitions: %w", topic, total, err)
	}
	k.topicMu.Lock()
	err = k.registerTopicLocked(ctx, topic, total)
	k.topicMu.Unlock()
	if err != nil {
		return err
	}
	return k.awaitProducerPartitions(ctx, topic, total)
}

// awaitProducerPartitions makes the producing client learn that topic has
// total partitions, if it produced to topic before: its manual partitioner
// fails records for partitions it does not know yet.
func (k *Kafka) awaitProducerPartitions(ctx context.Context, topic string, total int32) error {
	if leader, _, _ := k.client.PartitionLeader(topic, 0); leader < 0 {
		return nil // not loaded: the first Produce loads it whole
	}
	ticker := time.NewTicker(kafkaPollInterval)
	defer ticker.Stop()
	for i := 0; ; i++ {
		if leader, _, _ := k.client.PartitionLeader(topic, total-1); leader >= 0 {
			return nil
		}
		if i%20 == 0 {
			k.client.ForceMetadataRefresh()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: waiting for the producer to see %d partitions of %q: %w", total, topic, ctx.Err())
		case <-ticker.C:
		}
	}
}

// Produce writes records to one partition of topic and returns once the
// cluster has acknowledged them all, or the first error. It sets every
// record's Topic and Partition.
func (k *Kafka) Produce(ctx context.Context, topic string, partition int32, records ...*kgo.Record) error {
	for _, r := range records {
		r.Topic = topic
		r.Partition = partition
	}
	if err := k.client.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("testenv: producing to %s/%d: %w", topic, partition, err)
	}
	return nil
}

// UnregisterBroker deletes broker id's registration from ZooKeeper, as
// when a broker stops; the broker itself keeps serving. Unregistering an
// unregistered broker does nothing.
func (k *Kafka) UnregisterBroker(id int32) error {
	if _, ok := k.brokers[id]; !ok {
		return errorf("no broker %d", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryRetryTimeout)
	defer cancel()
	return k.reg.unregisterBroker(ctx, id)
}

// RegisterBroker registers broker id in ZooKeeper again, with a new
// timestamp, as when a broker starts. It fails when the broker is
// registered already.
func (k *Kafka) RegisterBroker(id int32) error {
	b, ok := k.brokers[id]
	if !ok {
		return errorf("no broker %d", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), registryRetryTimeout)
	defer cancel()
	return k.reg.registerBroker(ctx, b)
}

// Close closes the ZooKeeper session (so the broker registrations vanish
// at once), the clients and the cluster. It is idempotent and returns once
// nothing of the cluster is left running.
func (k *Kafka) Close() error {
	k.closeOnce.Do(func() {
		if k.reg != nil {
			k.closeErr = k.reg.close()
		}
		if k.client != nil {
			k.client.Close()
		}
		k.cluster.Close()
	})
	return k.closeErr
}

// registerTopicLocked waits until the cluster's metadata shows topic with
// at least partitions partitions, each with a leader, then writes them to
// ZooKeeper. k.topicMu is held.
func (k *Kafka) registerTopicLocked(ctx context.Context, topic string, partitions int32) error {
	var parts []kmsg.MetadataResponseTopicPartition
	ticker := time.NewTicker(kafkaPollInterval)
	defer ticker.Stop()
	for {
		meta, err := k.metadata(ctx, topic)
		if err != nil {
			return err
		}
		var ready bool
		if parts, ready = topicReady(meta, topic, partitions); ready {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: waiting for %d partitions of %q in the cluster's metadata: %w", partitions, topic, ctx.Err())
		case <-ticker.C:
		}
	}
	return k.reg.registerTopic(ctx, topic, parts)
}

// topicReady returns the partitions of topic when metadata shows at least
// partitions of them, every one with a leader.
func topicReady(meta *kmsg.MetadataResponse, topic string, partitions int32) ([]kmsg.MetadataResponseTopicPartition, bool) {
	for _, t := range meta.Topics {
		if t.Topic == nil || *t.Topic != topic || t.ErrorCode != 0 {
			continue
		}
		if int32(len(t.Partitions)) < partitions {
			return nil, false
		}
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 || p.Leader < 0 {
				return nil, false
			}
		}
		return t.Partitions, true
	}
	return nil, false
}

// metadata issues a fresh metadata request (kadm's would be cached) for
// topics, or for no topic when none is given.
func (k *Kafka) metadata(ctx context.Context, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, k.client)
	if err != nil {
		return nil, fmt.Errorf("testenv: requesting Kafka metadata: %w", err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
			var name string
			if t.Topic != nil {
				name = *t.Topic
			}
			return nil, fmt.Errorf("testenv: Kafka metadata of topic %q: %w", name, err)
		}
	}
	return resp, nil
}

// validChroot accepts "" and absolute paths without a trailing slash.
func validChroot(chroot string) error {
	if chroot == "" {
		return nil
	}
	if chroot[0] != '/' || chroot[len(chroot)-1] == '/' {
		return errorf("chroot %q must be empty or start with / and not end with /", chroot)
	}
	return nil
}

// hostPort formats a broker's address.
func hostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
