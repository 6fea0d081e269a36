package cgprom_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/internal/testenv/leakcheck"
	"github.com/consumergroup/consumergroup/plugin/cgprom"
)

func TestMain(m *testing.M) { leakcheck.Main(m, testenv.StopShared) }

var (
	p0 = consumergroup.TopicPartition{Topic: "t", Partition: 0}
	p1 = consumergroup.TopicPartition{Topic: "t", Partition: 1}
)

// TestEvents feeds events and reads the metrics they make.
func TestEvents(t *testing.T) {
	m := cgprom.NewMetrics("")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	m.Delivered(consumergroup.DeliveredEvent{Group: "g", Partition: p0, Messages: 1, Bytes: 10})
	m.Delivered(consumergroup.DeliveredEvent{Group: "g", Partition: p0, Messages: 3, Bytes: 5})
	m.Delivered(consumergroup.DeliveredEvent{Group: "g", Partition: p1, Messages: 2, Bytes: 1})
	m.Lag(consumergroup.LagEvent{Group: "g", Partition: p0, Committed: 4, LogEnd: 10, Lag: 6})
	m.Lag(consumergroup.LagEvent{Group: "g", Partition: p1, Committed: 2, LogEnd: 2, Lag: 0})
	m.Committed(consumergroup.CommitEvent{Group: "g", Took: 2 * time.Millisecond})
	m.Committed(consumergroup.CommitEvent{Group: "g", Took: time.Millisecond, Err: errors.New("fenced")})
	m.HandedOff(consumergroup.HandoffEvent{Group: "g", Partitions: []consumergroup.TopicPartition{p0}, Waited: time.Second, TimedOut: true})
	m.Polled(consumergroup.PollEvent{Group: "g", Fetched: 7, Buffered: 3})

	want := `
# HELP consumergroup_delivered_messages_total Messages handed to the application.
# TYPE consumergroup_delivered_messages_total counter
consumergroup_delivered_messages_total{group="g",partition="0",topic="t"} 4
consumergroup_delivered_messages_total{group="g",partition="1",topic="t"} 2
# HELP consumergroup_lag Log end minus committed offset, as the member knows them.
# TYPE consumergroup_lag gauge
consumergroup_lag{group="g",partition="0",topic="t"} 6
consumergroup_lag{group="g",partition="1",topic="t"} 0
# HELP consumergroup_commit_failures_total Commits of offsets that failed.
# TYPE consumergroup_commit_failures_total counter
consumergroup_commit_failures_total{group="g"} 1
# HELP consumergroup_handoff_timeouts_total Hand-offs whose wait HandoffTimeout cut short.
# TYPE consumergroup_handoff_timeouts_total counter
consumergroup_handoff_timeouts_total{group="g"} 1
# HELP consumergroup_delivery_queue_messages Messages fetched by the last poll and waiting for the application.
# TYPE consumergroup_delivery_queue_messages gauge
consumergroup_delivery_queue_messages{group="g"} 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "consumergroup_delivered_messages_total", "consumergroup_lag",
		"consumergroup_commit_failures_total", "consumergroup_handoff_timeouts_total", "consumergroup_delivery_queue_messages"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m, "consumergroup_commit_seconds"); n != 1 {
		t.Fatalf("commit_seconds: %d series", n)
	}

	// A rebalance that releases p0 removes its gauges; a session loss all.
	m.Rebalanced(consumergroup.RebalanceEvent{Group: "g", Took: time.Second, Released: []consumergroup.TopicPartition{p0}, Held: 1})
	if n := testutil.CollectAndCount(m, "consumergroup_lag"); n != 1 {
		t.Fatalf("lag series after releasing p0: %d", n)
	}
	if v := testutil.ToFloat64(m.Partitions("g")); v != 1 {
		t.Fatalf("partitions_held %v", v)
	}
	m.SessionLost(consumergroup.SessionLossEvent{Group: "g", Err: consumergroup.ErrSessionExpired})
	if n := testutil.CollectAndCount(m, "consumergroup_lag"); n != 0 {
		t.Fatalf("lag series after the session loss: %d", n)
	}
	want = `
# HELP consumergroup_session_losses_total Coordination sessions lost under the member.
# TYPE consumergroup_session_losses_total counter
consumergroup_session_losses_total{group="g"} 1
# HELP consumergroup_rebalances_total Rebalances of the member that completed.
# TYPE consumergroup_rebalances_total counter
consumergroup_rebalances_total{group="g"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "consumergroup_session_losses_total", "consumergroup_rebalances_total"); err != nil {
		t.Fatal(err)
	}
}

// TestGroup runs a member with the metrics and reads them over HTTP.
func TestGroup(t *testing.T) {
	servers := testenv.ZooKeeperAddrs(t)
	chroot := testenv.Chroot(t)
	kafka, err := testenv.StartKafka(servers, chroot, 1, map[string]int32{"t": 2})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for p := range int32(2) {
		var recs []*kgo.Record
		for i := range 5 {
			recs = append(recs, &kgo.Record{Value: []byte{byte('a' + i)}})
		}
		if err := kafka.Produce(ctx, "t", p, recs...); err != nil {
			t.Fatal(err)
		}
	}

	m := cgprom.NewMetrics("consumergroup")
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.Metrics = m
	cfg.CommitInterval = 50 * time.Millisecond
	cfg.ZookeeperTimeout = 2 * time.Second
	addr := strings.Join(servers, ",") + chroot
	g, err := consumergroup.JoinConsumerGroup("g", "t", []string{addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for range 10 {
		select {
		case <-g.Stream():
		case <-ctx.Done():
			t.Fatal("no message within 30 s")
		}
	}
	want := []string{
		`consumergroup_delivered_messages_total{group="g",partition="0",topic="t"} 5`,
		`consumergroup_delivered_messages_total{group="g",partition="1",topic="t"} 5`,
		`consumergroup_delivered_bytes_total{group="g",partition="1",topic="t"} 5`,
		`consumergroup_log_end_offset{group="g",partition="0",topic="t"} 5`,
		`consumergroup_rebalances_total{group="g"} 1`,
		`consumergroup_partitions_held{group="g"} 2`,
		`consumergroup_commit_seconds_count{group="g"}`,
	}
	var body string
	for {
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/metrics lacks %s:\n%s", missing, body)
		case <-time.After(20 * time.Millisecond): // polling the metrics
		}
	}
}

// BenchmarkDelivered: the cost of one Delivered call, per message of a
// Stream, with the series of its partition already made.
func BenchmarkDelivered(b *testing.B) {
	m := cgprom.NewMetrics("")
	e := consumergroup.DeliveredEvent{Group: "g", Partition: p0, Messages: 1, Bytes: 100}
	m.Delivered(e)
	b.ReportAllocs()
	for b.Loop() {
		m.Delivered(e)
	}
}

// TestShared: a share group member's acknowledgements (ShareMetrics) are
// counted by outcome, per partition, beside the consumer groups' series.
func TestShared(t *testing.T) {
	m := cgprom.NewMetrics("")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	var sm consumergroup.ShareMetrics = m // a Metrics the share group also reports to
	sm.Shared(consumergroup.ShareEvent{Group: "q", Partition: p0, Counts: consumergroup.ShareCounts{Acquired: 5, Redelivered: 1}})
	sm.Shared(consumergroup.ShareEvent{Group: "q", Partition: p0, Counts: consumergroup.ShareCounts{Accepted: 3, Rejected: 1}})
	sm.Shared(consumergroup.ShareEvent{Group: "q", Partition: p1, Counts: consumergroup.ShareCounts{Released: 1, Expired: 1, Renewed: 2, AckErrors: 1}})
	want := `
# HELP consumergroup_share_records_total Share groups (JoinKafkaShareGroup): records acquired, redelivered (acquired with a delivery count above 1), accepted, released, rejected, renewed (lock renewals), expired (locks that ran out) and ack_errors (partitions whose acknowledgements Kafka refused), by outcome.
# TYPE consumergroup_share_records_total counter
consumergroup_share_records_total{group="q",outcome="accepted",partition="0",topic="t"} 3
consumergroup_share_records_total{group="q",outcome="acquired",partition="0",topic="t"} 5
consumergroup_share_records_total{group="q",outcome="ack_errors",partition="1",topic="t"} 1
consumergroup_share_records_total{group="q",outcome="expired",partition="1",topic="t"} 1
consumergroup_share_records_total{group="q",outcome="redelivered",partition="0",topic="t"} 1
consumergroup_share_records_total{group="q",outcome="rejected",partition="0",topic="t"} 1
consumergroup_share_records_total{group="q",outcome="released",partition="1",topic="t"} 1
consumergroup_share_records_total{group="q",outcome="renewed",partition="1",topic="t"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "consumergroup_share_records_total"); err != nil {
		t.Fatal(err)
	}
}
