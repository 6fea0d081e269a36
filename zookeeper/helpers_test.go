package zookeeper_test

import (
	"context"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// testTimeout bounds every wait of a test.
const testTimeout = 30 * time.Second

// testSession is the session timeout of the tests' ZK connections: short, so
// that expiries happen quickly (the test server ticks every 200 ms).
const testSession = 1200 * time.Millisecond

func testCtx(t *testing.T) context.Context { return testenv.Ctx(t) }

// dialZK connects to the shared ZooKeeper under chroot (or to servers, when
// given) and closes the connection when the test ends.
func dialZK(t *testing.T, chroot string, mod ...func(*zookeeper.Config)) *zookeeper.Client {
	t.Helper()
	cfg := zookeeper.Config{Servers: testenv.ZooKeeperAddrs(t), Chroot: chroot, SessionTimeout: testSession}
	cfg.Logger = testenv.Logger()
	for _, m := range mod {
		m(&cfg)
	}
	z, err := zookeeper.Dial(testCtx(t), cfg)
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

// register registers a new member of group subscribed to topic and returns
// its id.
func register(t *testing.T, z *zookeeper.Client, group string, topics ...string) string {
	t.Helper()
	id, err := zookeeper.NewConsumerID(group)
	if err != nil {
		t.Fatal(err)
	}
	if err := z.RegisterGroup(testCtx(t), group); err != nil {
		t.Fatal(err)
	}
	if err := z.RegisterConsumer(testCtx(t), group, id, topics...); err != nil {
		t.Fatal(err)
	}
	return id
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string { return testenv.ClosedPort(t) }
