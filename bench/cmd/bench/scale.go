package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/bench/env"
)

// scaleTick: every tick the producer writes one message to every partition
// of the scale topic (1,000 per 50 ms: 20,000 msg/s).
const scaleTick = 50 * time.Millisecond

// scaleSystems are the systems of part 3: ours on each coordinator, and,
// only when -filter names them, franz-go's own group consumers on Kafka's
// coordinator (to tell ours from the coordinator's cost).
func scaleSystems(b *bench) []system {
	out := []system{{"ours (sticky)", startOursDirect}}
	for _, s := range systems {
		if strings.HasPrefix(s.name, "ours on Kafka") {
			out = append(out, s)
		}
	}
	if len(b.only) > 0 {
		out = append(out,
			system{"franz-go classic cooperative-sticky (bare)", startKgo(kgo.CooperativeStickyBalancer())},
			system{"franz-go KIP-848 (bare)", startKgo(kgo.CooperativeStickyBalancer(), kgo.ServerSideBalancer())})
	}
	return out
}

func scale(ctx context.Context, b *bench) error {
	n, parts := b.sz.scaleMembers, b.sz.scalePartitions
	topic := "scale"
	if err := b.kafka.CreateTopic(ctx, topic, parts); err != nil {
		return err
	}
	stopProducer, err := startProducer(b, topic, parts, scaleTick)
	if err != nil {
		return err
	}
	defer stopProducer()
	var sb strings.Builder
	sb.WriteString("## 3. Scale (ours)\n\n")
	fmt.Fprintf(&sb, "%d members in this process, each with its own coordinator connection (ZooKeeper session, or Kafka group member) "+
		"and franz-go client, one group on a topic of %d partitions; a producer writes one message to every partition every %v "+
		"(%.0f msg/s). Convergence as in part 2; the start is timed from the moment the first member is created (connecting "+
		"included) until all %d members converged.\n\n", n, parts, scaleTick, float64(parts)/scaleTick.Seconds(), n)
	for i, sys := range scaleSystems(b) {
		if !b.selected(sys.name) {
			continue
		}
		text, err := scaleOne(ctx, b, sys, topic, fmt.Sprintf("scale-group-%d", i))
		if err != nil {
			return fmt.Errorf("%s: %w", sys.name, err)
		}
		sb.WriteString(text)
	}
	sb.WriteString("\nWrites are ZooKeeper's update transactions (`zk_cnt_updatelatency`), reads its read requests " +
		"(`zk_cnt_readlatency`), packets every request received (`zk_packets_received`), all from `mntr`. Heap figures are " +
		"runtime.MemStats.HeapInuse after a GC, in this process (kfake's share included). Sessions lost: ZooKeeper sessions " +
		"the members had to replace during the start (a loaded machine starving a member or ZooKeeper for 2/3 of the " +
		"session timeout).\n")
	b.rep.section(sb.String())
	return nil
}

// scaleOne measures one system: the start of every member at once, joins
// and leaves, and for ours on ZooKeeper its load on ZooKeeper and one member
// alone claiming every partition.
func scaleOne(ctx context.Context, b *bench, sys system, topic, group string) (string, error) {
	n, parts := b.sz.scaleMembers, b.sz.scalePartitions
	zkSys := sys.name == "ours (sticky)"
	g := &groupRun{ctx: ctx, b: b, sys: sys, topic: topic, group: group, tr: newTracker(int(parts)), parts: int(parts)}
	closed := false
	defer func() {
		if !closed {
			g.closeAll()
		}
	}()

	heap0 := heapInUse()
	zkStart, err := b.zk.Mntr()
	if err != nil {
		return "", err
	}
	// Start every member at once.
	b.logf("scale: %s: starting %d members on %d partitions", sys.name, n, parts)
	start := time.Now()
	g.tr.startEvent(start)
	members := make([]liveMember, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var m member
			m, errs[i] = sys.start(ctx, b, topic, group, i, g.tr)
			members[i] = liveMember{i, m}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			return "", errs[i]
		}
		g.live = append(g.live, members[i])
	}
	g.next = n
	o, err := g.await(nil, 3*time.Minute)
	if err != nil {
		return "", fmt.Errorf("starting %d members: %w", n, err)
	}
	startConv := o.converge
	zkConv, err := b.zk.Mntr()
	if err != nil {
		return "", err
	}
	lost := 0
	for _, lm := range g.live {
		if m, ok := lm.m.(*ours); ok {
			lost += m.zk.Sessions() - 1
		}
	}
	diff := func(m0, m1 map[string]string, key string) float64 {
		a, _ := strconv.ParseFloat(m0[key], 64)
		c, _ := strconv.ParseFloat(m1[key], 64)
		return c - a
	}
	b.logf("scale: %s: %d members converged %v after the first started", sys.name, n, startConv.Round(time.Millisecond))
	rows := [][]string{{fmt.Sprintf("start: %d members started at once, until all converge", n), ms(startConv) + " ms"}}
	if zkSys {
		rows = append(rows, []string{"start: ZooKeeper requests until converged", fmt.Sprintf("%.0f packets received, %.0f writes; %d sessions lost",
			diff(zkStart, zkConv, "zk_packets_received"), diff(zkStart, zkConv, "zk_cnt_updatelatency"), lost)})
	}

	var writes, reads, packets float64
	var heap1 int64
	if zkSys {
		// Steady state: memory, then ZooKeeper's counters over a window.
		time.Sleep(2 * time.Second)
		heap1 = heapInUse()
		m0, err := b.zk.Mntr()
		if err != nil {
			return "", err
		}
		t0 := time.Now()
		time.Sleep(b.sz.zkWindow)
		m1, err := b.zk.Mntr()
		if err != nil {
			return "", err
		}
		window := time.Since(t0).Seconds()
		writes, reads, packets = diff(m0, m1, "zk_cnt_updatelatency")/window, diff(m0, m1, "zk_cnt_readlatency")/window, diff(m0, m1, "zk_packets_received")/window
		b.logf("scale: ZooKeeper: %.1f writes/s, %.1f reads/s, %.1f packets/s", writes, reads, packets)
	}

	st := map[string]*rbStats{"join": {}, "leave": {}}
	for rep := range b.sz.scaleReps {
		if err := g.event("join", 0, st["join"]); err != nil {
			return "", fmt.Errorf("join: %w", err)
		}
		if err := g.event("leave", (rep*7+3)%n, st["leave"]); err != nil {
			return "", fmt.Errorf("leave: %w", err)
		}
		b.logf("scale: %s: repetition %d/%d: join %s ms, leave %s ms", sys.name, rep+1, b.sz.scaleReps, ms(st["join"].conv[rep]), ms(st["leave"].conv[rep]))
	}
	g.closeAll()
	closed = true
	rows = append(rows,
		[]string{fmt.Sprintf("a member joins (%d samples)", len(st["join"].conv)), fmt.Sprintf("p50 %s ms, max %s ms (%.0f partitions moved on average)",
			ms(percentile(st["join"].conv, 50)), ms(percentile(st["join"].conv, 100)), avg(st["join"].moved))},
		[]string{fmt.Sprintf("a member leaves (%d samples)", len(st["leave"].conv)), fmt.Sprintf("p50 %s ms, max %s ms (%.0f partitions moved on average)",
			ms(percentile(st["leave"].conv, 50)), ms(percentile(st["leave"].conv, 100)), avg(st["leave"].moved))})
	if !zkSys {
		return fmt.Sprintf("### %s\n\n", sys.name) + table([]string{"figure", "value"}, rows) + "\n", nil
	}

	// One member alone taking all the partitions: its heap beyond what
	// its ZooKeeper and Kafka clients already held.
	b.logf("scale: one member taking all %d partitions", parts)
	solo := &ours{cut: env.NewCutter(), done: make(chan struct{})}
	if err := solo.connect(ctx, b, b.zk.Addr()); err != nil {
		return "", err
	}
	heap2 := heapInUse()
	soloStart := time.Now()
	tr := newTracker(int(parts))
	if err := solo.join(ctx, topic, group, 0, tr); err != nil {
		solo.cl.Close()
		solo.zk.Close()
		return "", err
	}
	for len(solo.owned()) < int(parts) {
		if time.Since(soloStart) > 2*time.Minute {
			solo.leave()
			return "", fmt.Errorf("one member: %d of %d partitions claimed after 2 minutes", len(solo.owned()), parts)
		}
		time.Sleep(5 * time.Millisecond)
	}
	soloClaim := time.Since(soloStart)
	time.Sleep(time.Second)
	heap3 := heapInUse()
	solo.leave()

	rows = append(rows,
		[]string{fmt.Sprintf("ZooKeeper in steady state (%v window)", b.sz.zkWindow), fmt.Sprintf("%.1f writes/s, %.1f reads/s, %.1f packets received/s (pings included)", writes, reads, packets)},
		[]string{"heap in use of the whole group (50 clients included)", fmt.Sprintf("%.1f MB (%.0f KB per member)", mb(heap1-heap0), float64(heap1-heap0)/1024/float64(n))},
		[]string{fmt.Sprintf("one member alone claiming all %d partitions", parts), fmt.Sprintf("claimed in %s ms; heap in use +%.2f MB over its connected clients: %.2f MB per 1,000 claimed partitions",
			ms(soloClaim), mb(heap3-heap2), mb(heap3-heap2)*1000/float64(parts))})
	return fmt.Sprintf("### %s (ZooKeeper)\n\n", sys.name) + table([]string{"figure", "value"}, rows) + "\n", nil
}

// heapInUse returns HeapInuse after a full GC.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func avg(xs []int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0
	for _, x := range xs {
		s += x
	}
	return float64(s) / float64(len(xs))
}
