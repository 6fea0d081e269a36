package consumergroup_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestShareSlowHandlerRenews: a handler that holds its message for more
// than twice the record lock keeps it: the group renews the lock of the
// message in hand, the other member never receives it, and it is delivered
// once.
func TestShareSlowHandlerRenews(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("slow", 1), sc.group("slow")
		l := newShareLedger()
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		a := sc.join(group, []string{topic}, nil)
		b := sc.join(group, []string{topic}, nil)
		hold := 5 * shareLock / 2
		handle := func(ev *cg.ConsumerEvent) string {
			if string(ev.Value) == "slow" {
				time.Sleep(hold) // the handler's slow work, not a synchronization
			}
			return "done"
		}
		doneA := consume(ctx, t, "a", a, l, handle)
		doneB := consume(ctx, t, "b", b, l, handle)
		sc.produce(topic, 0, "slow")
		l.waitFinished(t, []string{"slow"})
		sc.waitSettled(group, topic, 1)
		cancel()
		<-doneA
		<-doneB
		ca, _ := a.ShareCounts()
		cb, _ := b.ShareCounts()
		t.Logf("held %v with a lock of %v; a: %+v; b: %+v", hold, shareLock, ca, cb)
		if d := l.deliveries("slow"); len(d) != 1 || d[0].count != 1 {
			t.Errorf("the slow message was delivered %v, want once", d)
		}
		if ca.Renewed+cb.Renewed == 0 || ca.Expired+cb.Expired != 0 {
			t.Errorf("renewed %d, expired %d: want renewals and no expiry", ca.Renewed+cb.Renewed, ca.Expired+cb.Expired)
		}
	})
}

// TestShareLockExpires: with ShareManualRenew, a message held past its
// lock is released (LOCK_EXPIRED), MarkDone of it returns ErrLockExpired
// instead of accepting it late, and Kafka delivers it again with its count
// + 1: the one duplicate, explained by the lock.
func TestShareLockExpires(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("expire", 1), sc.group("expire")
		events := make(chan *cg.Notification, 16)
		cfg := shareConfig()
		cfg.ShareManualRenew = true
		cfg.Notifications = events
		g := sc.join(group, []string{topic}, cfg)
		sc.produce(topic, 0, "x")
		ctx := testCtx(t)
		ev, err := g.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.DeliveryCount != 1 || ev.AcquisitionDeadline.IsZero() {
			t.Fatalf("first delivery: count %d, deadline %v", ev.DeliveryCount, ev.AcquisitionDeadline)
		}
		n := waitShareNotification(t, events, cg.LOCK_EXPIRED)
		if n.Topic != topic || n.Offset != ev.Offset {
			t.Errorf("LOCK_EXPIRED names %s/%d@%d, want %s@%d", n.Topic, n.Partition, n.Offset, topic, ev.Offset)
		}
		if err := g.MarkDone(ev); !errors.Is(err, cg.ErrLockExpired) {
			t.Errorf("MarkDone after the lock ran out: %v, want ErrLockExpired", err)
		}
		if err := g.Renew(ev); !errors.Is(err, cg.ErrLockExpired) {
			t.Errorf("Renew after the lock ran out: %v, want ErrLockExpired", err)
		}
		again, err := g.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(again.Value) != "x" || again.DeliveryCount != 2 {
			t.Errorf("next delivery: %s count %d, want x count 2", again.Value, again.DeliveryCount)
		}
		if err := g.MarkDone(again); err != nil {
			t.Fatal(err)
		}
		sc.waitSettled(group, topic, 1)
		c, _ := g.ShareCounts()
		t.Logf("counts: %+v", c)
		if c.Expired != 1 || c.Accepted != 1 || c.Redelivered != 1 {
			t.Errorf("counts %+v: want 1 expired, 1 accepted, 1 redelivered", c)
		}
	})
}

// TestSharePoisonArchived: a message released at every delivery is
// delivered share.delivery.count.limit times, then archived by Kafka: the
// group's lag reaches 0 with it never accepted, and the others are.
func TestSharePoisonArchived(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("poison", 1), sc.group("poison")
		values := []string{"ok-1", "poison", "ok-2"}
		sc.produce(topic, 0, values...)
		l := newShareLedger()
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		g := sc.join(group, []string{topic}, nil)
		done := consume(ctx, t, "a", g, l, func(ev *cg.ConsumerEvent) string {
			if string(ev.Value) == "poison" {
				return "release"
			}
			return "accept"
		})
		l.waitFinished(t, []string{"ok-1", "ok-2"})
		sc.waitSettled(group, topic, 1)
		cancel()
		<-done
		d := l.deliveries("poison")
		if len(d) != shareLimit {
			t.Fatalf("poison delivered %d times (%v), want %d (share.delivery.count.limit)", len(d), d, shareLimit)
		}
		for i, x := range d {
			if x.count != int32(i+1) {
				t.Errorf("delivery %d of poison has count %d", i+1, x.count)
			}
		}
	})
}

// waitShareNotification waits for a notification of type typ.
func waitShareNotification(t *testing.T, ch <-chan *cg.Notification, typ uint8) *cg.Notification {
	t.Helper()
	ctx := testCtx(t)
	for {
		select {
		case n := <-ch:
			if n.Type == typ {
				return n
			}
		case <-ctx.Done():
			t.Fatalf("no notification of type %d", typ)
		}
	}
}

// shareRecorder is a Metrics that also implements ShareMetrics: it sums
// the changes it receives.
type shareRecorder struct {
	cg.NopMetrics
	mu        sync.Mutex
	sum       cg.ShareCounts
	delivered int
}

func (r *shareRecorder) Shared(e cg.ShareEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := e.Counts
	r.sum.Acquired += c.Acquired
	r.sum.Redelivered += c.Redelivered
	r.sum.Accepted += c.Accepted
	r.sum.Released += c.Released
	r.sum.Rejected += c.Rejected
	r.sum.Renewed += c.Renewed
	r.sum.Expired += c.Expired
	r.sum.AckErrors += c.AckErrors
}

func (r *shareRecorder) Delivered(e cg.DeliveredEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered += e.Messages
}

// TestShareMetrics: a Metrics that implements ShareMetrics receives every
// change: their sum is ShareCounts; Delivered counts the messages handed
// out; Health is healthy once joined and closed after Close.
func TestShareMetrics(t *testing.T) {
	sc := startShareCluster(t, testenv.KindKfake)
	topic, group := sc.topic("metrics", 1), sc.group("metrics")
	rec := &shareRecorder{}
	cfg := shareConfig()
	cfg.Metrics = rec
	g := sc.join(group, []string{topic}, cfg)
	if h := g.Health(); !h.Healthy {
		t.Errorf("joined: %v, want healthy", h)
	}
	sc.produce(topic, 0, "a", "b", "c")
	ctx := testCtx(t)
	for i := 0; i < 4; i++ {
		ev, err := g.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case string(ev.Value) == "b" && ev.DeliveryCount == 1:
			err = g.Release(ev)
		case string(ev.Value) == "c":
			err = g.Reject(ev)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	c, _ := g.ShareCounts()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.sum != c || c.Acquired != 4 || c.Accepted != 2 || c.Released != 1 || c.Rejected != 1 || c.Redelivered != 1 {
		t.Errorf("ShareMetrics summed %+v, ShareCounts %+v; want 4 acquired, 2 accepted, 1 released, 1 rejected, 1 redelivered", rec.sum, c)
	}
	if rec.delivered != 4 {
		t.Errorf("Delivered counted %d messages, want 4", rec.delivered)
	}
	if h := g.Health(); h.Healthy || !h.HealthyExcept(cg.ReasonClosed) {
		t.Errorf("after Close: %v, want closed", h)
	}
}
