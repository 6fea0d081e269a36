package testenv

import (
	"errors"
	"strings"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// RawTB is what the raw ZooKeeper helpers need of a *testing.T.
type RawTB interface {
	TB
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// rawTimeout bounds the wait for a raw connection's session.
const rawTimeout = 30 * time.Second

// RawZK returns a plain go-zookeeper connection to the shared ZooKeeper, at
// the root, to read and write bytes behind the client's back; it is closed
// when the test ends.
func RawZK(t RawTB) *zk.Conn {
	t.Helper()
	return RawZKAt(t, ZooKeeperAddrs(t))
}

// RawZKAt is RawZK on the ZooKeeper at servers.
func RawZKAt(t RawTB, servers []string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(rawTimeout)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-deadline:
			t.Fatal("raw zookeeper connection: no session")
		}
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// GetZNode reads the bytes at the absolute path p.
func GetZNode(t RawTB, conn *zk.Conn, p string) string {
	t.Helper()
	b, _, err := conn.Get(p)
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return string(b)
}

// PutZNode writes data at the absolute path p, creating it and its parents.
func PutZNode(t RawTB, conn *zk.Conn, p string, data string) {
	t.Helper()
	if _, err := conn.Set(p, []byte(data), -1); err == nil {
		return
	}
	parts := strings.Split(p, "/")[1:]
	for i := 1; i < len(parts); i++ {
		parent := "/" + strings.Join(parts[:i], "/")
		_, err := conn.Create(parent, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("create %s: %v", parent, err)
		}
	}
	if _, err := conn.Create(p, []byte(data), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
}
