package zookeeper

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// Session is one ZooKeeper session. The ephemeral nodes created in it (a
// member's registration, its claims) live exactly as long as it does: when
// Done is closed they are gone, or about to be, and another member may
// already own what this one claimed.
//
// A session ends when the server reports it expired, when the Client is
// closed, or when the client has been cut off from every server for so
// long that the server may have expired it: two thirds of the session
// timeout (go-zookeeper's own read timeout) after the sending of the latest
// request the server answered, which is also when the session's lease
// runs out (LeaseExpiry, lease.go). In that last case the Client drops the connection and
// opens a new one, so that a session the server still knew is never
// resumed: it expires on the server, and everything it held with it.
type Session struct {
	id   int64
	done chan struct{}
	err  error // set before done is closed

	// The lease (lease.go): set once.
	conn    *connection
	epoch   time.Time
	timeout time.Duration

	mu     sync.Mutex
	ended  bool           // the hooks have been taken to run
	hooks  map[int]func() // run when the session ends, before done is closed
	nextID int
}

// BeforeEnd registers f to run when the session ends, before Done is
// closed: whoever sees Done closed knows that f has run. A member stops
// consuming there, so that nothing of a partition it may no longer own is
// processed once the session's end is visible. f runs under the Client's
// lock, on the goroutine that ends the session: it must not call the
// Client and must return soon. BeforeEnd returns the function that
// unregisters f, and false (f not registered) when the session has ended
// already.
func (s *Session) BeforeEnd(f func()) (func(), bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return func() {}, false
	}
	if s.hooks == nil {
		s.hooks = make(map[int]func())
	}
	id := s.nextID
	s.nextID++
	s.hooks[id] = f
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.hooks, id)
	}, true
}

// ID returns ZooKeeper's id of the session.
func (s *Session) ID() int64 { return s.id }

// Done returns a channel that is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns nil while the session lives, then why it ended:
// ErrSessionExpired, or ErrClosed after Client.Close.
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Session returns the live session, waiting until one is established (after
// an expiry, the next one) or ctx ends. After Client.Close it returns ErrClosed.
func (z *Client) Session(ctx context.Context) (*Session, error) {
	for {
		z.mu.Lock()
		s, next, closed := z.sess, z.sessNext, z.isClosed
		z.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case s != nil:
			return s, nil
		}
		select {
		case <-next:
		case <-z.ctx.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Sessions returns how many sessions have been established so far.
func (z *Client) Sessions() int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.sessCount
}

// waitConnected waits until the connection in use has a session.
func (z *Client) waitConnected(ctx context.Context) error {
	z.mu.Lock()
	ch, closed := z.connected, z.isClosed
	z.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case <-ch:
		return nil
	case <-z.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setConnected records whether the connection in use has a session. z.mu
// is held.
func (z *Client) setConnected(ok bool) {
	select {
	case <-z.connected:
		if !ok {
			z.connected = make(chan struct{})
			z.watchers.fire(false)
		}
	default:
		if ok {
			close(z.connected)
			z.watchers.fire(true)
		}
	}
}

// onEvent follows go-zookeeper's session states. It runs on go-zookeeper's
// goroutine, which delivers every event through it (unlike the event
// channel, which drops them when full), and must not block.
func (z *Client) onEvent(c *connection, ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.isClosed || z.conn != c {
		return // an old connection, being closed
	}
	z.log.Debug("zookeeper state", "state", ev.State.String(), "server", ev.Server, "session", c.conn.SessionID())
	switch ev.State {
	case zk.StateHasSession:
		c.hasSession = true
		z.setConnected(!c.authPending)
		if z.expiry != nil {
			z.expiry.Stop()
			z.expiry = nil
		}
		if z.sess != nil && z.sess.id != c.conn.SessionID() {
			z.endSession(ErrSessionExpired)
		}
		if z.sess == nil && !c.authPending {
			z.startSession(c)
		}
	case zk.StateExpired:
		c.hasSession = false
		z.setConnected(false)
		z.endSession(ErrSessionExpired)
	default: // disconnected, connecting, connected without a session yet
		c.hasSession = false
		z.setConnected(false)
		if z.sess != nil && z.expiry == nil {
			// From the sending of the latest request answered, not from
			// the last byte read: a process frozen past its session reads
			// on waking what the server sent before (see lease.go).
			base := c.heard.Load()
			if base == 0 {
				base = c.lastRead.Load()
			}
			deadline := time.Duration(base) + c.safe(z.timeout)
			s := z.sess
			z.expiry = time.AfterFunc(deadline-time.Since(z.epoch), func() { z.assumeExpired(c, s) })
		}
	}
}

// startSession publishes the session of c. z.mu is held.
func (z *Client) startSession(c *connection) {
	z.sess = &Session{id: c.conn.SessionID(), done: make(chan struct{}), conn: c, epoch: z.epoch, timeout: z.timeout}
	z.live.Store(z.sess)
	z.sessCount++
	close(z.sessNext)
	z.sessNext = make(chan struct{})
	z.log.Info("zookeeper session established", "session", z.sess.id)
}

// endSession ends the live session, if any, with err. z.mu is held.
func (z *Client) endSession(err error) {
	if z.sess == nil {
		return
	}
	z.log.Info("zookeeper session ended", "session", z.sess.id, "err", err)
	s := z.sess
	s.mu.Lock()
	s.ended = true
	hooks := slices.Collect(maps.Values(s.hooks))
	s.mu.Unlock()
	for _, f := range hooks {
		f()
	}
	s.err = err
	close(s.done)
	z.sess = nil
	z.live.Store(nil)
}

// assumeExpired runs when the client has been cut off from ZooKeeper too
// long to know whether session s lives. It ends s and replaces c with a new
// connection, which gets a new session.
func (z *Client) assumeExpired(c *connection, s *Session) {
	z.mu.Lock()
	if z.isClosed || z.sess != s || z.conn != c || c.hasSession {
		z.mu.Unlock()
		return
	}
	z.expiry = nil
	z.endSession(ErrSessionExpired)
	z.wg.Add(1)
	z.mu.Unlock()
	go func() {
		defer z.wg.Done()
		if _, err := z.connect(z.ctx); err != nil {
			z.log.Warn("zookeeper reconnect failed", "err", err)
		}
	}()
}

// connWatchers are the functions told of a Client's connection state changes.
// Guarded by Client.mu.
type connWatchers struct {
	next int
	fns  map[int]func(connected bool)
}

// fire tells every watcher. z.mu is held: they must not block.
func (w *connWatchers) fire(ok bool) {
	for _, f := range w.fns {
		f(ok)
	}
}

// WatchConnection calls f whenever the connection in use gains or loses
// its session (connected: whether requests can be served now); first, at
// once, with the state now (nothing after Close). It is for health checks:
// a member that is cut off keeps its partitions while its session may
// still live, and says so. f runs under the Client's lock, on the
// goroutine that saw the change: it must not call the Client and must
// return soon. WatchConnection returns the function that stops it.
func (z *Client) WatchConnection(f func(connected bool)) (stop func()) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.watchers.fns == nil {
		z.watchers.fns = make(map[int]func(bool))
	}
	id := z.watchers.next
	z.watchers.next++
	z.watchers.fns[id] = f
	select {
	case <-z.connected:
		f(true)
	default:
		if !z.isClosed {
			f(false)
		}
	}
	return func() {
		z.mu.Lock()
		defer z.mu.Unlock()
		delete(z.watchers.fns, id)
	}
}
