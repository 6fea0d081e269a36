package consumergroup_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// TestShareSlowMessageFullBuffer: a slow message (two and a half record
// locks) with a full buffer behind it, fetched with it: the records
// waiting keep their locks (renewed with the message in hand), nothing is
// delivered twice, nothing lost, no acknowledgement refused. Before, the
// waiting records' locks ran out, the member released them late, and
// Kafka refused the whole acknowledgement batch (INVALID_RECORD_STATE),
// the valid accepts in it too: records processed twice, some archived at
// the delivery-count limit.
func TestShareSlowMessageFullBuffer(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("fullbuf", 1), sc.group("fullbuf")
		values := []string{"slow"}
		for i := range 300 {
			values = append(values, fmt.Sprintf("behind-%d", i))
		}
		l := newShareLedger()
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		g := sc.join(group, []string{topic}, nil)
		hold := 5 * shareLock / 2
		sc.produce(topic, 0, values...) // one batch: the slow message first, the rest fetched with it
		done := consume(ctx, t, "a", g, l, func(ev *cg.ConsumerEvent) string {
			if string(ev.Value) == "slow" {
				time.Sleep(hold) // the handler's slow work, not a synchronization
			}
			return "done"
		})
		l.waitFinished(t, values)
		sc.waitSettled(group, topic, 1)
		cancel()
		<-done
		c, _ := g.ShareCounts()
		t.Logf("held %v with a lock of %v: %+v", hold, shareLock, c)
		if n := l.duplicates(values); n != 0 {
			t.Errorf("%d deliveries beyond the first, want none", n)
		}
		if c.Expired != 0 || c.AckErrors != 0 || c.Renewed == 0 {
			t.Errorf("expired %d, acknowledgement errors %d, renewed %d: want renewals, no expiry, no refusal", c.Expired, c.AckErrors, c.Renewed)
		}
		if c.Accepted != int64(len(values)) {
			t.Errorf("accepted %d, want %d", c.Accepted, len(values))
		}
	})
}
