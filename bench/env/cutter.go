package env

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Cutter tracks the connections it makes and cuts them all at once: after
// Cut, every open connection is closed and every new dial fails, as when a
// process dies or its network goes. Its methods are safe for concurrent use.
type Cutter struct {
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// NewCutter returns a Cutter that dials normally until Cut.
func NewCutter() *Cutter { return &Cutter{conns: map[net.Conn]struct{}{}} }

var errCut = errors.New("env: connection cut")

// DialContext dials like net.Dialer, or fails after Cut (kgo.Dialer).
func (c *Cutter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	cut := c.cut
	c.mu.Unlock()
	if cut {
		return nil, errCut
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		conn.Close()
		return nil, errCut
	}
	tc := &trackedConn{Conn: conn, c: c}
	c.conns[tc] = struct{}{}
	return tc, nil
}

// Dial is DialContext without a context (sarama's proxy.Dialer).
func (c *Cutter) Dial(network, addr string) (net.Conn, error) {
	return c.DialContext(context.Background(), network, addr)
}

// Cut closes every connection and refuses new ones from now on.
func (c *Cutter) Cut() {
	c.mu.Lock()
	c.cut = true
	conns := c.conns
	c.conns = map[net.Conn]struct{}{}
	c.mu.Unlock()
	for conn := range conns {
		conn.(*trackedConn).Conn.Close()
	}
}

type trackedConn struct {
	net.Conn
	c    *Cutter
	once sync.Once
}

func (t *trackedConn) Close() error {
	t.once.Do(func() {
		t.c.mu.Lock()
		delete(t.c.conns, t)
		t.c.mu.Unlock()
	})
	return t.Conn.Close()
}
