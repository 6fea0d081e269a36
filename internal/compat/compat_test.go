package compat

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// envReport names the file TestCompat writes its table to (make compat
// prints it).
const envReport = "CONSUMERGROUP_COMPAT_REPORT"

// result is one row of the table.
type result struct {
	target   string
	versions string // what ran, as the servers report it
	pass     bool
	burrow   bool          // Burrow read the group's offsets
	start    time.Duration // starting the servers (JVMs) and creating the topic
	scenario time.Duration
}

// TestCompat runs the scenario on each target CONSUMERGROUP_COMPAT selects
// (make compat: every one), each on servers of its own, and writes the
// results table.
func TestCompat(t *testing.T) {
	spec, ok := os.LookupEnv(envCompat)
	if !ok {
		t.Skipf("%s is not set: make compat runs this test", envCompat)
	}
	tgs, err := selectTargets(spec)
	if err != nil {
		t.Fatal(err)
	}
	var results []result
	for _, tg := range tgs {
		res := result{target: tg.name, versions: "(did not start)"}
		begin := time.Now()
		res.pass = t.Run(tg.name, func(t *testing.T) {
			e := start(t, tg)
			res.versions = e.versions()
			res.start = time.Since(begin)
			res.burrow = scenario(t, e)
			res.scenario = time.Since(begin) - res.start
		})
		if res.start == 0 { // the start failed
			res.start = time.Since(begin)
		}
		results = append(results, res)
	}
	table := report(results, time.Now(), machine())
	t.Log("\n" + table)
	if path := os.Getenv(envReport); path != "" {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// report returns the results as the Markdown table of docs/TESTING.md.
func report(results []result, date time.Time, machine string) string {
	var b strings.Builder
	b.WriteString("| target | versions | result | Burrow | start | scenario | date | machine |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		status, scen, burrow := "pass", fmt.Sprintf("%.1f s", r.scenario.Seconds()), "not installed"
		if r.burrow {
			burrow = "read the offsets"
		}
		if !r.pass {
			status, scen, burrow = "**FAIL**", "-", "-"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.1f s | %s | %s | %s |\n",
			r.target, r.versions, status, burrow, r.start.Seconds(), scen, date.UTC().Format(time.DateOnly), machine)
	}
	return b.String()
}

// machine describes where the run happened: OS, architecture, CPUs (and
// their model where /proc/cpuinfo says), Go and Java.
func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = " " + strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	java := "java ?"
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		for line := range strings.SplitSeq(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 3 && strings.HasSuffix(f[1], "version") {
				java = "Java " + strings.Trim(f[2], `"`)
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs%s, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version(), java)
}

// TestReport: a passing row gives both durations, a failing one says FAIL
// and no scenario time, every row the date and the machine.
func TestReport(t *testing.T) {
	date := time.Date(2026, 12, 7, 23, 59, 0, 0, time.UTC)
	got := report([]result{
		{target: "zookeeper-3.5", versions: "ZooKeeper 3.5.10, kfake", pass: true, burrow: true, start: 1500 * time.Millisecond, scenario: 12340 * time.Millisecond},
		{target: "zookeeper-3.6", versions: "ZooKeeper 3.6.4, kfake", pass: true, start: time.Second, scenario: time.Second},
		{target: "kafka-2.8", versions: "(did not start)", start: 90 * time.Second},
	}, date, "linux/amd64, 2 CPUs")
	want := "| target | versions | result | Burrow | start | scenario | date | machine |\n" +
		"|---|---|---|---|---|---|---|---|\n" +
		"| zookeeper-3.5 | ZooKeeper 3.5.10, kfake | pass | read the offsets | 1.5 s | 12.3 s | 2026-12-07 | linux/amd64, 2 CPUs |\n" +
		"| zookeeper-3.6 | ZooKeeper 3.6.4, kfake | pass | not installed | 1.0 s | 1.0 s | 2026-12-07 | linux/amd64, 2 CPUs |\n" +
		"| kafka-2.8 | (did not start) | **FAIL** | - | 90.0 s | - | 2026-12-07 | linux/amd64, 2 CPUs |\n"
	if got != want {
		t.Fatalf("report:\n%s\nwant:\n%s", got, want)
	}
}
