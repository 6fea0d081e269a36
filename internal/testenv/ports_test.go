package testenv

import (
	"errors"
	"net"
	"strconv"
	"testing"
)

func TestFreePortsBelowEphemeralRange(t *testing.T) {
	ports, err := freePorts(50)
	if err != nil {
		t.Fatal(err)
	}
	high := ephemeralLow()
	seen := map[int]bool{}
	for _, p := range ports {
		if p < lowestPort || p >= high {
			t.Errorf("port %d outside [%d, %d)", p, lowestPort, high)
		}
		if seen[p] {
			t.Errorf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	// Each is free: we can bind it.
	for _, p := range ports[:5] {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		ln.Close()
	}
}

// A server whose port another process holds fails with errPortTaken, the
// error on which StartZooKeeper and StartEnsemble draw new ports.
func TestZooKeeperPortTaken(t *testing.T) {
	t.Parallel()
	if err := Installed(); err != nil {
		t.Skip(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := newConfig(nil)
	if cfg.server, err = findJars(""); err != nil {
		t.Fatal(err)
	}
	z, err := newZooKeeper(cfg, ln.Addr().(*net.TCPAddr).Port, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	z.ready = func(state string) bool { return state == stateStandalone }
	err = z.Restart()
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("Restart on a taken port = %v, want errPortTaken", err)
	}
}
