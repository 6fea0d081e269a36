package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	bigTopic      = "big"
	bigGroup      = "big-group"
	bigPartitions = 10000
)

// bigGroupCluster starts a kfake cluster with a topic of 10,000
// partitions, a record on every 100th, and a group of Kafka's coordinator
// that committed an offset on each (no member): a large group that costs
// little to make. It returns the cluster's address.
func bigGroupCluster(t *testing.T) string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(bigPartitions, bigTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var recs []*kgo.Record
	for p := int32(0); p < bigPartitions; p += 100 {
		recs = append(recs, &kgo.Record{Topic: bigTopic, Partition: p, Value: []byte("x")})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var offsets kadm.Offsets
	for p := int32(0); p < bigPartitions; p++ {
		offsets.AddOffset(bigTopic, p, 0, -1)
	}
	resp, err := kadm.NewClient(cl).CommitOffsets(ctx, bigGroup, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	return cluster.ListenAddrs()[0]
}

// getAll gets url and reads the whole answer.
func getAll(client *http.Client, url string) (time.Duration, error) {
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

// TestServeLargeGroup: groupctl serve on a group of 10,000 partitions
// (issue 19). While a client asks for /metrics and never reads, 200
// concurrent requests of /metrics, /api/groups, /api/groups/NAME and the
// page's page of partitions are all answered; the page loads in Chromium,
// summarises the topic, shows 100 partitions with a pager that moves, and
// scrolls.
func TestServeLargeGroup(t *testing.T) {
	browser := chromium(t)
	bin := buildGroupctl(t)
	kafka := bigGroupCluster(t)
	url := serveArgs(t, bin, "--bootstrap-server", kafka, "--interval", "1s", "--window", "5")

	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(waitLimit)
	for {
		_, err := getAll(client, url+"api/groups/"+bigGroup+"?limit=1")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group is not served within %v: %v", waitLimit, err)
		}
		time.Sleep(100 * time.Millisecond) // polling the server
	}

	// A client that asks for /metrics (megabytes) and never reads.
	stalled, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	fmt.Fprintf(stalled, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

	paths := []string{"metrics", "api/groups", "api/groups/" + bigGroup, "api/groups/" + bigGroup + "?limit=100&offset=5000"}
	var mu sync.Mutex
	var took []time.Duration
	var failed []error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 200 {
		wg.Go(func() {
			<-start
			d, err := getAll(client, url+paths[i%len(paths)])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, err)
				return
			}
			took = append(took, d)
		})
	}
	close(start)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of 200 concurrent requests failed: %v", len(failed), failed[0])
	}
	slices.Sort(took)
	t.Logf("200 concurrent requests: p50 %v, p99 %v, max %v", took[100], took[197], took[199])

	ctx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancel()
	ctx, cancelTab := chromedp.NewContext(ctx)
	defer cancelTab()
	loadStart := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	type view struct {
		Rows   int      `json:"rows"`
		First  string   `json:"first"`
		Range  string   `json:"range"`
		Topics []string `json:"topics"`
		Chart  int      `json:"chart"`
		Height int      `json:"height"`
		Errors int      `json:"errors"`
	}
	const read = `(() => {
  const sec = document.querySelector('section[data-group="` + bigGroup + `"]');
  if (!sec) return {rows: 0, first: "", range: "", topics: [], chart: 0, height: 0, errors: 0};
  const rows = sec.querySelectorAll("tr.partition");
  return {
    rows: rows.length,
    first: rows.length ? rows[0].dataset.partition : "",
    range: (sec.querySelector(".pager .range") || {}).textContent || "",
    topics: [...sec.querySelectorAll("tr.topic")].map((r) => r.dataset.topic),
    chart: sec.querySelectorAll("svg.chart polyline").length,
    height: document.documentElement.scrollHeight,
    errors: document.querySelectorAll(".error").length,
  };
})()`
	waitView := func(what string, cond func(v view) error) view {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for {
			v, err := chromedp.Run(ctx, chromedp.Evaluate[view](read))
			if err == nil {
				err = cond(v)
			}
			if err == nil {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("the page shows no %s within %v: %v (%+v)", what, waitLimit, err, v)
			}
			time.Sleep(100 * time.Millisecond) // polling the page
		}
	}
	v := waitView("first page of partitions", func(v view) error {
		if v.Rows != 100 || v.First != bigTopic+"/0" || v.Range != "1–100 of 10,000" || !slices.Equal(v.Topics, []string{bigTopic}) || v.Chart != 1 {
			return fmt.Errorf("%+v", v)
		}
		return nil
	})
	t.Logf("the page of a group of %d partitions shows its first 100 within %v: %+v", bigPartitions, time.Since(loadStart), v)

	// The pager moves; the page scrolls.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { [...document.querySelectorAll(".pager button")].find((b) => b.textContent.startsWith("next")).click(); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	waitView("the second page", func(v view) error {
		if v.Rows != 100 || v.First != bigTopic+"/100" || v.Range != "101–200 of 10,000" {
			return fmt.Errorf("%+v", v)
		}
		return nil
	})
	y, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => { window.scrollTo(0, document.documentElement.scrollHeight); return window.scrollY; })()`))
	if err != nil || y <= 0 {
		t.Fatalf("the page does not scroll: %v, %v", y, err)
	}
	// The next refresh keeps the page of partitions.
	waitView("the second page after a refresh", func(v view) error {
		if v.First != bigTopic+"/100" {
			return fmt.Errorf("%+v", v)
		}
		return nil
	})
}
