// Command quickstart consumes a topic as a member of a group coordinated by
// Kafka, until SIGINT (Ctrl-C) or SIGTERM, then leaves the group.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/consumergroup/consumergroup"
)

func main() {
	brokers := flag.String("brokers", "localhost:9092", "Kafka's bootstrap servers, comma-separated")
	topic := flag.String("topic", "invoices", "the topic to consume; it must exist")
	flag.Parse()

	// SIGINT or SIGTERM ends ctx: Next returns, and run's deferred Close
	// commits and leaves the group, so that the partitions move to the other
	// members at once instead of after the session timeout (45 s).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, strings.Split(*brokers, ","), *topic, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, brokers []string, topic string, out io.Writer) error {
	group, err := consumergroup.JoinKafkaConsumerGroup(ctx, "billing", []string{topic}, brokers, nil)
	if err != nil {
		return err
	}
	defer group.Close() // commits what was processed, then leaves the group

	for {
		// Asking for the next message means the previous one is processed.
		event, err := group.Next(ctx)
		if errors.Is(err, context.Canceled) {
			return nil // a signal: Close runs
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s/%d@%d: %s\n", event.Topic, event.Partition, event.Offset, event.Value)
	}
}
