package zookeeper

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// The size the Client gives a request is the length go-zookeeper writes
// before it, which ZooKeeper compares with jute.maxbuffer: for every op a
// multi of the package sends, a create and a set.
func TestRequestBytesMatchTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var sent []int
	cfg := Config{Servers: testenv.ZooKeeperAddrs(t), Chroot: testenv.Chroot(t), SessionTimeout: 4 * time.Second}
	cfg.hooks = &testHooks{sent: func(n int) { mu.Lock(); sent = append(sent, n); mu.Unlock() }}
	z, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if err := z.MkdirAll(ctx, "/d"); err != nil {
		t.Fatal(err)
	}
	last := func(what string, want int) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		// Pings (8 bytes) may come after: the request is the largest since.
		got := 0
		for _, n := range sent {
			got = max(got, n)
		}
		sent = nil
		if got != want {
			t.Fatalf("%s: %d bytes on the wire, %d computed", what, got, want)
		}
	}
	mu.Lock()
	sent = nil
	mu.Unlock()
	p := z.paths.Abs("/d/a")
	data := []byte(strings.Repeat("x", 3000))
	if err := z.create(ctx, "create", p, data, false); err != nil {
		t.Fatal(err)
	}
	last("create", createBytes(p, data, z.acl))
	acl := append(zk.WorldACL(zk.PermRead), zk.DigestACL(zk.PermAll, "user", "password")...)
	ops := []any{
		&zk.CheckVersionRequest{Path: p, Version: 0},
		&zk.SetDataRequest{Path: p, Data: []byte("12345"), Version: -1},
		&zk.CreateRequest{Path: z.paths.Abs("/d/b"), Data: nil, Acl: acl, Flags: zk.FlagEphemeral},
		&zk.CreateRequest{Path: z.paths.Abs("/d/c"), Data: data, Acl: z.acl},
		&zk.DeleteRequest{Path: z.paths.Abs("/d/c"), Version: 0},
	}
	if _, err := z.multi(ctx, ops...); err != nil {
		t.Fatal(err)
	}
	last("multi", multiBytes(ops))
	if err := z.call(ctx, func(conn *zk.Conn) error { _, err := conn.Set(p, data[:10], -1); return err }); err != nil {
		t.Fatal(err)
	}
	last("set", setBytes(p, data[:10]))

	// A multiRead: data, a node that does not exist, children.
	reads := []zk.ReadOp{{Path: p}, {Path: z.paths.Abs("/d/none")}, {Path: z.paths.Abs("/d"), Children: true}}
	var res []zk.ReadResult
	if err := z.call(ctx, func(conn *zk.Conn) error { var err error; res, err = conn.MultiRead(reads...); return err }); err != nil {
		t.Fatal(err)
	}
	last("multiRead", multiReadBytes([]string{reads[0].Path, reads[1].Path, reads[2].Path}))
	if len(res) != 3 || string(res[0].Data) != string(data[:10]) || res[0].Stat == nil || res[0].Stat.Version != 2 ||
		!errors.Is(res[1].Error, zk.ErrNoNode) || !slices.Equal(res[2].Children, []string{"a", "b"}) {
		t.Fatalf("multiRead: %+v", res)
	}
}
