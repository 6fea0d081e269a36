package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report collects the sections of the markdown report and the targets.
type report struct {
	mode     string
	kafka    string // the broker, when not the default
	started  time.Time
	sections []string
	targets  []target
}

// target is one goal: met or missed, with the figure it was judged on.
type target struct {
	name   string
	met    bool
	figure string
}

func newReport(mode string) *report { return &report{mode: mode, started: time.Now()} }

func (r *report) section(s string) { r.sections = append(r.sections, s) }

func (r *report) target(name string, met bool, format string, args ...any) {
	r.targets = append(r.targets, target{name, met, fmt.Sprintf(format, args...)})
}

func (r *report) render(elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark results (%s run)\n\n", r.mode)
	b.WriteString(machine(r.started))
	if r.kafka != "" {
		fmt.Fprintf(&b, "- Kafka: %s\n", r.kafka)
	}
	fmt.Fprintf(&b, "- run time: %s\n\n", elapsed.Round(time.Second))
	if strings.Contains(r.kafka, "own process") && strings.HasPrefix(r.kafka, "kfake") {
		b.WriteString("kfake runs in a child process of the benchmark, on the same 2 cores as the consumers and the\n" +
			"producer; ZooKeeper is a local Java process. Absolute numbers are low: compare the ratios.\n\n")
	} else if r.kafka == "" || strings.HasPrefix(r.kafka, "kfake") {
		b.WriteString("kfake runs in this process and shares its cores with every consumer and with the\n" +
			"producer; ZooKeeper is a local Java process. Absolute numbers are low: compare the ratios.\n\n")
	} else {
		b.WriteString("The broker is a Java process on the same 2 cores as the consumers and the producer;\n" +
			"ZooKeeper is another. Absolute numbers are low: compare the ratios. The limits below that\n" +
			"speak of kfake's coordinator apply to this broker's instead.\n\n")
	}
	for _, s := range r.sections {
		b.WriteString(s)
		b.WriteString("\n")
	}
	b.WriteString(limits)
	if len(r.targets) > 0 {
		b.WriteString("## Targets\n\n")
		for _, t := range r.targets {
			state := "met"
			if !t.met {
				state = "MISSED"
			}
			fmt.Fprintf(&b, "- %s: **%s** (%s)\n", t.name, state, t.figure)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// limits is what the figures cannot tell (see README.md).
const limits = `## Limits

- kfake runs in this process (with -kafka kfake-proc, in a child process), on the same 2 cores as the consumers, the producer and (parts 2 and 3) up to
  51 Kafka clients; ZooKeeper is a local Java process. Rates move by 10 to 30% between runs: compare ratios.
- kfake is an emulation: franz-go's and sarama's rebalance times depend on its coordinator and timers.
- franz-go's direct consumer (which ours uses) sometimes holds all of a client's other partitions for about
  250 ms after RemoveConsumePartitions, fetch sessions or not (3 of 80 removals with a bare client on kfake):
  the rare unmoved-partition stalls and slow joins of ours come from the members that hand a partition over.
- Our members' ZooKeeper connections go through a proxy of this process (to cut them), one more hop.
- p99 of 20 samples is their maximum.
- A consumer that delivers nothing for 15 s is reported as stalled instead of ending the run.

`

// machine describes where the run happened.
func machine(when time.Time) string {
	var b strings.Builder
	b.WriteString("## Machine\n\n")
	fmt.Fprintf(&b, "- date: %s\n", when.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- CPU: %s\n", cpuModel())
	fmt.Fprintf(&b, "- nproc: %d (GOMAXPROCS %d)\n", runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "- memory: %s\n", memTotal())
	fmt.Fprintf(&b, "- Go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	return "unknown"
}

// table renders a markdown table.
func table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

// percentile returns the nearest-rank percentile q (0..100) of ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64)
}
