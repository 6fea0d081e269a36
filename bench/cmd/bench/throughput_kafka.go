package main

import (
	"context"
	"slices"
	"strings"

	"github.com/consumergroup/consumergroup"
)

// Ours on Kafka's own group coordinator in the throughput table, beside
// ours on ZooKeeper: the same delivery engine, positioned by franz-go's
// group consumer instead of its direct consumer. Poll and Batches, the two
// forms meant for throughput.
func init() {
	for _, p := range []struct{ name, protocol string }{
		{"ours on Kafka classic", consumergroup.GroupProtocolClassic},
		{"ours on Kafka KIP-848", consumergroup.GroupProtocolConsumer},
	} {
		consumers = append(consumers,
			consumer{p.name + ": Poll()", runKafkaPoll(p.protocol), false},
			consumer{p.name + ": Batches()", runKafkaBatches(p.protocol), false})
	}
}

// dropKIP848Consumers leaves KIP-848's rows out of the throughput table
// (Kafka 3.9 has no KIP-848).
func dropKIP848Consumers() {
	consumers = slices.DeleteFunc(consumers, func(c consumer) bool { return strings.Contains(c.name, "KIP-848") })
}

// joinOursKafka joins ours through Kafka's coordinator, from the oldest
// message, with the options every franz-go client of the table gets.
func joinOursKafka(ctx context.Context, b *bench, topic, group, protocol string) (*consumergroup.ConsumerGroup, error) {
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.GroupProtocol = protocol
	cfg.KafkaOptions = kafkaOpts(b)
	return consumergroup.JoinKafkaConsumerGroup(ctx, group, []string{topic}, b.kafka.Addrs(), cfg)
}

// runKafkaPoll: our pull API on Kafka's coordinator, the loop only counts.
func runKafkaPoll(protocol string) func(ctx context.Context, b *bench, topic, group string, c *counter) error {
	return func(ctx context.Context, b *bench, topic, group string, c *counter) error {
		g, err := joinOursKafka(ctx, b, topic, group, protocol)
		if err != nil {
			return err
		}
		defer g.Close()
		for {
			bt, err := g.Poll(ctx)
			if err != nil {
				return err
			}
			if c.add(len(bt.Events)) {
				return nil
			}
		}
	}
}

// runKafkaBatches: our Batches on Kafka's coordinator, the loop only counts.
func runKafkaBatches(protocol string) func(ctx context.Context, b *bench, topic, group string, c *counter) error {
	return func(ctx context.Context, b *bench, topic, group string, c *counter) error {
		g, err := joinOursKafka(ctx, b, topic, group, protocol)
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() { g.Close() })
		defer stop()
		defer g.Close()
		for bt := range g.Batches() {
			if c.add(len(bt.Events)) {
				return nil
			}
		}
		return ctx.Err()
	}
}
