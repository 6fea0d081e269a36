package zookeeper_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// dialThroughProxy connects under chroot through a proxy that the test can
// cut.
func dialThroughProxy(t *testing.T, chroot string, mod ...func(*zookeeper.Config)) (*zookeeper.Client, *testenv.Proxy) {
	t.Helper()
	p, err := testenv.NewProxy(testenv.ZooKeeperAddrs(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	mod = append([]func(*zookeeper.Config){func(c *zookeeper.Config) { c.Servers = []string{p.Addr()} }}, mod...)
	z := dialZK(t, chroot, mod...)
	return z, p
}

// TestConsumersWatch checks that the consumers watch fires on a join, a
// graceful leave and a session expiry forced through the proxy.
func TestConsumersWatch(t *testing.T) {
	chroot := testenv.Chroot(t)
	watcher := dialZK(t, chroot)
	ctx := testCtx(t)
	if err := watcher.RegisterGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	ids, watch, err := watcher.Consumers(ctx, "g")
	if err != nil || len(ids) != 0 {
		t.Fatalf("Consumers of an empty group = %v, %v", ids, err)
	}

	// Join.
	b := dialZK(t, chroot)
	idB := register(t, b, "g", "t")
	waitEvent(t, watch, "join")
	ids, watch, err = watcher.Consumers(ctx, "g")
	if err != nil || !slices.Equal(ids, []string{idB}) {
		t.Fatalf("after a join Consumers = %v, %v", ids, err)
	}

	// Graceful leave: Close ends the session at once.
	b.Close()
	waitEvent(t, watch, "graceful leave")
	ids, watch, err = watcher.Consumers(ctx, "g")
	if err != nil || len(ids) != 0 {
		t.Fatalf("after a leave Consumers = %v, %v", ids, err)
	}

	// Crash: the member is cut off; its session expires on the server.
	c, proxy := dialThroughProxy(t, chroot)
	sess, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idC := register(t, c, "g", "t")
	waitEvent(t, watch, "join through the proxy")
	ids, watch, err = watcher.Consumers(ctx, "g")
	if err != nil || !slices.Equal(ids, []string{idC}) {
		t.Fatalf("after a join Consumers = %v, %v", ids, err)
	}
	cutAt := time.Now()
	proxy.Cut()
	ev := waitEvent(t, watch, "session expiry")
	if ev.Type != zk.EventNodeChildrenChanged {
		t.Fatalf("watch event %+v, want children changed", ev)
	}
	expiredAfter := time.Since(cutAt)
	ids, _, err = watcher.Consumers(ctx, "g")
	if err != nil || len(ids) != 0 {
		t.Fatalf("after an expiry Consumers = %v, %v", ids, err)
	}
	// The member learned before the server expired it.
	select {
	case <-sess.Done():
	default:
		t.Fatalf("the cut-off member's session was not over when the server expired it (%v after the cut)", expiredAfter)
	}
	if !errors.Is(sess.Err(), zookeeper.ErrSessionExpired) {
		t.Fatalf("session Err = %v, want ErrSessionExpired", sess.Err())
	}
	t.Logf("server expired the session %v after the cut (timeout %v)", expiredAfter, testSession)
}

// TestSessionRenewal checks that a member cut off longer than the session
// timeout sees its session end, gets a new one once it can reach ZooKeeper
// again, and that what the old session held is gone.
func TestSessionRenewal(t *testing.T) {
	chroot := testenv.Chroot(t)
	z, proxy := dialThroughProxy(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	old, err := z.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := register(t, z, "g", "t")
	if err := z.Claim(ctx, "g", "t", 0, id); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	proxy.Cut()
	waitClosed(t, old.Done(), "session end while cut off")
	noticed := time.Since(cut)
	if noticed > testSession {
		t.Fatalf("the session ended %v after the cut, later than the timeout %v", noticed, testSession)
	}
	if !errors.Is(old.Err(), zookeeper.ErrSessionExpired) {
		t.Fatalf("Err = %v, want ErrSessionExpired", old.Err())
	}
	proxy.Restore()
	next, err := z.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next.ID() == old.ID() || next.Err() != nil {
		t.Fatalf("new session %x, old %x: want a different live session", next.ID(), old.ID())
	}
	// The old session's nodes vanish when the server expires it.
	deadline := time.Now().Add(testTimeout)
	for {
		ok, _, err := raw.Exists(chroot + "/consumers/g/ids/" + id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old session's registration is still there")
		}
		time.Sleep(20 * time.Millisecond) // polling the server, not synchronizing
	}
	// The old claim is no longer this member's: a fenced commit fails.
	err = z.CommitOffsets(ctx, "g", id, map[zookeeper.TopicPartition]int64{{Topic: "t", Partition: 0}: 5})
	if !errors.Is(err, zookeeper.ErrNotOwner) {
		t.Fatalf("commit of a claim of the old session: %v, want ErrNotOwner", err)
	}
	if z.Sessions() != 2 {
		t.Fatalf("Sessions() = %d, want 2", z.Sessions())
	}
	t.Logf("session end noticed %v after the cut (timeout %v)", noticed, testSession)
}

// TestShortDisconnect checks that a disconnection shorter than what the
// session can survive keeps the session and what it holds. go-zookeeper
// waits a second before it tries a server again: the session timeout must
// leave room for that.
func TestShortDisconnect(t *testing.T) {
	chroot := testenv.Chroot(t)
	z, proxy := dialThroughProxy(t, chroot, func(c *zookeeper.Config) { c.SessionTimeout = 4 * time.Second })
	ctx := testCtx(t)
	s, err := z.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := register(t, z, "g", "t")
	if err := z.Claim(ctx, "g", "t", 0, id); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	proxy.Restore()
	// The next request waits for the reconnection, in the same session.
	if err := z.CommitOffsets(ctx, "g", id, map[zookeeper.TopicPartition]int64{{Topic: "t", Partition: 0}: 3}); err != nil {
		t.Fatalf("commit after a short disconnection: %v", err)
	}
	if s.Err() != nil {
		t.Fatalf("session ended on a short disconnection: %v", s.Err())
	}
	if cur, _ := z.Session(ctx); cur != s {
		t.Fatal("a new session after a short disconnection")
	}
}

// TestLeaseExpiry: the live session's lease is renewed by the server's
// answers (pings included), stops when the server is cut off and is zero
// once the session ended.
func TestLeaseExpiry(t *testing.T) {
	z, proxy := dialThroughProxy(t, testenv.Chroot(t))
	sess, err := z.Session(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	first := z.LeaseExpiry()
	if until := time.Until(first); until <= 0 || until > testSession*2/3 {
		t.Fatalf("lease ends in %v, want within (0, %v]", until, testSession*2/3)
	}
	if !sess.LeaseExpiry().Equal(first) && sess.LeaseExpiry().Before(first) {
		t.Fatalf("the session's lease %v is before the client's %v", sess.LeaseExpiry(), first)
	}
	deadline := time.Now().Add(testSession)
	for !z.LeaseExpiry().After(first) {
		if time.Now().After(deadline) {
			t.Fatalf("the lease was not renewed within %v (pings)", testSession)
		}
		time.Sleep(10 * time.Millisecond) // polling the lease, not synchronizing
	}
	proxy.Cut()
	last := z.LeaseExpiry()
	waitClosed(t, sess.Done(), "session end while cut off")
	if ended := time.Now(); ended.Before(last) {
		t.Fatalf("the session ended %v before its lease ran out", last.Sub(ended))
	}
	if !sess.LeaseExpiry().IsZero() {
		t.Fatalf("an ended session's lease: %v", sess.LeaseExpiry())
	}
	proxy.Restore()
}
