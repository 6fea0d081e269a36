package consumergroup_test

import (
	"context"
	"fmt"
	"log"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// A group on Kafka's own coordinator (Kafka 4 has no ZooKeeper): the same
// ConsumerGroup, joined with the brokers' addresses. Its offsets live in
// Kafka, where kadm (or kafka-consumer-groups.sh) sees them.
func ExampleJoinKafkaConsumerGroup() {
	zkAddrs, err := testenv.SharedAddrs() // the test cluster registers itself in ZooKeeper; the group does not use it
	if err != nil {
		log.Fatal(err)
	}
	kafka, err := testenv.StartKafka(zkAddrs, "/example/kafka", 1, map[string]int32{"orders": 1})
	if err != nil {
		log.Fatal(err)
	}
	defer kafka.Close()
	for i := range 3 {
		if err := kafka.Produce(context.Background(), "orders", 0, &kgo.Record{Value: fmt.Appendf(nil, "order %d", i)}); err != nil {
			log.Fatal(err)
		}
	}
	brokers := kafka.Addrs()

	config := consumergroup.NewConsumerGroupConfig()
	config.GroupProtocol = consumergroup.GroupProtocolClassic // or GroupProtocolConsumer (KIP-848, Kafka 4.0+)
	group, err := consumergroup.JoinKafkaConsumerGroup(context.Background(), "billing", []string{"orders"}, brokers, config)
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for ev := range group.Stream() {
		fmt.Printf("%s/%d@%d: %s\n", ev.Topic, ev.Partition, ev.Offset, ev.Value)
		if n++; n == 3 {
			break
		}
	}
	if err := group.Close(); err != nil { // commits what was processed
		log.Fatal(err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	offsets, err := kadm.NewClient(cl).FetchOffsets(context.Background(), "billing")
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
