package consumergroup_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// exampleCluster starts a Kafka registered in the test ZooKeeper under its
// own chroot, with topic holding messages "message 0".."message n-1" in one
// partition, and returns the ZooKeeper address to give the group
// ("host:port/chroot") and what stops it all.
func exampleCluster(topic string, n int) ([]string, func()) {
	addrs, err := testenv.SharedAddrs()
	if err != nil {
		log.Fatal(err)
	}
	chroot := fmt.Sprintf("/example/%s", topic)
	kafka, err := testenv.StartKafka(addrs, chroot, 1, map[string]int32{topic: 1})
	if err != nil {
		log.Fatal(err)
	}
	for i := range n {
		err := kafka.Produce(context.Background(), topic, 0, &kgo.Record{Value: fmt.Appendf(nil, "message %d", i)})
		if err != nil {
			log.Fatal(err)
		}
	}
	return []string{addrs[0] + chroot}, func() { kafka.Close() }
}

// The seed's example, unchanged but for the addresses and for stopping
// after ten messages instead of at Ctrl-C.
func Example() {
	zookeeper, stop := exampleCluster("my_topic", 10)
	defer stop()

	consumerGroupName := "my_consumer_group_name"
	kafkaTopic := "my_topic"

	consumer, consumerErr := consumergroup.JoinConsumerGroup(consumerGroupName, kafkaTopic, zookeeper, nil)
	if consumerErr != nil {
		log.Fatalln(consumerErr)
	}

	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt)
	go func() {
		<-c
		consumer.Close()
	}()
	defer func() { signal.Stop(c); close(c) }()

	eventCount := 0

	stream := consumer.Stream()
	for {
		event, ok := <-stream
		if !ok {
			break
		}

		// Process event
		fmt.Println(string(event.Value))

		eventCount += 1
		if eventCount == 10 {
			consumer.Close()
		}
	}

	fmt.Printf("Processed %d events.\n", eventCount)
	// Output:
	// message 0
	// message 1
	// message 2
	// message 3
	// message 4
	// message 5
	// message 6
	// message 7
	// message 8
	// message 9
	// Processed 10 events.
}
