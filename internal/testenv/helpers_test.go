package testenv

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/testenv/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m, StopShared) }

// waitFor polls cond every 10 ms until it returns nil, and fails the test
// with cond's last error once timeout has passed.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not the case after %v: %v", what, timeout, err)
		}
		<-ticker.C
	}
}

// session is a go-zookeeper connection whose session states are recorded.
type session struct {
	*zk.Conn
	events <-chan zk.Event

	mu     sync.Mutex
	states []zk.State
}

// connect opens a ZooKeeper session to servers, waits until it is
// established and closes it at the end of the test, waiting for
// go-zookeeper's goroutines.
func connect(t testing.TB, servers []string, sessionTimeout time.Duration) *session {
	t.Helper()
	s := &session{}
	conn, events, err := zk.Connect(servers, sessionTimeout,
		zk.WithLogger(nopZKLogger{}), zk.WithLogInfo(false),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type == zk.EventSession {
				s.mu.Lock()
				s.states = append(s.states, ev.State)
				s.mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatalf("connecting to %v: %v", servers, err)
	}
	s.Conn, s.events = conn, events
	t.Cleanup(func() {
		conn.Close()
		for range events { // closed once the connection's goroutines end
		}
	})
	s.waitState(t, zk.StateHasSession, 10*time.Second)
	return s
}

// waitState waits until the session has gone through state.
func (s *session) waitState(t testing.TB, state zk.State, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, "session state "+state.String(), func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if slices.Contains(s.states, state) {
			return nil
		}
		return fmt.Errorf("states so far: %v", s.states)
	})
}

// mustCreateAll creates path and its missing parents as persistent nodes.
func mustCreateAll(t testing.TB, conn *zk.Conn, path string, data []byte) {
	t.Helper()
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		var d []byte
		if i == len(path) {
			d = data
		}
		if _, err := conn.Create(path[:i], d, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
			t.Fatalf("creating %s: %v", path[:i], err)
		}
	}
}
