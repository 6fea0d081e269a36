// Package env starts what the benchmarks run against, all on loopback: a
// ZooKeeper server and a TCP proxy (the library's own test environment,
// internal/testenv), a kfake Kafka cluster registered in ZooKeeper the way
// Kafka brokers register themselves, and a dialer that cuts connections on
// demand.
package env

import (
	"fmt"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TickTime is the server's tick: sessions expire on tick boundaries.
const TickTime = 200 * time.Millisecond

// ZooKeeper is one standalone server process (Debian's jars, forceSync=no,
// minSessionTimeout two ticks), from the library's test environment.
type ZooKeeper = testenv.ZooKeeper

// StartZooKeeper starts a standalone server on a free 127.0.0.1 port with a
// temporary data dir, tickTime TickTime and no limit of connections from
// one address (the scale part's hundreds of members all connect from
// 127.0.0.1; ZooKeeper's default is 60), and returns once it serves.
func StartZooKeeper() (*ZooKeeper, error) {
	return testenv.StartZooKeeper(testenv.WithTickTime(TickTime), testenv.WithUnlimitedClients())
}

// Proxy forwards TCP connections to a target and cuts them on demand: the
// way to make a ZooKeeper client lose its session without touching the
// server.
type Proxy = testenv.Proxy

// NewProxy listens on a free 127.0.0.1 port and forwards to target.
func NewProxy(target string) (*Proxy, error) { return testenv.NewProxy(target) }

// Connect opens a go-zookeeper connection to addr and waits for its
// session.
func Connect(addr string, session, wait time.Duration) (*zk.Conn, error) {
	conn, events, err := zk.Connect([]string{addr}, session, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				// Drain the rest so that go-zookeeper never blocks on it.
				go func() {
					for range events {
					}
				}()
				return conn, nil
			}
		case <-timer.C:
			conn.Close()
			return nil, fmt.Errorf("env: no ZooKeeper session with %s after %v", addr, wait)
		}
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
