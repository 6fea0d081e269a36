package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
)

// EnvLagSoak sets how long TestServeHealthyWorkload runs the demo's
// workload (a Go duration); unset, a compressed 75 s. docs/TESTING.md.
const EnvLagSoak = "CONSUMERGROUP_LAG_SOAK"

// nextMember is a member that consumes with Next, as the demo's do; while
// frozen it stops calling Next (it keeps the message in hand and its
// partitions, and commits nothing new).
type nextMember struct {
	g      *consumergroup.ConsumerGroup
	frozen atomic.Bool
	thaw   chan struct{}
	done   chan struct{}
	got    atomic.Int64
}

func joinNext(t *testing.T, c *cluster, group, topic string) *nextMember {
	t.Helper()
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.ZookeeperTimeout = 2 * time.Second
	cfg.CommitInterval = 100 * time.Millisecond
	cfg.HandoffTimeout = time.Second
	cfg.KafkaOptions = []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond), kgo.MetadataMinAge(100 * time.Millisecond)}
	g, err := consumergroup.JoinConsumerGroupTopics(testCtx(t), group, []string{topic}, []string{c.zkAddr()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := &nextMember{g: g, thaw: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			if _, err := g.Next(context.Background()); err != nil {
				return
			}
			m.got.Add(1)
			if m.frozen.Load() {
				<-m.thaw
			}
		}
	}()
	t.Cleanup(func() { m.close(t) })
	return m
}

func (m *nextMember) close(t *testing.T) {
	if m.frozen.CompareAndSwap(true, false) {
		close(m.thaw)
	}
	if err := m.g.Close(); err != nil {
		t.Error(err)
	}
	select {
	case <-m.done:
	case <-time.After(waitTimeout):
		t.Error("a member's loop did not end after Close")
	}
}

// serveDetail is what these tests read of /api/groups/{name}.
type serveDetail struct {
	Poll        pollInfo                       `json:"poll"`
	Description consumergroup.GroupDescription `json:"description"`
	LagStatus   lagReport                      `json:"lag_status"`
	Partitions  []partitionView                `json:"partitions"`
}

// TestServeHealthyWorkload: the demo's workload (members on Next that join
// and leave gracefully, bursts of messages on some partitions, idle
// periods) under groupctl serve polling every 250 ms never shows a
// partition STALL, STOP or REWIND nor the group ERR. It runs 75 s, or
// $CONSUMERGROUP_LAG_SOAK (e.g. 10m).
func TestServeHealthyWorkload(t *testing.T) {
	t.Parallel()
	length := 75 * time.Second
	if v := os.Getenv(EnvLagSoak); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvLagSoak, v, err)
		}
		length = d
	}
	const topic, group, parts = "work", "healthy", 6
	c := newCluster(t, map[string]int32{topic: parts})
	const interval, window = 250 * time.Millisecond, 10
	base := startServe(t, c, interval, window)

	var members []*nextMember
	members = append(members, joinNext(t, c, group, topic), joinNext(t, c, group, topic))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var bad []string
	seen := map[string]int{}
	var polls int64
	watched := make(chan struct{})
	go func() { // the watcher: every snapshot of serve
		defer close(watched)
		var last int64
		for ctx.Err() == nil {
			var d serveDetail
			if err := getJSON(t, base+"api/groups/"+group, &d); err == nil && d.Poll.Polls != last {
				last = d.Poll.Polls
				mu.Lock()
				polls++
				seen[d.LagStatus.Status]++
				if d.LagStatus.Status == lageval.Err.String() {
					for _, p := range d.Partitions {
						if p.Status != lageval.OK.String() {
							bad = append(bad, fmt.Sprintf("poll %d (%s, %d members): %s/%d %s: %s (committed %d, log end %d, owner %q)",
								d.Poll.Polls, d.Description.State, len(d.Description.Members), p.Topic, p.Partition, p.Status, p.Reason, p.Committed, p.LogEnd, p.Owner))
						}
					}
				}
				mu.Unlock()
			}
			select {
			case <-time.After(interval / 3):
			case <-ctx.Done():
			}
		}
	}()

	rng := rand.New(rand.NewPCG(1, 2))
	end := time.Now().Add(length)
	for round := 0; time.Now().Before(end); round++ {
		// A burst on some partitions, at a rate the members keep up with.
		burstEnd := time.Now().Add(time.Duration(2+rng.IntN(4)) * time.Second)
		busy := rng.IntN(parts) + 1
		for seq := 0; time.Now().Before(burstEnd); seq++ {
			var recs []*kgo.Record
			for p := range busy {
				recs = append(recs, &kgo.Record{Partition: int32(p), Value: []byte(strconv.Itoa(seq))})
			}
			for _, r := range recs {
				if err := c.produceRecords(ctx, topic, r.Partition, r); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond) // the producers' pace, not a wait for an event
		}
		// Members come and go (gracefully) between bursts and during them.
		switch {
		case len(members) < 4 && (round%2 == 0 || len(members) < 2):
			members = append(members, joinNext(t, c, group, topic))
		case len(members) > 1:
			i := rng.IntN(len(members))
			members[i].close(t)
			members = append(members[:i], members[i+1:]...)
		}
		// An idle period: nothing produced.
		idle := time.Duration(1+rng.IntN(5)) * time.Second
		select {
		case <-time.After(idle):
		case <-ctx.Done():
		}
	}
	cancel()
	<-watched
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%v of workload, %d snapshots seen: group statuses %v", length, polls, seen)
	if polls < int64(length/interval)/3 {
		t.Errorf("only %d snapshots seen in %v", polls, length)
	}
	if len(bad) > 0 {
		t.Errorf("%d partition errors in a healthy group, the first ones:", len(bad))
		for _, b := range bad[:min(len(bad), 20)] {
			t.Error(b)
		}
	}
}

// TestServeFrozenMember: a member that stops consuming while messages
// keep arriving on its partition makes the partition STALL (the group ERR)
// by the MinSamples-th poll after its committed offset stopped moving, and
// STOP by the window-th, as docs/LAG.md says.
func TestServeFrozenMember(t *testing.T) {
	t.Parallel()
	const topic, group = "frozen", "freezer"
	c := newCluster(t, map[string]int32{topic: 1})
	m := joinNext(t, c, group, topic)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() { // a producer that never stops
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
			c.produceRecords(ctx, topic, 0, &kgo.Record{Value: []byte("x")})
		}
	}()
	const interval, window = 250 * time.Millisecond, 10
	base := startServe(t, c, interval, window)
	read := func() serveDetail {
		var d serveDetail
		if err := getJSON(t, base+"api/groups/"+group, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	waitFor(t, waitTimeout, "a full window of OK while consuming", func() error {
		var d serveDetail
		if err := getJSON(t, base+"api/groups/"+group, &d); err != nil {
			return err // not read yet
		}
		if d.Poll.Polls < window || d.LagStatus.Status != "OK" || len(d.Partitions) != 1 {
			return fmt.Errorf("poll %d: %+v", d.Poll.Polls, d.LagStatus)
		}
		return nil
	})
	m.frozen.Store(true)
	// The first poll that shows the committed offset where it stays.
	var final, p0 int64 = -1, 0
	waitFor(t, waitTimeout, "the committed offset to stop moving", func() error {
		d := read()
		if c := d.Partitions[0].Committed; c != final {
			final, p0 = c, d.Poll.Polls
			return fmt.Errorf("committed %d at poll %d", c, p0)
		}
		if d.Poll.Polls < p0+1 {
			return fmt.Errorf("poll %d, committed %d since poll %d", d.Poll.Polls, final, p0)
		}
		return nil
	})
	// Checked on the snapshots seen from then on (a reader may miss some).
	waitFor(t, waitTimeout, "STOP", func() error {
		d := read()
		p := d.Partitions[0]
		if p.Committed != final {
			t.Fatalf("the frozen member committed %d after %d", p.Committed, final)
		}
		switch n := d.Poll.Polls - p0 + 1; { // samples since the offset stopped
		case n >= window && p.Status != "STOP":
			t.Fatalf("poll %d, sample %d of the frozen offset: %s (%s), want STOP", d.Poll.Polls, n, p.Status, p.Reason)
		case n >= lageval.MinSamples+1 && (d.LagStatus.Status != "ERR" || (p.Status != "STALL" && p.Status != "STOP")):
			t.Fatalf("poll %d, sample %d of the frozen offset: %s (%s), group %s, want STALL and ERR", d.Poll.Polls, n, p.Status, p.Reason, d.LagStatus.Status)
		case p.Status != "STOP":
			return fmt.Errorf("poll %d: %s", d.Poll.Polls, p.Status)
		}
		return nil
	})
	m.frozen.Store(false)
	close(m.thaw)
	waitFor(t, waitTimeout, "OK once the member resumes", func() error {
		if d := read(); d.LagStatus.Status != "OK" {
			return fmt.Errorf("status %s", d.LagStatus.Status)
		}
		return nil
	})
}
