package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// bigZKGroup is a ZooKeeper-coordinated group "big" on a topic "t" of n
// partitions, each with a committed offset (its number) and owned by one
// member, with kfake registered in the same chroot for the log end
// offsets. It returns the flags describe and lag read it with.
func bigZKGroup(tb testing.TB, n int32) *common {
	tb.Helper()
	c, _ := bigZKGroupWith(tb, n, func(p int32) (int64, bool) { return int64(p), true })
	return c
}

// bigZKGroupWith is bigZKGroup with committed giving each partition's
// committed offset (false: none); it returns kfake too.
func bigZKGroupWith(tb testing.TB, n int32, committed func(p int32) (int64, bool)) (*common, *testenv.Kafka) {
	tb.Helper()
	servers := testenv.ZooKeeperAddrs(tb)
	chroot := testenv.Chroot(tb)
	kafka, err := testenv.StartKafka(servers, chroot, 1, map[string]int32{"t": n})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { kafka.Close() })
	ctx := context.Background()
	z, err := zookeeper.Dial(ctx, zookeeper.Config{Servers: servers, Chroot: chroot})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { z.Close() }) // the owner nodes are ephemeral: the member's session lasts the test
	tps := make([]zookeeper.TopicPartition, n)
	offsets := make(map[zookeeper.TopicPartition]int64, n)
	for p := range n {
		tps[p] = zookeeper.TopicPartition{Topic: "t", Partition: p}
		if o, ok := committed(p); ok {
			offsets[tps[p]] = o
		}
	}
	if err := z.ResetOffsets(ctx, "big", offsets); err != nil {
		tb.Fatal(err)
	}
	id, _ := zookeeper.NewConsumerID("big")
	if err := z.RegisterConsumer(ctx, "big", id, "t"); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < len(tps); i += 1000 {
		if _, err := z.ClaimAll(ctx, "big", id, tps[i:min(i+1000, len(tps))]); err != nil {
			tb.Fatal(err)
		}
	}
	return &common{zookeeper: strings.Join(servers, ",") + chroot, timeout: 10 * time.Second, output: "table", getenv: os.Getenv}, kafka
}

// BenchmarkDescribeZK10k measures, end to end on a real ZooKeeper and
// kfake, what groupctl describe and lag do per request on a group of
// 10,000 partitions, on an open connection: DescribeGroup (the library's),
// describe (with Kafka's log end offsets, a Kafka client per call as the
// tool has), and a lag sample with the commit times, printed.
//
//	go test -run '^$' -bench DescribeZK10k -benchtime 20x ./cmd/groupctl/
func BenchmarkDescribeZK10k(b *testing.B) {
	c := bigZKGroup(b, 10000)
	ctx := context.Background()
	z, err := c.dial(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	b.Run("DescribeGroup", func(b *testing.B) {
		for b.Loop() {
			d, err := consumergroup.DescribeGroup(ctx, z, nil, "big")
			if err != nil || len(d.Partitions) != 10000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("describe", func(b *testing.B) {
		e := &env{stdout: io.Discard, stderr: io.Discard}
		for b.Loop() {
			d, err := describe(ctx, c, z, "big")
			d = d.evaluated()
			if err == nil && d.kafkaErr != nil {
				err = d.kafkaErr
			}
			if err != nil || len(d.Partitions) != 10000 || d.TotalLag < 0 {
				b.Fatal(err)
			}
			if err := newPrinter(e, c).print(d.json(), func(t *tableWriter) { describeTable(t, d) }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lag", func(b *testing.B) {
		e := &env{stdout: io.Discard, stderr: io.Discard}
		src := &zkSource{c: c, z: z}
		for b.Loop() {
			prev, trackers := map[lagKey]lagPoint{}, map[string]*lagTracker{}
			samples, errs, err := lagSamples(ctx, src, []string{"big"}, false, prev, trackers)
			if err == nil && len(errs) > 0 {
				err = errs[0]
			}
			if err == nil {
				err = printLag(e, c, samples)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDescribeLagLarge: describe and lag of a ZooKeeper group of 10,000
// partitions (read in multiReads) say, of every partition, its owner,
// committed offset, log end and lag, and the total: partitions without a
// commit count their whole log from its start, one whose log's start
// passed its commit counts from the start, the others from their commit;
// lag's commit times are those of every offset node.
func TestDescribeLagLarge(t *testing.T) {
	t.Parallel()
	const n = 10000
	// Partitions p%10 == 3 have no commit; the others committed offset 1.
	c, kafka := bigZKGroupWith(t, n, func(p int32) (int64, bool) { return 1, p%10 != 3 })
	ctx := testCtx(t)
	ends := map[int32]int64{3: 5, 4: 5, 9999: 2} // produced: the log ends
	for p, end := range ends {
		for i := range end {
			if err := kafka.Produce(ctx, "t", p, &kgo.Record{Value: []byte(strconv.FormatInt(i, 10))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	adm := kadm.NewClient(mustClient(t, kafka.Addrs()))
	// Partitions 3 (no commit) and 4 (committed 1) start at 2 (the offset
	// after the records').
	if _, err := adm.DeleteRecords(ctx, kadm.OffsetsFromRecords(kgo.Record{Topic: "t", Partition: 3, Offset: 1}, kgo.Record{Topic: "t", Partition: 4, Offset: 1})); err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{3: 3, 4: 3, 9999: 1} // lags; 0 elsewhere
	z, err := c.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	d, err := describe(ctx, c, z, "big")
	if err != nil || d.kafkaErr != nil {
		t.Fatalf("describe: %v, %v", err, d.kafkaErr)
	}
	if len(d.Partitions) != n || d.TotalLag != 7 {
		t.Fatalf("describe: %d partitions, total lag %d; want %d, 7", len(d.Partitions), d.TotalLag, n)
	}
	owner := d.Members[0].ID
	for i, p := range d.Partitions {
		committed := int64(1)
		if p.Partition%10 == 3 {
			committed = -1
		}
		if p.Topic != "t" || p.Partition != int32(i) || p.Owner != owner || p.Committed != committed ||
			p.LogEnd != ends[p.Partition] || p.Lag != want[p.Partition] {
			t.Fatalf("describe: %+v; want committed %d, log end %d, lag %d, owner %s", p, committed, ends[p.Partition], want[p.Partition], owner)
		}
	}
	if len(d.CommitTimes) != n-n/10 {
		t.Fatalf("describe: %d commit times, want %d", len(d.CommitTimes), n-n/10)
	}
	samples, errs, err := lagSamples(ctx, &zkSource{c: c, z: z}, []string{"big"}, false, map[lagKey]lagPoint{}, map[string]*lagTracker{})
	if err != nil || len(errs) > 0 || len(samples) != 1 {
		t.Fatalf("lag: %d samples: %v %v", len(samples), err, errs)
	}
	if s := samples[0]; s.Total == nil || *s.Total != 7 || len(s.Lag) != n {
		t.Fatalf("lag: total %v, %d rows", s.Total, len(s.Lag))
	}
	for i, r := range samples[0].Lag {
		if r.Partition != int32(i) || r.Lag == nil || *r.Lag != want[r.Partition] || r.Status == "" {
			t.Fatalf("lag: %+v", r)
		}
	}
}

// mustClient is a Kafka client of addrs, closed with the test.
func mustClient(t *testing.T, addrs []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// BenchmarkServeZK10k measures groupctl serve on a ZooKeeper group of
// 10,000 partitions: a poll (what refreshes /api/groups, /api/groups/NAME
// and /metrics: DescribeGroup with Kafka's offsets, and the evaluation),
// run directly (the server's own poller waits an hour after its first),
// then 20 sequential requests of each of those paths (served from the
// last poll's snapshot). The
// request times are logged; the metrics are the poll's time and the
// requests' median and worst.
//
//	go test -run '^$' -bench ServeZK10k -benchtime 10x -v ./cmd/groupctl/
func BenchmarkServeZK10k(b *testing.B) {
	c := bigZKGroup(b, 10000)
	c.output = "json"
	ctx, cancel := context.WithCancel(context.Background())
	z, err := c.dial(ctx)
	if err != nil {
		b.Fatal(err)
	}
	s := newServer(c, z, serveOpts{interval: time.Hour, window: 5, history: time.Hour})
	url, wait, err := s.start(ctx, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			b.Error(err)
		}
		z.Close()
	})
	deadline := time.Now().Add(waitTimeout)
	for s.snap.Load().poll.Polls == 0 { // the first poll, the server's own
		if time.Now().After(deadline) {
			b.Fatalf("no poll within %v", waitTimeout)
		}
		time.Sleep(pollEvery) // polling interval, not synchronization
	}
	for b.Loop() {
		s.poll(ctx)
	}
	b.StopTimer()
	if g := s.snap.Load().groups["big"]; g == nil || g.desc == nil || len(g.desc.Partitions) != 10000 {
		b.Fatal("the group is not served")
	}
	client := &http.Client{Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	paths := []string{"metrics", "api/groups", "api/groups/big"}
	seq, _ := measureServe(client, client, url, paths, 20, 0)
	worst := time.Duration(0)
	for _, p := range paths {
		b.Logf("20 x /%s: %v", p, seq[p])
		worst = max(worst, seq[p].quantile(1))
		b.ReportMetric(float64(seq[p].quantile(0.5).Microseconds())/1000, "p50-ms-"+strings.ReplaceAll(p, "/", "-"))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms-requests")
}

// TestCompareBinaries10k times groupctl binaries, each a whole process
// writing to a pipe, on a ZooKeeper group of 10,000 partitions
// (bigZKGroup): describe and lag, as tables and as JSON, 8 rounds, the
// binaries in turn within each round,
// logging the load average of each round and each binary's times. It runs
// only when $GROUPCTL_COMPARE_BINS lists the binaries (comma-separated),
// e.g. one built before a change and one after:
//
//	GROUPCTL_COMPARE_BINS=/tmp/groupctl-before,/tmp/groupctl-after \
//	  go test -count=1 -run TestCompareBinaries10k -v ./cmd/groupctl/
func TestCompareBinaries10k(t *testing.T) {
	list := os.Getenv("GROUPCTL_COMPARE_BINS")
	if list == "" {
		t.Skip("GROUPCTL_COMPARE_BINS is not set")
	}
	const n = 10000
	c := bigZKGroup(t, n)
	bins := strings.Split(list, ",")
	times := map[string][]time.Duration{}
	var keys []string
	for round := range 8 {
		if up, err := exec.Command("uptime").Output(); err == nil {
			t.Logf("round %d: %s", round, strings.TrimSpace(string(up)))
		}
		for _, cmd := range []string{"describe --output table", "describe --output json", "lag --output table", "lag --output json"} {
			for _, b := range bins {
				args := append(strings.Fields(cmd), "big", "--zookeeper", c.zookeeper)
				start := time.Now()
				out, err := exec.Command(b, args...).Output()
				took := time.Since(start)
				rows := bytes.Count(out, []byte("\n"))
				if strings.HasSuffix(cmd, "json") {
					rows = bytes.Count(out, []byte(`"partition":`))
				}
				if err != nil || rows < n {
					t.Fatalf("%s %s: %v: %d rows: %.300s", b, cmd, err, rows, out)
				}
				k := cmd + ": " + b
				if times[k] == nil {
					keys = append(keys, k)
				}
				times[k] = append(times[k], took)
			}
		}
	}
	for _, k := range keys {
		ds := times[k]
		slices.Sort(ds)
		t.Logf("%s: min %v, median %v, max %v (%d runs)", k, ds[0].Round(time.Millisecond),
			ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), len(ds))
	}
}
