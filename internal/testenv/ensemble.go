package testenv

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Ensemble is a replicated ZooKeeper of n servers on 127.0.0.1, each a
// ZooKeeper with its own client port, data dir and myid. Servers are
// numbered from 0 in Go; server i has myid i+1 in its configuration.
type Ensemble struct {
	servers []*ZooKeeper
}

// StartEnsemble starts n (at least 2; 3 is usual) servers concurrently and
// returns once every one serves clients and exactly one is the leader.
// Close it to stop every server and remove their data.
func StartEnsemble(n int, opts ...Option) (*Ensemble, error) {
	if n < 2 {
		return nil, errorf("an ensemble needs at least 2 servers, got %d (use StartZooKeeper for one)", n)
	}
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	j, err := findJars(cfg.jars)
	if err != nil {
		return nil, err
	}
	cfg.server = j
	return onFreshPorts(func() (*Ensemble, error) { return startEnsemble(cfg, n) })
}

// startEnsemble makes one attempt of StartEnsemble.
func startEnsemble(cfg config, n int) (*Ensemble, error) {
	// Each server needs a client port, a peer port and an election port.
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	quorum := make([]string, n)
	for i := range n {
		quorum[i] = fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, ports[3*i+1], ports[3*i+2])
	}
	e := &Ensemble{}
	for i := range n {
		z, err := newZooKeeper(cfg, ports[3*i], i+1, quorum)
		if err != nil {
			return nil, errors.Join(err, e.Close())
		}
		z.label = fmt.Sprintf("zookeeper %s (myid %d)", z.addr, i+1)
		z.ready = func(state string) bool { return state == stateLeader || state == stateFollower }
		e.servers = append(e.servers, z)
	}

	// A server serves only once a quorum runs: start all at once.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, z := range e.servers {
		wg.Go(func() { errs[i] = z.Restart() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	if err := e.WaitQuorum(cfg.startTimeout); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// Addrs returns every server's client address, in server order: the
// connect string of the ensemble.
func (e *Ensemble) Addrs() []string {
	addrs := make([]string, len(e.servers))
	for i, z := range e.servers {
		addrs[i] = z.Addr()
	}
	return addrs
}

// Server returns server i (from 0), or nil when i is out of range.
func (e *Ensemble) Server(i int) *ZooKeeper {
	if i < 0 || i >= len(e.servers) {
		return nil
	}
	return e.servers[i]
}

// server returns server i or an error naming the valid range.
func (e *Ensemble) server(i int) (*ZooKeeper, error) {
	if z := e.Server(i); z != nil {
		return z, nil
	}
	return nil, errorf("no ensemble server %d: servers are 0 to %d", i, len(e.servers)-1)
}

// Leader returns the index of the server that reports itself leader in
// mntr. It fails when no running server, or more than one, is leader.
func (e *Ensemble) Leader() (int, error) {
	states := e.states()
	leader := -1
	for i, s := range states {
		if s != stateLeader {
			continue
		}
		if leader >= 0 {
			return -1, errorf("servers %d and %d both report leader (states %s)", leader, i, describeStates(states))
		}
		leader = i
	}
	if leader < 0 {
		return -1, errorf("no leader (states %s)", describeStates(states))
	}
	return leader, nil
}

// Kill kills server i at once, as a crash would.
func (e *Ensemble) Kill(i int) error {
	z, err := e.server(i)
	if err != nil {
		return err
	}
	return z.Kill()
}

// Restart starts server i again (stopping it first if it runs) and returns
// once it has joined the quorum as leader or follower.
func (e *Ensemble) Restart(i int) error {
	z, err := e.server(i)
	if err != nil {
		return err
	}
	return z.Restart()
}

// quorumPollInterval is how often WaitQuorum asks every server its state.
const quorumPollInterval = 50 * time.Millisecond

// WaitQuorum waits up to timeout until exactly one server is leader and
// every running server is leader or follower.
func (e *Ensemble) WaitQuorum(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(quorumPollInterval)
	defer ticker.Stop()
	for {
		states := e.states()
		if quorate(states) {
			return nil
		}
		if time.Now().After(deadline) {
			return errorf("no quorum after %v (states %s)", timeout, describeStates(states))
		}
		<-ticker.C
	}
}

// Server states as states reports them, besides mntr's own.
const (
	stateStopped  = "stopped"
	stateNoAnswer = "not serving"
)

// states asks every server for its zk_server_state.
func (e *Ensemble) states() []string {
	states := make([]string, len(e.servers))
	for i, z := range e.servers {
		if !z.Running() {
			states[i] = stateStopped
			continue
		}
		m, err := z.Mntr()
		if err != nil {
			states[i] = stateNoAnswer
			continue
		}
		states[i] = m[mntrState]
	}
	return states
}

// quorate reports whether states has exactly one leader and every other
// server is stopped or a follower.
func quorate(states []string) bool {
	leaders := 0
	for _, s := range states {
		switch s {
		case stateLeader:
			leaders++
		case stateFollower, stateStopped:
		default:
			return false
		}
	}
	return leaders == 1
}

func describeStates(states []string) string {
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = fmt.Sprintf("%d:%s", i, s)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Close stops every server and removes their data. It is idempotent.
func (e *Ensemble) Close() error {
	errs := make([]error, len(e.servers))
	var wg sync.WaitGroup
	for i, z := range e.servers {
		wg.Go(func() { errs[i] = z.Close() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
