package consumergroup_test

import (
	"context"
	"fmt"
	"log"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// zookeeperServers returns the test ZooKeeper's addresses; in your code,
// your ensemble's.
func zookeeperServers() []string {
	addrs, err := testenv.SharedAddrs()
	if err != nil {
		log.Fatal(err)
	}
	return addrs
}

// A member registers, claims two partitions, and commits both offsets in one
// fenced step.
func ExampleZK_CommitOffsets() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	z, err := cg.DialZK(ctx, cg.ZKConfig{Servers: zookeeperServers(), Chroot: "/example/commit"})
	if err != nil {
		log.Fatal(err)
	}
	defer z.Close()

	id, err := cg.NewConsumerID("billing")
	if err != nil {
		log.Fatal(err)
	}
	if err := z.RegisterGroup(ctx, "billing"); err != nil {
		log.Fatal(err)
	}
	if err := z.RegisterConsumer(ctx, "billing", id, "invoices"); err != nil {
		log.Fatal(err)
	}
	for _, p := range []int32{0, 1} {
		if err := z.Claim(ctx, "billing", "invoices", p, id); err != nil {
			log.Fatal(err)
		}
	}
	// The next offsets to consume: last processed plus one.
	err = z.CommitOffsets(ctx, "billing", id, map[cg.TopicPartition]int64{
		{Topic: "invoices", Partition: 0}: 42,
		{Topic: "invoices", Partition: 1}: 7,
	})
	if err != nil {
		log.Fatal(err)
	}
	offsets, err := z.Offsets(ctx, "billing")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(offsets["invoices"])
	if err := z.DeleteAll(ctx, "/"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// map[0:42 1:7]
}
