package testenv

import (
	"errors"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

func TestEnsembleLeaderFailover(t *testing.T) {
	t.Parallel()
	e, err := StartEnsemble(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	if got := len(e.Addrs()); got != 3 {
		t.Fatalf("%d addresses, want 3", got)
	}
	if e.Server(3) != nil || e.Server(-1) != nil || e.Kill(3) == nil || e.Restart(-1) == nil {
		t.Error("servers out of range are not rejected")
	}
	leader, err := e.Leader()
	if err != nil {
		t.Fatal(err)
	}

	s := connect(t, e.Addrs(), 10*time.Second)
	if _, err := s.Create("/replicated", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	if err := e.Kill(leader); err != nil {
		t.Fatal(err)
	}
	if e.Server(leader).Running() || answers(e.Server(leader)) == nil {
		t.Fatal("the killed leader still runs or answers")
	}
	if err := e.WaitQuorum(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	newLeader, err := e.Leader()
	if err != nil {
		t.Fatal(err)
	}
	if newLeader == leader {
		t.Fatalf("server %d is leader again while killed", leader)
	}
	waitFor(t, 20*time.Second, "reading /replicated from the new quorum", func() error {
		data, _, err := s.Get("/replicated")
		if err == nil && string(data) != "v" {
			err = errors.New("/replicated holds " + string(data))
		}
		return err
	})

	if err := e.Restart(leader); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitQuorum(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	m, err := e.Server(leader).Mntr()
	if err != nil {
		t.Fatal(err)
	}
	if state := m["zk_server_state"]; state != "follower" {
		t.Errorf("the restarted old leader is %s, want follower", state)
	}
	for i := range 3 {
		if !e.Server(i).Running() {
			t.Errorf("server %d is not running", i)
		}
	}
}
