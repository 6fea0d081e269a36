package main

// Tests of the defects an operator found (issue 10): each failed before
// its fix.

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// Unknown lag never reads as zero: with Kafka unreachable, describe and
// lag say "unknown" (JSON: null), name Kafka and its address, and exit 1.
func TestUnknownLag(t *testing.T) {
	t.Parallel()
	const topic = "views"
	c := newCluster(t, map[string]int32{topic: 2})
	c.produce(topic, 0, "a", "b", "c")
	c.tool("consume", "--group", "ul", "--topic", topic, "--max", "1").want(t, 0)
	down := freeAddr(t)

	r := c.tool("describe", "ul", "--brokers", down).want(t, exitError).wantStderr(t, "Kafka", down)
	r.wantStdout(t, "TOTAL LAG unknown")
	if strings.Contains(r.stdout, "TOTAL LAG 0") {
		t.Errorf("unknown lag printed as 0:\n%v", r)
	}
	for _, row := range checkTable(t, partitionLines(t, r), "TOPIC", "PARTITION", "OWNER", "COMMITTED", "LOG-END", "LAG", "STATUS") {
		if row[4] != "unknown" || row[5] != "unknown" || row[6] != "UNKNOWN" {
			t.Errorf("row %v: log end, lag and status should be unknown", row)
		}
	}
	var d map[string]any
	c.tool("describe", "ul", "--brokers", down, "--output", "json").want(t, exitError).decode(t, &d)
	if d["total_lag"] != nil || d["error"] == nil || !strings.Contains(fmt.Sprint(d["error"]), down) {
		t.Errorf("describe JSON: total_lag %v, error %v: want null and an error naming %s", d["total_lag"], d["error"], down)
	}
	for _, p := range d["partitions"].([]any) {
		if p := p.(map[string]any); p["lag"] != nil || p["log_end"] != nil {
			t.Errorf("partition %v: lag and log_end should be null", p)
		}
	}

	r = c.tool("lag", "ul", "--brokers", down).want(t, exitError).wantStderr(t, "Kafka", down).wantStdout(t, "TOTAL LAG unknown")
	var l map[string]any
	c.tool("lag", "ul", "--brokers", down, "--output", "json").want(t, exitError).decode(t, &l)
	if l["total_lag"] != nil || l["error"] == nil {
		t.Errorf("lag JSON: total_lag %v, error %v: want null and an error", l["total_lag"], l["error"])
	}
	for _, p := range l["partitions"].([]any) {
		if p := p.(map[string]any); p["lag"] != nil || p["log_end"] != nil {
			t.Errorf("partition %v: lag and log_end should be null", p)
		}
	}
}

// partitionLines returns the lines of describe's partition table.
func partitionLines(t *testing.T, r result) []string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "TOPIC ") {
			return lines[i:]
		}
	}
	t.Fatalf("no partition table:\n%v", r)
	return nil
}

// Every subcommand's --help (and -h) prints its usage on stdout and exits 0.
func TestSubcommandHelp(t *testing.T) {
	t.Parallel()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, h := range []string{"--help", "-h"} {
			r := runTool(t, n, h).want(t, exitOK).wantStdout(t, "usage: groupctl "+n)
			if r.stderr != "" || strings.Contains(r.stdout, "help requested") {
				t.Errorf("%s %s: stderr %q, stdout:\n%s", n, h, r.stderr, r.stdout)
			}
		}
	}
}

// A ZooKeeper address where nothing listens fails at once, saying
// "connection refused" and naming ZooKeeper and the address.
func TestZooKeeperRefused(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	for _, args := range [][]string{
		{"list", "--zookeeper", addr},
		{"lag", "g", "--zookeeper", addr, "--watch"},
		{"describe", "g", "--zookeeper", addr},
	} {
		r := runTool(t, args...).want(t, exitUsage).wantStderr(t, "ZooKeeper", addr, "connection refused")
		if r.took > 5*time.Second {
			t.Errorf("%s took %v (default --timeout 10s): not fast", args[0], r.took)
		}
	}
}

// lag --watch waits out a ZooKeeper outage, saying so and when it is back;
// its JSON is one compact object a line, with a time and, from the second
// sample on, rates.
func TestLagWatchZooKeeperLoss(t *testing.T) {
	t.Parallel()
	const topic = "ticks"
	c := newCluster(t, map[string]int32{topic: 1})
	c.produce(topic, 0, "a", "b", "c", "d")
	c.tool("consume", "--group", "wl", "--topic", topic, "--max", "2").want(t, 0)
	proxy, err := testenv.NewProxy(c.servers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	p := startTool(t, "lag --watch", "lag", "wl", "--watch", "--interval", "100ms", "--timeout", "1s",
		"--zookeeper", proxy.Addr()+c.chroot, "--output", "json")
	docs := func(n int) func([]outLine) bool {
		return func(lines []outLine) bool { return len(lines) >= n }
	}
	p.waitOutput("2 samples", docs(2))
	proxy.Cut()
	waitFor(t, waitTimeout, "a line saying ZooKeeper is lost", func() error {
		if !strings.Contains(p.stderr.String(), "ZooKeeper at "+proxy.Addr()) || !strings.Contains(p.stderr.String(), "still watching") {
			return fmt.Errorf("stderr %q", p.stderr.String())
		}
		return nil
	})
	lines, _ := p.snapshot()
	before := len(lines)
	proxy.Restore()
	waitFor(t, waitTimeout, "a line saying ZooKeeper is back", func() error {
		if !strings.Contains(p.stderr.String(), "is back") {
			return fmt.Errorf("stderr %q", p.stderr.String())
		}
		return nil
	})
	p.waitOutput("samples after the outage", docs(before+2))
	p.signal(sigint)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT\n%s", code, p.describe())
	}
	lines, _ = p.snapshot()
	rated := 0
	for i, l := range lines {
		var s struct {
			Time       string `json:"time"`
			Partitions []struct {
				Time     string   `json:"time"`
				Consumed *float64 `json:"consumed_per_sec"`
				Produced *float64 `json:"produced_per_sec"`
				Lag      *int64   `json:"lag"`
			} `json:"partitions"`
		}
		if err := json.Unmarshal([]byte(l.text), &s); err != nil {
			t.Fatalf("line %d is not one JSON object: %q: %v", i, l.text, err)
		}
		if _, err := time.Parse(time.RFC3339, s.Time); err != nil || len(s.Partitions) != 1 || s.Partitions[0].Time != s.Time {
			t.Errorf("line %d: time %q, partitions %+v", i, s.Time, s.Partitions)
		}
		if s.Partitions[0].Lag == nil || *s.Partitions[0].Lag != 2 {
			t.Errorf("line %d: lag %v, want 2", i, s.Partitions[0].Lag)
		}
		if s.Partitions[0].Consumed != nil && s.Partitions[0].Produced != nil {
			rated++
		}
	}
	if rated < len(lines)-1 {
		t.Errorf("%d of %d samples have rates, want all but the first", rated, len(lines))
	}
}

// reset-offsets says when it creates a group and when it clamps an offset.
func TestResetOffsetsNotes(t *testing.T) {
	t.Parallel()
	const topic = "notes"
	c := newCluster(t, map[string]int32{topic: 1})
	c.produce(topic, 0, "a", "b", "c")
	c.tool("reset-offsets", "typo-group", "--topic", topic, "--to-earliest").want(t, 0).
		wantStderr(t, `group "typo-group" does not exist`, "--execute would create it")
	c.tool("reset-offsets", "typo-group", "--topic", topic, "--to-earliest", "--execute").want(t, 0).
		wantStderr(t, `group "typo-group" does not exist`, "--execute creates it")
	r := c.tool("reset-offsets", "typo-group", "--topic", topic, "--to-offset", "99999999", "--execute").want(t, 0).
		wantStderr(t, "notes/0: --to-offset 99999999 is 99999999, outside the log (0..3): clamped to the log end, 3")
	if strings.Contains(r.stderr, "does not exist") {
		t.Errorf("the group exists now:\n%v", r)
	}
}

// produce tells its bad flags apart, and produces standard input's lines.
func TestProduceInput(t *testing.T) {
	t.Parallel()
	const topic = "lines"
	c := newCluster(t, map[string]int32{topic: 1})
	c.tool("produce", "--topic", topic, "--count", "-1").want(t, exitUsage).wantStderr(t, "--count must be at least 1, not -1")
	c.tool("produce", "--count", "3").want(t, exitUsage).wantStderr(t, "--topic is required")
	c.tool("produce", "--topic", topic, "extra").want(t, exitUsage).wantStderr(t, "produce takes no argument")
	in := "k1:v1\nk2:v:2\n"
	runToolInput(t, nil, in, "produce", "--zookeeper", c.zkAddr(), "--topic", topic, "--key-separator", ":", "--header", "h=1").
		want(t, 0).wantStdout(t, "produced 2 messages to lines")
	runToolInput(t, nil, "plain\n", "produce", "--zookeeper", c.zkAddr(), "--topic", topic).want(t, 0)
	runToolInput(t, nil, "nokey\n", "produce", "--zookeeper", c.zkAddr(), "--topic", topic, "--key-separator", ":").
		want(t, exitError).wantStderr(t, "line 1: no key separator")
	r := c.tool("consume", "--topic", topic, "--from-offset", "0", "--max", "3", "--format", "{offset} {key}={value} [{headers}]").want(t, 0)
	if want := "0 k1=v1 [h:1]\n1 k2=v:2 [h:1]\n2 =plain []\n"; r.stdout != want {
		t.Errorf("consumed %q, want %q", r.stdout, want)
	}
}

// A chroot where nothing of Kafka's is: an error with a hint, not an empty
// list.
func TestListWrongChroot(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]int32{"x": 1})
	wrong := strings.Join(c.servers, ",") + c.chroot + "-typo"
	runTool(t, "list", "--zookeeper", wrong).want(t, exitError).wantStderr(t, "no Kafka brokers", "wrong --chroot")
	// The right one, without groups: a note, exit 0.
	c.tool("list").want(t, exitOK).wantStderr(t, "no consumer groups", "1 Kafka brokers registered")
}

// The operators' binary links neither goleak nor the testing package.
func TestBinaryLeavesOutTests(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasPrefix(dep, "go.uber.org/goleak") {
			t.Errorf("groupctl links %s", dep)
		}
	}
}
