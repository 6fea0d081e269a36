package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// startServe runs groupctl serve's server in the test, polling every
// interval, and returns its base URL.
func startServe(t *testing.T, c *cluster, interval time.Duration, window int) string {
	t.Helper()
	cm := &common{zookeeper: c.zkAddr(), output: "json", timeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	s := newServer(cm, c.ZK(), serveOpts{interval: interval, window: window, history: time.Hour})
	url, wait, err := s.start(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := wait(); err != nil {
			t.Error(err)
		}
	})
	return url
}

func getJSON(t *testing.T, url string, v any) error {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// gatedConsumer reads a member's Stream while its gate is open.
type gatedConsumer struct {
	mu     sync.Mutex
	open   bool
	opened chan struct{} // closed when the gate opens
}

func (g *gatedConsumer) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if open && !g.open {
		close(g.opened)
	}
	if !open && g.open {
		g.opened = make(chan struct{})
	}
	g.open = open
}

func (g *gatedConsumer) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.opened
}

// TestServeLagStatus: groupctl serve shows a consuming group, its member,
// partition and lag in the API and /metrics; the lag status turns to STALL
// or STOP (the group's to ERR) when the consumer stops while messages keep
// coming, and back to OK when it resumes.
func TestServeLagStatus(t *testing.T) {
	t.Parallel()
	const topic, group = "flow", "watched"
	c := newCluster(t, map[string]int32{topic: 1})
	m := c.join(group, []string{topic}, false)
	gate := &gatedConsumer{opened: make(chan struct{})}
	gate.set(true)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); m.g.Close(); wg.Wait() })
	wg.Add(2)
	go func() { // the application: reads while the gate is open
		defer wg.Done()
		stream := m.g.Stream()
		for {
			select {
			case <-gate.wait():
			case <-ctx.Done():
				return
			}
			select {
			case _, ok := <-stream:
				if !ok {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { // a producer that never stops
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
			c.produceRecords(ctx, topic, 0, &kgo.Record{Value: []byte("x")})
		}
	}()

	base := startServe(t, c, 100*time.Millisecond, 5)
	type detail struct {
		Description consumergroup.GroupDescription `json:"description"`
		LagStatus   lagReport                      `json:"lag_status"`
		Partitions  []partitionView                `json:"partitions"`
		History     []partHistory                  `json:"history"`
	}
	status := func(want ...string) func() error {
		return func() error {
			var d detail
			if err := getJSON(t, base+"api/groups/"+group, &d); err != nil {
				return err
			}
			if len(d.Partitions) != 1 || len(d.Description.Members) != 1 || d.Partitions[0].Owner != m.g.ID() || d.Partitions[0].LogEnd <= 0 {
				return fmt.Errorf("group %+v", d)
			}
			for _, w := range want {
				if d.LagStatus.Status == w || d.Partitions[0].Status == w {
					continue
				}
				return fmt.Errorf("status %s (partition %s: %s), want %v", d.LagStatus.Status, d.Partitions[0].Status, d.Partitions[0].Reason, want)
			}
			return nil
		}
	}
	waitFor(t, waitTimeout, "status OK while consuming", status("OK", "OK"))

	var list struct {
		Groups []groupSummary `json:"groups"`
	}
	if err := getJSON(t, base+"api/groups", &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Groups) != 1 || list.Groups[0].Group != group || list.Groups[0].Members != 1 || list.Groups[0].Partitions != 1 {
		t.Fatalf("/api/groups: %+v", list)
	}

	gate.set(false)
	waitFor(t, waitTimeout, "status ERR once the consumer stopped", func() error {
		if err := status("ERR")(); err != nil {
			return err
		}
		var d detail
		if err := getJSON(t, base+"api/groups/"+group, &d); err != nil {
			return err
		}
		if s := d.Partitions[0].Status; s != "STALL" && s != "STOP" {
			return fmt.Errorf("partition status %s", s)
		}
		return nil
	})
	gate.set(true)
	waitFor(t, waitTimeout, "status OK once the consumer resumed", status("OK", "OK"))

	var d detail
	if err := getJSON(t, base+"api/groups/"+group, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.History) != 1 || len(d.History[0].Points) < 5 {
		t.Fatalf("history: %+v", d.History)
	}
	if err := getJSON(t, base+"api/groups/nosuch", &d); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown group: %v", err)
	}

	resp, err := http.Get(base + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"# TYPE groupctl_group_status gauge\n",
		`groupctl_group_status{group="watched"} 1` + "\n",
		`groupctl_partition_lag{group="watched",topic="flow",partition="0"} `,
		`groupctl_group_members{group="watched"} 1` + "\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
	for _, asset := range []string{"", "app.js", "style.css"} {
		resp, err := http.Get(base + asset)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b) == 0 || bytes.Contains(b, []byte("//cdn")) {
			t.Errorf("GET /%s: %s, %d bytes", asset, resp.Status, len(b))
		}
	}
}

func TestPromWriterEscapes(t *testing.T) {
	var b bytes.Buffer
	name := `we"ird\name` + "\n"
	s := newSnapshot(pollInfo{}, 0, map[string]*groupSnap{name: {
		name:   name,
		desc:   &consumergroup.GroupDescription{Partitions: []consumergroup.PartitionDescription{{Topic: "t", Partition: 3, Committed: 5, LogEnd: -1, Lag: -1}}},
		report: lagReport{Status: "WARN"},
	}})
	if err := s.writeMetrics(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`groupctl_group_status{group="we\"ird\\name\n"} 2` + "\n",
		`groupctl_partition_committed_offset{group="we\"ird\\name\n",topic="t",partition="3"} 5` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "groupctl_partition_lag{") || strings.Contains(out, "groupctl_partition_log_end_offset{") {
		t.Errorf("unknown lag exported:\n%s", out)
	}
}

func TestServeBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--interval", "0s"}, "--interval and --history must be positive"},
		{[]string{"--history", "-1h"}, "--interval and --history must be positive"},
		{[]string{"--window", "2"}, "--window must be at least 3 samples"},
		{[]string{"extra"}, "serve takes no argument"},
		{[]string{"--listen-tls-cert", "c.pem"}, "--listen-tls-cert and --listen-tls-key go together"},
		{[]string{"--token-file", "/nonexistent/token"}, "--token-file"},
	} {
		runTool(t, append([]string{"serve", "--zookeeper", "127.0.0.1:1"}, tc.args...)...).want(t, exitUsage).wantStderr(t, tc.want)
	}
	// A ZooKeeper that does not answer.
	runTool(t, "serve", "--zookeeper", freeAddr(t), "--timeout", "500ms").want(t, exitUsage).wantStderr(t, "unreachable")
}
