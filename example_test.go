package consumergroup_test

import (
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/consumergroup/consumergroup"
)

// The seed's example, unchanged but for the addresses and for stopping
// after ten messages instead of at Ctrl-C. exampleCluster stands for your
// ZooKeeper (with a Kafka registered in it, and the topic created): it
// starts the tests' own, and returns its address, "host:port/chroot".
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
