package testenv

import (
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// fourLetterTimeout bounds one four-letter-word exchange.
const fourLetterTimeout = 2 * time.Second

// fourLetter sends a four-letter word (ruok, mntr, srvr, stat, cons...) to
// the server at addr and returns its whole answer.
func fourLetter(addr, cmd string, timeout time.Duration) (string, error) {
	if len(cmd) != 4 {
		return "", errorf("four-letter word %q is not 4 letters long", cmd)
	}
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", fmt.Errorf("testenv: %s to %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", fmt.Errorf("testenv: %s to %s: %w", cmd, addr, err)
	}
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", fmt.Errorf("testenv: %s to %s: %w", cmd, addr, err)
	}
	answer, err := io.ReadAll(conn)
	if err != nil {
		return "", fmt.Errorf("testenv: %s to %s: reading the answer: %w", cmd, addr, err)
	}
	return string(answer), nil
}

// notServing is how a server that is up but has no quorum (or has not
// finished loading) answers every word but ruok.
const notServing = "This ZooKeeper instance is not currently serving requests"

// mntr asks the server at addr for its monitoring counters and parses its
// "key\tvalue" lines.
func mntr(addr string, timeout time.Duration) (map[string]string, error) {
	answer, err := fourLetter(addr, "mntr", timeout)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(answer, notServing) {
		return nil, errorf("mntr to %s: %s", addr, strings.TrimSpace(answer))
	}
	m := make(map[string]string)
	for line := range strings.Lines(answer) {
		key, value, ok := strings.Cut(strings.TrimRight(line, "\r\n"), "\t")
		if ok {
			m[key] = value
		}
	}
	if _, ok := m[mntrState]; !ok {
		return nil, errorf("mntr to %s: no %s in answer %q", addr, mntrState, answer)
	}
	return m, nil
}

// mntrState is the mntr key holding the server's role: standalone, leader,
// follower or observer.
const mntrState = "zk_server_state"

// Server roles reported by mntr's zk_server_state.
const (
	stateStandalone = "standalone"
	stateLeader     = "leader"
	stateFollower   = "follower"
	stateObserver   = "observer"
)
