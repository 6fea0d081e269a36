package consumergroup_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// TestPollRecords: PollRecords hands out franz-go's records with Poll's
// rules: mixed with Next, the batch in hand is not committed until the
// next call or MarkRecordsDone.
func TestPollRecords(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 1})
	c.produce("t", 1, 3)
	z := dialZK(t, c.chroot)
	g, err := cg.NewConsumerGroup(newClient(t, c), z, "g", "t", nil, groupConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.MarkRecordsDone(&cg.RecordBatch{}); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("MarkRecordsDone before any pull = %v, want ErrInvalidArgument", err)
	}
	ev, err := g.Next(testCtx(t))
	if err != nil || ev.Offset != 0 {
		t.Fatalf("Next = %+v, %v; want offset 0", ev, err)
	}
	rb, err := g.PollRecords(testCtx(t))
	if err != nil || len(rb.Records) != 2 || rb.Records[0].Offset != 1 || string(rb.Records[1].Value) != "2" || rb.Topic != "t" {
		t.Fatalf("PollRecords after Next = %+v, %v; want offsets 1 and 2 of t", rb, err)
	}
	time.Sleep(3 * groupConfig().CommitInterval) // letting periodic commits run; the assertion is that they did not pass the batch in hand
	if off, err := z.Offset(testCtx(t), "g", "t", 0); err != nil || off != 1 {
		t.Fatalf("committed %d (%v) while offsets 1-2 are in hand, want 1", off, err)
	}
	if err := g.MarkRecordsDone(nil); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("MarkRecordsDone(nil) = %v, want ErrInvalidArgument", err)
	}
	if err := g.MarkRecordsDone(rb); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(testTimeout); ; {
		off, err := z.Offset(testCtx(t), "g", "t", 0)
		if err == nil && off == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed %d (%v) after MarkRecordsDone, want 3", off, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the server
	}
}

// TestRecycledEvents: the group's own client decodes later fetches into the
// records of earlier ones once their events are filled (engine_recycle.go):
// every event the application kept still holds its own message after many
// fetches, in every delivery mode that copies.
func TestRecycledEvents(t *testing.T) {
	const parts, n = 4, 20000
	for _, mode := range []string{"pull", "stream", "batches"} {
		t.Run(mode, func(t *testing.T) {
			c := startCluster(t, map[string]int32{"t": parts})
			c.produce("t", parts, n)
			cfg := groupConfig()
			g, err := cg.JoinConsumerGroup("g", "t", c.joinAddrs(cfg), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			var kept []*cg.ConsumerEvent
			switch mode {
			case "pull":
				for len(kept) < n {
					ev, err := g.Next(testCtx(t)) // a message, then the rest of its slice
					if err != nil {
						t.Fatal(err)
					}
					b, err := g.Poll(testCtx(t))
					if err != nil {
						t.Fatal(err)
					}
					kept = append(kept, ev)
					for i := range b.Events {
						kept = append(kept, &b.Events[i])
					}
				}
			case "stream":
				for ev := range g.Stream() {
					if kept = append(kept, ev); len(kept) == n {
						break
					}
				}
			case "batches":
				for b := range g.Batches() {
					for i := range b.Events {
						kept = append(kept, &b.Events[i])
					}
					if len(kept) >= n {
						break
					}
				}
			}
			for _, ev := range kept {
				if want := strconv.FormatInt(ev.Offset*parts+int64(ev.Partition), 10); string(ev.Value) != want || ev.Topic != "t" {
					t.Fatalf("kept event %s/%d@%d holds %q, want %q", ev.Topic, ev.Partition, ev.Offset, ev.Value, want)
				}
			}
		})
	}
}
