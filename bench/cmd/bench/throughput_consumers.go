package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// The consumers part 1 measures: raw franz-go, ours in each delivery mode and on each coordinator, franz-go's group consumer, sarama.

// runRaw: franz-go's direct consumer on every partition, from the start.
func runRaw(ctx context.Context, b *bench, topic, _ string, c *counter) error {
	offsets := map[int32]kgo.Offset{}
	for p := int32(0); p < tpPartitions; p++ {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kafkaOpts(b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return countPolled(ctx, cl, c)
}

func joinOurs(ctx context.Context, b *bench, topic, group string, cfg *consumergroup.ConsumerGroupConfig) (*consumergroup.ConsumerGroup, error) {
	if cfg == nil {
		cfg = consumergroup.NewConsumerGroupConfig()
	}
	if b.broker == "apache4" {
		// Kafka 4 (KRaft) registers no broker in ZooKeeper: the group's
		// ZooKeeper coordinator is told the brokers instead.
		cfg.Brokers = b.kafka.Addrs()
	}
	return consumergroup.JoinConsumerGroupTopics(ctx, group, []string{topic}, []string{b.zk.Addr()}, cfg)
}

// runStream: our Stream, the loop only counts. Close (at the end, or when
// ctx ends) closes the channel.
func runStream(ctx context.Context, b *bench, topic, group string, c *counter) error {
	g, err := joinOurs(ctx, b, topic, group, nil)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { g.Close() })
	defer stop()
	defer g.Close()
	for range g.Stream() {
		if c.add(1) {
			return nil
		}
	}
	return ctx.Err()
}

// runNext: our pull API, message by message, the loop only counts (on a
// share group, taking the next accepts the previous one).
func runNext(join joinFunc) func(ctx context.Context, b *bench, topic, group string, c *counter) error {
	return func(ctx context.Context, b *bench, topic, group string, c *counter) error {
		g, err := join(ctx, b, topic, group)
		if err != nil {
			return err
		}
		defer g.Close()
		for {
			if _, err := g.Next(ctx); err != nil {
				return err
			}
			if c.add(1) {
				return nil
			}
		}
	}
}

// joinFunc joins a member of ours for a throughput run.
type joinFunc func(ctx context.Context, b *bench, topic, group string) (*consumergroup.ConsumerGroup, error)

// onZooKeeper joins ours through ZooKeeper, with the library's defaults.
func onZooKeeper(ctx context.Context, b *bench, topic, group string) (*consumergroup.ConsumerGroup, error) {
	return joinOurs(ctx, b, topic, group, nil)
}

// runPoll: our pull API, batch by batch, the loop only counts.
func runPoll(join joinFunc) func(ctx context.Context, b *bench, topic, group string, c *counter) error {
	return func(ctx context.Context, b *bench, topic, group string, c *counter) error {
		g, err := join(ctx, b, topic, group)
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

// runPollRecords: our pull API's escape hatch, franz-go's records batch by
// batch, the loop only counts.
func runPollRecords(ctx context.Context, b *bench, topic, group string, c *counter) error {
	g, err := joinOurs(ctx, b, topic, group, nil)
	if err != nil {
		return err
	}
	defer g.Close()
	for {
		rb, err := g.PollRecords(ctx)
		if err != nil {
			return err
		}
		if c.add(len(rb.Records)) {
			return nil
		}
	}
}

// runBatches: our Batches, the loop only counts.
func runBatches(join joinFunc) func(ctx context.Context, b *bench, topic, group string, c *counter) error {
	return func(ctx context.Context, b *bench, topic, group string, c *counter) error {
		g, err := join(ctx, b, topic, group)
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

// runCheckout: our Checkout, CheckoutInterval 100 ms, the callback Fetches
// into a buffered channel that another goroutine counts.
func runCheckout(ctx context.Context, b *bench, topic, group string, c *counter) error {
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.CheckoutInterval = 100 * time.Millisecond
	g, err := joinOurs(ctx, b, topic, group, cfg)
	if err != nil {
		return err
	}
	defer g.Close()
	events := make(chan *consumergroup.ConsumerEvent, 4096)
	stopper := make(chan bool)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range events {
			if c.add(1) {
				close(stopper)
				for range events { // let Fetch finish
				}
				return
			}
		}
	}()
	defer func() {
		close(events)
		wg.Wait()
	}()
	for ctx.Err() == nil {
		select {
		case <-c.done:
			return nil
		default:
		}
		err := g.Checkout(func(pc *consumergroup.PartitionConsumer) error {
			return pc.Fetch(events, 100*time.Millisecond, stopper)
		})
		switch {
		case errors.Is(err, consumergroup.NoCheckout):
			time.Sleep(time.Millisecond)
		case err != nil:
			return err
		}
	}
	return ctx.Err()
}

// runKgoGroup: franz-go's group consumer, cooperative-sticky, against
// kfake's coordinator.
// countPolled polls cl and counts the records until c reaches its target.
func countPolled(ctx context.Context, cl *kgo.Client, c *counter) error {
	for ctx.Err() == nil {
		n := 0
		cl.PollFetches(ctx).EachRecord(func(*kgo.Record) { n++ })
		if c.add(n) {
			return nil
		}
	}
	return ctx.Err()
}

func runKgoGroup(ctx context.Context, b *bench, topic, group string, c *counter) error {
	cl, err := kgo.NewClient(kafkaOpts(b, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return countPolled(ctx, cl, c)
}

// runSarama: sarama's ConsumerGroup with a handler that counts and marks.
func runSarama(ctx context.Context, b *bench, topic, group string, c *counter) error {
	cfg := sarama.NewConfig()
	cfg.Version = saramaVersion
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	cg, err := sarama.NewConsumerGroup(b.kafka.Addrs(), group, cfg)
	if err != nil {
		return err
	}
	defer cg.Close()
	h := saramaCounter{c}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{topic}, h); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
	}
	return ctx.Err()
}

type saramaCounter struct{ c *counter }

func (h saramaCounter) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			s.MarkMessage(msg, "")
			h.c.add(1)
		case <-s.Context().Done():
			return nil
		}
	}
}
