package testenv

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

func TestInstalled(t *testing.T) {
	err := Installed()
	if err == nil {
		return
	}
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), `run "make test"`) {
		t.Fatalf("Installed() = %v, want an error wrapping ErrNotInstalled that names the fix", err)
	}
	t.Skip(err)
}

// answers reports nil when the server at z answers ruok with imok.
func answers(z *ZooKeeper) error {
	got, err := z.FourLetter("ruok")
	if err != nil {
		return err
	}
	if got != "imok" {
		return errors.New("ruok answered " + got)
	}
	return nil
}

func TestZooKeeperStopRestartKillClose(t *testing.T) {
	t.Parallel()
	z, err := StartZooKeeper(WithTickTime(250 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := z.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := answers(z); err != nil {
		t.Fatal(err)
	}
	if got := z.TickTime(); got != 250*time.Millisecond {
		t.Errorf("TickTime() = %v, want 250ms", got)
	}
	conf, err := z.FourLetter("conf")
	if err != nil || !strings.Contains(conf, "tickTime=250") || !strings.Contains(conf, "minSessionTimeout=500") {
		t.Errorf("conf = %q, %v; want tickTime=250 and minSessionTimeout=500", conf, err)
	}
	m, err := z.Mntr()
	if err != nil {
		t.Fatal(err)
	}
	if m["zk_server_state"] != "standalone" || m["zk_znode_count"] == "" {
		t.Errorf("mntr state %q, znode count %q; want standalone and a count", m["zk_server_state"], m["zk_znode_count"])
	}

	// A session survives restarts of the server: its data too.
	s := connect(t, []string{z.Addr()}, 10*time.Second)
	if _, err := s.Create("/kept", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	addr := z.Addr()
	readKept := func() error {
		data, _, err := s.Get("/kept")
		if err != nil {
			return err
		}
		if string(data) != "v" {
			return errors.New("/kept holds " + string(data))
		}
		return nil
	}

	start := time.Now()
	if err := z.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %v", time.Since(start))
	if z.Running() || answers(z) == nil {
		t.Fatal("the server still runs or answers after Stop")
	}
	if err := z.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	start = time.Now()
	if err := z.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %v", time.Since(start))
	if z.Addr() != addr || answers(z) != nil {
		t.Fatalf("after Restart: addr %s (was %s), answers: %v", z.Addr(), addr, answers(z))
	}
	waitFor(t, 20*time.Second, "reading /kept after Restart", readKept)

	if err := z.Kill(); err != nil {
		t.Fatal(err)
	}
	if z.Running() || answers(z) == nil {
		t.Fatal("the server still runs or answers after Kill")
	}
	start = time.Now()
	if err := z.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted after Kill in %v", time.Since(start))
	// The data survives a SIGKILL (the restart is on the same data dir).
	// Read it through a new session: whether the old session survives a
	// SIGKILL depends on whether ZooKeeper had flushed its creation, which
	// a test server (forceSync=no) does not promise, and a client whose
	// session the server forgot keeps failing to connect for a while.
	fresh := connect(t, []string{z.Addr()}, 10*time.Second)
	waitFor(t, 20*time.Second, "reading /kept after Kill and Restart", func() error {
		data, _, err := fresh.Get("/kept")
		if err != nil {
			return err
		}
		if string(data) != "v" {
			return errors.New("/kept holds " + string(data))
		}
		return nil
	})

	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if answers(z) == nil {
		t.Fatal("the server answers after Close")
	}
	if err := z.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := z.Restart(); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
}

func TestZooKeeperStartTimeoutKillsServer(t *testing.T) {
	t.Parallel()
	z, err := StartZooKeeper(WithStartTimeout(time.Nanosecond))
	if err == nil {
		z.Close()
		t.Fatal("StartZooKeeper with a 1ns start timeout succeeded")
	}
	if !strings.Contains(err.Error(), "not serving after") || !strings.Contains(err.Error(), "server output") {
		t.Fatalf("error %q does not say the server did not serve, with its output", err)
	}
}

func TestZooKeeperInvalidOptions(t *testing.T) {
	if _, err := StartZooKeeper(WithTickTime(0)); err == nil {
		t.Error("StartZooKeeper(WithTickTime(0)) succeeded")
	}
	if _, err := StartEnsemble(1); err == nil {
		t.Error("StartEnsemble(1) succeeded")
	}
}

func TestMntrParsesEveryKey(t *testing.T) {
	z := sharedOrSkip(t)
	m, err := z.Mntr()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"zk_version", "zk_server_state", "zk_znode_count", "zk_ephemerals_count", "zk_watch_count", "zk_packets_received"} {
		if _, ok := m[key]; !ok {
			t.Errorf("mntr has no %s", key)
		}
	}
	if _, err := z.FourLetter("toolong"); err == nil {
		t.Error(`FourLetter("toolong") succeeded`)
	}
}

// sharedOrSkip returns the shared server, skipping the test when an
// external ensemble is used.
func sharedOrSkip(t *testing.T) *ZooKeeper {
	t.Helper()
	ZooKeeperAddrs(t)
	z := SharedZooKeeper()
	if z == nil {
		t.Skip("an external ZooKeeper is used: " + EnvZooKeeper)
	}
	return z
}
