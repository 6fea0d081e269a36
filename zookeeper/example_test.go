package zookeeper_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/consumergroup/consumergroup/zookeeper"
)

// A look at a cluster and its groups: the brokers Kafka registered, the
// groups and their committed offsets.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{
		Servers: []string{"zk1:2181", "zk2:2181", "zk3:2181"},
		Chroot:  "/kafka", // as in Kafka's zookeeper.connect
	})
	if err != nil {
		log.Fatal(err)
	}
	defer z.Close()

	brokers, err := z.Brokers(ctx)
	if err != nil {
		log.Print(err) // some registrations could not be read: brokers holds the others
	}
	fmt.Println("brokers:", brokers)
	groups, err := z.Groups(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range groups {
		offsets, err := z.Offsets(ctx, g)
		if err != nil {
			log.Print(err)
		}
		fmt.Println(g, offsets)
	}
}

// A member registers, claims two partitions, and commits both offsets in one
// fenced step: if it no longer owned either, nothing would be written.
func ExampleClient_CommitOffsets() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{Servers: []string{"localhost:2181"}})
	if err != nil {
		log.Fatal(err)
	}
	defer z.Close()

	id, err := zookeeper.NewConsumerID("billing")
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
			log.Fatal(err) // ErrAlreadyClaimed: another member owns it
		}
	}
	// The next offsets to consume: last processed plus one.
	err = z.CommitOffsets(ctx, "billing", id, map[zookeeper.TopicPartition]int64{
		{Topic: "invoices", Partition: 0}: 42,
		{Topic: "invoices", Partition: 1}: 7,
	})
	if errors.Is(err, zookeeper.ErrNotOwner) || errors.Is(err, zookeeper.ErrNotRegistered) {
		log.Fatal("lost the partitions: nothing committed: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	offsets, err := z.Offsets(ctx, "billing")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(offsets["invoices"]) // map[0:42 1:7]
}

// A member follows the group's membership: every join or leave fires the
// watch once, and it reads again.
func ExampleClient_Consumers() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{Servers: []string{"localhost:2181"}})
	if err != nil {
		log.Fatal(err)
	}
	defer z.Close()

	for {
		ids, watch, err := z.Consumers(ctx, "billing")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("members:", ids)
		select {
		case <-watch: // a join, a leave, or the session's end: read again
		case <-ctx.Done():
			return
		}
	}
}

// A member's registration and claims live as long as its session: when
// Done is closed they are gone, and another member may own its partitions.
func ExampleSession() {
	ctx := context.Background()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{Servers: []string{"localhost:2181"}, SessionTimeout: 6 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer z.Close()

	s, err := z.Session(ctx)
	if err != nil {
		log.Fatal(err)
	}
	<-s.Done()
	if errors.Is(s.Err(), zookeeper.ErrSessionExpired) {
		// Stop processing what this session claimed, then register again
		// under a new consumer id, in the next session (z.Session).
		fmt.Println("session expired:", s.Err())
	}
}

// Offsets are reset while the group has no member; with members, nothing is
// changed.
func ExampleClient_ResetOffsets() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{Servers: []string{"localhost:2181"}})
	if err != nil {
		log.Fatal(err)
	}
	defer z.Close()

	err = z.ResetOffsets(ctx, "billing", map[zookeeper.TopicPartition]int64{
		{Topic: "invoices", Partition: 0}: 0,
		{Topic: "invoices", Partition: 1}: 0,
	})
	switch {
	case errors.Is(err, zookeeper.ErrGroupActive):
		fmt.Println("stop the group's consumers first:", err)
	case err != nil:
		log.Fatal(err)
	}
}

func ExampleTopicPartition_Compare() {
	tps := []zookeeper.TopicPartition{{Topic: "b", Partition: 0}, {Topic: "a", Partition: 2}, {Topic: "a", Partition: 1}}
	slices.SortFunc(tps, zookeeper.TopicPartition.Compare)
	fmt.Println(tps)
	// Output:
	// [{a 1} {a 2} {b 0}]
}
