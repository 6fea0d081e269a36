package consumergroup_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// A member subscribed by pattern (README's "Subscribing by pattern"): it
// consumes orders-eu and orders-us, not audit, and orders-asia once it is
// created, within MetadataInterval. On an in-process Kafka.
func ExampleConsumerGroupConfig_topicPattern() {
	ctx := context.Background()
	kafka := exampleKafka("orders-eu", "orders-us", "audit") // one message in each
	defer kafka.Close()
	brokers := kafka.ListenAddrs()

	config := consumergroup.NewConsumerGroupConfig()
	config.TopicPattern = `orders-.*` // RE2, matching whole names: not audit, not old-orders-eu
	config.MetadataInterval = time.Second
	group, err := consumergroup.JoinKafkaConsumerGroup(ctx, "billing", nil, brokers, config) // nil: no topic list
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()

	var got []string
	for range 2 {
		ev, err := group.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		got = append(got, ev.Topic)
	}
	slices.Sort(got)
	fmt.Println(got)

	exampleTopic(kafka, "orders-asia") // created later: consumed within MetadataInterval
	ev, err := group.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Topic)
	// Output:
	// [orders-eu orders-us]
	// orders-asia
}

// exampleKafka starts an in-process Kafka with topics, one message in each.
func exampleKafka(topics ...string) *kfake.Cluster {
	kafka, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range topics {
		exampleTopic(kafka, t)
	}
	return kafka
}

// exampleTopic creates topic with one partition and one message.
func exampleTopic(kafka *kfake.Cluster, topic string) {
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.ListenAddrs()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		log.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("order")}).FirstErr(); err != nil {
		log.Fatal(err)
	}
}
