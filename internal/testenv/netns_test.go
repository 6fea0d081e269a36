package testenv

import (
	"bufio"
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// TestSilentLink: through a SilentLink a connection works; blackholed, a
// line written hears no echo and raises no error, and a new connection
// attempt goes unanswered (its SYN is lost: no refusal); healed, TCP's
// retransmission brings the line through on the same connection; Close
// removes the namespaces.
func TestSilentLink(t *testing.T) {
	if err := NetnsSupport(); err != nil {
		t.Skip(err)
	}
	l, err := NewSilentLink(startEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := l.Dial(context.Background(), "tcp", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	echo := func(line string, within time.Duration) error {
		if err := c.SetDeadline(time.Now().Add(within)); err != nil {
			return err
		}
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			return err
		}
		got, err := r.ReadString('\n')
		if err == nil && got != line+"\n" {
			t.Fatalf("echo of %q: %q", line, got)
		}
		return err
	}
	if err := echo("before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Blackhole(); err != nil {
		t.Fatal(err)
	}
	if err := echo("during", 500*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("echo through the blackhole: %v, want nothing heard (a deadline exceeded)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err = l.Dial(ctx, "tcp", "")
	cancel()
	// The dialer's deadline, taken from ctx's, may fire just before ctx is
	// done: "i/o timeout" then, rather than ctx's error; both say nothing
	// answered.
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("dial through the blackhole: %v, want no answer (a deadline exceeded)", err)
	}
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadString('\n'); err != nil || got != "during\n" {
		t.Fatalf("after Heal: %q, %v; want the line sent during the blackhole", got, err)
	}
	t.Logf("the line written during the blackhole echoed %v after Heal (TCP's retransmission)", time.Since(t0).Round(time.Millisecond))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{l.nsC, l.nsR} {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("namespace %s left after Close", ns)
		}
	}
}
