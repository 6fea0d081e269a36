package zookeeper

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestReconnectRace forces 100 reconnects of one session while watches are
// set and requests are in flight: every reconnect has go-zookeeper send the
// watches again (sendSetWatches, reading the last zxid seen) while the new
// connection's recvLoop records the zxids of the answers. Under -race,
// go-zookeeper v1.0.4 reports that data race (upstream PR 35); the copy in
// internal/zk (go.mod's replace) reads and writes it atomically.
//
// Two proxies to the one server: go-zookeeper waits a second before it
// tries the server it was connected to again, not before the next one.
func TestReconnectRace(t *testing.T) {
	const reconnects = 100
	var proxies []*testenv.Proxy
	var servers []string
	for range 2 {
		p, err := testenv.NewProxy(testenv.ZooKeeperAddrs(t)[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		proxies = append(proxies, p)
		servers = append(servers, p.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	z, err := Dial(ctx, Config{Servers: servers, Chroot: testenv.Chroot(t), SessionTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if err := z.MkdirAll(ctx, "/race"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	connected := 0
	changed := make(chan struct{}, 1)
	stopWatch := z.WatchConnection(func(ok bool) {
		mu.Lock()
		if ok {
			connected++
		}
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer stopWatch()
	conn, err := z.zkConn()
	if err != nil {
		t.Fatal(err)
	}
	watchMany(t, conn, z.paths.Abs("/race"))
	// Requests in flight: answered on every new connection at once.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _, _ = conn.Exists(z.paths.Abs("/race"))
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	sess, err := z.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range reconnects {
		mu.Lock()
		before := connected
		mu.Unlock()
		for _, p := range proxies {
			if p.Connections() > 0 {
				p.Cut()
				p.Restore()
			}
		}
		deadline := time.NewTimer(10 * time.Second)
		for {
			mu.Lock()
			n := connected
			mu.Unlock()
			if n > before {
				break
			}
			select {
			case <-changed:
			case <-deadline.C:
				t.Fatalf("reconnect %d: not connected again within 10s", i)
			}
		}
		deadline.Stop()
	}
	if sess.Err() != nil || z.Sessions() != 1 {
		t.Fatalf("the session did not survive the reconnects: %v, %d sessions", sess.Err(), z.Sessions())
	}
	if _, _, err := conn.Exists(z.paths.Abs("/race")); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reconnects of session %x", reconnects, sess.ID())
}

// TestReconnectRaceRaw is TestReconnectRace on a bare go-zookeeper
// connection, without the Client's wire (lease.go), whose lock orders
// most of the reads after the watches are sent again.
func TestReconnectRaceRaw(t *testing.T) {
	const reconnects = 100
	var proxies []*testenv.Proxy
	var servers []string
	for range 2 {
		p, err := testenv.NewProxy(testenv.ZooKeeperAddrs(t)[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		proxies = append(proxies, p)
		servers = append(servers, p.Addr())
	}
	sessions := make(chan struct{}, reconnects+10)
	conn, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkLogger{slog.New(slog.DiscardHandler)}),
		zk.WithEventCallback(func(ev zk.Event) {
			if ev.Type == zk.EventSession && ev.State == zk.StateHasSession {
				sessions <- struct{}{}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wait := func(what string) {
		select {
		case <-sessions:
		case <-time.After(10 * time.Second):
			t.Fatalf("no session within 10s: %s", what)
		}
	}
	wait("the first")
	root := testenv.Chroot(t)
	for i := 1; i <= len(root); i++ {
		if i == len(root) || root[i] == '/' {
			if _, err := conn.Create(root[:i], nil, 0, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
				t.Fatal(err)
			}
		}
	}
	watchMany(t, conn, root)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _, _ = conn.Exists(root)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	sid := conn.SessionID()
	for i := range reconnects {
		for _, p := range proxies {
			if p.Connections() > 0 {
				p.Cut()
				p.Restore()
			}
		}
		wait(time.Duration(i).String())
	}
	if conn.SessionID() != sid {
		t.Fatalf("session %x, was %x", conn.SessionID(), sid)
	}
}

// watchMany sets watches that never fire under root: sent again at every
// reconnect, in several SetWatches requests (128 KB each), each reading
// the last zxid seen as it is built.
func watchMany(t *testing.T, conn *zk.Conn, root string) {
	t.Helper()
	const watches = 8000
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < watches; i += 8 {
				if _, _, _, err := conn.ExistsW(fmt.Sprintf("%s/a-watch-on-a-node-that-is-never-created-%06d", root, i)); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}
