package consumergroup_test

// Examples that are also the Go snippets of docs/USAGE.md and
// docs/MIGRATION.md (internal/doccheck checks that each snippet is the body
// of its example, word for word). They are compiled, not run: they need your
// ZooKeeper or Kafka at the addresses they name. ExampleJoinKafkaConsumerGroup
// runs against an in-process Kafka.

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// A member coordinated through ZooKeeper, on Kafka's ZooKeeper layout,
// reading with Next until SIGINT or SIGTERM.
func ExampleJoinConsumerGroup() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	group, err := consumergroup.JoinConsumerGroup("billing", "invoices",
		[]string{"zk1:2181", "zk2:2181/kafka"}, nil) // Kafka's zookeeper.connect: the chroot last
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close() // commits what was processed, the message in hand included

	for {
		event, err := group.Next(ctx) // the previous event counts as processed now
		if err != nil {
			return // ctx's error after a signal, or consumergroup.ErrClosed after Close
		}
		fmt.Printf("%s/%d@%d: %s\n", event.Topic, event.Partition, event.Offset, event.Value)
	}
}

// A Stream loop on Kafka's coordinator with KIP-848, that says when each
// message is finished (MarkDone), and closes the group on SIGINT or SIGTERM,
// which ends the loop.
func ExampleJoinKafkaConsumerGroup_stream() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.GroupProtocol = consumergroup.GroupProtocolConsumer // KIP-848, Kafka 4.0+; the default is classic
	group, err := consumergroup.JoinKafkaConsumerGroup(ctx, "billing", []string{"invoices"},
		[]string{"kafka1:9092", "kafka2:9092"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		<-ctx.Done()
		group.Close() // commits what was marked done, leaves the group, closes Stream's channel
	}()

	for event := range group.Stream() {
		fmt.Printf("%s/%d@%d: %s\n", event.Topic, event.Partition, event.Offset, event.Value)
		if err := group.MarkDone(event); err != nil { // finished: a hand-off need not wait for it
			log.Print(err)
		}
	}
}

// The group's log, through log/slog: joins, claims, releases, hand-offs,
// commits and errors, with the member and partitions as attributes.
func ExampleConsumerGroupConfig_logger() {
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	group, err := consumergroup.JoinConsumerGroup("billing", "invoices", []string{"zk1:2181/kafka"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()
}

// Package zookeeper reads and writes Kafka's ZooKeeper layout directly: the
// brokers registered, a topic's partitions, groups and their offsets.
func Example_zookeeperLayout() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{
		Servers: []string{"zk1:2181", "zk2:2181", "zk3:2181"},
		Chroot:  "/kafka", // as in Kafka's zookeeper.connect
	})
	if err != nil {
		log.Fatal(err)
	}
	defer z.Close()

	brokers, err := z.Brokers(ctx) // from /brokers/ids (the PLAINTEXT listener)
	if err != nil {
		log.Print(err)
	}
	partitions, _, err := z.Partitions(ctx, "invoices") // and a watch that fires when partitions are added
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(brokers, partitions)
}

// Migration, step 1: a ZooKeeper group that also copies its commits to
// Kafka's __consumer_offsets (docs/MIGRATION.md).
func ExampleConsumerGroupConfig_dualCommit() {
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.DualCommit = true
	group, err := consumergroup.JoinConsumerGroup("billing", "invoices", []string{"zk1:2181/kafka"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()
}

// Migration, step 5: the same group's members on Kafka's coordinator, after
// `groupctl migrate` (docs/MIGRATION.md).
func ExampleJoinKafkaConsumerGroup_migrated() {
	ctx := context.Background()
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.GroupProtocol = consumergroup.GroupProtocolClassic // or GroupProtocolConsumer (KIP-848, Kafka 4.0+)
	group, err := consumergroup.JoinKafkaConsumerGroup(ctx, "billing", []string{"invoices"}, []string{"kafka1:9092"}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()
}
