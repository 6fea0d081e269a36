package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// printed is one message a consume process printed.
type printed struct {
	proc    int
	seq     int
	part    int32
	off     int64
	arrival int64
}

// TestConsumeCrash: three consume processes of one group share a stream of
// sequence-numbered messages; one of them is killed (SIGKILL) mid-stream.
// Nothing is lost, and what is printed twice is exactly what the killed
// process printed after its last commit: the next owners start its
// partitions at the committed offsets, which it can no longer move.
func TestConsumeCrash(t *testing.T) {
	t.Parallel()
	forEachKind(t, testConsumeCrash)
}

func testConsumeCrash(t *testing.T, kind testenv.Kind) {
	const (
		parts   = 8
		total   = 20000
		batch   = 100
		victim  = 1
		killAt  = 1000 // lines the victim prints before it is killed
		members = 3
	)
	c := newClusterKind(t, kind, map[string]int32{"seq": parts})
	topic, group := c.topic("seq"), c.group("crash")
	z := c.ZK()

	var procs []*proc
	for i := range members {
		procs = append(procs, c.start(fmt.Sprintf("consumer %d", i), "consume", "--group", group, "--topic", topic,
			"--session-timeout", "2s", "--commit-interval", "200ms", "--output", "json"))
	}
	// Each announces its consumer id on stderr.
	ids := make([]string, members)
	waitFor(t, waitTimeout, "every process joined", func() error {
		for i, p := range procs {
			_, after, ok := strings.Cut(p.stderr.String(), "joined group "+group+" as ")
			if !ok {
				return fmt.Errorf("%s has not joined: %s", p.name, p.stderr.String())
			}
			ids[i] = strings.TrimSpace(strings.SplitN(after, "\n", 2)[0])
		}
		return nil
	})
	waitFor(t, waitTimeout, "a stable group of 3", func() error {
		d, err := consumergroup.DescribeGroup(testCtx(t), z, nil, group)
		if err != nil {
			return err
		}
		owned := 0
		for _, p := range d.Partitions {
			if p.Owner != "" {
				owned++
			}
		}
		if d.State != consumergroup.StateStable || len(d.Members) != members || owned != parts {
			return fmt.Errorf("state %s, %d members, %d partitions owned", d.State, len(d.Members), owned)
		}
		return nil
	})

	// The producer writes batches at a steady pace (the stream lasts a
	// couple of seconds) while the processes consume.
	producer, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	pctx := testCtx(t)
	produced := make(chan error, 1)
	stopProducing, producerDone := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stopProducing); <-producerDone }) // before producer.Close
	go func() {
		defer close(producerDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := 0; seq < total; seq += batch {
			recs := make([]*kgo.Record, batch)
			for i := range recs {
				s := seq + i
				recs[i] = &kgo.Record{Topic: topic, Partition: int32(s % parts), Value: []byte(strconv.Itoa(s))}
			}
			if err := producer.ProduceSync(pctx, recs...).FirstErr(); err != nil {
				produced <- err
				return
			}
			select {
			case <-tick.C:
			case <-stopProducing:
				produced <- fmt.Errorf("stopped")
				return
			}
		}
		produced <- nil
	}()

	// Kill the victim once it has printed killAt lines, then read the
	// group's offsets and owners at once: its claims outlive it until its
	// session expires, and nothing can commit its partitions meanwhile.
	procs[victim].waitOutput(fmt.Sprintf("%d lines", killAt), func(lines []outLine) bool { return len(lines) >= killAt })
	procs[victim].signal(syscall.SIGKILL)
	killedAt := time.Now()
	if code := procs[victim].wait(10 * time.Second); code != -1 {
		t.Fatalf("the killed process exited %d, want -1 (a signal)", code)
	}
	offsets, err := z.Offsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	owners, err := z.Owners(testCtx(t), group, topic)
	if err != nil {
		t.Fatal(err)
	}
	committedAtKill := offsets[topic]
	var held []int32
	for p, owner := range owners {
		if owner == ids[victim] {
			held = append(held, p)
		}
	}
	slices.Sort(held)
	readAfter := time.Since(killedAt)
	if len(held) == 0 {
		t.Fatalf("the killed process (%s) held no partition: owners %v", ids[victim], owners)
	}
	if readAfter > 2*time.Second {
		t.Fatalf("the offsets were read %v after the kill: its session may have expired", readAfter)
	}

	// Everything printed, then the survivors stop (Ctrl-C: a clean exit).
	all := func() []printed {
		var out []printed
		for i, p := range procs {
			lines, _ := p.snapshot()
			for _, l := range lines {
				m, err := parseMessage(l.text)
				if err != nil {
					t.Fatalf("%s: %v", p.name, err)
				}
				seq, err := strconv.Atoi(m.Value)
				if err != nil || m.Topic != topic {
					t.Fatalf("%s: message %+v", p.name, m)
				}
				out = append(out, printed{i, seq, m.Partition, m.Offset, l.arrival})
			}
		}
		return out
	}
	distinct := func() int {
		seen := make(map[int]bool, total)
		for _, m := range all() {
			seen[m.seq] = true
		}
		return len(seen)
	}
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	waitFor(t, waitTimeout, "every message printed", func() error {
		if n := distinct(); n < total {
			return fmt.Errorf("%d of %d messages printed", n, total)
		}
		return nil
	})
	drained := time.Since(killedAt)
	for i, p := range procs {
		if i == victim {
			continue
		}
		p.signal(sigint)
		if code := p.wait(15 * time.Second); code != 0 {
			t.Errorf("%s exited %d after SIGINT\n%s", p.name, code, p.describe())
		}
	}

	// The analysis: per message, its prints in the order they were read.
	msgs := all()
	slices.SortFunc(msgs, func(a, b printed) int { return int(a.arrival - b.arrival) })
	bySeq := make(map[int][]printed, total)
	perProc := make([]int, members)
	lastOff := map[[2]int]int64{} // process and partition to the offset it printed last
	for _, m := range msgs {
		bySeq[m.seq] = append(bySeq[m.seq], m)
		perProc[m.proc]++
		k := [2]int{m.proc, int(m.part)}
		if prev, ok := lastOff[k]; ok && m.off <= prev {
			t.Errorf("consumer %d printed partition %d offset %d after offset %d", m.proc, m.part, m.off, prev)
		}
		lastOff[k] = m.off
	}
	// What the victim printed at or past its partitions' committed
	// offsets: the uncommitted window, which the next owners deliver again.
	window := map[int]bool{}
	for _, m := range msgs {
		if m.proc == victim && slices.Contains(held, m.part) && m.off >= committedAtKill[m.part] {
			window[m.seq] = true
		}
	}
	// What a survivor announced as delivered again: its last message of a
	// partition that moved while it waited for the next one (a hand-off
	// that timed out, see HandoffTimeout).
	announced := map[[3]int64]bool{} // process, partition, offset
	for i, p := range procs {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			_, loc, ok := strings.Cut(line, "its new owner delivers again: ")
			if !ok {
				continue
			}
			var tp string
			var part, off int64
			if _, err := fmt.Sscanf(strings.Replace(strings.Replace(loc, "/", " ", 1), "@", " ", 1), "%s %d %d", &tp, &part, &off); err == nil && tp == topic {
				announced[[3]int64{int64(i), part, off}] = true
			}
		}
	}
	// A survivor that lost its ZooKeeper session (a stall of 2/3 of the
	// session timeout on a loaded machine) left like a crashed one, and
	// said so: what it printed since its last commit is printed again.
	lost := map[int]bool{}
	for i, p := range procs {
		if i != victim && strings.Contains(p.stderr.String(), "groupctl consume: session lost") {
			lost[i] = true
		}
	}
	lossDups := map[[2]int][]int64{} // survivor and partition to the offsets printed again
	dups := 0
	for seq := range total {
		ps := bySeq[seq]
		if len(ps) == 2 && lost[ps[0].proc] && ps[1].part == ps[0].part && ps[1].off == ps[0].off {
			dups++
			k := [2]int{ps[0].proc, int(ps[0].part)}
			lossDups[k] = append(lossDups[k], ps[0].off)
			continue
		}
		if len(ps) == 2 && announced[[3]int64{int64(ps[0].proc), int64(ps[0].part), ps[0].off}] && ps[1].part == ps[0].part && ps[1].off == ps[0].off {
			dups++ // announced by the consumer that printed it first
			continue
		}
		switch {
		case len(ps) == 0:
			t.Errorf("message %d was never printed", seq)
		case len(ps) == 1:
			if window[seq] {
				t.Errorf("message %d, printed by the killed process in its uncommitted window (%d/%d, committed %d), was not delivered again",
					seq, ps[0].part, ps[0].off, committedAtKill[ps[0].part])
			}
		default:
			dups += len(ps) - 1
			first, again := ps[0], ps[1]
			switch {
			case len(ps) > 2:
				t.Errorf("message %d printed %d times: %+v", seq, len(ps), ps)
			case first.proc != victim || again.proc == victim:
				t.Errorf("message %d printed by consumer %d, then by consumer %d: only the killed consumer %d's messages may be printed again",
					seq, first.proc, again.proc, victim)
			case first.part != again.part || first.off != again.off:
				t.Errorf("message %d printed as %d/%d, then as %d/%d", seq, first.part, first.off, again.part, again.off)
			case !window[seq]:
				t.Errorf("message %d (%d/%d) printed again, but the killed process had committed partition %d up to %d (it held %v)",
					seq, first.part, first.off, first.part, committedAtKill[first.part], held)
			}
		}
	}
	// A loss's redeliveries are a crash's: per partition, every message
	// the survivor printed from the first one printed again up to the last
	// one printed again (its uncommitted window then) was printed again.
	for k, offs := range lossDups {
		slices.Sort(offs)
		again := map[int64]bool{}
		for _, o := range offs {
			again[o] = true
		}
		for _, m := range msgs {
			if m.proc == k[0] && int(m.part) == k[1] && m.off >= offs[0] && m.off <= offs[len(offs)-1] && !again[m.off] {
				t.Errorf("consumer %d lost its session and partition %d was printed again from offset %d to %d, but not offset %d it printed between",
					k[0], k[1], offs[0], offs[len(offs)-1], m.off)
			}
		}
		t.Logf("consumer %d lost its session: %d messages of partition %d (offsets %d to %d) printed again", k[0], len(offs), k[1], offs[0], offs[len(offs)-1])
	}
	var victimLast []string
	for _, p := range held {
		victimLast = append(victimLast, fmt.Sprintf("%d: committed %d, printed up to %d", p, committedAtKill[p], lastOff[[2]int{victim, int(p)}]))
	}
	t.Logf("printed %d lines for %d messages: per consumer %v; consumer %d killed after %d lines, holding partitions %v (%s), offsets read %v after the kill",
		len(msgs), total, perProc, victim, perProc[victim], held, strings.Join(victimLast, "; "), readAfter.Round(time.Millisecond))
	t.Logf("printed twice: %d, all inside the killed process's uncommitted window of %d messages or announced, or after survivors' session losses (%d); every message printed %v after the kill",
		dups, len(window), len(lost), drained.Round(time.Millisecond))
}
