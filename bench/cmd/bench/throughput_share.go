package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/consumergroup/consumergroup"
)

// Share groups in the throughput table (issue 22): ours through
// JoinKafkaShareGroup (Next and Poll, accepting every message by taking the
// next), franz-go's bare share consumer (PollRecords, each poll accepting
// the previous one's records), beside ours on Kafka classic. One member
// reads the backlog: the cost of acquiring and acknowledging each record,
// not the spread over members.
func init() {
	consumers = append(consumers,
		consumer{"franz-go share group (bare)", runKgoShare, false},
		consumer{"ours on a share group: Next()", runNext(onShare), false},
		consumer{"ours on a share group: Poll()", runPoll(onShare), false})
}

// dropShareConsumers leaves the share group rows out (Kafka 3.9 has none).
func dropShareConsumers() {
	consumers = slices.DeleteFunc(consumers, func(c consumer) bool { return strings.Contains(c.name, "share group") })
}

// onShare joins ours to a share group reading from the oldest message (the
// join sets the group's share.auto.offset.reset from InitialOffset).
func onShare(ctx context.Context, b *bench, topic, group string) (*consumergroup.ConsumerGroup, error) {
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.KafkaOptions = kafkaOpts(b)
	return consumergroup.JoinKafkaShareGroup(ctx, group, []string{topic}, b.kafka.Addrs(), cfg)
}

// runKgoShare: franz-go's share consumer, from the oldest message (the
// group's share.auto.offset.reset set first, as ours does), counting what
// each PollRecords returns; the next poll accepts it.
func runKgoShare(ctx context.Context, b *bench, topic, group string, c *counter) error {
	cl, err := kgo.NewClient(kafkaOpts(b, kgo.ShareGroup(group), kgo.ConsumeTopics(topic))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := shareFromEarliest(ctx, cl, group); err != nil {
		return err
	}
	for ctx.Err() == nil {
		n := 0
		cl.PollRecords(ctx, 0).EachRecord(func(*kgo.Record) { n++ })
		if c.add(n) {
			return cl.FlushAcks(ctx)
		}
	}
	return ctx.Err()
}

// shareFromEarliest sets group's share.auto.offset.reset to earliest.
func shareFromEarliest(ctx context.Context, cl *kgo.Client, group string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Op, cfg.Value = "share.auto.offset.reset", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("earliest")
	r.Configs = append(r.Configs, cfg)
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("set %s's share.auto.offset.reset: %w", group, err)
	}
	if len(resp.Resources) != 1 {
		return fmt.Errorf("set %s's share.auto.offset.reset: %d resources in the answer", group, len(resp.Resources))
	}
	if err := kerr.ErrorForCode(resp.Resources[0].ErrorCode); err != nil {
		return fmt.Errorf("set %s's share.auto.offset.reset: %w", group, err)
	}
	return nil
}
