package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup/bench/env"
)

// scaleTick: every tick the producer writes one message to every partition
// of the scale topic (1,000 per 50 ms: 20,000 msg/s).
const scaleTick = 50 * time.Millisecond

func scale(ctx context.Context, b *bench) error {
	n, parts := b.sz.scaleMembers, b.sz.scalePartitions
	topic, group := "scale", "scale-group"
	if err := b.kafka.CreateTopic(ctx, topic, parts); err != nil {
		return err
	}
	stopProducer, err := startProducer(b, topic, parts, scaleTick)
	if err != nil {
		return err
	}
	producing := true
	defer func() {
		if producing {
			stopProducer()
		}
	}()
	sys := system{"ours (sticky)", startOursDirect}
	g := &groupRun{ctx: ctx, b: b, sys: sys, topic: topic, group: group, tr: newTracker(int(parts)), parts: int(parts)}
	closed := false
	defer func() {
		if !closed {
			g.closeAll()
		}
	}()

	heap0 := heapInUse()
	// Start every member at once.
	b.logf("scale: starting %d members on %d partitions", n, parts)
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
			return errs[i]
		}
		g.live = append(g.live, members[i])
	}
	g.next = n
	o, err := g.await(nil, 3*time.Minute)
	if err != nil {
		return fmt.Errorf("starting %d members: %w", n, err)
	}
	startConv := o.converge
	b.logf("scale: %d members converged %v after the first started", n, startConv.Round(time.Millisecond))

	// Steady state: memory, then ZooKeeper's counters over a window.
	time.Sleep(2 * time.Second)
	heap1 := heapInUse()
	m0, err := b.zk.Mntr()
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(b.sz.zkWindow)
	m1, err := b.zk.Mntr()
	if err != nil {
		return err
	}
	window := time.Since(t0).Seconds()
	rate := func(key string) float64 {
		a, _ := strconv.ParseFloat(m0[key], 64)
		c, _ := strconv.ParseFloat(m1[key], 64)
		return (c - a) / window
	}
	writes, reads, packets := rate("zk_cnt_updatelatency"), rate("zk_cnt_readlatency"), rate("zk_packets_received")
	b.logf("scale: ZooKeeper: %.1f writes/s, %.1f reads/s, %.1f packets/s", writes, reads, packets)

	st := map[string]*rbStats{"join": {}, "leave": {}}
	for rep := range b.sz.scaleReps {
		if err := g.event("join", 0, st["join"]); err != nil {
			return fmt.Errorf("join: %w", err)
		}
		if err := g.event("leave", (rep*7+3)%n, st["leave"]); err != nil {
			return fmt.Errorf("leave: %w", err)
		}
		b.logf("scale: repetition %d/%d: join %s ms, leave %s ms", rep+1, b.sz.scaleReps, ms(st["join"].conv[rep]), ms(st["leave"].conv[rep]))
	}
	g.closeAll()
	closed = true
	stopProducer()
	producing = false

	// One member alone taking all the partitions: its heap beyond what
	// its ZooKeeper and Kafka clients already held.
	b.logf("scale: one member taking all %d partitions", parts)
	solo := &ours{cut: env.NewCutter(), done: make(chan struct{})}
	if err := solo.connect(ctx, b, b.zk.Addr()); err != nil {
		return err
	}
	heap2 := heapInUse()
	soloStart := time.Now()
	tr := newTracker(int(parts))
	if err := solo.join(ctx, topic, group, 0, tr); err != nil {
		solo.cl.Close()
		solo.zk.Close()
		return err
	}
	for len(solo.owned()) < int(parts) {
		if time.Since(soloStart) > 2*time.Minute {
			solo.leave()
			return fmt.Errorf("one member: %d of %d partitions claimed after 2 minutes", len(solo.owned()), parts)
		}
		time.Sleep(5 * time.Millisecond)
	}
	soloClaim := time.Since(soloStart)
	time.Sleep(time.Second)
	heap3 := heapInUse()
	solo.leave()

	var sb strings.Builder
	sb.WriteString("## 3. Scale (ours only)\n\n")
	fmt.Fprintf(&sb, "%d members in this process, each with its own ZooKeeper session and franz-go client, one group on a topic of "+
		"%d partitions; a producer writes one message to every partition every %v (%.0f msg/s). Convergence as in part 2.\n\n",
		n, parts, scaleTick, float64(parts)/scaleTick.Seconds())
	rows := [][]string{
		{fmt.Sprintf("start: %d members started at once, until all converge", n), ms(startConv) + " ms"},
		{fmt.Sprintf("a member joins (%d samples)", len(st["join"].conv)), fmt.Sprintf("p50 %s ms, max %s ms (%.0f partitions moved on average)",
			ms(percentile(st["join"].conv, 50)), ms(percentile(st["join"].conv, 100)), avg(st["join"].moved))},
		{fmt.Sprintf("a member leaves (%d samples)", len(st["leave"].conv)), fmt.Sprintf("p50 %s ms, max %s ms (%.0f partitions moved on average)",
			ms(percentile(st["leave"].conv, 50)), ms(percentile(st["leave"].conv, 100)), avg(st["leave"].moved))},
		{fmt.Sprintf("ZooKeeper in steady state (%v window)", b.sz.zkWindow), fmt.Sprintf("%.1f writes/s, %.1f reads/s, %.1f packets received/s (pings included)", writes, reads, packets)},
		{"heap in use of the whole group (50 clients included)", fmt.Sprintf("%.1f MB (%.0f KB per member)", mb(heap1-heap0), float64(heap1-heap0)/1024/float64(n))},
		{fmt.Sprintf("one member alone claiming all %d partitions", parts), fmt.Sprintf("claimed in %s ms; heap in use +%.2f MB over its connected clients: %.2f MB per 1,000 claimed partitions",
			ms(soloClaim), mb(heap3-heap2), mb(heap3-heap2)*1000/float64(parts))},
	}
	sb.WriteString(table([]string{"figure", "value"}, rows))
	sb.WriteString("\nWrites are ZooKeeper's update transactions (`zk_cnt_updatelatency`), reads its read requests " +
		"(`zk_cnt_readlatency`), packets every request received (`zk_packets_received`), all from `mntr`. Heap figures are " +
		"runtime.MemStats.HeapInuse after a GC, in this process (kfake's share included).\n")
	b.rep.section(sb.String())
	return nil
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
