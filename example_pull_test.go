package consumergroup_test

import (
	"context"
	"fmt"
	"log"

	"github.com/consumergroup/consumergroup"
)

// The pull API: the application asks the group for the next message, on its
// own goroutine. Calling Next again means the message returned before is
// processed: the group commits it, and while the application waits inside
// Next it holds nothing, so a rebalance never waits for it.
func ExampleConsumerGroup_Next() {
	zookeeper, stop := exampleCluster("pull_topic", 3)
	defer stop()

	group, err := consumergroup.JoinConsumerGroup("pull_group", "pull_topic", zookeeper, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close() // commits what was processed, the message in hand included

	ctx := context.Background() // cancel it to stop waiting
	for range 3 {
		ev, err := group.Next(ctx)
		if err != nil {
			log.Fatal(err) // consumergroup.ErrClosed once the group is closed
		}
		fmt.Printf("%d: %s\n", ev.Offset, ev.Value) // process it; the next call counts it
	}
	// Output:
	// 0: message 0
	// 1: message 1
	// 2: message 2
}

// A Stream loop that says when each message is finished: the group then
// counts it at once instead of at the next receive, so that on a quiet
// topic a rebalance does not wait HandoffTimeout for the loop's last
// message and the idle group's lag reaches zero.
func ExampleConsumerGroup_MarkDone() {
	zookeeper, stop := exampleCluster("done_topic", 3)
	defer stop()

	group, err := consumergroup.JoinConsumerGroup("done_group", "done_topic", zookeeper, nil)
	if err != nil {
		log.Fatal(err)
	}
	n := 0
	for ev := range group.Stream() {
		fmt.Printf("%d: %s\n", ev.Offset, ev.Value)
		if err := group.MarkDone(ev); err != nil {
			log.Fatal(err)
		}
		if n++; n == 3 {
			group.Close()
		}
	}
	// Output:
	// 0: message 0
	// 1: message 1
	// 2: message 2
}

// PollRecords: the pull API's fastest path, franz-go's own records without
// the copy into events, a partition's batch at a time. Calling it again
// means the batch is processed; the records may be kept for good, but not
// modified before the next call.
func ExampleConsumerGroup_PollRecords() {
	zookeeper, stop := exampleCluster("records_topic", 3)
	defer stop()

	group, err := consumergroup.JoinConsumerGroup("records_group", "records_topic", zookeeper, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()

	ctx := context.Background()
	for n := 0; n < 3; {
		batch, err := group.PollRecords(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, r := range batch.Records {
			fmt.Printf("%s/%d %d: %s\n", batch.Topic, batch.Partition, r.Offset, r.Value)
			n++
		}
	}
	// Output:
	// records_topic/0 0: message 0
	// records_topic/0 1: message 1
	// records_topic/0 2: message 2
}
