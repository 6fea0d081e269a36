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
			consumer{p.name + ": Poll()", runPoll(onKafka(p.protocol)), false},
			consumer{p.name + ": Batches()", runBatches(onKafka(p.protocol)), false})
	}
}

// dropKIP848Consumers leaves KIP-848's rows out of the throughput table
// (Kafka 3.9 has no KIP-848).
func dropKIP848Consumers() {
	consumers = slices.DeleteFunc(consumers, func(c consumer) bool { return strings.Contains(c.name, "KIP-848") })
}

// onKafka joins ours through Kafka's coordinator with protocol, from the
// oldest message, with the options every franz-go client of the table gets.
func onKafka(protocol string) joinFunc {
	return func(ctx context.Context, b *bench, topic, group string) (*consumergroup.ConsumerGroup, error) {
		cfg := consumergroup.NewConsumerGroupConfig()
		cfg.GroupProtocol = protocol
		cfg.KafkaOptions = kafkaOpts(b)
		return consumergroup.JoinKafkaConsumerGroup(ctx, group, []string{topic}, b.kafka.Addrs(), cfg)
	}
}
