package consumergroup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// TestPullMisuse: the pull API is a delivery mode like Stream, Batches and
// Checkout: Next after Stream (or Stream after Next) is refused; Next,
// MarkDone and MarkBatchDone refuse nil and the other mode's unit; Next returns the
// context's error when it ends and ErrClosed after Close, at once.
func TestPullMisuse(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 1})
	c.produce("t", 1, 3)
	z := dialZK(t, c.chroot)
	join := func(group string) *cg.ConsumerGroup {
		t.Helper()
		g, err := cg.NewConsumerGroup(newClient(t, c), z, group, "t", nil, groupConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}

	g := join("stream-first")
	if g.Stream() == nil {
		t.Fatal("Stream = nil")
	}
	if _, err := g.Next(testCtx(t)); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("Next after Stream = %v, want ErrInvalidArgument", err)
	}
	if _, err := g.Poll(testCtx(t)); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("Poll after Stream = %v, want ErrInvalidArgument", err)
	}
	if _, err := g.Next(nil); !errors.Is(err, cg.ErrInvalidArgument) { //nolint:staticcheck // a nil context is the bad input under test
		t.Errorf("Next(nil) = %v, want ErrInvalidArgument", err)
	}
	if err := g.MarkDone(nil); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("MarkDone(nil) = %v, want ErrInvalidArgument", err)
	}
	if err := g.MarkBatchDone(&cg.EventBatch{}); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("MarkBatchDone with Stream = %v, want ErrInvalidArgument", err)
	}
	if err := g.MarkDone(&cg.ConsumerEvent{}); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("MarkDone of a message the group does not know = %v, want ErrInvalidArgument (issue 20: never silent)", err)
	}

	g = join("pull-first")
	ev, err := g.Next(testCtx(t))
	if err != nil || ev.Offset != 0 {
		t.Fatalf("Next = %+v, %v; want offset 0", ev, err)
	}
	b, err := g.Poll(testCtx(t)) // the two mix: the rest of the fetch
	if err != nil || len(b.Events) != 2 || b.Events[0].Offset != 1 {
		t.Fatalf("Poll after Next = %+v, %v; want offsets 1 and 2", b, err)
	}
	if g.Stream() != nil || g.Batches() != nil {
		t.Error("Stream or Batches after Next returned a channel; want nil")
	}
	if err := g.Checkout(func(*cg.PartitionConsumer) error { return nil }); !errors.Is(err, cg.ErrInvalidArgument) {
		t.Errorf("Checkout after Next = %v, want ErrInvalidArgument", err)
	}
	if err := g.MarkBatchDone(b); err != nil {
		t.Errorf("MarkBatchDone of the batch in hand = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	returnsWithin(t, "Next with an ending context", func() {
		if _, err := g.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Next on a quiet topic with a deadline = %v, want context.DeadlineExceeded", err)
		}
	})
	closed := make(chan error, 1)
	go func() {
		_, err := g.Next(context.Background())
		closed <- err
	}()
	time.Sleep(50 * time.Millisecond) // let Next wait inside a poll; Close must end it either way
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if !errors.Is(err, cg.ErrClosed) {
			t.Errorf("Next waiting across Close = %v, want ErrClosed", err)
		}
	case <-time.After(misuseBound):
		t.Fatal("Next waiting across Close did not return")
	}
	returnsWithin(t, "Next after Close", func() {
		if _, err := g.Next(context.Background()); !errors.Is(err, cg.ErrClosed) {
			t.Errorf("Next after Close = %v, want ErrClosed", err)
		}
	})
}

// TestPullCommitsWhatWasReturned: what Next returned is committed once the
// application calls Next again, not before: the committed offset (after a
// commit interval) stops before the message in hand, and includes it while
// the application waits inside Next.
func TestPullCommitsWhatWasReturned(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 1})
	c.produce("t", 1, 2)
	z := dialZK(t, c.chroot)
	g, err := cg.NewConsumerGroup(newClient(t, c), z, "g", "t", nil, groupConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for want := int64(0); want < 2; want++ {
		ev, err := g.Next(testCtx(t))
		if err != nil || ev.Offset != want {
			t.Fatalf("Next = %+v, %v; want offset %d", ev, err, want)
		}
	}
	// 1 is in hand: three commit intervals later, the commit still stops at it.
	time.Sleep(3 * groupConfig().CommitInterval) // letting periodic commits run; the assertion is that they did not move past 1
	if off, err := z.Offset(testCtx(t), "g", "t", 0); err != nil || off != 1 {
		t.Fatalf("committed %d (%v) while offset 1 is in hand, want 1", off, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan struct{})
	go func() {
		defer close(waiting)
		g.Next(ctx) // waits: the topic is quiet
	}()
	defer func() { cancel(); <-waiting }()
	for deadline := time.Now().Add(testTimeout); ; {
		off, err := z.Offset(testCtx(t), "g", "t", 0)
		if err == nil && off == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed %d (%v) while the application waits in Next, want 2", off, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the server
	}
}
