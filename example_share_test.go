package consumergroup_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// A share group (Kafka 4.2+, KIP-932): the members take records one by one
// from the same partitions, as from a queue. Taking the next accepts the
// previous; a message that cannot be processed now is released, and comes
// again with its delivery count + 1 (to any member); a poison message is
// rejected. Here the Kafka is franz-go's in-process kfake; give your
// brokers instead.
func ExampleJoinKafkaShareGroup() {
	ctx := context.Background()
	kafka, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "jobs"))
	if err != nil {
		log.Fatal(err)
	}
	defer kafka.Close()
	brokers := kafka.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("jobs"))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	for _, job := range []string{"resize", "retry-me", "poison"} {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(job)).FirstErr(); err != nil {
			log.Fatal(err)
		}
	}

	group, err := consumergroup.JoinKafkaShareGroup(ctx, "workers", []string{"jobs"}, brokers, nil)
	if err != nil {
		log.Fatal(err)
	}
	for range 4 {
		ev, err := group.Next(ctx) // accepts the previous message, unless marked otherwise
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s, delivery %d\n", ev.Value, ev.DeliveryCount)
		switch {
		case string(ev.Value) == "retry-me" && ev.DeliveryCount == 1:
			err = group.Release(ev) // delivered again, to any member
		case string(ev.Value) == "poison":
			err = group.Reject(ev) // archived: never delivered again
		}
		if errors.Is(err, consumergroup.ErrLockExpired) {
			continue // its lock ran out: Kafka delivers it again
		} else if err != nil {
			log.Fatal(err)
		}
	}
	if err := group.Close(); err != nil { // accepts the message in hand, flushes, leaves
		log.Fatal(err)
	}
	counts, _ := group.ShareCounts()
	fmt.Printf("accepted %d, released %d, rejected %d\n", counts.Accepted, counts.Released, counts.Rejected)
	// Output:
	// resize, delivery 1
	// retry-me, delivery 1
	// poison, delivery 1
	// retry-me, delivery 2
	// accepted 2, released 1, rejected 1
}

// A worker of a share group on your brokers: each upload is rendered by
// one member; one that cannot be rendered now is released (delivered again,
// maybe to another member), one that can never be is rejected.
func ExampleJoinKafkaShareGroup_worker() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	group, err := consumergroup.JoinKafkaShareGroup(ctx, "thumbnails", []string{"uploads"},
		[]string{"kafka1:9092", "kafka2:9092"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close() // accepts the message in hand, releases what was fetched, leaves

	for {
		ev, err := group.Next(ctx) // accepts the previous message, unless released or rejected
		if err != nil {
			return // ctx ended (a signal): Close runs
		}
		// A slow render keeps its message: the group renews its lock.
		err = render(ev.Value)
		switch {
		case errors.Is(err, errBusy):
			err = group.Release(ev)
		case err != nil:
			err = group.Reject(ev)
		}
		if err != nil {
			log.Print(err) // ErrLockExpired: the lock ran out, Kafka delivers it again
		}
	}
}

// errBusy and render stand for the application's work in the worker example.
var errBusy = errors.New("busy")

func render([]byte) error { return nil }
