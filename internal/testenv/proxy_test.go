package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// startEcho starts a TCP server that echoes lines back, stopped at the
// end of the test.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(c, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// roundTrip sends a line through c and reads it back.
func roundTrip(c net.Conn, line string) error {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		return errors.New("echoed " + got)
	}
	return nil
}

// closedByPeer reports nil when reading c ends with EOF or a reset.
func closedByPeer(c net.Conn) error {
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("the connection stays open")
	}
	if err == nil {
		return errors.New("read data from a cut connection")
	}
	return nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestProxyCutRestore(t *testing.T) {
	t.Parallel()
	p, err := NewProxy(startEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	before := dial(t, p.Addr())
	if err := roundTrip(before, "hello"); err != nil {
		t.Fatal(err)
	}
	if n := p.Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}

	p.Cut()
	if n := p.Connections(); n != 0 {
		t.Errorf("%d connections after Cut, want 0", n)
	}
	if err := closedByPeer(before); err != nil {
		t.Errorf("existing connection after Cut: %v", err)
	}
	during := dial(t, p.Addr()) // accepted, then closed at once
	if err := closedByPeer(during); err != nil {
		t.Errorf("new connection during Cut: %v", err)
	}

	p.Restore()
	after := dial(t, p.Addr())
	if err := roundTrip(after, "again"); err != nil {
		t.Fatalf("after Restore: %v", err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closedByPeer(after); err != nil {
		t.Errorf("connection after Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		// Another test process may have bound the port we freed: only
		// an echo through the connection would be our proxy's.
		err := roundTrip(c, "after close")
		c.Close()
		if err == nil {
			t.Error("the proxy still forwards after Close")
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestProxyUnreachableTarget(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProxy(hostPort("127.0.0.1", int32(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := closedByPeer(dial(t, p.Addr())); err != nil {
		t.Errorf("connection to an unreachable target: %v", err)
	}
}

// TestProxyExpiresSession shows the proxy's purpose: cutting a client off
// long enough expires its session and removes its ephemeral nodes, while
// the server keeps running.
func TestProxyExpiresSession(t *testing.T) {
	t.Parallel()
	servers := ZooKeeperAddrs(t)
	chroot := Chroot(t)
	direct := connect(t, servers, 10*time.Second)
	mustCreateAll(t, direct.Conn, chroot, nil)

	p, err := NewProxy(servers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	proxied := connect(t, []string{p.Addr()}, 800*time.Millisecond)
	eph := chroot + "/ephemeral"
	if _, err := proxied.Create(eph, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	p.Cut()
	proxied.waitState(t, zk.StateDisconnected, 5*time.Second)
	waitFor(t, 20*time.Second, "the cut session's ephemeral node vanishes", func() error {
		ok, _, err := direct.Exists(eph)
		if err == nil && ok {
			err = errors.New(eph + " exists")
		}
		return err
	})
	p.Restore()
	proxied.waitState(t, zk.StateExpired, 10*time.Second)
}

// TestProxyBlackhole: a blackholed proxy forwards nothing and closes
// nothing, accepts new connections silently, and delivers what was held,
// in order, once healed; latency delays every chunk.
func TestProxyBlackhole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }() // echo
		}
	}()
	p, err := NewProxy(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo := func(c net.Conn, msg string, within time.Duration) error {
		c.SetReadDeadline(time.Now().Add(within))
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if string(buf) != msg {
			return fmt.Errorf("read %q, want %q", buf, msg)
		}
		return nil
	}
	c.Write([]byte("a"))
	if err := echo(c, "a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole()
	c.Write([]byte("bc"))
	if err := echo(c, "bc", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blackholed: %v, want a timeout", err)
	}
	c2, err := net.Dial("tcp", p.Addr()) // accepted, silent
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write([]byte("x"))
	if err := echo(c2, "x", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a new connection while blackholed: %v, want a timeout", err)
	}
	p.Heal()
	if err := echo(c, "bc", 5*time.Second); err != nil {
		t.Fatalf("after Heal: %v", err)
	}
	if err := echo(c2, "x", 5*time.Second); err != nil {
		t.Fatalf("the new connection after Heal: %v", err)
	}
	p.SetLatency(200 * time.Millisecond)
	start := time.Now()
	c.Write([]byte("d"))
	if err := echo(c, "d", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Fatalf("echo with 200 ms each way took %v", took)
	}
}
