package testenv

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// The waits and small helpers the tests of the root package and of package
// zookeeper share (each keeps its own dialZK: testenv cannot import
// zookeeper, whose internal tests import testenv).

// WaitTimeout bounds every wait of the tests' helpers.
const WaitTimeout = 30 * time.Second

// Ctx returns a context that ends after WaitTimeout or with the test.
func Ctx(t testing.TB) context.Context {
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
func WaitEvent(t testing.TB, ch <-chan zk.Event, what string) zk.Event {
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
func WaitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(WaitTimeout):
		t.Fatalf("%s did not happen within %v", what, WaitTimeout)
	}
}

// ClosedPort returns a loopback address nothing listens on.
func ClosedPort(t testing.TB) string {
	t.Helper()
	addr, err := UnusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
