package zookeeper

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// Reading a whole group (Offsets, Owners, OffsetCommitTimes) is tens of
// thousands of getData requests at 10,000 partitions, and what bounds it is
// ZooKeeper's cost per request, not the round trips (readsInFlight already
// hides those): the server takes each request through its pipeline and
// writes each answer on its own. ZooKeeper 3.6 added multiRead (opcode 22):
// many getData in one request, one answer. Not a transaction: each read
// succeeds or fails alone, as the getData would have.
//
// A server before 3.6 does not know the opcode: it answers UNIMPLEMENTED
// and closes the connection (UnimplementedRequestProcessor), which the
// Client must never provoke (a member's requests in flight would fail with
// it). So multiRead is used only when every server of Config.Servers (each
// address its name resolves to) says, to the srvr four-letter word, that
// it runs 3.6 or later. srvr cannot be refused by configuration: since
// 3.5.3 ZooKeeper adds it to any 4lw.commands.whitelist (zkServer.sh
// needs it), and 3.6 is later. A server that cannot be asked all the same
// (down, not serving, a TLS-only client port, a proxy that passes only
// ZooKeeper's protocol) is taken for one without multiRead: the reads are
// then getData, readsInFlight at a time, as before; so is every server
// when one is, since the connection may move to it. The answer is kept
// for multiReadRecheck, then asked again: an ensemble changes servers (a
// rolling upgrade, or a downgrade) while a Client lives. A multiRead
// answered UNIMPLEMENTED all the same (a server replaced by a 3.5 since
// the probe) turns multiRead off until the next probe, and the reads are
// done again as getData.
const (
	// multiReadMin: fewer reads than this go as getData (a probe and a
	// batch would not pay).
	multiReadMin = 2 * readsInFlight
	// multiReadOps bounds the reads of one multiRead, and so the size of
	// its answer (a getData's answer is its data and a 68-byte stat): the
	// request is also bounded by Config.MaxRequestBytes (multiReadBytes).
	multiReadOps = 1000
	// multiReadsInFlight bounds the multiReads in flight at once: the
	// server reads one while we decode another.
	multiReadsInFlight = 4
	// multiReadRecheck is how long a probe's answer is kept.
	multiReadRecheck = 5 * time.Minute
	// probeTimeout bounds a probe of one server.
	probeTimeout = 2 * time.Second
)

// readOpBytes is the bytes a getData or getChildren of p takes in a
// multiRead, its header included: header, path, watch flag.
func readOpBytes(p string) int { return multiHeaderBytes + stringBytes(p) + 1 }

// multiReadBytes returns the length the server checks of a multiRead of
// the nodes at paths.
func multiReadBytes(paths []string) int {
	n := requestHeaderBytes + multiHeaderBytes
	for _, p := range paths {
		n += readOpBytes(p)
	}
	return n
}

// multiReadState is what the Client knows of the servers' multiRead.
type multiReadState struct {
	mu       sync.Mutex // held during a probe: concurrent reads wait for its answer
	ok       bool
	probedAt time.Time // zero: never probed
}

// canMultiRead says whether every server is known to take multiRead,
// probing them when the last answer is older than multiReadRecheck.
func (z *Client) canMultiRead(ctx context.Context) bool {
	if z.cfg.hooks != nil && z.cfg.hooks.noMultiRead {
		return false
	}
	s := &z.multiRead
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.probedAt.IsZero() && time.Since(s.probedAt) < multiReadRecheck {
		return s.ok
	}
	ok := serversHaveMultiRead(ctx, z.cfg.Servers, min(z.timeout, probeTimeout))
	if ctx.Err() != nil {
		return false // the caller gave up: that says nothing of the servers
	}
	s.ok, s.probedAt = ok, time.Now()
	if !s.ok {
		z.log.Debug("zookeeper: reads as getData: not every server is known to take multiRead (ZooKeeper 3.6+, srvr)", "servers", z.cfg.Servers)
	}
	return s.ok
}

// noMultiRead records that a server answered a multiRead UNIMPLEMENTED:
// none is sent again until the next probe.
func (z *Client) noMultiRead() {
	s := &z.multiRead
	s.mu.Lock()
	s.ok, s.probedAt = false, time.Now()
	s.mu.Unlock()
}

// serversHaveMultiRead asks every address of servers, at once, for its
// version: true when all run ZooKeeper 3.6 or later.
func serversHaveMultiRead(ctx context.Context, servers []string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var addrs []string
	for _, s := range zk.FormatServers(servers) {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return false
		}
		ips, err := net.DefaultResolver.LookupHost(ctx, host)
		if err != nil || len(ips) == 0 {
			return false
		}
		for _, ip := range ips {
			addrs = append(addrs, net.JoinHostPort(ip, port))
		}
	}
	ok := make(chan bool, len(addrs))
	for _, a := range addrs {
		go func() {
			major, minor, err := serverVersion(ctx, a)
			ok <- err == nil && (major > 3 || major == 3 && minor >= 6)
		}()
	}
	all := true
	for range addrs {
		all = <-ok && all
	}
	return all
}

// srvrVersion is the first line of a srvr answer: "Zookeeper version:
// 3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on ...".
var srvrVersion = regexp.MustCompile(`\AZookeeper version: (\d+)\.(\d+)\.`)

// serverVersion asks the server at addr its version (major, minor) with
// the srvr four-letter word.
func serverVersion(ctx context.Context, addr string) (major, minor int, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return 0, 0, err
		}
	}
	if _, err := io.WriteString(conn, "srvr"); err != nil {
		return 0, 0, err
	}
	// The answer is a few hundred bytes; the version is on its first line.
	answer, err := io.ReadAll(io.LimitReader(conn, 4096))
	if err != nil {
		return 0, 0, err
	}
	m := srvrVersion.FindSubmatch(answer)
	if m == nil {
		return 0, 0, errors.New("no version in the srvr answer (not whitelisted, or not serving)")
	}
	major, _ = strconv.Atoi(string(m[1]))
	minor, _ = strconv.Atoi(string(m[2]))
	return major, minor, nil
}

// multiReadAll reads the nodes at paths in multiReads, multiReadsInFlight
// at a time, into out (in the order of paths). False when a server turned
// out not to know multiRead: nothing in out is to be used then.
func (z *Client) multiReadAll(ctx context.Context, op string, paths []string, out []nodeRead) bool {
	var chunks [][2]int
	for start := 0; start < len(paths); {
		end, size := start, requestHeaderBytes+multiHeaderBytes
		for end < len(paths) && end-start < multiReadOps {
			s := readOpBytes(paths[end])
			if end > start && size+s > z.maxRequest() {
				break
			}
			size += s
			end++
		}
		chunks = append(chunks, [2]int{start, end})
		start = end
	}
	var wg sync.WaitGroup
	var unimplemented sync.Once
	failed := false
	sem := make(chan struct{}, multiReadsInFlight)
	for _, c := range chunks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ps := paths[c[0]:c[1]]
			ops := make([]zk.ReadOp, len(ps))
			for i, p := range ps {
				ops[i] = zk.ReadOp{Path: p}
			}
			var res []zk.ReadResult
			err := z.call(ctx, func(conn *zk.Conn) error { var err error; res, err = conn.MultiRead(ops...); return err })
			if errors.Is(err, zk.ErrUnimplemented) {
				unimplemented.Do(func() { failed = true; z.noMultiRead() })
				return
			}
			for i, p := range ps {
				r := &out[c[0]+i]
				if err != nil {
					r.err = pathErr(op, p, err)
					continue
				}
				r.data, r.stat, r.err = res[i].Data, res[i].Stat, pathErr(op, p, res[i].Error)
			}
		})
	}
	wg.Wait()
	return !failed
}
