package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// The quiet scenario of the rebalance part: the same group shape as the busy
// one (8 members, 64 partitions), but messages come in a burst (one to every
// partition) and then nothing: each member's loop has taken the last message
// of some partition and is idle. A member joins, then one leaves. How a loop
// takes messages decides whether a hand-off waits: a Stream loop without
// MarkDone keeps its last message "in hand" (it counts when the next is
// taken), so a hand-off of its partition waits HandoffTimeout; with MarkDone
// or Next the group knows the loop holds nothing. The library's defaults
// (HandoffTimeout 5 s, CommitInterval 1 s), but the sticky strategy on
// ZooKeeper, as in the busy rows.

// quietDeliveries are the loops compared: before (the seed's Stream rule) and
// after (MarkDone, Next).
var quietDeliveries = []string{"Stream (no done)", "Stream + MarkDone", "Next"}

// quietCoords are the coordinators the quiet rows run on.
var quietCoords = []struct {
	name     string
	protocol string // "" for ZooKeeper
}{
	{"ours (sticky)", ""},
	{"ours on Kafka classic", consumergroup.GroupProtocolClassic},
	{"ours on Kafka KIP-848", consumergroup.GroupProtocolConsumer},
}

// quietStats are the figures of one coordinator × delivery.
type quietStats struct {
	join, leave []time.Duration
	lag         []time.Duration // from the burst processed to a lag of 0 (-1: not within quietLagWait)
	lagLeft     []int64         // the lag left when it did not reach 0
	timeouts    int             // HANDOFF_TIMEOUT notifications
	failed      string
}

// quietLagWait bounds the wait for an idle group's lag to reach 0:
// CommitInterval (1 s) and a second.
const quietLagWait = 2 * time.Second

// quietMembers numbers the quiet scenario's members in their logs.
var quietMembers atomic.Int32

// quietMember is a member of ours in the quiet scenario.
type quietMember struct {
	g         *consumergroup.ConsumerGroup
	zk        *consumergroup.ZK
	cl        *kgo.Client
	events    chan *consumergroup.Notification
	done      chan struct{}
	processed *atomic.Int64
	once      sync.Once
}

func (m *quietMember) leave() {
	m.once.Do(func() {
		m.g.Close()
		<-m.done
		if m.cl != nil {
			m.cl.Close()
		}
		if m.zk != nil {
			m.zk.Close()
		}
	})
}

// timeouts counts the HANDOFF_TIMEOUT notifications received so far.
func (m *quietMember) timeouts() int {
	n := 0
	for {
		select {
		case ev := <-m.events:
			if ev.Type == consumergroup.HANDOFF_TIMEOUT {
				n++
			}
		default:
			return n
		}
	}
}

func startQuiet(ctx context.Context, b *bench, protocol, delivery, topic, group string, processed *atomic.Int64) (*quietMember, error) {
	m := &quietMember{events: make(chan *consumergroup.Notification, 1000), done: make(chan struct{}), processed: processed}
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.Notifications = m.events
	idx := int(quietMembers.Add(1))
	cfg.Logger = groupLogger(idx)
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var err error
	if protocol == "" {
		cfg.Strategy = consumergroup.StrategySticky
		cfg.ZookeeperTimeout = sessionTimeout
		if m.zk, err = consumergroup.DialZK(dctx, consumergroup.ZKConfig{Servers: []string{b.zk.Addr()}, SessionTimeout: sessionTimeout}); err != nil {
			return nil, err
		}
		if m.cl, err = kgo.NewClient(memberOpts(b)...); err != nil {
			m.zk.Close()
			return nil, err
		}
		m.g, err = consumergroup.NewConsumerGroupTopics(dctx, m.cl, m.zk, group, []string{topic}, m.events, cfg)
		if err != nil {
			m.cl.Close()
			m.zk.Close()
			return nil, err
		}
	} else {
		cfg.GroupProtocol = protocol
		cfg.SessionTimeout = sessionTimeout
		cfg.KafkaOptions = kafkaOpts(b, kgo.HeartbeatInterval(heartbeat))
		if f := groupLog(); f != nil {
			// franz-go's own log beside ours, to follow the protocol.
			cfg.KafkaOptions = append(cfg.KafkaOptions, kgo.WithLogger(kgo.BasicLogger(f, kgo.LogLevelInfo, func() string { return fmt.Sprintf("kgo member=%d ", idx) })))
		}
		if m.g, err = consumergroup.JoinKafkaConsumerGroup(dctx, group, []string{topic}, b.kafka.Addrs(), cfg); err != nil {
			return nil, err
		}
	}
	go m.consume(delivery)
	return m, nil
}

// consume is the member's loop.
func (m *quietMember) consume(delivery string) {
	defer close(m.done)
	switch delivery {
	case "Next":
		for {
			if _, err := m.g.Next(context.Background()); err != nil {
				return
			}
			m.processed.Add(1)
		}
	default:
		done := delivery == "Stream + MarkDone"
		for ev := range m.g.Stream() {
			m.processed.Add(1)
			if done {
				m.g.MarkDone(ev)
			}
		}
	}
}

// owners reports whether the live members hold every partition, each once,
// balanced.
func quietConverged(live []*quietMember, parts int) bool {
	seen := make([]bool, parts)
	lo, hi := parts/len(live), (parts+len(live)-1)/len(live)
	n := 0
	for _, m := range live {
		held := m.g.ClaimedPartitions()
		if len(held) < lo || len(held) > hi {
			return false
		}
		for _, tp := range held {
			if int(tp.Partition) >= parts || seen[tp.Partition] {
				return false
			}
			seen[tp.Partition] = true
			n++
		}
	}
	return n == parts
}

// quiet runs the quiet scenario and adds its table and targets.
func quiet(ctx context.Context, b *bench) error {
	text, p99s, err := rebalanceQuiet(ctx, b)
	if err != nil {
		return err
	}
	b.rep.section(text)
	for _, co := range quietCoords {
		for _, d := range []string{"Stream + MarkDone", "Next"} {
			if p, ok := p99s[co.name+", "+d]; ok {
				b.rep.target(fmt.Sprintf("quiet topic, %s, %s: join and leave converge p99 ≤ 300 ms, no hand-off timeout", co.name, d),
					p.p99 <= 300*time.Millisecond && p.timeouts == 0, "p99 %s ms, %d hand-off timeouts", ms(p.p99), p.timeouts)
			}
		}
	}
	return nil
}

// quietWorst is the worst of one coordinator and loop over join and leave.
type quietWorst struct {
	p99      time.Duration
	timeouts int
}

func rebalanceQuiet(ctx context.Context, b *bench) (string, map[string]quietWorst, error) {
	worst := map[string]quietWorst{}
	var rows [][]string
	reps := max(3, b.sz.reps/2)
	for ci, co := range quietCoords {
		if co.protocol == consumergroup.GroupProtocolConsumer && !slices.ContainsFunc(systems, func(s system) bool { return strings.Contains(s.name, "KIP-848") }) {
			continue // not on this broker (Kafka 3.9: see run)
		}
		for di, d := range quietDeliveries {
			name := co.name + ", " + d
			if !b.selected(name) {
				continue
			}
			t0 := time.Now()
			st := runQuiet(ctx, b, co.protocol, d, fmt.Sprintf("quiet-%d-%d", ci, di), reps)
			if ctx.Err() != nil {
				return "", nil, ctx.Err()
			}
			w := worst[name]
			w.p99 = max(w.p99, percentile(st.join, 99), percentile(st.leave, 99))
			w.timeouts += st.timeouts
			if st.failed != "" {
				w.p99 = max(w.p99, rbTimeout)
			}
			worst[name] = w
			b.logf("rebalance (quiet): %s done in %v", name, time.Since(t0).Round(time.Second))
			lag := "never within " + ms(quietLagWait) + " ms"
			reached := []time.Duration{}
			for _, l := range st.lag {
				if l >= 0 {
					reached = append(reached, l)
				}
			}
			if len(reached) == len(st.lag) && len(st.lag) > 0 {
				lag = ms(percentile(reached, 50)) + " / " + ms(percentile(reached, 99))
			} else if len(st.lagLeft) > 0 {
				lag += fmt.Sprintf(" (lag left %d..%d)", slices.Min(st.lagLeft), slices.Max(st.lagLeft))
			}
			note := st.failed
			if note != "" && co.protocol == consumergroup.GroupProtocolClassic && d == quietDeliveries[0] && strings.HasPrefix(b.rep.kafka, "kfake") {
				// Members wait in JoinGroup behind the hand-offs that wait
				// HandoffTimeout (5 s), longer than their session (2 s).
				note += " (kfake ends the session of a member waiting in JoinGroup; Kafka keeps it: run with -kafka apache)"
			}
			rows = append(rows, []string{co.name, d, "join", fmt.Sprintf("%d", len(st.join)),
				ms(percentile(st.join, 50)), ms(percentile(st.join, 99)), fmt.Sprintf("%d", st.timeouts), lag, note})
			rows = append(rows, []string{co.name, d, "leave", fmt.Sprintf("%d", len(st.leave)),
				ms(percentile(st.leave, 50)), ms(percentile(st.leave, 99)), "", "", ""})
		}
	}
	var sb strings.Builder
	sb.WriteString("### Quiet topic: a burst, then silence\n\n")
	fmt.Fprintf(&sb, "The same 8 members on %d partitions, but before each event the producer writes one message to every partition "+
		"and then nothing: every member's loop is idle, its last message taken. Each event repeated %d times (join: a 9th member; "+
		"leave: a member other than the newest). The library's defaults (HandoffTimeout 5 s, CommitInterval 1 s; sticky on ZooKeeper). "+
		"*Stream (no done)* is the seed's loop, `for ev := range Stream()` (before); *Stream + MarkDone* and *Next* tell the group when "+
		"the loop holds nothing (after).\n\n"+
		"- **converge**: from the event until every partition is owned by a live member (their own views, complete and balanced); "+
		"nothing is delivered meanwhile, so no delivery is required.\n"+
		"- **hand-off timeouts**: `HANDOFF_TIMEOUT` notifications over all the events (each is a hand-off that waited HandoffTimeout "+
		"and a message delivered again).\n"+
		"- **idle lag to 0**: after each burst, from the last message taken until the group's lag (`ConsumerGroup.Lag`) is 0 on "+
		"every partition, p50 / p99.\n\n", rbPartitions, reps)
	sb.WriteString(table([]string{"system", "loop", "event", "samples", "converge p50 ms", "converge p99 ms", "hand-off timeouts", "idle lag to 0 p50 / p99 ms", "note"}, rows))
	return sb.String(), worst, nil
}

// runQuiet runs the quiet scenario for one coordinator and loop.
func runQuiet(ctx context.Context, b *bench, protocol, delivery, topic string, reps int) *quietStats {
	st := &quietStats{}
	fail := func(err error) *quietStats {
		st.failed = err.Error()
		b.logf("rebalance (quiet): %s %s: %v", topic, delivery, err)
		return st
	}
	if err := b.kafka.CreateTopic(ctx, topic, rbPartitions); err != nil {
		return fail(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(b.kafka.Addrs()...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		return fail(err)
	}
	defer prod.Close()
	var processed atomic.Int64
	var live []*quietMember
	var gone []*quietMember
	defer func() {
		var wg sync.WaitGroup
		for _, m := range append(live, gone...) {
			wg.Go(m.leave)
		}
		wg.Wait()
	}()
	group := topic + "-group"
	for range rbMembers {
		m, err := startQuiet(ctx, b, protocol, delivery, topic, group, &processed)
		if err != nil {
			return fail(err)
		}
		live = append(live, m)
	}
	await := func(what string, timeout time.Duration) (time.Duration, error) {
		t0 := time.Now()
		for !quietConverged(live, rbPartitions) {
			if time.Since(t0) > timeout {
				return 0, fmt.Errorf("%s: not converged after %v", what, timeout)
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
		return time.Since(t0), nil
	}
	if _, err := await("start", 60*time.Second); err != nil {
		return fail(err)
	}
	produced := int64(0)
	burst := func() error {
		recs := make([]*kgo.Record, rbPartitions)
		for p := range recs {
			recs[p] = &kgo.Record{Partition: int32(p), Value: []byte("quiet")}
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return err
		}
		produced += rbPartitions
		deadline := time.Now().Add(rbTimeout)
		for processed.Load() < produced {
			if time.Now().After(deadline) {
				return fmt.Errorf("burst not processed: %d of %d", processed.Load(), produced)
			}
			time.Sleep(time.Millisecond)
		}
		// The loops are idle now: how long until the lag is 0?
		t0 := time.Now()
		for {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			lag, err := live[0].g.Lag(lctx)
			cancel()
			total := int64(0)
			for _, ps := range lag {
				for _, n := range ps {
					total += n
				}
			}
			if err == nil && total == 0 {
				st.lag = append(st.lag, time.Since(t0))
				break
			}
			if time.Since(t0) > quietLagWait {
				st.lag = append(st.lag, -1)
				st.lagLeft = append(st.lagLeft, total)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}
	for rep := range reps {
		if err := burst(); err != nil {
			return fail(err)
		}
		t0 := time.Now()
		m, err := startQuiet(ctx, b, protocol, delivery, topic, group, &processed)
		if err != nil {
			return fail(err)
		}
		live = append(live, m)
		if _, err := await("join", rbTimeout); err != nil {
			return fail(err)
		}
		st.join = append(st.join, time.Since(t0))
		if err := burst(); err != nil {
			return fail(err)
		}
		victim := (rep*3 + 1) % rbMembers
		lm := live[victim]
		live = append(live[:victim:victim], live[victim+1:]...)
		t0 = time.Now()
		go lm.leave()
		gone = append(gone, lm)
		if _, err := await("leave", rbTimeout); err != nil {
			return fail(err)
		}
		st.leave = append(st.leave, time.Since(t0))
		b.logf("rebalance (quiet): %s %s: repetition %d/%d: join %s ms, leave %s ms", topic, delivery, rep+1, reps,
			ms(st.join[rep]), ms(st.leave[rep]))
	}
	for _, m := range append(live, gone...) {
		st.timeouts += m.timeouts()
	}
	return st
}
