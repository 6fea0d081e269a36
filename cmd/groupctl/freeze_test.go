package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// stopRuns is how many runs TestFreezeMember makes: one by default (make
// test); -stopruns 20 for the figures of docs/DESIGN.md (Fencing: the
// lease).
var stopRuns = flag.Int("stopruns", 1, "runs of TestFreezeMember")

// freezeStats is what one run of TestFreezeMember measured.
type freezeStats struct {
	afterWake int // messages the woken member printed after waking that the other member printed too
	overlaps  int // messages printed twice other than the frozen member's uncommitted window
	window    int // messages printed twice from the frozen member's uncommitted window (as after a crash)
	resumed   time.Duration
}

// TestFreezeMember: two consume processes (ZooKeeper session 2 s) share a
// steady stream of 400 messages a second; one (reaching ZooKeeper over a
// link of 50 ms each way, committing every 50 ms) is frozen with SIGSTOP for
// three session timeouts, while the other takes its partitions over, then
// woken with SIGCONT. The woken member prints nothing that the other one
// printed (it learns of its session's end only after waking: its lease,
// the sending time of the latest request ZooKeeper answered, ran out
// while it was frozen), no message is lost and none is printed twice but
// the frozen member's uncommitted window, printed again by the member
// that took its partitions (as after a crash).
func TestFreezeMember(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	var all []freezeStats
	for run := range *stopRuns {
		t.Run(fmt.Sprintf("run%d", run), func(t *testing.T) {
			s := freezeRun(t)
			all = append(all, s)
			t.Logf("run %d: %d printed after waking of the other's partitions, %d overlaps, %d redelivered from the frozen member's uncommitted window, everything printed %v after waking",
				run, s.afterWake, s.overlaps, s.window, s.resumed.Round(time.Millisecond))
		})
	}
	bad := 0
	for _, s := range all {
		if s.afterWake > 0 || s.overlaps > 0 {
			bad++
		}
	}
	t.Logf("%d runs: %d with messages after waking or overlaps", len(all), bad)
}

// freezeProducer writes sequence-numbered messages, 4 every 10 ms (one per
// partition), until stop is closed; it returns how many it wrote.
func freezeProducer(t *testing.T, c *cluster, topic string, parts int, stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	ctx := testCtx(t)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		seq := 0
		for {
			recs := make([]*kgo.Record, parts)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: topic, Partition: int32(i), Value: []byte(strconv.Itoa(seq))}
				seq++
			}
			if err := c.producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Errorf("produce: %v", err)
				out <- seq - parts
				return
			}
			select {
			case <-tick.C:
			case <-stop:
				out <- seq
				return
			}
		}
	}()
	return out
}

func freezeRun(t *testing.T) freezeStats {
	const (
		parts   = 4
		session = 2 * time.Second
		frozen  = 3 * session
	)
	c := newCluster(t, map[string]int32{"freeze": parts})
	topic, group := c.topic("freeze"), c.group("freeze")
	z := c.ZK()
	// The victim reaches ZooKeeper over a link of 50 ms each way and
	// commits every 50 ms: when it is frozen, answers are on their way,
	// and it reads them on waking (the server sent them before the freeze).
	link, err := testenv.NewProxy(c.servers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close() })
	link.SetLatency(50 * time.Millisecond)
	start := func(name, zk, commit string) *proc {
		return startTool(t, name, append([]string{"consume", "--zookeeper", zk + c.chroot, "--group", group, "--topic", topic, "--from", "newest",
			"--session-timeout", session.String(), "--commit-interval", commit, "--output", "json"}, c.extra...)...)
	}
	survivor := start("survivor", strings.Join(c.servers, ","), "200ms")
	waitFor(t, waitTimeout, "the first member's partitions", func() error {
		owners, err := z.Owners(testCtx(t), group, topic)
		if err != nil || len(owners) != parts {
			return fmt.Errorf("owners %v: %v", owners, err)
		}
		return nil
	})
	stop := make(chan struct{})
	produced := freezeProducer(t, c, topic, parts, stop)
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			<-produced
		}
	}()
	victim := start("victim", link.Addr(), "50ms")
	joined := func(p *proc) string {
		_, after, _ := strings.Cut(p.stderr.String(), "joined group "+group+" as ")
		return strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
	}
	// owned waits until the survivor owns want partitions and another
	// member (the victim: its id changes when it joins again) the rest.
	owned := func(want int) func() error {
		return func() error {
			id := joined(survivor)
			owners, err := z.Owners(testCtx(t), group, topic)
			n := 0
			for _, o := range owners {
				if o == id {
					n++
				}
			}
			if err != nil || id == "" || n != want || len(owners) != parts {
				return fmt.Errorf("the survivor owns %d of %v: %v", n, owners, err)
			}
			return nil
		}
	}
	waitFor(t, waitTimeout, "a group of two", owned(parts/2))
	victim.waitOutput("200 lines", func(l []outLine) bool { return len(l) >= 200 })

	victim.signal(syscall.SIGSTOP)
	stopped := time.Now()
	waitFor(t, waitTimeout, "the survivor owning every partition", owned(parts))
	// The freeze lasts three session timeouts (the scenario, not a wait
	// for an event); every line the victim printed before is read by then.
	time.Sleep(time.Until(stopped.Add(frozen)))
	before, _ := victim.snapshot()
	victim.signal(syscall.SIGCONT)
	woke := time.Now()
	waitFor(t, waitTimeout, "the woken member back in the group", owned(parts/2))
	waitFor(t, waitTimeout, "the woken member printing again", func() error {
		if l, _ := victim.snapshot(); len(l) <= len(before) {
			return fmt.Errorf("nothing printed since waking")
		}
		return nil
	})
	close(stop)
	total := <-produced
	s := freezeCheck(t, survivor, victim, len(before), total)
	s.resumed = time.Since(woke)
	for _, p := range []*proc{survivor, victim} {
		p.signal(sigint)
		if code := p.wait(15 * time.Second); code != 0 {
			t.Errorf("%s exited %d after SIGINT\n%s", p.name, code, p.describe())
		}
	}
	return s
}

// freezeCheck waits until every one of total messages was printed, then
// sorts out what was printed twice.
func freezeCheck(t *testing.T, survivor, victim *proc, before, total int) freezeStats {
	type print struct {
		victim, afterWake bool
		arrival           int64
	}
	var bySeq map[int][]print
	collect := func() {
		bySeq = make(map[int][]print, total)
		for _, p := range []*proc{survivor, victim} {
			lines, _ := p.snapshot()
			for i, l := range lines {
				m, err := parseMessage(l.text)
				if err != nil {
					t.Fatalf("%s: %v", p.name, err)
				}
				seq, _ := strconv.Atoi(m.Value)
				bySeq[seq] = append(bySeq[seq], print{p == victim, p == victim && i >= before, l.arrival})
			}
		}
	}
	first := -1 // the first message produced after the survivor joined: --from newest
	waitFor(t, waitTimeout, "every message printed", func() error {
		collect()
		if first < 0 {
			first = total
			for seq := range bySeq {
				first = min(first, seq)
			}
		}
		for seq := first; seq < total; seq++ {
			if len(bySeq[seq]) == 0 {
				return fmt.Errorf("message %d not printed", seq)
			}
		}
		return nil
	})
	var s freezeStats
	for seq := first; seq < total; seq++ {
		ps := bySeq[seq]
		if len(ps) < 2 {
			continue
		}
		for _, p := range ps {
			if p.afterWake {
				s.afterWake++
			}
		}
		// The frozen member's window: printed by it before the freeze,
		// then by the survivor.
		if len(ps) == 2 && ps[0].victim != ps[1].victim {
			v, o := ps[0], ps[1]
			if o.victim {
				v, o = o, v
			}
			if !v.afterWake {
				s.window++
				continue
			}
		}
		s.overlaps++
		if s.overlaps <= 5 {
			t.Errorf("message %d printed %d times: %+v", seq, len(ps), ps)
		}
	}
	if s.afterWake > 0 {
		t.Errorf("the woken member printed %d messages the survivor printed too", s.afterWake)
	}
	return s
}
