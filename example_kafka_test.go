package consumergroup_test

import (
	"context"
	"fmt"
	"log"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// A group on Kafka's own coordinator (Kafka 4 has no ZooKeeper): the same
// ConsumerGroup, joined with the brokers' addresses. Here the Kafka is
// franz-go's in-process kfake, with the topic created; give your brokers
// instead. The group's offsets live in Kafka, where kadm (or
// kafka-consumer-groups.sh) sees them.
func ExampleJoinKafkaConsumerGroup() {
	ctx := context.Background()
	kafka, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		log.Fatal(err)
	}
	defer kafka.Close()
	brokers := kafka.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "order %d", i)}).FirstErr(); err != nil {
			log.Fatal(err)
		}
	}

	config := consumergroup.NewConsumerGroupConfig()
	config.GroupProtocol = consumergroup.GroupProtocolClassic // or GroupProtocolConsumer (KIP-848, Kafka 4.0+)
	group, err := consumergroup.JoinKafkaConsumerGroup(ctx, "billing", []string{"orders"}, brokers, config)
	if err != nil {
		log.Fatal(err)
	}
	for range 3 {
		ev, err := group.Next(ctx) // the previous message counts as processed now
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s/%d@%d: %s\n", ev.Topic, ev.Partition, ev.Offset, ev.Value)
	}
	if err := group.Close(); err != nil { // commits what was processed, the message in hand included
		log.Fatal(err)
	}

	offsets, err := kadm.NewClient(cl).FetchOffsets(ctx, "billing")
	if err != nil {
		log.Fatal(err)
	}
	o, _ := offsets.Lookup("orders", 0)
	fmt.Println("committed in Kafka:", o.At)
	// Output:
	// orders/0@0: order 0
	// orders/0@1: order 1
	// orders/0@2: order 2
	// committed in Kafka: 3
}
