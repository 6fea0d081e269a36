package consumergroup_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// TestGroupHandoffTimeout is the regression test of a slow handler during a
// hand-off: a holds partition 1's message at offset 0 longer than
// HandoffTimeout while b joins and gets partition 1. a must not count that
// message as processed: its commit stops at offset 0, b starts at offset 0
// (delivers it again), a's listener gets HANDOFF_TIMEOUT naming partition 1
// and offset 0, a's loop gets nothing more of partition 1, and when a's
// handler finishes nothing commits partition 1 past what b processed.
func TestGroupHandoffTimeout(t *testing.T) {
	const topic, perPartition = "t", 10
	p1 := cg.TopicPartition{Topic: topic, Partition: 1}
	c := startCluster(t, map[string]int32{topic: 2})
	c.produce(topic, 2, 2*perPartition) // sequence numbers alternate: partition seq%2

	var mu sync.Mutex
	var aFinished bool
	var aAfter []location      // what a's loop received after its slow handler finished
	aLast := map[int32]int64{} // a's last processed offset per partition
	bLast := map[int32]int64{0: -1, 1: -1}
	holding := make(chan struct{}) // closed when a holds partition 1's offset 0
	finish := make(chan struct{})  // closed to let a's slow handler finish
	bFirst := make(chan *cg.ConsumerEvent, 1)
	bGo := make(chan struct{}) // closed to let b's first message go
	var finishOnce, bGoOnce sync.Once
	letAGo := func() { finishOnce.Do(func() { close(finish) }) }
	letBGo := func() { bGoOnce.Do(func() { close(bGo) }) }
	t.Cleanup(letAGo)
	t.Cleanup(letBGo)
	var slow, bStarted sync.Once
	handleA := func(m *testMember, ev *cg.ConsumerEvent) {
		if ev.Partition == 1 && ev.Offset == 0 {
			held := false
			slow.Do(func() { held = true })
			if held {
				close(holding)
				<-finish
				mu.Lock()
				aFinished = true
				mu.Unlock()
				return
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if aFinished {
			aAfter = append(aAfter, location{cg.TopicPartition{Topic: ev.Topic, Partition: ev.Partition}, ev.Offset})
		}
		aLast[ev.Partition] = max(aLast[ev.Partition], ev.Offset)
	}
	handleB := func(m *testMember, ev *cg.ConsumerEvent) {
		bStarted.Do(func() {
			bFirst <- ev
			<-bGo
		})
		mu.Lock()
		defer mu.Unlock()
		bLast[ev.Partition] = max(bLast[ev.Partition], ev.Offset)
	}
	cfg := groupConfig()
	cfg.HandoffTimeout = 500 * time.Millisecond
	a := c.join("a", "g", []string{topic}, cfg, false, handleA)
	waitClosed(t, holding, "a holding partition 1's offset 0")
	b := c.join("b", "g", []string{topic}, cfg, false, handleB)

	// Consumer ids sort by join time: the range strategy gives a
	// partition 0 and b partition 1.
	var first *cg.ConsumerEvent
	select {
	case first = <-bFirst:
	case <-time.After(testTimeout):
		t.Fatal("b received nothing")
	}
	if first.Partition != 1 || first.Offset != 0 {
		t.Fatalf("b's first message is %d@%d, want 1@0: the message a still held was not delivered again", first.Partition, first.Offset)
	}
	n := waitNotification(t, a, cg.HANDOFF_TIMEOUT, "a's hand-off timeout")
	if n.Topic != topic || n.Partition != 1 || n.Offset != 0 {
		t.Fatalf("HANDOFF_TIMEOUT names %s/%d@%d, want %s/1@0", n.Topic, n.Partition, n.Offset, topic)
	}
	watcher := dialZK(t, c.chroot)
	committed := func(tp cg.TopicPartition) int64 {
		t.Helper()
		off, err := watcher.Offset(testCtx(t), "g", tp.Topic, tp.Partition)
		if err != nil {
			t.Fatalf("offset of %v: %v", tp, err)
		}
		return off
	}
	// Both hold 1@0 now: nobody processed it.
	if off := committed(p1); off != 0 {
		t.Fatalf("partition 1 committed at %d while its offset 0 is in both members' hands", off)
	}

	// a's handler finishes; a goes on with partition 0 only.
	letAGo()
	c.produce(topic, 2, 2*perPartition)
	p0 := cg.TopicPartition{Topic: topic, Partition: 0}
	for deadline := time.Now().Add(testTimeout); committed(p0) < 2*perPartition-1; {
		// a commits every CommitInterval: once partition 0's commit
		// covers all of it but the last message (in hand until the
		// next), a has committed after its slow handler finished (one
		// write holds every partition that moved).
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("a did not commit partition 0 up to %d: committed %d, a processed up to %v", 2*perPartition-1, committed(p0), aLast)
		}
		time.Sleep(20 * time.Millisecond) // polling the server, not synchronizing
	}
	if off := committed(p1); off != 0 {
		t.Fatalf("partition 1 committed at %d after a's slow handler finished, while b still holds offset 0", off)
	}
	mu.Lock()
	after := aAfter
	mu.Unlock()
	for _, l := range after {
		if l.tp == p1 {
			t.Fatalf("a's loop received %d@%d after the hand-off timed out; want nothing of partition 1", l.tp.Partition, l.off)
		}
	}

	// b goes on: it processes partition 1 from offset 0 and commits it.
	letBGo()
	for deadline := time.Now().Add(testTimeout); committed(p1) < 2*perPartition-1; {
		if time.Now().After(deadline) {
			t.Fatalf("b did not commit partition 1 up to %d", 2*perPartition-1)
		}
		time.Sleep(20 * time.Millisecond) // polling the server, not synchronizing
	}
	if got := a.group.ClaimedPartitions(); len(got) != 1 || got[0] != p0 {
		t.Fatalf("a holds %v, want partition 0 only", got)
	}
	a.close(t)
	b.close(t)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("a received %d messages of partition 0 after its slow handler; b processed partition 1 up to %d", len(after), bLast[1])
}

// TestCheckoutHandoffTimeout: a Checkout callback that holds partition 1
// longer than HandoffTimeout while b joins and gets partition 1 commits
// nothing of it when it returns: b starts at offset 0, a's listener gets
// HANDOFF_TIMEOUT naming partition 1 and offset 0, and the committed
// offset stays at 0 after a's callback returned nil.
func TestCheckoutHandoffTimeout(t *testing.T) {
	const topic, perPartition = "t", 10
	c := startCluster(t, map[string]int32{topic: 2})
	c.produce(topic, 2, 2*perPartition)
	cfg := groupConfig()
	cfg.HandoffTimeout = 500 * time.Millisecond
	events := make(chan *cg.Notification, 100)
	g, err := cg.NewConsumerGroup(newClient(t, c), dialZK(t, c.chroot), "g", topic, events, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	holding := make(chan int) // how many messages the slow callback consumed
	finish := make(chan struct{})
	returned := make(chan error, 1) // the slow callback's Checkout returned
	stop := make(chan struct{})
	loopDone := make(chan struct{})
	var finishOnce sync.Once
	letGo := func() { finishOnce.Do(func() { close(finish) }) }
	defer func() { letGo(); close(stop); <-loopDone }()
	go func() {
		defer close(loopDone)
		slowDone := false
		for {
			select {
			case <-stop:
				return
			default:
			}
			slow := false
			err := g.Checkout(func(pc *cg.PartitionConsumer) error {
				ch := make(chan *cg.ConsumerEvent, 100)
				if err := pc.Fetch(ch, 50*time.Millisecond, nil); err != nil {
					return err
				}
				if pc.Partition() == 1 && !slowDone && len(ch) > 0 {
					slow, slowDone = true, true
					holding <- len(ch)
					<-finish
				}
				return nil
			})
			if slow {
				returned <- err
			}
			if errors.Is(err, cg.NoCheckout) {
				time.Sleep(10 * time.Millisecond) // nothing claimed yet: call again, as documented
			}
		}
	}()
	select {
	case n := <-holding:
		t.Logf("the slow callback holds %d messages of partition 1", n)
	case <-time.After(testTimeout):
		t.Fatal("no callback got partition 1's messages")
	}
	c.produce(topic, 2, 2*perPartition) // beyond what the slow callback holds

	bFirst := make(chan *cg.ConsumerEvent, 1)
	bGo := make(chan struct{})
	var bOnce, bGoOnce sync.Once
	t.Cleanup(func() { bGoOnce.Do(func() { close(bGo) }) })
	b := c.join("b", "g", []string{topic}, cfg, false, func(_ *testMember, ev *cg.ConsumerEvent) {
		bOnce.Do(func() {
			bFirst <- ev
			<-bGo
		})
	})
	select {
	case ev := <-bFirst:
		if ev.Partition != 1 || ev.Offset != 0 {
			t.Fatalf("b's first message is %d@%d, want 1@0: what the slow callback held was committed", ev.Partition, ev.Offset)
		}
	case <-time.After(testTimeout):
		t.Fatal("b received nothing")
	}
	for deadline := time.After(testTimeout); ; {
		var n *cg.Notification
		select {
		case n = <-events:
		case <-deadline:
			t.Fatal("no HANDOFF_TIMEOUT notification")
		}
		if n.Type == cg.HANDOFF_TIMEOUT {
			if n.Partition != 1 || n.Offset != 0 {
				t.Fatalf("HANDOFF_TIMEOUT names %s/%d@%d, want %s/1@0", n.Topic, n.Partition, n.Offset, topic)
			}
			break
		}
	}
	letGo()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatalf("the slow callback's Checkout = %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the slow callback's Checkout did not return")
	}
	off, err := dialZK(t, c.chroot).Offset(testCtx(t), "g", topic, 1)
	if err != nil || off != 0 {
		t.Fatalf("partition 1 committed at %d (%v) after the slow callback returned, while b holds offset 0", off, err)
	}
	bGoOnce.Do(func() { close(bGo) })
	b.close(t)
}

// handoffTimeouts drains the notifications of members (call it once they
// are closed) and returns the messages announced by HANDOFF_TIMEOUT, with
// the member that announced each. Such a message is delivered again to the
// partition's next owner, by design: a Stream loop that went idle keeps its
// last message "in hand" (it counts as processed when the next is taken),
// so a hand-off of that partition times out and redelivers it.
func handoffTimeouts(members ...*testMember) map[location]string {
	announced, _ := drainNotifications(members...)
	return announced
}

// drainNotifications reads the members' pending notifications: the
// messages announced as delivered again (HANDOFF_TIMEOUT, see
// handoffTimeouts), and the members that lost their ZooKeeper session
// (REBALANCE_ERROR matching ErrSessionExpired), with crash semantics.
func drainNotifications(members ...*testMember) (map[location]string, []string) {
	out := map[location]string{}
	var lost []string
	for _, m := range members {
		for more := true; more; {
			select {
			case n := <-m.events:
				switch {
				case n.Type == cg.HANDOFF_TIMEOUT:
					out[location{cg.TopicPartition{Topic: n.Topic, Partition: n.Partition}, n.Offset}] = m.name
				case n.Type == cg.REBALANCE_ERROR && errors.Is(n.Err, cg.ErrSessionExpired) && !slices.Contains(lost, m.name):
					lost = append(lost, m.name)
				}
			default:
				more = false
			}
		}
	}
	return out, lost
}

// announcedDuplicate reports whether message seq, processed n times, is a
// redelivery announced by HANDOFF_TIMEOUT: processed twice, first by the
// member that announced it. l.mu is held.
func announcedDuplicate(l *ledger, announced map[location]string, seq, n int) bool {
	by, ok := announced[l.where[seq]]
	return ok && n == 2 && l.by[seq][0] == by
}
