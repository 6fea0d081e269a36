package main

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// The web view's page, script and style, in the binary.
//
//go:embed web
var webFiles embed.FS

// envServeToken gives serve's token when --token-file does not, so that it
// need not appear in the process list.
const envServeToken = "GROUPCTL_SERVE_TOKEN"

// serveOpts are serve's own flags.
type serveOpts struct {
	listen   string
	interval time.Duration
	window   int
	history  time.Duration

	// tlsCert and tlsKey (--listen-tls-cert, --listen-tls-key): PEM files
	// of the server's certificate and key; HTTPS when set.
	tlsCert, tlsKey string
	// token, when set (--token-file or $GROUPCTL_SERVE_TOKEN), is asked of
	// every request: "Authorization: Bearer TOKEN", or as the password of
	// basic authentication.
	token    string
	timeouts serveTimeouts
}

// minTokenLength is the shortest token accepted.
const minTokenLength = 16

func runServe(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "serve", "")
	bootstrapFlag(fs, c)
	var o serveOpts
	var tokenFile string
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the HTTP server; other than loopback, set a token and TLS")
	fs.DurationVar(&o.interval, "interval", 5*time.Second, "how often ZooKeeper and Kafka are polled")
	fs.IntVar(&o.window, "window", lageval.DefaultSize, "samples the lag evaluation looks at (docs/LAG.md)")
	fs.DurationVar(&o.history, "history", time.Hour, "how much lag history the charts keep")
	fs.StringVar(&o.tlsCert, "listen-tls-cert", "", "PEM file of the server's certificate: serve HTTPS (with --listen-tls-key)")
	fs.StringVar(&o.tlsKey, "listen-tls-key", "", "PEM file of the server certificate's key (with --listen-tls-cert)")
	fs.StringVar(&tokenFile, "token-file", "", "file holding the token every request must carry (default from $"+envServeToken+"; none: no authentication)")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	switch {
	case len(pos) != 0:
		return bad("serve takes no argument")
	case o.interval <= 0 || o.history <= 0:
		return bad("--interval and --history must be positive")
	case o.window < lageval.MinSamples:
		return bad(fmt.Sprintf("--window must be at least %d samples", lageval.MinSamples))
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return bad("--listen-tls-cert and --listen-tls-key go together")
	}
	if o.token, err = serveToken(tokenFile, e.getenv); err != nil {
		return bad(err.Error())
	}
	dctx, cancel := c.withTimeout(ctx)
	var s *server
	if c.onKafka() {
		cl, _, err := c.bootstrapClient(dctx)
		cancel()
		if err != nil {
			return err
		}
		defer cl.Close()
		s = newServer(c, nil, o)
		s.kafkaGroups = cl
	} else {
		z, err := c.dial(dctx)
		cancel()
		if err != nil {
			return err
		}
		defer z.Close()
		s = newServer(c, z, o)
	}
	url, wait, err := s.start(ctx, o.listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "groupctl serve: %s (polling every %v; Ctrl-C to stop)\n", url, o.interval)
	for _, w := range s.exposure() {
		fmt.Fprintf(e.stderr, "groupctl serve: warning: %s\n", w)
	}
	return wait()
}

// serveToken reads the token of --token-file, or else $GROUPCTL_SERVE_TOKEN;
// "" when neither is set.
func serveToken(file string, getenv func(string) string) (string, error) {
	token, from := getenv(envServeToken), "$"+envServeToken
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--token-file: %v", err)
		}
		token, from = strings.TrimSpace(string(b)), "--token-file "+file
	}
	if file != "" || token != "" {
		if len(token) < minTokenLength || strings.ContainsAny(token, " \t\r\n") {
			return "", fmt.Errorf("%s: the token must be at least %d characters, without spaces", from, minTokenLength)
		}
	}
	return token, nil
}

// server is groupctl serve: a poller that samples every group, and the
// HTTP handlers that show what it saw.
//
// The poller reads the groups and evaluates them with no lock held, then
// publishes what it saw as a new immutable snapshot (serve_snapshot.go)
// with one atomic store. A handler loads the current snapshot, renders its
// answer (once per snapshot, cached), and writes it: nothing is written to
// a client, nor rendered, with a lock held, so a client that stops reading
// delays neither another request nor the polling; the server's write
// timeout (serveTimeouts) then ends its connection.
type server struct {
	c *common
	z *zookeeper.Client
	o serveOpts

	snap atomic.Pointer[snapshot] // what handlers serve; replaced by each poll
	addr net.Addr                 // the listener's; set by start before serving

	// connState, when set (by tests, before start), is told of the
	// server's connections (http.Server.ConnState).
	connState func(net.Conn, http.ConnState)

	// Owned by the poller goroutine (pollLoop); kcl is closed by start's
	// wait once the poller has ended.
	groups     map[string]*groupState
	polls      int64
	pollErrors int64
	kcl        *kgo.Client // nil until Kafka's brokers are known
	admin      *kadm.Client

	// kafkaGroups, when set (--bootstrap-server), is the client of the
	// Kafka cluster whose coordinator's groups are served instead of
	// ZooKeeper's (z is nil then).
	kafkaGroups *kgo.Client
}

// groupState is what the poller keeps of a group between polls.
type groupState struct {
	desc    *consumergroup.GroupDescription
	report  lagReport
	tracker *lagTracker
	err     string // what went wrong at the last poll, "" if nothing
}

func newServer(c *common, z *zookeeper.Client, o serveOpts) *server {
	o.timeouts = o.timeouts.orDefault()
	s := &server{c: c, z: z, o: o, groups: make(map[string]*groupState)}
	s.snap.Store(newSnapshot(pollInfo{IntervalMS: o.interval.Milliseconds()}, 0, nil))
	return s
}

// start listens on addr, polls and serves until ctx ends. It returns the
// page's URL and a function that waits for the end (and the server's
// error).
func (s *server) start(ctx context.Context, addr string) (string, func() error, error) {
	var cert tls.Certificate
	if s.o.tlsCert != "" {
		var err error
		if cert, err = tls.LoadX509KeyPair(s.o.tlsCert, s.o.tlsKey); err != nil {
			return "", nil, usageError{msg: fmt.Sprintf("--listen-tls-cert/--listen-tls-key: %v", err)}
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, usageError{msg: fmt.Sprintf("--listen %s: %v", addr, err)}
	}
	s.addr = ln.Addr()
	t := s.o.timeouts
	srv := &http.Server{Handler: s.handler(ln.Addr()), ReadHeaderTimeout: t.readHeader, ReadTimeout: t.read,
		WriteTimeout: t.write, IdleTimeout: t.idle, MaxHeaderBytes: serveMaxHeaderBytes, ConnState: s.connState}
	scheme := "http"
	if s.o.tlsCert != "" {
		scheme = "https"
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.pollLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		serve := srv.Serve
		if srv.TLSConfig != nil {
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	wait := func() error {
		var err error
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		srv.Close() // the connections Shutdown did not see idle in time
		wg.Wait()
		if s.kcl != nil { // the poller has ended
			s.kcl.Close()
			s.kcl = nil
		}
		return err
	}
	return scheme + "://" + ln.Addr().String() + "/", wait, nil
}

// exposure warns of a server open to more than this host: listening on an
// address other than loopback without a token, or without TLS.
func (s *server) exposure() []string {
	if tcp, ok := s.addr.(*net.TCPAddr); !ok || tcp.IP.IsLoopback() {
		return nil
	}
	var ws []string
	if s.o.token == "" {
		ws = append(ws, fmt.Sprintf("%s is not a loopback address and no token is set (--token-file or $%s): "+
			"whoever reaches it reads every group's members, hosts and offsets", s.addr, envServeToken))
	}
	if s.o.tlsCert == "" {
		ws = append(ws, fmt.Sprintf("%s is not a loopback address and serves plain HTTP: answers (and the token) "+
			"travel in clear; give --listen-tls-cert and --listen-tls-key", s.addr))
	}
	return ws
}

// pollLoop polls at once, then every interval, until ctx ends.
func (s *server) pollLoop(ctx context.Context) {
	t := time.NewTicker(s.o.interval)
	defer t.Stop()
	for {
		s.poll(ctx)
		select {
		case <-ctx.Done():
			// A client left by a poll that ctx cut short is closed by
			// start's wait.
			return
		case <-t.C:
		}
	}
}

// kafkaAdmin returns the admin client, creating it once the brokers are
// known; nil when they are not (describe then goes without log ends).
func (s *server) kafkaAdmin(ctx context.Context) *kadm.Client {
	if s.admin == nil {
		cl, admin, err := s.c.kafka(ctx, s.z)
		if err != nil {
			return nil
		}
		s.kcl, s.admin = cl, admin
	}
	return s.admin
}

// poll samples every group once.
func (s *server) poll(ctx context.Context) {
	pctx, cancel := s.c.withTimeout(ctx)
	defer cancel()
	now := time.Now()
	if s.kafkaGroups != nil {
		s.pollKafka(pctx, now)
		return
	}
	names, err := s.z.Groups(pctx)
	if err != nil {
		s.pollFailed(err, now)
		return
	}
	admin := s.kafkaAdmin(pctx)
	results := make(map[string]pollResult, len(names))
	for _, g := range names {
		d, err := consumergroup.DescribeGroup(pctx, s.z, admin, g)
		if errors.Is(err, consumergroup.ErrUnknownGroup) {
			continue // deleted meanwhile
		}
		if err == nil && admin == nil {
			err = errors.New("no log end offsets: the brokers of Kafka are unknown")
		}
		var times map[consumergroup.TopicPartition]time.Time
		if d != nil {
			times = d.CommitTimes // read with the offsets
		}
		results[g] = pollResult{d, times, err}
	}
	s.record(results, now)
}

// pollFailed records a poll that could not list the groups: the groups
// stay as the previous poll saw them.
func (s *server) pollFailed(err error, now time.Time) {
	s.polls++
	s.pollErrors++
	prev := s.snap.Load()
	s.snap.Store(newSnapshot(pollInfo{Time: now, IntervalMS: s.o.interval.Milliseconds(), Polls: s.polls, Error: err.Error()},
		s.pollErrors, prev.data))
}

// pollResult is one group at one poll.
type pollResult struct {
	desc  *consumergroup.GroupDescription
	times map[consumergroup.TopicPartition]time.Time
	err   error
}

// record evaluates a poll's results and publishes them as a new snapshot.
func (s *server) record(results map[string]pollResult, now time.Time) {
	s.polls++
	for g := range s.groups {
		if _, ok := results[g]; !ok {
			delete(s.groups, g)
		}
	}
	groups := make(map[string]*groupSnap, len(results))
	for g, r := range results {
		st := s.groups[g]
		if st == nil {
			st = &groupState{tracker: newLagTracker(s.o.window, s.o.history)}
			s.groups[g] = st
		}
		st.err = ""
		if r.err != nil {
			st.err = r.err.Error()
			s.pollErrors++
		}
		if r.desc != nil {
			st.desc = r.desc
			st.report = st.tracker.observe(r.desc, r.times, now)
		}
		groups[g] = newGroupSnap(g, st)
	}
	s.snap.Store(newSnapshot(pollInfo{Time: now, IntervalMS: s.o.interval.Milliseconds(), Polls: s.polls}, s.pollErrors, groups))
}
