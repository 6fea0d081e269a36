package env

import (
	"context"
	"fmt"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// Broker is the Kafka the benchmarks run against: kfake (StartKafka) or a
// real Apache Kafka broker (StartApache).
type Broker interface {
	Addrs() []string
	CreateTopic(ctx context.Context, topic string, partitions int32) error
	DeleteTopic(ctx context.Context, topic string) error
	Close()
	// Describe names the broker for the report.
	Describe() string
}

// Describe names kfake.
func (k *Kafka) Describe() string {
	if k.child != nil {
		return "kfake (1 broker, in its own process)"
	}
	return "kfake (in-process, 1 broker)"
}

// Apache is a real Apache Kafka 3.9 broker in ZooKeeper mode, registered
// by itself in the benchmarks' ZooKeeper (the jars from
// scripts/ensure-kafka.sh).
type Apache struct{ *testenv.Apache }

// StartApache starts the broker against the ZooKeeper at zkAddr.
func StartApache(zkAddr string) (*Apache, error) {
	a, err := testenv.StartApache(testenv.KindKafka39, []string{zkAddr}, "")
	if err != nil {
		return nil, err
	}
	return &Apache{a}, nil
}

// StartApache4 starts a real Apache Kafka 4 broker (KRaft, one combined
// node): KIP-848 groups run there.
func StartApache4() (*Apache, error) {
	a, err := testenv.StartApache(testenv.KindKafka4, nil, "")
	if err != nil {
		return nil, err
	}
	return &Apache{a}, nil
}

// DeleteTopic deletes topic, freeing its data.
func (a *Apache) DeleteTopic(ctx context.Context, topic string) error {
	r, err := a.Admin().DeleteTopic(ctx, topic)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		return fmt.Errorf("env: deleting topic %s: %w", topic, err)
	}
	return nil
}

// Close stops the broker and removes its data.
func (a *Apache) Close() { a.Apache.Close() }

// Describe names the broker and its version.
func (a *Apache) Describe() string {
	if a.Kind() == testenv.KindKafka4 {
		return fmt.Sprintf("Apache Kafka %s (one KRaft node, JVM heap 512 MB, in its own process)", a.Version())
	}
	return fmt.Sprintf("Apache Kafka %s (one broker in ZooKeeper mode, JVM heap 512 MB, in its own process)", a.Version())
}
