package consumergroup_test

import (
	"context"
	"fmt"
	"log"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// exampleCluster, for the examples on ZooKeeper, starts a Kafka registered
// in the test ZooKeeper under its own chroot, with topic holding messages
// "message 0".."message n-1" in one partition, and returns the ZooKeeper
// address to give the group ("host:port/chroot") and what stops it all.
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
