// Package e2e tests groupctl serve end to end: a real group consumes from
// kfake, coordinated by a real ZooKeeper, while Debian's chromium loads the
// web view. It is its own module so that the library does not depend on
// chromedp or Prometheus.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/internal/testenv/leakcheck"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the screenshot to ../docs/groupctl-serve.png (the README's)")

func TestMain(m *testing.M) { leakcheck.Main(m, testenv.StopShared) }

const (
	topic      = "orders"
	group      = "billing"
	partitions = 6
	waitLimit  = 60 * time.Second
)

// chromium is the browser binary: $CHROMIUM, or Debian's.
func chromium(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Chromium at %s (run scripts/ensure-chromium.sh, or set CHROMIUM): %v", bin, err)
	}
	return bin
}

// buildGroupctl builds the groupctl binary of this tree.
func buildGroupctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "groupctl")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/groupctl")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build groupctl: %v\n%s", err, out)
	}
	return bin
}

// consumer is a member of the group whose reading the test can pause.
type consumer struct {
	g    *consumergroup.ConsumerGroup
	mu   sync.Mutex
	gate chan struct{} // closed while reading is allowed
	done chan struct{}
}

func join(t *testing.T, zkAddr string) *consumer {
	t.Helper()
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.ZookeeperTimeout = 3 * time.Second
	cfg.CommitInterval = 200 * time.Millisecond
	cfg.KafkaOptions = []kgo.Opt{kgo.MetadataMinAge(200 * time.Millisecond)}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	g, err := consumergroup.JoinConsumerGroupTopics(ctx, group, []string{topic}, []string{zkAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &consumer{g: g, gate: make(chan struct{}), done: make(chan struct{})}
	close(c.gate)
	stream := g.Stream()
	go func() {
		defer close(c.done)
		for {
			c.mu.Lock()
			gate := c.gate
			c.mu.Unlock()
			select {
			case <-gate:
			case <-g.Done():
				return
			}
			if _, ok := <-stream; !ok {
				return
			}
			time.Sleep(2 * time.Millisecond) // the work of one message
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *consumer) pause(paused bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.gate:
		if paused {
			c.gate = make(chan struct{})
		}
	default:
		if !paused {
			close(c.gate)
		}
	}
}

func (c *consumer) close() {
	c.pause(false)
	c.g.Close()
	<-c.done
}

// serve starts groupctl serve on ZooKeeper's groups and returns its URL.
func serve(t *testing.T, bin, zkAddr string) string {
	t.Helper()
	return serveArgs(t, bin, "--zookeeper", zkAddr, "--interval", "300ms", "--window", "5")
}

// serveArgs starts groupctl serve with args on 127.0.0.1 and returns its
// URL.
func serveArgs(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		// Wait reports the cancellation; the exit status tells how
		// groupctl took the interrupt.
		if err := cmd.Wait(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 0 {
			t.Errorf("groupctl serve: %v\n%s", err, stderr.String())
		}
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(sc.Text()); m != "" {
				urls <- m
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case u := <-urls:
		return u
	case <-time.After(waitLimit):
		t.Fatalf("groupctl serve printed no URL within %v\n%s", waitLimit, stderr.String())
	}
	return ""
}

// pageState is what the page shows of the group.
type pageState struct {
	Status     string   `json:"status"`
	Members    []string `json:"members"`
	Partitions []string `json:"partitions"`
	Lags       []string `json:"lags"`
	LogEnds    []string `json:"logEnds"`
	Statuses   []string `json:"statuses"`
	Chart      int      `json:"chart"` // lines in the lag chart
}

const readPage = `(() => {
  const sec = document.querySelector('section[data-group="` + group + `"]');
  if (!sec) return {status: "", members: [], partitions: [], lags: [], logEnds: [], statuses: [], chart: 0};
  const q = (s) => [...sec.querySelectorAll(s)].map((e) => e.textContent.trim());
  return {
    status: q("h2 .status")[0] || "",
    members: q("tr.member td:first-child"),
    partitions: q("tr.partition td:first-child").map((t, i) => t + "/" + q("tr.partition td:nth-child(2)")[i]),
    lags: q("tr.partition td.lag"),
    logEnds: q("tr.partition td.logend"),
    statuses: q("tr.partition .status"),
    chart: sec.querySelectorAll("svg.chart polyline").length,
  };
})()`

// waitPage reads the page until cond accepts what it shows.
func waitPage(t *testing.T, ctx context.Context, what string, cond func(pageState) error) pageState {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage))
		if err == nil {
			err = cond(st)
		}
		if err == nil {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page shows no %s within %v: %v (%+v)", what, waitLimit, err, st)
		}
		time.Sleep(100 * time.Millisecond) // polling the page
	}
}

func sum(cells []string) (int64, error) {
	var n int64
	for _, c := range cells {
		v, err := strconv.ParseInt(strings.ReplaceAll(c, ",", ""), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cell %q: %w", c, err)
		}
		n += v
	}
	return n, nil
}

// TestServeInChromium runs a group, groupctl serve and Chromium: the page
// shows the members, partitions and lag, which update as the group
// consumes and rebalances; the lag status turns to ERR when the consumers
// stop and back to OK when they resume; /metrics parses with Prometheus'
// parser.
func TestServeInChromium(t *testing.T) {
	browser := chromium(t)
	bin := buildGroupctl(t)
	servers := testenv.ZooKeeperAddrs(t)
	chroot := testenv.Chroot(t)
	kafka, err := testenv.StartKafka(servers, chroot, 1, map[string]int32{topic: partitions})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()
	zkAddr := strings.Join(servers, ",") + chroot

	// A producer that keeps writing, round robin over the partitions.
	pctx, pcancel := context.WithCancel(context.Background())
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; pctx.Err() == nil; i++ {
			select {
			case <-tick.C:
			case <-pctx.Done():
				return
			}
			kafka.Produce(pctx, topic, int32(i%partitions), &kgo.Record{Value: []byte(strconv.Itoa(i))})
		}
	}()
	defer func() { pcancel(); <-produced }()

	a := join(t, zkAddr)
	url := serve(t, bin, zkAddr)

	ctx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancel()
	ctx, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}

	// A member, the partitions, lag figures.
	first := waitPage(t, ctx, "member, partitions and lag", func(s pageState) error {
		if len(s.Members) != 1 || s.Members[0] != a.g.ID() {
			return fmt.Errorf("members %v, want [%s]", s.Members, a.g.ID())
		}
		if len(s.Partitions) != partitions || s.Partitions[0] != topic+"/0" || len(s.Lags) != partitions {
			return fmt.Errorf("partitions %v", s.Partitions)
		}
		if _, err := sum(s.Lags); err != nil {
			return err
		}
		if _, err := sum(s.LogEnds); err != nil {
			return err
		}
		return nil
	})
	// They update: the log ends grow, and a second member shows up.
	firstEnds, _ := sum(first.LogEnds)
	firstLag, _ := sum(first.Lags)
	b := join(t, zkAddr)
	waitPage(t, ctx, "a second member and growing log ends", func(s pageState) error {
		ends, err := sum(s.LogEnds)
		if err != nil {
			return err
		}
		if ends <= firstEnds {
			return fmt.Errorf("log ends %d, were %d", ends, firstEnds)
		}
		if !slices.Contains(s.Members, b.g.ID()) || len(s.Members) != 2 {
			return fmt.Errorf("members %v, want %s among 2", s.Members, b.g.ID())
		}
		return nil
	})
	waitPage(t, ctx, "status OK", func(s pageState) error {
		if s.Status != "OK" {
			return fmt.Errorf("group status %q (partitions %v)", s.Status, s.Statuses)
		}
		return nil
	})

	// The consumers stop: the lag grows and the status turns to ERR.
	a.pause(true)
	b.pause(true)
	waitPage(t, ctx, "status ERR and a grown lag with the consumers stopped", func(s pageState) error {
		if lag, err := sum(s.Lags); err != nil || lag <= firstLag+100 {
			return fmt.Errorf("total lag %d (%v), was %d", lag, err, firstLag)
		}
		if s.Status != "ERR" {
			return fmt.Errorf("group status %q (partitions %v)", s.Status, s.Statuses)
		}
		for _, st := range s.Statuses {
			if st != "STALL" && st != "STOP" {
				return fmt.Errorf("partition statuses %v, want STALL or STOP", s.Statuses)
			}
		}
		return nil
	})
	a.pause(false)
	b.pause(false)
	last := waitPage(t, ctx, "status OK after resuming", func(s pageState) error {
		if s.Status != "OK" {
			return fmt.Errorf("group status %q (partitions %v)", s.Status, s.Statuses)
		}
		if s.Chart != partitions {
			return fmt.Errorf("%d chart lines, want %d", s.Chart, partitions)
		}
		return nil
	})
	t.Logf("page: %+v", last)

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(shot)); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), "groupctl-serve.png")
	if *updateScreenshot {
		path = filepath.Join("..", "docs", "groupctl-serve.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))

	checkMetrics(t, url+"metrics")
}

// checkMetrics parses /metrics with Prometheus' text parser and checks the
// group's series.
func checkMetrics(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	lag := families["groupctl_partition_lag"]
	if lag == nil || len(lag.GetMetric()) != partitions {
		t.Fatalf("groupctl_partition_lag: %v", lag)
	}
	for _, m := range lag.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["group"] != group || labels["topic"] != topic || labels["partition"] == "" || m.GetGauge().GetValue() < 0 {
			t.Errorf("lag series %v", m)
		}
	}
	for _, name := range []string{"groupctl_group_status", "groupctl_group_lag", "groupctl_group_members", "groupctl_partition_status",
		"groupctl_partition_committed_offset", "groupctl_partition_log_end_offset", "groupctl_polls_total"} {
		if families[name] == nil || len(families[name].GetMetric()) == 0 {
			t.Errorf("no %s in /metrics", name)
		}
	}
	if st := families["groupctl_group_status"]; st != nil && st.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("group status %v, want 1 (OK)", st.GetMetric()[0].GetGauge().GetValue())
	}
}
