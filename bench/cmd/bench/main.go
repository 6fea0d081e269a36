// Command bench measures the consumer group against franz-go and sarama on
// an in-process kfake cluster and a real ZooKeeper, all on loopback, and
// writes a markdown report (RESULTS.md, or RESULTS-short.md with -short).
//
// Three parts: throughput of one consumer reading a backlog, rebalance
// latency of a group of 8 under steady production, and the scale of one
// group of 50 members on 1,000 partitions (ours only). See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/consumergroup/consumergroup/bench/env"
)

// sizes are the sizes of one run.
type sizes struct {
	messages        int           // throughput: messages per run
	tries           int           // throughput: runs of each consumer (but Checkout), the best reported
	reps            int           // rebalance: repetitions of each scenario
	scaleMembers    int           // scale: members
	scalePartitions int32         // scale: partitions
	scaleReps       int           // scale: joins and leaves measured
	zkWindow        time.Duration // scale: window of the ZooKeeper counters
}

var (
	full  = sizes{messages: 2_000_000, tries: 2, reps: 20, scaleMembers: 50, scalePartitions: 1000, scaleReps: 3, zkWindow: 10 * time.Second}
	small = sizes{messages: 200_000, tries: 1, reps: 3, scaleMembers: 50, scalePartitions: 1000, scaleReps: 1, zkWindow: 3 * time.Second}
)

// bench is what every part runs against.
type bench struct {
	sz     sizes
	only   []string // consumers and systems whose name contains one of these (all when empty)
	sizes  []int    // throughput: message sizes, bytes
	prof   string   // throughput: CPU profile of each consumer run to prof-SIZE-INDEX
	zk     *env.ZooKeeper
	kafka  env.Broker
	rep    *report
	start  time.Time
	scale  scaleConfig // part 3's grid and systems
	broker string      // -kafka
}

// logf prints progress to stderr.
func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%7.1fs] %s\n", time.Since(b.start).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	if env.RunKfakeChild() {
		return // this process was kfake's, for -kafka kfake-proc
	}
	short := flag.Bool("short", false, "small sizes (about 5 minutes, 3 of them the quiet scenario); writes RESULTS-short.md")
	only := flag.String("only", "throughput,rebalance,quiet,scale", "parts to run, comma-separated (quiet: the rebalance part's quiet-topic scenario)")
	out := flag.String("out", "", "report file (default RESULTS.md, or RESULTS-short.md with -short)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file; with -only throughput, one per consumer run: FILE-SIZE-INDEX")
	flag.StringVar(&memprofile, "memprofile", "", "with -only throughput: the heap profile (allocations since the start) before and after each consumer run, FILE-SIZE-INDEX.before and .after: go tool pprof -sample_index=alloc_space -diff_base FILE-SIZE-INDEX.before FILE-SIZE-INDEX.after")
	kafka := flag.String("kafka", "kfake", "the Kafka to run against: kfake (in-process), kfake-proc (kfake in a child process), apache (a real Apache Kafka 3.9 broker; make bench fetches it) or apache4 (a real Apache Kafka 4 broker: KIP-848 rows)")
	cons := flag.String("filter", "", "only the consumers (throughput) and systems (rebalance) whose name contains one of these comma-separated words; raw franz-go always runs")
	flag.DurationVar(&sessionTimeout, "session", sessionTimeout, "parts 2 and 3: every member's session timeout (ZooKeeper's for ours, the group coordinator's for franz-go's and sarama's, kfake's group.consumer.session.timeout.ms for KIP-848 groups); the scale curve at hundreds of members on 2 cores wants the library's default, 6s")
	sizeList := flag.String("sizes", "100,1000", "throughput: the message sizes in bytes, comma-separated (targets only with both defaults)")
	messages := flag.Int("messages", 0, "throughput: messages of each backlog (default 2,000,000, -short 200,000)")
	scaleFlags := scaleFlags()
	flag.Parse()
	if *messages < 0 {
		fmt.Fprintf(os.Stderr, "bench: -messages %d: want a positive number\n", *messages)
		os.Exit(2)
	}
	if sessionTimeout < time.Second || sessionTimeout > time.Minute {
		fmt.Fprintf(os.Stderr, "bench: -session %v: want 1s to 1m (heartbeats every %v)\n", sessionTimeout, heartbeat)
		os.Exit(2)
	}
	env.GroupSession = sessionTimeout // KIP-848 groups' session is kfake's to set
	sc, err := scaleFlags.parse()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	var msgSizes []int
	for _, f := range strings.Split(*sizeList, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: -sizes %q: want positive numbers of bytes, comma-separated\n", *sizeList)
			os.Exit(2)
		}
		msgSizes = append(msgSizes, n)
	}
	var filter []string
	if *cons != "" {
		filter = strings.Split(*cons, ",")
	}
	if !slices.Contains([]string{"kfake", "kfake-proc", "apache", "apache4"}, *kafka) {
		fmt.Fprintf(os.Stderr, "bench: -kafka %q: want kfake, kfake-proc, apache or apache4\n", *kafka)
		os.Exit(2)
	}
	if err := run(*short, *kafka, strings.Split(*only, ","), filter, msgSizes, *messages, sc, *out, *cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run runs the parts against a ZooKeeper and a Kafka of its own, and
// writes the report to out.
func run(short bool, kafka string, parts, consumers []string, msgSizes []int, messages int, sc scaleConfig, out, cpuprofile string) (err error) {
	b := &bench{sz: full, start: time.Now(), only: consumers, sizes: msgSizes, scale: sc, broker: kafka}
	if short {
		b.sz = small
	}
	if messages > 0 {
		b.sz.messages = messages
	}
	if out == "" {
		out = reportFile(short, kafka, parts)
	}
	stopProfile, err := b.profile(parts, cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b.logf("starting ZooKeeper")
	if b.zk, err = env.StartZooKeeper(); err != nil {
		return err
	}
	defer func() {
		if cerr := b.zk.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	// A second interrupt while cleaning up still kills ZooKeeper: its
	// process gets SIGKILL when this process dies (Pdeathsig).
	if err := b.startKafka(kafka); err != nil {
		return err
	}
	defer b.kafka.Close()
	b.logf("ZooKeeper at %s, %s at %v", b.zk.Addr(), b.kafka.Describe(), b.kafka.Addrs())

	mode := "full"
	if short {
		mode = "short (-short)"
	}
	b.rep = newReport(mode)
	b.rep.kafka = b.kafka.Describe()
	if err := b.runParts(ctx, parts); err != nil {
		return err
	}
	text := b.rep.render(time.Since(b.start))
	fmt.Print(text)
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		return err
	}
	b.logf("wrote %s", out)
	return nil
}

// reportFile is the report's default name: RESULTS.md, RESULTS-short.md
// with -short, and the Kafka's name before ".md" unless it is kfake; with
// -only scale, RESULTS-scale.md (the broker is in the report).
func reportFile(short bool, kafka string, parts []string) string {
	if slices.Equal(parts, []string{"scale"}) {
		if short {
			return "RESULTS-scale-short.md"
		}
		return "RESULTS-scale.md"
	}
	out := "RESULTS.md"
	if short {
		out = "RESULTS-short.md"
	}
	if kafka != "kfake" {
		out = strings.TrimSuffix(out, ".md") + "-" + kafka + ".md"
	}
	return out
}

// profile starts -cpuprofile's CPU profile of the whole run, and returns
// what stops it; with -only throughput, the throughput part profiles each
// consumer run instead (b.prof).
func (b *bench) profile(parts []string, cpuprofile string) (stop func(), err error) {
	if cpuprofile == "" {
		return func() {}, nil
	}
	if slices.Equal(parts, []string{"throughput"}) {
		b.prof = cpuprofile
		return func() {}, nil
	}
	f, err := os.Create(cpuprofile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// startKafka starts the Kafka that -kafka names, registered in b's
// ZooKeeper (but apache4's, in KRaft mode). Against Apache Kafka 3.9, the
// KIP-848 systems and consumers are left out.
func (b *bench) startKafka(kafka string) (err error) {
	switch kafka {
	case "apache":
		b.kafka, err = env.StartApache(b.zk.Addr())
		// Kafka 3.9 has no KIP-848.
		systems = slices.DeleteFunc(systems, func(s system) bool { return strings.Contains(s.name, "KIP-848") })
		dropKIP848Consumers()
		dropShareConsumers() // and no share groups
	case "apache4":
		b.kafka, err = env.StartApache4()
	case "kfake-proc":
		b.kafka, err = env.StartKafkaProcess(b.zk.Addr())
	default:
		b.kafka, err = env.StartKafka(b.zk.Addr())
	}
	return err
}

// runParts runs the parts named, in their order in the report.
func (b *bench) runParts(ctx context.Context, parts []string) error {
	if slices.Contains(parts, "throughput") {
		if err := throughput(ctx, b); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	if slices.Contains(parts, "rebalance") {
		if err := rebalance(ctx, b); err != nil {
			return fmt.Errorf("rebalance: %w", err)
		}
	}
	if slices.Contains(parts, "quiet") {
		if err := quiet(ctx, b); err != nil {
			return fmt.Errorf("rebalance (quiet): %w", err)
		}
	}
	if slices.Contains(parts, "scale") {
		if err := scale(ctx, b); err != nil {
			return fmt.Errorf("scale: %w", err)
		}
	}
	return nil
}
