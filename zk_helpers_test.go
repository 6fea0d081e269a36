package consumergroup_test

import (
	"context"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// testTimeout bounds every wait of a test.
const testTimeout = 30 * time.Second

// testSession is the session timeout of the tests' ZK connections: short, so
// that expiries happen quickly (the test server ticks every 200 ms).
const testSession = 1200 * time.Millisecond

func testCtx(t *testing.T) context.Context { return testenv.Ctx(t) }

// dialZK connects to the shared ZooKeeper under chroot (or to servers, when
// given) and closes the connection when the test ends.
func dialZK(t *testing.T, chroot string, mod ...func(*cg.ZKConfig)) *cg.ZK {
	t.Helper()
	cfg := cg.ZKConfig{Servers: testenv.ZooKeeperAddrs(t), Chroot: chroot, SessionTimeout: testSession}
	cfg.Logger = testenv.Logger()
	for _, m := range mod {
		m(&cfg)
	}
	z, err := cg.DialZK(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	return z
}

// rawZK is a plain go-zookeeper connection at the root, to read and write
// bytes behind the layer's back.
func rawZK(t *testing.T) *zk.Conn { return testenv.RawZK(t) }

// get reads the bytes at the absolute path p.
func get(t *testing.T, conn *zk.Conn, p string) string { return testenv.GetZNode(t, conn, p) }

// put writes data at the absolute path p, creating it and its parents.
func put(t *testing.T, conn *zk.Conn, p string, data string) { testenv.PutZNode(t, conn, p, data) }

// waitEvent waits for a watch to fire.
func waitEvent(t *testing.T, ch <-chan zk.Event, what string) zk.Event {
	t.Helper()
	return testenv.WaitEvent(t, ch, what)
}

// waitClosed waits for ch to close.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	testenv.WaitClosed(t, ch, what)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string { return testenv.ClosedPort(t) }
