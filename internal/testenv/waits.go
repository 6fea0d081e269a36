package testenv

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// The waits and small helpers the tests of the root package and of package
// zookeeper share (each keeps its own dialZK: testenv cannot import
// zookeeper, whose internal tests import testenv).

// waiter is what the waits need of a *testing.T (testenv does not import
// testing: groupctl's demo links this package).
type waiter interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// WaitTimeout bounds every wait of the tests' helpers.
const WaitTimeout = 30 * time.Second

// Ctx returns a context that ends after WaitTimeout or with the test.
func Ctx(t waiter) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Logger is the tests' logger of the library: debug lines on stderr with
// CONSUMERGROUP_TEST_LOG set, nil (silent) otherwise.
func Logger() *slog.Logger {
	if os.Getenv("CONSUMERGROUP_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// WaitEvent waits for a watch to fire.
func WaitEvent(t waiter, ch <-chan zk.Event, what string) zk.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(WaitTimeout):
		t.Fatalf("%s: the watch did not fire within %v", what, WaitTimeout)
	}
	return zk.Event{}
}

// WaitClosed waits for ch to close.
func WaitClosed(t waiter, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(WaitTimeout):
		t.Fatalf("%s did not happen within %v", what, WaitTimeout)
	}
}

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t waiter) string {
	t.Helper()
	addr, err := UnusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// WaitFor polls cond every 50 ms until it returns nil, failing the test
// with cond's last error once timeout has passed. It polls the state of
// servers and groups, for what nothing signals; it does not synchronize
// goroutines.
func WaitFor(t waiter, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
