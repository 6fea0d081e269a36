package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// Client is a ZooKeeper connection that speaks Kafka's layout: the brokers'
// registrations, and the groups' members, owners and offsets. It is safe for
// concurrent use. Paths given to its generic methods (Create, Exists,
// MkdirAll, DeleteAll) are relative to the chroot.
//
// Every blocking method takes a context. go-zookeeper has none: when ctx
// ends first, the method returns ctx's error at once and the request may
// still be applied by the server.
type Client struct {
	cfg     Config
	paths   layout.Paths
	acl     []zk.ACL
	log     *slog.Logger
	timeout time.Duration
	epoch   time.Time // base of lastRead, monotonic

	wg     sync.WaitGroup     // goroutines started by Client; Close waits for them
	ctx    context.Context    // canceled by Close
	cancel context.CancelFunc // cancels ctx

	// claimMu orders claims, releases and fenced commits: a commit never
	// runs concurrently with a release. It guards claims and knownOffsets.
	claimMu      sync.RWMutex
	claims       map[claimKey]claim // partitions claimed through this Client
	offMu        sync.Mutex         // guards knownOffsets under claimMu.RLock
	knownOffsets map[string]bool    // offset nodes known to exist

	multiRead multiReadState // whether the servers take multiRead (multiread.go)

	mu sync.Mutex // guards the fields below; never held while waiting on ZooKeeper
	// conn is the connection in use. It is replaced when the client has been
	// cut off too long to know whether its session lives (see session.go).
	conn      *connection
	sess      *Session      // live session, nil when there is none; also in live
	sessNext  chan struct{} // closed when sess becomes non-nil
	connected chan struct{} // closed while the connection in use has a session
	expiry    *time.Timer   // while disconnected: when the session is assumed lost
	isClosed  bool
	live      atomic.Pointer[Session] // sess, read without the lock (LeaseExpiry)
	sessCount int                     // sessions established, for tests and metrics
	watchers  connWatchers            // told when connected changes (health.go)
}

// connection is one go-zookeeper connection and what Client tracks of it.
type connection struct {
	conn       *zk.Conn
	lastRead   atomic.Int64 // ns since Client.epoch of the last byte read from the server
	heard      atomic.Int64 // ns since Client.epoch of the sending of the latest request answered (lease.go)
	negotiated atomic.Int64 // the session timeout the server granted (ns), 0 before

	// Guarded by Client.mu.
	authPending bool // credentials not yet added: do not publish a session
	hasSession  bool // go-zookeeper reports a session on this connection
}

// New connects to ZooKeeper, as the seed's New: servers, a chroot and
// the session timeout. It waits for the first session up to recvTimeout
// (at least a second).
func New(servers []string, chroot string, recvTimeout time.Duration) (*Client, error) {
	wait := max(recvTimeout, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return Dial(ctx, Config{Servers: servers, Chroot: chroot, SessionTimeout: recvTimeout})
}

// Dial connects to ZooKeeper and waits until a session is established and
// the credentials in cfg.Auth are added, or ctx ends. An unreachable
// ZooKeeper gives an error naming the servers.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	paths, _ := layout.NewPaths(cfg.Chroot) // checked by Validate
	z := &Client{
		cfg:       cfg,
		paths:     paths,
		acl:       cfg.ACL,
		log:       cfg.Logger,
		timeout:   cfg.SessionTimeout,
		epoch:     time.Now(),
		sessNext:  make(chan struct{}),
		connected: make(chan struct{}),

		claims:       make(map[claimKey]claim),
		knownOffsets: make(map[string]bool),
	}
	z.ctx, z.cancel = context.WithCancel(context.Background())
	if z.acl == nil {
		z.acl = zk.WorldACL(zk.PermAll)
	}
	if z.log == nil {
		z.log = slog.New(slog.DiscardHandler)
	}
	if z.timeout == 0 {
		z.timeout = DefaultSessionTimeout
	}
	_, err := z.connect(ctx)
	if err == nil {
		if _, err = z.Session(ctx); err == nil {
			return z, nil
		}
	}
	z.Close()
	return nil, fmt.Errorf("consumergroup: connect to zookeeper %s: %w", strings.Join(cfg.Servers, ","), err)
}

// connect opens a new go-zookeeper connection, adds the credentials and
// makes it the one in use.
func (z *Client) connect(ctx context.Context) (*connection, error) {
	c := &connection{}
	c.lastRead.Store(int64(time.Since(z.epoch)))
	dialer := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		nc, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return nil, err
		}
		w := &wire{Conn: nc, c: c, epoch: z.epoch}
		if z.cfg.hooks != nil {
			w.hook = z.cfg.hooks.sent
		}
		return w, nil
	}
	z.mu.Lock()
	if z.isClosed {
		z.mu.Unlock()
		return nil, ErrClosed
	}
	// Connect only starts go-zookeeper's loop: the callback, which takes
	// z.mu, waits until c is in place.
	conn, _, err := zk.Connect(z.cfg.Servers, z.timeout,
		zk.WithDialer(dialer),
		zk.WithLogger(zkLogger{z.log}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(func(ev zk.Event) { z.onEvent(c, ev) }),
	)
	if err != nil {
		z.mu.Unlock()
		return nil, err
	}
	c.conn = conn
	c.authPending = len(z.cfg.Auth) > 0
	old := z.conn
	z.conn = c
	z.setConnected(false)
	z.mu.Unlock()
	if old != nil {
		z.goFunc(old.conn.Close)
	}

	// Credentials go first: the session is published only once they are in,
	// so that nothing is sent without them.
	for _, a := range z.cfg.Auth {
		err := z.callOn(ctx, conn, func(conn *zk.Conn) error { return conn.AddAuth(a.Scheme, []byte(a.Credentials)) })
		if err != nil {
			return c, fmt.Errorf("add %s auth: %w", a.Scheme, err)
		}
	}
	z.mu.Lock()
	c.authPending = false
	if c.hasSession && z.conn == c && !z.isClosed {
		z.setConnected(true)
		if z.sess == nil {
			z.startSession(c)
		}
	}
	z.mu.Unlock()
	return c, nil
}

// zkLogger sends go-zookeeper's log lines to slog at debug level.
type zkLogger struct{ l *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.l.Debug(fmt.Sprintf(format, args...), "component", "zookeeper")
}

// goFunc runs f in a goroutine that Close waits for.
func (z *Client) goFunc(f func()) {
	z.wg.Add(1)
	go func() {
		defer z.wg.Done()
		f()
	}()
}

// goFuncOpen runs f in a goroutine that Close waits for, unless the Client is
// closed (false then).
func (z *Client) goFuncOpen(f func()) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.isClosed {
		return false
	}
	z.goFunc(f)
	return true
}

// zkConn returns the connection in use.
func (z *Client) zkConn() (*zk.Conn, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.isClosed {
		return nil, ErrClosed
	}
	return z.conn.conn, nil
}

// call runs f, a blocking go-zookeeper call, on the connection in use, and
// returns its error or ctx's, whichever comes first. When the connection is
// lost before the answer, it waits for the connection to be back (at most a
// session timeout) and sends f again: every request the layer makes is safe
// to repeat (creates that may have been applied are recognized by their
// session, sets and multis write the same bytes, deletes of a missing node
// succeed).
func (z *Client) call(ctx context.Context, f func(*zk.Conn) error) error {
	for attempt := 1; ; attempt++ {
		conn, err := z.zkConn()
		if err != nil {
			return err
		}
		err = z.callOn(ctx, conn, f)
		if attempt == callAttempts || !(errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer)) {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, z.timeout)
		werr := z.waitConnected(wctx)
		cancel()
		if werr != nil {
			return err
		}
	}
}

// callOn runs f on conn; see call.
func (z *Client) callOn(ctx context.Context, conn *zk.Conn, f func(*zk.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ctx.Done() == nil {
		return f(conn)
	}
	z.mu.Lock()
	if z.isClosed {
		z.mu.Unlock()
		return ErrClosed
	}
	done := make(chan error, 1)
	z.wg.Add(1)
	z.mu.Unlock()
	go func() {
		defer z.wg.Done()
		done <- f(conn)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the session, which deletes its ephemeral nodes at once, and
// returns when nothing of the Client is left running. It is idempotent.
func (z *Client) Close() error {
	z.mu.Lock()
	if z.isClosed {
		z.mu.Unlock()
		z.wg.Wait()
		return nil
	}
	z.isClosed = true
	z.cancel()
	var conn *zk.Conn
	if z.conn != nil {
		conn = z.conn.conn
	}
	z.endSession(ErrClosed)
	if z.expiry != nil {
		z.expiry.Stop()
		z.expiry = nil
	}
	z.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	z.wg.Wait()
	return nil
}

// Chroot returns the chroot every path is under, "" for the root.
func (z *Client) Chroot() string { return z.paths.Chroot() }

// abs returns the absolute path of rel, a path relative to the chroot.
func (z *Client) abs(rel string) (string, error) {
	if rel == "" || rel[0] != '/' {
		return "", &PathError{Op: "resolve", Path: rel, Err: ErrInvalidArgument, Cause: errors.New("path must start with '/'")}
	}
	return z.paths.Abs(strings.TrimRight(rel, "/")), nil
}
