package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is a Kafka cluster of any kind, as tests use it.
type Cluster interface {
	// Kind says what runs the cluster.
	Kind() Kind
	// Addrs returns seed brokers.
	Addrs() []string
	// Registration returns the ZooKeeper chroot under which the
	// cluster's brokers and topics are registered in Kafka's layout, and
	// false when they are not (KRaft, an external cluster).
	Registration() (chroot string, ok bool)
	// CreateTopic creates a topic and returns once every partition has a
	// leader.
	CreateTopic(ctx context.Context, topic string, partitions int32) error
	// AddPartitions grows a topic to total partitions and returns once
	// every partition has a leader.
	AddPartitions(ctx context.Context, topic string, total int32) error
}

var (
	_ Cluster = (*Kafka)(nil)
	_ Cluster = (*Apache)(nil)
	_ Cluster = (*External)(nil)
)

// Kind returns KindKfake.
func (k *Kafka) Kind() Kind { return KindKfake }

// Registration returns the chroot the cluster is registered under.
func (k *Kafka) Registration() (string, bool) { return k.reg.chroot, true }

// Registration returns the chroot a broker in ZooKeeper mode registers
// under; a KRaft node registers nowhere.
func (a *Apache) Registration() (string, bool) { return a.chroot, a.kind.ZooKeeperMode() }

// External is a cluster of the user's, named by CONSUMERGROUP_TEST_KAFKA.
type External struct {
	topicAdmin
	addrs  []string
	client *kgo.Client
}

// DialExternal returns the cluster CONSUMERGROUP_TEST_KAFKA names, once it
// answers; Close closes its client, nothing else.
func DialExternal(addrs []string) (*External, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("testenv: %s=%v: %w", EnvKafka, addrs, err)
	}
	e := &External{addrs: addrs, client: cl, topicAdmin: topicAdmin{admin: kadm.NewClient(cl), name: "kafka " + strings.Join(addrs, ",")}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := e.admin.BrokerMetadata(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("testenv: %s=%v does not answer: %w", EnvKafka, addrs, err)
	}
	return e, nil
}

// Kind returns KindExternal.
func (e *External) Kind() Kind { return KindExternal }

// Addrs returns the cluster's seed brokers.
func (e *External) Addrs() []string { return append([]string(nil), e.addrs...) }

// Registration returns false: the tests do not know the cluster's ZooKeeper.
func (e *External) Registration() (string, bool) { return "", false }

// Close closes the client.
func (e *External) Close() error { e.client.Close(); return nil }

// externalAddrs returns what CONSUMERGROUP_TEST_KAFKA lists.
func externalAddrs() []string {
	var addrs []string
	for a := range strings.SplitSeq(os.Getenv(EnvKafka), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// KafkaKinds returns the kinds of cluster the behaviour suites run over:
// kfake and both Apache Kafka lines, or kfake and the external cluster
// when CONSUMERGROUP_TEST_KAFKA names one.
func KafkaKinds() []Kind {
	if len(externalAddrs()) > 0 {
		return []Kind{KindKfake, KindExternal}
	}
	return append([]Kind{KindKfake}, ApacheKinds...)
}

// topicAdmin creates and grows topics through the Admin API.
type topicAdmin struct {
	admin *kadm.Client
	name  string // the cluster, for errors
}

// CreateTopic creates topic with partitions partitions (replication factor
// 1) and returns once every partition has a leader.
func (a *topicAdmin) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	if partitions < 1 {
		return errorf("topic %q: %d partitions, need at least 1", topic, partitions)
	}
	err := a.retryAdmin(ctx, func() error {
		r, err := a.admin.CreateTopic(ctx, partitions, 1, nil, topic)
		if err == nil {
			err = r.Err
		}
		if err != nil && strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
			return nil // an earlier attempt of ours got through
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("testenv: %s: creating topic %q: %w", a.name, topic, err)
	}
	return a.awaitPartitions(ctx, topic, partitions)
}

// AddPartitions grows topic to total partitions and returns once every
// partition has a leader.
func (a *topicAdmin) AddPartitions(ctx context.Context, topic string, total int32) error {
	err := a.retryAdmin(ctx, func() error {
		r, err := a.admin.UpdatePartitions(ctx, int(total), topic)
		if err == nil {
			err = r.Error()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("testenv: %s: growing topic %q to %d partitions: %w", a.name, topic, total, err)
	}
	return a.awaitPartitions(ctx, topic, total)
}

// retryAdmin runs op until it succeeds, fails with a non-retriable error,
// or ctx ends: a broker that just started may not have a controller that
// accepts requests yet.
func (a *topicAdmin) retryAdmin(ctx context.Context, op func() error) error {
	for {
		err := op()
		if err == nil || !retriableAdmin(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// retriableAdmin reports whether an admin error is one a starting broker
// gives for a moment.
func retriableAdmin(err error) bool {
	for _, s := range []string{"NOT_CONTROLLER", "BROKER_NOT_AVAILABLE", "LEADER_NOT_AVAILABLE", "REQUEST_TIMED_OUT", "connection refused"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// awaitPartitions waits until metadata shows topic with total partitions,
// each with a leader.
func (a *topicAdmin) awaitPartitions(ctx context.Context, topic string, total int32) error {
	for {
		m, err := a.admin.Metadata(ctx, topic)
		if err == nil {
			if td, ok := m.Topics[topic]; ok && td.Err == nil && int32(len(td.Partitions)) == total {
				ready := true
				for _, p := range td.Partitions {
					ready = ready && p.Leader >= 0 && p.Err == nil
				}
				if ready {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: %s: topic %q not ready with %d partitions: %w (last: %v)", a.name, topic, total, ctx.Err(), err)
		case <-time.After(kafkaPollInterval):
		}
	}
}

// CommittedOffsets is group's committed offsets in __consumer_offsets, by
// topic and partition (partitions without one left out), read through adm.
// A fresh broker answers COORDINATOR_NOT_AVAILABLE for a moment: retriable
// errors are tried again until ctx ends.
func CommittedOffsets(ctx context.Context, adm *kadm.Client, group string) (map[string]map[int32]int64, error) {
	for {
		resp, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			err = resp.Error()
		}
		if err == nil {
			out := map[string]map[int32]int64{}
			resp.Each(func(o kadm.OffsetResponse) {
				if o.At >= 0 {
					if out[o.Topic] == nil {
						out[o.Topic] = map[int32]int64{}
					}
					out[o.Topic][o.Partition] = o.At
				}
			})
			return out, nil
		}
		if !kerr.IsRetriable(err) {
			return nil, fmt.Errorf("testenv: offsets of group %q: %w", group, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("testenv: offsets of group %q: %w", group, errors.Join(err, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
