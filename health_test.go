package consumergroup_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// recorder is a Metrics that counts what it is told.
type recorder struct {
	cg.NopMetrics
	mu sync.Mutex
	counts
}

// counts is what a recorder was told.
type counts struct {
	delivered   int
	bytes       int
	commits     int
	commitFails int
	lags        map[cg.TopicPartition]cg.LagEvent
	rebalances  []cg.RebalanceEvent
	handoffs    int
	sessionLoss []error
	polls       int
}

func newRecorder() *recorder {
	return &recorder{counts: counts{lags: make(map[cg.TopicPartition]cg.LagEvent)}}
}

func (r *recorder) Delivered(e cg.DeliveredEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered += e.Messages
	r.bytes += e.Bytes
}

func (r *recorder) Committed(e cg.CommitEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Err != nil {
		r.commitFails++
	} else {
		r.commits++
	}
}

func (r *recorder) Lag(e cg.LagEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lags[e.Partition] = e
}

func (r *recorder) Rebalanced(e cg.RebalanceEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rebalances = append(r.rebalances, e)
}

func (r *recorder) HandedOff(cg.HandoffEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handoffs++
}

func (r *recorder) SessionLost(e cg.SessionLossEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessionLoss = append(r.sessionLoss, e.Err)
}

func (r *recorder) Polled(cg.PollEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.polls++
}

func (r *recorder) snapshot() counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.counts
	out.lags = maps.Clone(r.lags)
	out.rebalances = slices.Clone(r.rebalances)
	out.sessionLoss = slices.Clone(r.sessionLoss)
	return out
}

// waitHealth waits, on HealthChanged, until cond holds for the member's
// health.
func waitHealth(t *testing.T, g *cg.ConsumerGroup, what string, cond func(cg.Health) bool) cg.Health {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		ch := g.HealthChanged()
		h := g.Health()
		if cond(h) {
			return h
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: health is %v after %v", what, h, testTimeout)
		}
	}
}

func hasReason(h cg.Health, k cg.ReasonKind) bool {
	for _, r := range h.Reasons {
		if r.Kind == k {
			return true
		}
	}
	return false
}

// TestHealthZooKeeperKilled kills the ZooKeeper under a consuming member:
// its health says why it is unhealthy (the connection, then the session),
// a notification tells the application, and once ZooKeeper is back the
// member is healthy again; the metrics counted the session loss and the
// rebalances.
func TestHealthZooKeeperKilled(t *testing.T) {
	zoo, err := testenv.StartZooKeeper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zoo.Close() })
	c := startClusterOn(t, []string{zoo.Addr()}, map[string]int32{"t": 2})
	c.produce("t", 2, 100)

	rec := newRecorder()
	cfg := groupConfig()
	cfg.Metrics = rec
	l := newLedger()
	m := c.join("a", "g", []string{"t"}, cfg, false, l.handle)
	l.waitProcessed(t, 100)
	h := waitHealth(t, m.group, "after joining", func(h cg.Health) bool { return h.Healthy })
	if len(h.Reasons) != 0 || h.String() != "healthy" {
		t.Fatalf("healthy with reasons: %+v", h)
	}
	if got := rec.snapshot(); got.delivered != 100 || got.bytes == 0 || len(got.rebalances) == 0 || got.polls == 0 {
		t.Fatalf("metrics after 100 messages: delivered %d (%d bytes), %d rebalances, %d polls", got.delivered, got.bytes, len(got.rebalances), got.polls)
	}
	// Everything is committed but the message in the application's hands
	// (it counts as processed when the next one is taken).
	waitFor(t, "committed offsets and lag in the metrics", func() bool {
		s := rec.snapshot()
		p0, p1 := s.lags[cg.TopicPartition{Topic: "t", Partition: 0}], s.lags[cg.TopicPartition{Topic: "t", Partition: 1}]
		return s.commits > 0 && len(s.lags) == 2 && p0.LogEnd == 50 && p1.LogEnd == 50 && p0.Lag+p1.Lag == 1 &&
			p0.Committed+p1.Committed == 99
	}, func() string { return fmt.Sprintf("%+v", rec.snapshot()) })
	before := rec.snapshot()

	if err := zoo.Kill(); err != nil {
		t.Fatal(err)
	}
	h = waitHealth(t, m.group, "ZooKeeper killed", func(h cg.Health) bool { return hasReason(h, cg.ReasonCoordinatorUnreachable) })
	if h.Healthy {
		t.Fatalf("healthy with ZooKeeper dead: %+v", h)
	}
	// The application is told (other errors may come first: a request
	// cut short).
	for n := waitNotification(t, m, cg.REBALANCE_ERROR, "ZooKeeper killed"); !errors.Is(n.Err, cg.ErrCoordinatorUnreachable); {
		t.Logf("notification before ErrCoordinatorUnreachable: %v", n.Err)
		n = waitNotification(t, m, cg.REBALANCE_ERROR, "ZooKeeper killed")
	}
	// The session outlives the connection by at most 2/3 of its timeout.
	h = waitHealth(t, m.group, "session assumed lost", func(h cg.Health) bool { return hasReason(h, cg.ReasonSessionLost) })
	t.Logf("while ZooKeeper is down: %v", h)
	if len(m.group.ClaimedPartitions()) != 0 {
		t.Fatalf("partitions held after the session loss: %v", m.group.ClaimedPartitions())
	}

	if err := zoo.Restart(); err != nil {
		t.Fatal(err)
	}
	h = waitHealth(t, m.group, "ZooKeeper back", func(h cg.Health) bool { return h.Healthy })
	if time.Since(h.Since) > testTimeout {
		t.Fatalf("healthy since %v", h.Since)
	}
	c.produce("t", 2, 10)
	l.waitProcessed(t, 110)
	after := rec.snapshot()
	if len(after.sessionLoss) < 1 || !errors.Is(after.sessionLoss[0], cg.ErrSessionExpired) {
		t.Fatalf("session losses counted: %v", after.sessionLoss)
	}
	if len(after.rebalances) <= len(before.rebalances) {
		t.Fatalf("rebalances: %d before the kill, %d after the recovery", len(before.rebalances), len(after.rebalances))
	}
	last := after.rebalances[len(after.rebalances)-1]
	if len(last.Claimed) != 2 || last.Held != 2 || last.Took <= 0 {
		t.Fatalf("rebalance after the recovery: %+v", last)
	}
	m.close(t)
	if h := m.group.Health(); h.Healthy || !hasReason(h, cg.ReasonClosed) || len(h.Reasons) != 1 {
		t.Fatalf("health after Close: %v", h)
	}
}

// TestHealthNoPartitions: a member of a group with more members than
// partitions holds nothing: its health says so, and HealthyExcept lets a
// readiness probe accept it.
func TestHealthNoPartitions(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 1})
	cfg := groupConfig()
	l := newLedger()
	a := c.join("a", "g", []string{"t"}, cfg, false, l.handle)
	waitHealth(t, a.group, "a alone", func(h cg.Health) bool { return h.Healthy })
	b := c.join("b", "g", []string{"t"}, cfg, false, l.handle)
	h := waitHealth(t, b.group, "b idle", func(h cg.Health) bool {
		return !hasReason(h, cg.ReasonJoining) && !hasReason(h, cg.ReasonRebalancing)
	})
	if h.Healthy || len(h.Reasons) != 1 || h.Reasons[0].Kind != cg.ReasonNoPartitions || !h.HealthyExcept(cg.ReasonNoPartitions) {
		t.Fatalf("idle member's health: %v", h)
	}
	if a.group.Health().HealthyExcept() != a.group.Health().Healthy {
		t.Fatal("HealthyExcept() differs from Healthy")
	}
	a.close(t)
	waitHealth(t, b.group, "b takes over", func(h cg.Health) bool { return h.Healthy })
	b.close(t)
}

// waitFor polls cond until it holds, at most testTimeout.
func waitFor(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, testTimeout, state())
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

// TestMetricsHandoff: a member giving a partition up to a newcomer reports
// the hand-off and the rebalance that released it; every message and its
// bytes are counted once.
func TestMetricsHandoff(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 2})
	c.produce("t", 2, 40)
	rec := newRecorder()
	cfg := groupConfig()
	cfg.Metrics = rec
	l := newLedger()
	a := c.join("a", "g", []string{"t"}, cfg, false, l.handle)
	l.waitProcessed(t, 40)
	b := c.join("b", "g", []string{"t"}, groupConfig(), false, l.handle)
	waitFor(t, "a's hand-off", func() bool {
		s := rec.snapshot()
		if s.handoffs == 0 || len(s.rebalances) < 2 {
			return false
		}
		last := s.rebalances[len(s.rebalances)-1]
		return len(last.Released) == 1 && last.Held == 1
	}, func() string { return fmt.Sprintf("%+v", rec.snapshot()) })
	if got := rec.snapshot(); got.delivered != 40 || got.bytes < 40 {
		t.Fatalf("delivered %d messages, %d bytes", got.delivered, got.bytes)
	}
	b.close(t)
	a.close(t)
}
