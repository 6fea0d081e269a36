package cgprom_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/plugin/cgprom"
)

// The series of a group's state: a closed member's must go.
var stateSeries = []string{"consumergroup_lag", "consumergroup_committed_offset", "consumergroup_log_end_offset",
	"consumergroup_partitions_held", "consumergroup_delivery_queue_messages", "consumergroup_client_buffered_records"}

// Issue 20.16: after Close, the collector kept the member's series at their
// last values (lag, committed, log_end, partitions_held 4), as if it still
// held the partitions.
func TestCloseRemovesSeries(t *testing.T) {
	servers := testenv.ZooKeeperAddrs(t)
	chroot := testenv.Chroot(t)
	kafka, err := testenv.StartKafka(servers, chroot, 1, map[string]int32{"t": 4})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for p := range int32(4) {
		if err := kafka.Produce(ctx, "t", p, &kgo.Record{Value: []byte("a")}, &kgo.Record{Value: []byte("b")}); err != nil {
			t.Fatal(err)
		}
	}
	m := cgprom.NewMetrics("")
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.Metrics = m
	cfg.CommitInterval = 50 * time.Millisecond
	cfg.ZookeeperTimeout = 2 * time.Second
	g, err := consumergroup.JoinConsumerGroup("closing", "t", []string{strings.Join(servers, ",") + chroot}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for range 8 {
		select {
		case <-g.Stream():
		case <-ctx.Done():
			t.Fatal("8 messages not delivered within 30 s")
		}
	}
	// The commits of what was read, and the partitions' lag, come in the
	// background.
	for testutil.CollectAndCount(m, "consumergroup_lag") != 4 || testutil.ToFloat64(m.Partitions("closing")) != 4 {
		select {
		case <-ctx.Done():
			t.Fatalf("lag series %d, partitions_held %v; want 4 and 4", testutil.CollectAndCount(m, "consumergroup_lag"), testutil.ToFloat64(m.Partitions("closing")))
		case <-time.After(20 * time.Millisecond): // polling the metrics
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range stateSeries {
		if n := testutil.CollectAndCount(m, name); n != 0 {
			t.Errorf("%s: %d series after Close, want none", name, n)
		}
	}
	if n := testutil.CollectAndCount(m, "consumergroup_delivered_messages_total"); n != 4 {
		t.Errorf("delivered_messages_total: %d series after Close, want the 4 totals kept", n)
	}
}

// Closed removes the gauges of its group only, and keeps the totals.
func TestClosedEvent(t *testing.T) {
	m := cgprom.NewMetrics("")
	for _, g := range []string{"g", "h"} {
		m.Lag(consumergroup.LagEvent{Group: g, Partition: p0, Committed: 4, LogEnd: 10, Lag: 6})
		m.Rebalanced(consumergroup.RebalanceEvent{Group: g, Took: time.Second, Held: 1})
		m.Polled(consumergroup.PollEvent{Group: g, Fetched: 7, Buffered: 3})
		m.Delivered(consumergroup.DeliveredEvent{Group: g, Partition: p0, Messages: 1, Bytes: 10})
	}
	m.Closed(consumergroup.ClosedEvent{Group: "g"})
	for _, name := range stateSeries {
		if n := testutil.CollectAndCount(m, name); n != 1 {
			t.Errorf("%s: %d series after g closed, want h's only", name, n)
		}
	}
	for _, name := range []string{"consumergroup_delivered_messages_total", "consumergroup_rebalances_total"} {
		if n := testutil.CollectAndCount(m, name); n != 2 {
			t.Errorf("%s: %d series after g closed, want both groups' totals", name, n)
		}
	}
}
