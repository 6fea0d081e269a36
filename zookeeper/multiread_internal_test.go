package zookeeper

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestMultiReadLargeAnswer: a multiRead whose answer is larger than
// go-zookeeper's buffer (1.5 MiB) and ZooKeeper's jute.maxbuffer (1 MiB),
// 200 nodes of 16 KiB, is read whole: recvLoop grows its buffer to the
// length the server announces, and the server does not bound answers.
func TestMultiReadLargeAnswer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	largest := 0
	cfg := Config{Servers: testenv.ZooKeeperAddrs(t), Chroot: testenv.Chroot(t), SessionTimeout: 4 * time.Second}
	cfg.hooks = &testHooks{sent: func(n int) { mu.Lock(); largest = max(largest, n); mu.Unlock() }}
	z, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if err := z.MkdirAll(ctx, "/big"); err != nil {
		t.Fatal(err)
	}
	const n, size = 200, 16 << 10
	paths := make([]string, n)
	for i := range paths {
		paths[i] = z.paths.Abs(fmt.Sprintf("/big/%d", i))
		data := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		if err := z.create(ctx, "create", paths[i], data, false); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	largest = 0
	mu.Unlock()
	reads := z.getAll(ctx, "read", paths)
	for i, r := range reads {
		if r.err != nil || len(r.data) != size || r.data[0] != byte('a'+i%26) || r.stat == nil || r.stat.DataLength != size {
			t.Fatalf("%s: %d bytes, %v", paths[i], len(r.data), r.err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := multiReadBytes(paths); largest != want {
		t.Fatalf("the largest request was %d bytes, not one multiRead of them all (%d)", largest, want)
	}
}
