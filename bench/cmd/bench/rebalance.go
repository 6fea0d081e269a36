package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/bench/env"
)

// The rebalance part's shape.
const (
	rbPartitions = 64
	rbMembers    = 8
	// rbTick: every tick the producer writes one message to every
	// partition (64 per 10 ms: 6,400 msg/s), so that a partition that
	// delivers normally has a gap of about one tick.
	rbTick = 10 * time.Millisecond
	// rbQuiet is the quiet window before each event, whose longest gap is
	// the baseline of the gap measured during the rebalance.
	rbQuiet = 300 * time.Millisecond
	// rbTimeout bounds one rebalance.
	rbTimeout = 30 * time.Second
)

var scenarios = []string{"join", "leave", "crash"}

// rbStats are one system's figures for one scenario.
type rbStats struct {
	conv, gap, stall []time.Duration
	moved            []int
	failed           int
}

func rebalance(ctx context.Context, b *bench) error {
	results := make([]map[string]*rbStats, len(systems))
	for i, sys := range systems {
		if !b.selected(sys.name) {
			continue
		}
		t0 := time.Now()
		st, err := runRebalance(ctx, b, sys, i)
		if err != nil {
			return fmt.Errorf("%s: %w", sys.name, err)
		}
		results[i] = st
		b.logf("rebalance: %s done in %v", sys.name, time.Since(t0).Round(time.Second))
	}

	var sb strings.Builder
	sb.WriteString("## 2. Rebalance: 8 members, 64 partitions, steady production\n\n")
	fmt.Fprintf(&sb, "A producer writes one message to each partition every %v (%d msg/s). Each scenario is repeated %d times "+
		"(join: a 9th member starts; leave: a member other than the newest leaves gracefully; crash: a member's "+
		"connections are all cut, and a replacement joins afterwards, unmeasured). Session timeout %v for every system "+
		"(ours: ZooKeeper's, tick %v; franz-go and sarama: the coordinator's, heartbeat every %v).\n\n"+
		"- **converge**: from the event until every partition is owned by a live member (by the members' own "+
		"views, complete and balanced) and that owner has delivered a message of it since the event.\n"+
		"- **unmoved gap**: the longest time between two deliveries of a partition whose owner did not change, "+
		"from the last delivery before the event until convergence; **stall** is that minus the longest gap of any "+
		"partition in the %v before the event (the production tick and the fetch jitter).\n"+
		"- p99 of %d samples is their maximum.\n\n",
		rbTick, int(float64(rbPartitions)/rbTick.Seconds()), b.sz.reps, sessionTimeout, env.TickTime, heartbeat, rbQuiet, b.sz.reps)
	var rows [][]string
	for i, sys := range systems {
		if results[i] == nil {
			continue
		}
		for _, sc := range scenarios {
			st := results[i][sc]
			n := len(st.conv)
			moved := 0.0
			for _, m := range st.moved {
				moved += float64(m)
			}
			if n > 0 {
				moved /= float64(n)
			}
			row := []string{sys.name, sc, fmt.Sprintf("%d", n)}
			if st.failed > 0 {
				row[2] = fmt.Sprintf("%d (+%d timed out)", n, st.failed)
			}
			row = append(row, ms(percentile(st.conv, 50)), ms(percentile(st.conv, 99)), fmt.Sprintf("%.1f", moved),
				ms(percentile(st.gap, 50)), ms(percentile(st.gap, 99)), ms(percentile(st.stall, 50)), ms(percentile(st.stall, 99)))
			rows = append(rows, row)
		}
	}
	sb.WriteString(table([]string{"system", "event", "samples", "converge p50 ms", "converge p99 ms", "partitions moved",
		"unmoved gap p50 ms", "unmoved gap p99 ms", "stall p50 ms", "stall p99 ms"}, rows))
	b.rep.section(sb.String())

	ours := results[0]
	if ours == nil {
		return nil
	}
	for _, sc := range []string{"join", "leave"} {
		st := ours[sc]
		p50, p99 := percentile(st.conv, 50), percentile(st.conv, 99)
		b.rep.target(fmt.Sprintf("graceful %s p50 ≤ 50 ms, p99 ≤ 200 ms", sc), st.failed == 0 && len(st.conv) > 0 &&
			p50 <= 50*time.Millisecond && p99 <= 200*time.Millisecond, "p50 %s ms, p99 %s ms", ms(p50), ms(p99))
	}
	var stall time.Duration
	var gap time.Duration
	for _, sc := range scenarios {
		stall = max(stall, percentile(ours[sc].stall, 99))
		gap = max(gap, percentile(ours[sc].gap, 99))
	}
	b.rep.target("unmoved partitions' longest gap ≤ 10 ms (judged on the stall beyond the production tick)",
		stall <= 10*time.Millisecond, "stall p99 %s ms; raw gap p99 %s ms with a %s ms tick", ms(stall), ms(gap), ms(rbTick))
	limit := sessionTimeout + env.TickTime + 50*time.Millisecond
	cp99 := percentile(ours["crash"].conv, 99)
	b.rep.target(fmt.Sprintf("crash ≤ session timeout + one tick + 50 ms (%s ms)", ms(limit)),
		ours["crash"].failed == 0 && len(ours["crash"].conv) > 0 && cp99 <= limit, "p99 %s ms, p50 %s ms", ms(cp99), ms(percentile(ours["crash"].conv, 50)))
	return nil
}

// groupRun is one group under test: its live members in join order.
type groupRun struct {
	ctx   context.Context
	b     *bench
	sys   system
	topic string
	group string
	tr    *tracker
	parts int
	next  int
	live  []liveMember
	bg    sync.WaitGroup // leaving and crashed members being closed
}

type liveMember struct {
	idx int
	m   member
}

func (g *groupRun) add() error {
	m, err := g.sys.start(g.ctx, g.b, g.topic, g.group, g.next, g.tr)
	if err != nil {
		return err
	}
	g.live = append(g.live, liveMember{g.next, m})
	g.next++
	return nil
}

// remove takes member i out of the live ones.
func (g *groupRun) remove(i int) liveMember {
	lm := g.live[i]
	g.live = append(g.live[:i:i], g.live[i+1:]...)
	return lm
}

// owners returns the owner of each partition by the live members' views.
func (g *groupRun) owners() []int {
	before := make([]int, g.parts)
	for i := range before {
		before[i] = -1
	}
	for _, lm := range g.live {
		for _, p := range lm.m.owned() {
			if int(p) < len(before) {
				before[p] = lm.idx
			}
		}
	}
	return before
}

// await polls until the group has converged, or the timeout.
func (g *groupRun) await(before []int, timeout time.Duration) (outcome, error) {
	defer g.tr.stopEvent()
	deadline := time.Now().Add(timeout)
	for {
		owners := make(map[int][]int32, len(g.live))
		for _, lm := range g.live {
			owners[lm.idx] = lm.m.owned()
		}
		if o, ok := g.tr.converged(owners, before); ok {
			return o, nil
		}
		if time.Now().After(deadline) {
			return outcome{}, fmt.Errorf("not converged after %v", timeout)
		}
		select {
		case <-g.ctx.Done():
			return outcome{}, g.ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// event runs one measured event: a quiet window, then the event, then the
// wait for convergence.
func (g *groupRun) event(kind string, victim int, st *rbStats) error {
	g.tr.resetGaps()
	select {
	case <-time.After(rbQuiet):
	case <-g.ctx.Done():
		return g.ctx.Err()
	}
	before := g.owners()
	var baseline time.Duration
	switch kind {
	case "join":
		baseline = g.tr.startEvent(time.Now())
		if err := g.add(); err != nil {
			return err
		}
	case "leave":
		lm := g.remove(victim)
		baseline = g.tr.startEvent(time.Now(), lm.idx)
		g.bg.Go(lm.m.leave)
	case "crash":
		lm := g.remove(victim)
		baseline = g.tr.startEvent(time.Now(), lm.idx)
		lm.m.crash()
		defer g.bg.Go(lm.m.close)
	}
	o, err := g.await(before, rbTimeout)
	if err != nil {
		st.failed++
		return err
	}
	if os.Getenv("BENCH_DEBUG") != "" {
		gained := 0
		for p, m := range g.owners() {
			if m == o.gapOwner && before[p] != m {
				gained++
			}
		}
		g.b.logf("debug: %s %s: converge %v, unmoved gap %v (partition %d of member %d, which gained %d), baseline %v",
			g.sys.name, kind, o.converge.Round(time.Millisecond), o.gap.Round(time.Millisecond), o.gapPart, o.gapOwner, gained, baseline.Round(time.Millisecond))
	}
	st.conv = append(st.conv, o.converge)
	st.moved = append(st.moved, o.moved)
	st.gap = append(st.gap, o.gap)
	st.stall = append(st.stall, max(0, o.gap-baseline))
	return nil
}

func runRebalance(ctx context.Context, b *bench, sys system, si int) (map[string]*rbStats, error) {
	st := map[string]*rbStats{}
	for _, sc := range scenarios {
		st[sc] = &rbStats{}
	}
	topic := fmt.Sprintf("rb-%d", si)
	if err := b.kafka.CreateTopic(ctx, topic, rbPartitions); err != nil {
		return nil, err
	}
	stopProducer, err := startProducer(b, topic, rbPartitions, rbTick)
	if err != nil {
		return nil, err
	}
	defer stopProducer()
	g := &groupRun{ctx: ctx, b: b, sys: sys, topic: topic, group: fmt.Sprintf("rb-group-%d", si),
		tr: newTracker(rbPartitions), parts: rbPartitions}
	defer g.closeAll()

	g.tr.startEvent(time.Now())
	for range rbMembers {
		if err := g.add(); err != nil {
			return nil, err
		}
	}
	if _, err := g.await(nil, 60*time.Second); err != nil {
		return nil, fmt.Errorf("starting %d members: %w", rbMembers, err)
	}
	b.logf("rebalance: %s: %d members consuming", sys.name, rbMembers)
	for rep := range b.sz.reps {
		steps := []struct {
			kind   string
			victim int
		}{
			{"join", 0},
			{"leave", (rep*3 + 1) % rbMembers}, // 9 live: never the newest
			{"crash", (rep*5 + 2) % rbMembers},
			{"replace", 0},
		}
		for _, s := range steps {
			var err error
			if s.kind == "replace" {
				g.tr.startEvent(time.Now())
				if err = g.add(); err == nil {
					_, err = g.await(nil, rbTimeout)
				}
			} else {
				err = g.event(s.kind, s.victim, st[s.kind])
			}
			if errors.Is(err, context.Canceled) {
				return nil, err
			}
			if err != nil {
				b.logf("rebalance: %s: %s (repetition %d): %v; stopping this system", sys.name, s.kind, rep+1, err)
				return st, nil
			}
		}
		b.logf("rebalance: %s: repetition %d/%d: join %s ms, leave %s ms, crash %s ms", sys.name, rep+1, b.sz.reps,
			ms(st["join"].conv[rep]), ms(st["leave"].conv[rep]), ms(st["crash"].conv[rep]))
	}
	return st, nil
}

// closeAll makes every live member leave and waits (boundedly) for the
// members closed in the background.
func (g *groupRun) closeAll() {
	for _, lm := range g.live {
		g.bg.Go(lm.m.leave)
	}
	g.live = nil
	done := make(chan struct{})
	go func() {
		g.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		g.b.logf("rebalance: %s: members still closing after 60 s; going on", g.sys.name)
	}
}

// startProducer writes one message to every partition of topic every
// tick until the returned function is called.
func startProducer(b *bench, topic string, partitions int32, tick time.Duration) (func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.kafka.Addrs()...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(tick)
		defer t.Stop()
		value := []byte("0123456789abcdef")
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for p := range partitions {
				cl.Produce(ctx, &kgo.Record{Partition: p, Value: value}, nil)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		cl.Close()
	}, nil
}
