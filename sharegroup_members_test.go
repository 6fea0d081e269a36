package consumergroup_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
)

// TestShareMoreMembersThanPartitions: three members of a one-partition
// topic all receive work (each fetch takes at most two records:
// kgo.ShareMaxRecords with ShareMaxRecordsStrict in KafkaOptions), and
// every record is accepted once.
func TestShareMoreMembersThanPartitions(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("more", 1), sc.group("more")
		l := newShareLedger()
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		names := []string{"a", "b", "c"}
		var members []*cg.ConsumerGroup
		var dones []<-chan struct{}
		for _, name := range names {
			cfg := shareConfig()
			cfg.KafkaOptions = append(cfg.KafkaOptions, kgo.ShareMaxRecords(2), kgo.ShareMaxRecordsStrict())
			g := sc.join(group, []string{topic}, cfg)
			members = append(members, g)
			dones = append(dones, consume(ctx, t, name, g, l, func(*cg.ConsumerEvent) string {
				time.Sleep(20 * time.Millisecond) // the handler's work, not a synchronization
				return "accept"
			}))
		}
		values := sc.produceN(topic, 1, 90)
		l.waitFinished(t, values)
		sc.waitSettled(group, topic, 1)
		cancel()
		for _, d := range dones {
			<-d
		}
		for i, g := range members {
			c, _ := g.ShareCounts()
			t.Logf("%s: %+v", names[i], c)
			if c.Accepted == 0 {
				t.Errorf("member %s received no work", names[i])
			}
		}
		if d := l.duplicates(values); d != 0 {
			t.Errorf("%d duplicates, want 0 (no lock ran out, no member died)", d)
		}
	})
}

// TestShareGracefulJoinLeave: members join and leave (Close) while records
// are produced: every record is accepted, none delivered twice (Close
// accepts the message in hand and releases what it fetched without
// handing it out: those come again to the others, first to reach the
// application).
func TestShareGracefulJoinLeave(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("graceful", 4), sc.group("graceful")
		l := newShareLedger()
		ctx := testCtx(t)
		type running struct {
			g      *cg.ConsumerGroup
			cancel context.CancelFunc
			done   <-chan struct{}
		}
		start := func(name string) running {
			mctx, cancel := context.WithCancel(ctx)
			g := sc.join(group, []string{topic}, nil)
			return running{g, cancel, consume(mctx, t, name, g, l, func(*cg.ConsumerEvent) string { return "accept" })}
		}
		stop := func(r running) {
			r.cancel()
			<-r.done
			if err := r.g.Close(); err != nil {
				t.Error(err)
			}
		}
		var values []string
		round := func() { values = append(values, sc.produceN(topic, 4, 200)...) }
		a := start("a")
		round()
		b := start("b")
		round()
		stop(a)
		c := start("c")
		round()
		stop(b)
		round()
		l.waitFinished(t, values)
		sc.waitSettled(group, topic, 4)
		stop(c)
		if d := l.duplicates(values); d != 0 {
			t.Errorf("%d duplicates across graceful joins and leaves, want 0", d)
		}
		t.Logf("%d records, 3 members joined, 2 left while producing: 0 lost, 0 delivered twice", len(values))
	})
}

// TestShareStreamAndBatches: Stream with MarkDone, and Batches with
// MarkBatchDone, finish every record once.
func TestShareStreamAndBatches(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		for _, mode := range []string{"stream", "batches"} {
			topic, group := sc.topic("modes-"+mode, 2), sc.group("modes-"+mode)
			values := sc.produceN(topic, 2, 100)
			l := newShareLedger()
			g := sc.join(group, []string{topic}, nil)
			if mode == "stream" {
				ch := g.Stream()
				for range values {
					ev := recvShare(t, ch)
					l.delivered("a", ev)
					if err := g.MarkDone(ev); err != nil {
						t.Fatal(err)
					}
					l.finished(ev, "accept")
				}
			} else {
				ch := g.Batches()
				for n := 0; n < len(values); {
					b := recvShare(t, ch)
					for i := range b.Events {
						l.delivered("a", &b.Events[i])
						l.finished(&b.Events[i], "accept")
					}
					if err := g.MarkBatchDone(b); err != nil {
						t.Fatal(err)
					}
					n += len(b.Events)
				}
			}
			l.waitFinished(t, values)
			sc.waitSettled(group, topic, 2)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if d := l.duplicates(values); d != 0 {
				t.Errorf("%s: %d duplicates", mode, d)
			}
			if mode == "batches" && g.Stream() != nil {
				t.Errorf("Stream after Batches: want nil")
			}
		}
	})
}

// recvShare receives from ch, with the test's deadline.
func recvShare[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("the channel closed")
		}
		return v
	case <-testCtx(t).Done():
		t.Fatal("nothing received")
	}
	var zero T
	return zero
}
