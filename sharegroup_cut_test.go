package consumergroup_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
)

// TestShareConnectionCut: a member whose connections are cut while it holds
// a message reports its silent coordinator (Health, REBALANCE_ERROR with
// ErrCoordinatorUnreachable); Kafka hands what it held to another member
// (the one duplicate: the message in hand), nothing is lost, and once its
// connections are back the member is healthy again.
func TestShareConnectionCut(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("cut", 1), sc.group("cut")
		values := sc.produceN(topic, 1, 20)
		l := newShareLedger()
		cut := newCutter()
		events := make(chan *cg.Notification, 64)
		cfg := shareConfig()
		cfg.Notifications = events
		cfg.KafkaOptions = append(cfg.KafkaOptions, kgo.Dialer(cut.DialContext))
		a := sc.join(group, []string{topic}, cfg)
		ctx := testCtx(t)
		ev, err := a.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l.delivered("a", ev)
		cut.Cut()
		for n := waitShareNotification(t, events, cg.REBALANCE_ERROR); !errors.Is(n.Err, cg.ErrCoordinatorUnreachable); {
			t.Logf("REBALANCE_ERROR: %v", n.Err) // the heartbeats' own failures come first
			n = waitShareNotification(t, events, cg.REBALANCE_ERROR)
		}
		if h := a.Health(); h.HealthyExcept() || !h.HealthyExcept(cg.ReasonCoordinatorUnreachable) {
			t.Errorf("a cut off: %v, want coordinator unreachable", h)
		}
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		b := sc.join(group, []string{topic}, nil)
		done := consume(bctx, t, "b", b, l, func(*cg.ConsumerEvent) string { return "accept" })
		l.waitFinished(t, values)
		sc.waitSettled(group, topic, 1)
		cut.Restore()
		markErr := a.MarkDone(ev) // nil (renewed while cut, as far as a knows) or ErrLockExpired
		if markErr != nil && !errors.Is(markErr, cg.ErrLockExpired) {
			t.Errorf("MarkDone after the cut: %v", markErr)
		}
		for h := a.Health(); !h.Healthy; h = a.Health() {
			select {
			case <-a.HealthChanged():
			case <-ctx.Done():
				t.Fatalf("a never healthy again: %v", a.Health())
			}
		}
		cancel()
		<-done
		ca, _ := a.ShareCounts()
		cb, _ := b.ShareCounts()
		t.Logf("MarkDone after the cut: %v; a: %+v; b: %+v", markErr, ca, cb)
		if d := l.duplicates(values); d != 1 {
			t.Errorf("%d duplicates, want 1 (the message in a's hands at the cut)", d)
		}
	})
}
