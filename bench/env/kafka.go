package env

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka is an in-process kfake cluster whose brokers and topics are
// registered in ZooKeeper as Kafka brokers in ZooKeeper mode register them:
// /brokers/ids/<id> (ephemeral, v4 JSON with endpoints) and
// /brokers/topics/<topic> ({"version":1,"partitions":{"0":[0],...}}) and
// its partitions' state nodes (leader, ISR). The library reads broker
// addresses, partition counts and the leaders of the partitions it takes.
type Kafka struct {
	cluster *kfake.Cluster // in-process; nil when kfake runs in a child process
	child   *kfakeChild    // the child process running kfake, nil in-process
	addrs   []string
	client  *kgo.Client
	admin   *kadm.Client
	zk      *zk.Conn
}

// StartKafka starts a kfake cluster with opts (plus a group session
// timeout floor low enough for short sessions) and registers its brokers in
// the ZooKeeper at zkAddr.
func StartKafka(zkAddr string, opts ...kfake.Opt) (*Kafka, error) {
	cluster, err := kfake.NewCluster(append(kfakeOpts(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("env: starting kfake: %w", err)
	}
	return register(&Kafka{cluster: cluster, addrs: cluster.ListenAddrs()}, zkAddr)
}

// GroupSession is the session timeout of KIP-848 groups on the kfake
// clusters started here (group.consumer.session.timeout.ms: the broker
// decides it, not the member): the bench's -session, as the other groups'.
// Set it before starting a cluster. It was 2 s whatever -session said: at
// 500 members on 2 cores the KIP-848 cells ran at 2 s while every other
// system ran at 6 s.
var GroupSession = 2 * time.Second

// groupSessionEnv hands GroupSession to a kfake child process.
const groupSessionEnv = "BENCH_KFAKE_GROUP_SESSION"

// kfakeOpts are the options of every kfake cluster here: one broker, a
// group session timeout floor low enough for short sessions.
func kfakeOpts() []kfake.Opt {
	session := GroupSession
	if d, err := time.ParseDuration(os.Getenv(groupSessionEnv)); err == nil {
		session = d
	}
	return []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		// KIP-848 groups: the same session as the others', heartbeats every 200 ms.
		kfake.BrokerConfigs(map[string]string{"group.consumer.session.timeout.ms": strconv.FormatInt(session.Milliseconds(), 10),
			"group.consumer.heartbeat.interval.ms": "200"})}
}

// register connects the admin client to k's brokers and registers them in
// the ZooKeeper at zkAddr; k is closed on error.
func register(k *Kafka, zkAddr string) (*Kafka, error) {
	var err error
	if k.client, err = kgo.NewClient(kgo.SeedBrokers(k.addrs...)); err != nil {
		k.Close()
		return nil, err
	}
	k.admin = kadm.NewClient(k.client)
	if k.zk, err = Connect(zkAddr, 10*time.Second, 10*time.Second); err != nil {
		k.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	brokers, err := k.admin.BrokerMetadata(ctx)
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("env: kfake metadata: %w", err)
	}
	for _, b := range brokers.Brokers {
		hp := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		data, _ := json.Marshal(map[string]any{
			"listener_security_protocol_map": map[string]string{"PLAINTEXT": "PLAINTEXT"},
			"endpoints":                      []string{"PLAINTEXT://" + hp},
			"jmx_port":                       -1,
			"host":                           b.Host,
			"timestamp":                      strconv.FormatInt(time.Now().UnixMilli(), 10),
			"port":                           b.Port,
			"version":                        4,
		})
		if err := k.create("/brokers/ids/"+strconv.Itoa(int(b.NodeID)), data, zk.FlagEphemeral); err != nil {
			k.Close()
			return nil, err
		}
	}
	return k, nil
}

// create creates path (and its missing parents, persistent and empty).
func (k *Kafka) create(path string, data []byte, flags int32) error {
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			if _, err := k.zk.Create(path[:i], nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return fmt.Errorf("env: creating %s: %w", path[:i], err)
			}
		}
	}
	if _, err := k.zk.Create(path, data, flags, zk.WorldACL(zk.PermAll)); err != nil {
		return fmt.Errorf("env: creating %s: %w", path, err)
	}
	return nil
}

// Addrs returns the brokers' addresses.
func (k *Kafka) Addrs() []string { return k.addrs }

// CreateTopic creates topic in the cluster (unless it exists, e.g. from
// kfake.SeedTopics) and registers it in ZooKeeper.
func (k *Kafka) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	if _, err := k.admin.CreateTopic(ctx, partitions, 1, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("env: creating topic %s: %w", topic, err)
	}
	var details kadm.TopicDetail
	for {
		ts, err := k.admin.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		details = ts[topic]
		if details.Err == nil && int32(len(details.Partitions)) == partitions {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("env: topic %s not in metadata: %w", topic, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	parts := make(map[string][]int32, partitions)
	for p, d := range details.Partitions {
		replicas := d.Replicas
		if len(replicas) == 0 {
			replicas = []int32{d.Leader}
		}
		parts[strconv.Itoa(int(p))] = replicas
	}
	data, _ := json.Marshal(map[string]any{"version": 1, "partitions": parts})
	if err := k.create("/brokers/topics/"+topic, data, 0); err != nil {
		return err
	}
	return k.createStates(topic, details)
}

// createStates writes each partition's state node,
// /brokers/topics/<topic>/partitions/<p>/state, as a ZooKeeper-mode Kafka
// controller does (its leader and ISR), in multis of 500 creates.
func (k *Kafka) createStates(topic string, details kadm.TopicDetail) error {
	base := "/brokers/topics/" + topic + "/partitions"
	if err := k.create(base, nil, 0); err != nil {
		return err
	}
	var ops []any
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		_, err := k.zk.Multi(ops...)
		ops = ops[:0]
		if err != nil {
			return fmt.Errorf("env: creating the partition states of %s: %w", topic, err)
		}
		return nil
	}
	acl := zk.WorldACL(zk.PermAll)
	for p, d := range details.Partitions {
		isr := d.ISR
		if len(isr) == 0 {
			isr = []int32{d.Leader}
		}
		state, _ := json.Marshal(map[string]any{"controller_epoch": 1, "leader": d.Leader, "version": 1, "leader_epoch": max(d.LeaderEpoch, 0), "isr": isr})
		dir := base + "/" + strconv.Itoa(int(p))
		ops = append(ops, &zk.CreateRequest{Path: dir, Acl: acl}, &zk.CreateRequest{Path: dir + "/state", Data: state, Acl: acl})
		if len(ops) >= 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// DeleteTopic deletes topic from the cluster (freeing its data) and from
// ZooKeeper.
func (k *Kafka) DeleteTopic(ctx context.Context, topic string) error {
	if _, err := k.admin.DeleteTopics(ctx, topic); err != nil {
		return err
	}
	return k.deleteAll("/brokers/topics/" + topic)
}

// deleteAll deletes path and every node below it.
func (k *Kafka) deleteAll(path string) error {
	children, _, err := k.zk.Children(path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := k.deleteAll(path + "/" + c); err != nil {
			return err
		}
	}
	if err := k.zk.Delete(path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	return nil
}

// Close stops the cluster and the ZooKeeper session (the broker
// registrations go with it).
func (k *Kafka) Close() {
	if k.zk != nil {
		k.zk.Close()
	}
	if k.client != nil {
		k.client.Close()
	}
	if k.cluster != nil {
		k.cluster.Close()
	}
	if k.child != nil {
		k.child.stop()
	}
}
