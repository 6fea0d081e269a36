package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// bigKafkaGroup starts a kfake cluster with a topic of n partitions, a
// record on every 100th, and a group of Kafka's coordinator with an
// offset committed on each partition (no member): a large group that costs
// little to make. It returns the client of the cluster and the group.
func bigKafkaGroup(tb testing.TB, n int32) (*kgo.Client, string) {
	tb.Helper()
	const topic, group = "big", "big-group"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(n, topic))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for p := int32(0); p < n; p += 100 {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		tb.Fatal(err)
	}
	var offsets kadm.Offsets
	for p := int32(0); p < n; p++ {
		offsets.AddOffset(topic, p, 0, -1)
	}
	resp, err := kadm.NewClient(cl).CommitOffsets(ctx, group, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return cl, group
}

// startKafkaServe runs serve's server on the groups of cl (as
// --bootstrap-server does) and waits until group is served.
func startKafkaServe(tb testing.TB, cl *kgo.Client, group string, interval time.Duration) (*server, string) {
	tb.Helper()
	return startKafkaServeWith(tb, cl, group, serveOpts{interval: interval, window: 10, history: time.Hour}, nil)
}

// startKafkaServeWith is startKafkaServe with o, and connState (when not
// nil) told of the server's connections.
func startKafkaServeWith(tb testing.TB, cl *kgo.Client, group string, o serveOpts, connState func(net.Conn, http.ConnState)) (*server, string) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := newServer(&common{output: "json", timeout: 30 * time.Second}, nil, o)
	s.kafkaGroups = cl
	s.connState = connState
	url, wait, err := s.start(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			tb.Error(err)
		}
	})
	deadline := time.Now().Add(waitTimeout)
	for {
		if g := s.snap.Load().groups[group]; g != nil && g.desc != nil {
			return s, url
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not served within %v", group, waitTimeout)
		}
		time.Sleep(pollEvery) // polling interval, not synchronization
	}
}

// stalledClient asks for path on a connection whose receive buffer is
// small, and never reads the answer. close ends it.
func stalledClient(tb testing.TB, base, path string) (close func()) {
	tb.Helper()
	_, close = stalledConn(tb, base, path)
	return close
}

// stalledConn is stalledClient, with its connection.
func stalledConn(tb testing.TB, base, path string) (net.Conn, func()) {
	tb.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	host := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")
	conn, err := d.Dial("tcp", host)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host)
	return conn, func() { conn.Close() }
}

// latencies are the durations of requests, and how many failed.
type latencies struct {
	d      []time.Duration
	failed int
	first  error
}

func (l *latencies) add(d time.Duration, err error) {
	if err != nil {
		l.failed++
		if l.first == nil {
			l.first = err
		}
		return
	}
	l.d = append(l.d, d)
}

func (l *latencies) quantile(q float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (l *latencies) String() string {
	s := fmt.Sprintf("p50 %v p99 %v max %v, %d answered, %d failed", l.quantile(0.5).Round(time.Millisecond),
		l.quantile(0.99).Round(time.Millisecond), l.quantile(1).Round(time.Millisecond), len(l.d), l.failed)
	if l.first != nil {
		s += fmt.Sprintf(" (first: %v)", l.first)
	}
	return s
}

// timedGet gets url with client and reads the whole answer.
func timedGet(client *http.Client, url string) (time.Duration, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return time.Since(start), nil
}

// measureServe times, on serve at base, n sequential requests of each path
// (with seqClient), then concurrent requests spread over the paths, all
// started at once (with client).
func measureServe(client, seqClient *http.Client, base string, paths []string, n, concurrent int) (map[string]*latencies, *latencies) {
	seq := map[string]*latencies{}
	for _, p := range paths {
		l := &latencies{}
		for range n {
			l.add(timedGet(seqClient, base+p))
		}
		seq[p] = l
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	conc := &latencies{}
	start := make(chan struct{})
	for i := range concurrent {
		wg.Go(func() {
			<-start
			d, err := timedGet(client, base+paths[i%len(paths)])
			mu.Lock()
			conc.add(d, err)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return seq, conc
}

// BenchmarkServe10k measures groupctl serve on a group of 10,000
// partitions (kfake, Kafka's coordinator): 20 sequential requests of
// /metrics, /api/groups and /api/groups/NAME, then 200 concurrent ones
// (each given 20 s), without and then with a client that asks for
// /metrics and never reads (then 5 sequential requests of each, given 5 s
// each). The figures are logged; run it once:
//
//	go test -run '^$' -bench Serve10k -benchtime 1x -v ./cmd/groupctl/
func BenchmarkServe10k(b *testing.B) {
	cl, group := bigKafkaGroup(b, 10000)
	_, base := startKafkaServe(b, cl, group, 5*time.Second)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	defer client.CloseIdleConnections()
	paths := []string{"metrics", "api/groups", "api/groups/" + group}
	for b.Loop() {
		for _, stalled := range []bool{false, true} {
			var closeStalled func()
			seqClient, n := client, 20
			if stalled {
				closeStalled = stalledClient(b, base, "/metrics")
				seqClient, n = &http.Client{Timeout: 5 * time.Second}, 5
			}
			seq, conc := measureServe(client, seqClient, base, paths, n, 200)
			for _, p := range paths {
				b.Logf("stalled reader %v: %d x /%s: %v", stalled, n, p, seq[p])
			}
			b.Logf("stalled reader %v: 200 concurrent: %v", stalled, conc)
			if stalled {
				closeStalled()
				b.ReportMetric(float64(conc.quantile(0.99).Milliseconds()), "p99-ms-200-stalled")
			} else {
				b.ReportMetric(float64(conc.quantile(0.99).Milliseconds()), "p99-ms-200")
				b.ReportMetric(float64(seq["metrics"].quantile(0.5).Milliseconds()), "p50-ms-metrics")
			}
			client.CloseIdleConnections()
		}
	}
}
