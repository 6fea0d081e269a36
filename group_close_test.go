package consumergroup_test

import (
	"testing"

	cg "github.com/consumergroup/consumergroup"
)

// TestCloseWhileReading is the regression test of a loss: Close called from
// another goroutine while the loop still reads Stream (the seed's example
// does this on Ctrl-C) made the pump skip a record and deliver a later one,
// and Close commit past the gap. Delivered offsets must be contiguous and
// the commit right after the last one.
func TestCloseWhileReading(t *testing.T) {
	for run := range 5 {
		c := startCluster(t, map[string]int32{"t": 1})
		c.produce("t", 1, 5000)
		cfg := groupConfig()
		z := dialZK(t, c.chroot)
		g, err := cg.NewConsumerGroup(newClient(t, c), z, "g", "t", nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		next := int64(0)
		for ev := range g.Stream() {
			if ev.Offset != next {
				t.Fatalf("run %d: offset %d delivered after %d: %d messages skipped", run, ev.Offset, next-1, ev.Offset-next)
			}
			next++
			if next == 500 {
				go g.Close()
			}
		}
		off, err := z.Offset(testCtx(t), "g", "t", 0)
		if err != nil || off != next {
			t.Fatalf("run %d: committed %d, %v after delivering up to %d", run, off, err, next-1)
		}
	}
}
