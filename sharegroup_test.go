package consumergroup_test

import (
	"context"
	"strings"
	"testing"

	cg "github.com/consumergroup/consumergroup"
)

// TestShareEveryRecordFinished: two members; each record is accepted,
// released once then accepted (delivered again with its count + 1, to
// either member), or rejected; every record ends finished, Kafka's start
// offsets reach the log ends, and the only second deliveries are the
// releases'.
func TestShareEveryRecordFinished(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("every", 3), sc.group("every")
		values := sc.produceN(topic, 3, 300)
		l := newShareLedger()
		handle := func(ev *cg.ConsumerEvent) string {
			v := string(ev.Value)
			switch {
			case strings.HasSuffix(v, "0"):
				return "reject"
			case strings.HasSuffix(v, "7") && ev.DeliveryCount == 1:
				return "release"
			case strings.HasSuffix(v, "3"):
				return "done"
			}
			return "accept"
		}
		ctx, cancel := context.WithCancel(testCtx(t))
		a := sc.join(group, []string{topic}, nil)
		b := sc.join(group, []string{topic}, nil)
		doneA := consume(ctx, t, "a", a, l, handle)
		doneB := consume(ctx, t, "b", b, l, handle)
		l.waitFinished(t, values)
		sc.waitSettled(group, topic, 3)
		cancel()
		<-doneA
		<-doneB
		a.Close()
		b.Close()
		released := 0
		for _, v := range values {
			d := l.deliveries(v)
			want := 1
			if strings.HasSuffix(v, "7") {
				want, released = 2, released+1
			}
			if len(d) != want {
				t.Errorf("%s: delivered %d times (%v), want %d", v, len(d), d, want)
				continue
			}
			for i, x := range d {
				if x.count != int32(i+1) {
					t.Errorf("%s: delivery %d has DeliveryCount %d, want %d", v, i+1, x.count, i+1)
				}
			}
		}
		ca, _ := a.ShareCounts()
		cb, _ := b.ShareCounts()
		t.Logf("%d records, %d released once and delivered again; a: %+v; b: %+v", len(values), released, ca, cb)
		if got := ca.Redelivered + cb.Redelivered; got != int64(released) {
			t.Errorf("Redelivered = %d, want %d (the releases)", got, released)
		}
	})
}
