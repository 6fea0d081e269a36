package consumergroup_test

import (
	"errors"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// TestGroupNothingAfterSessionLoss is the regression test of a delivery
// after a session loss: a member frozen past its session (here: its
// handler holds a message while the member is cut off from ZooKeeper) had
// the next message queued in Stream's channel, and its loop took it when
// it woke up, though the session was known to be over (its Done closed),
// while the partition's next owner could be processing it. Nothing may be
// delivered once the session's end is known: the next message delivered
// must come from the member's next session. The handler wakes up exactly
// when the session's Done closes, at the same moment as the member's own
// goroutines; three rounds, since the old code lost that race now and then.
// With Next (pull), the next messages are fetched and buffered on the
// application's side when the session ends: none of them may be returned.
func TestGroupNothingAfterSessionLoss(t *testing.T) {
	for _, mode := range []string{modeStream, modePull} {
		t.Run(mode, func(t *testing.T) { testGroupNothingAfterSessionLoss(t, mode) })
	}
}

func testGroupNothingAfterSessionLoss(t *testing.T, mode string) {
	const topic, rounds = "t", 3
	c := startCluster(t, map[string]int32{topic: 1})
	c.mode = mode
	c.produce(topic, 1, 10)

	type receipt struct {
		off int64
		id  string // the member's consumer id when its loop received the message
	}
	got := make(chan receipt, 100)
	sessEnd := make(chan (<-chan struct{}), 1) // a session's Done: the held message's handler returns when it closes
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit) })
	heldIn := "" // the session (consumer id) whose first message the handler held
	handle := func(m *testMember, ev *cg.ConsumerEvent) {
		id := m.group.ID()
		got <- receipt{ev.Offset, id}
		if id == heldIn {
			return
		}
		// The first message of a session: frozen until the session's
		// end is known.
		heldIn = id
		select {
		case done := <-sessEnd:
			select {
			case <-done:
			case <-quit:
			}
		case <-quit:
		}
	}
	a := c.join("a", "g", []string{topic}, groupConfig(), true, handle)
	var stream <-chan *cg.ConsumerEvent
	if mode == modeStream {
		stream = a.group.Stream()
	}
	next := func(what string) receipt {
		t.Helper()
		select {
		case r := <-got:
			return r
		case <-time.After(testTimeout):
			t.Fatalf("%s: nothing delivered within %v", what, testTimeout)
		}
		return receipt{}
	}
	prev := ""
	for round := range rounds {
		r := next("the first message of a session")
		if r.id == prev || r.id == "" {
			t.Fatalf("round %d: offset %d delivered after the end of session %q was known, before the next session (consumer id %q)", round, r.off, prev, r.id)
		}
		if r.off != 0 {
			t.Fatalf("round %d: session %q started at offset %d, want 0 (the message in hand at the loss, never committed)", round, r.id, r.off)
		}
		// The pump queues the next message behind the one in hand (pull:
		// the one poll fetched the ten messages, buffered in Next).
		for deadline := time.Now().Add(testTimeout); stream != nil && len(stream) == 0; {
			if time.Now().After(deadline) {
				t.Fatal("no message queued behind the one in hand")
			}
			time.Sleep(time.Millisecond) // polling the channel's length, not synchronizing
		}
		sess, err := a.zk.Session(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		sessEnd <- sess.Done()
		a.proxy.Cut()
		waitClosed(t, sess.Done(), "the session's end")
		for {
			n := waitNotification(t, a, cg.REBALANCE_ERROR, "the session loss's notification")
			if errors.Is(n.Err, cg.ErrSessionExpired) {
				break
			}
		}
		a.proxy.Restore()
		prev = r.id
	}
	r := next("the first message after the last loss")
	if r.id == prev || r.id == "" {
		t.Fatalf("offset %d delivered after the end of session %q was known, before the next session (consumer id %q)", r.off, prev, r.id)
	}
	free := make(chan struct{})
	close(free)
	sessEnd <- free // the member closes: let go of the message held
	a.close(t)
}
