package zookeeper

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// The lease: how long the session is known to be alive, from this side.
//
// The server keeps a session while it hears from the client at least once a
// session timeout, counted from when a request arrives. A request the
// server answered was sent at a known moment and arrived after it: the
// session was alive then, and lives at least a session timeout from then
// (on the server's clock). The lease is the safe part of that, from the
// sending of the latest request the server answered: two thirds of the
// session timeout (the one negotiated with the server, when shorter than
// the one asked for), as go-zookeeper's own read timeout; the last third
// covers the clocks' drift and what a member does with what it handed out
// just before the lease ran out.
//
// The moment a byte is read proves nothing: a process frozen (SIGSTOP, a
// GC pause, a VM migration) reads on waking answers the server sent before
// the freeze, long after the session expired. So the wire is followed
// frame by frame: each request's sending time is queued, each answer takes
// the oldest one (ZooKeeper answers a connection's requests in order;
// watch notifications, xid -1, answer nothing), and the first frame each
// way is the session's handshake.

// wire wraps a connection to a ZooKeeper server: it records when the
// server was last heard from (lastRead) and the sending time of the latest
// request it answered (heard).
type wire struct {
	net.Conn
	c     *connection
	epoch time.Time

	mu     sync.Mutex // guards the fields below: the writer and the reader
	out    frameScanner
	in     frameScanner
	sent   []int64 // sending times of the requests not yet answered, oldest first
	inSeen bool    // the handshake's answer was read

	hook func(n int) // testHooks.sent: each request's length prefix
}

func (w *wire) now() int64 { return int64(time.Since(w.epoch)) }

func (w *wire) Write(b []byte) (int, error) {
	// go-zookeeper writes a request, its length prefix first, in one Write.
	if w.hook != nil && len(b) >= 4 {
		w.hook(int(binary.BigEndian.Uint32(b[:4])))
	}
	// Queued before the bytes leave: the answer may be read at once.
	at := w.now()
	w.mu.Lock()
	w.out.feed(b, func([]byte) { w.sent = append(w.sent, at) })
	w.mu.Unlock()
	return w.Conn.Write(b)
}

func (w *wire) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if n > 0 {
		w.c.lastRead.Store(w.now())
		w.mu.Lock()
		w.in.feed(b[:n], w.answer)
		w.mu.Unlock()
	}
	return n, err
}

// answer takes one frame the server sent (its first bytes). w.mu is held.
func (w *wire) answer(head []byte) {
	if !w.inSeen {
		// The handshake: protocol version, timeout (ms), session id. An
		// id of 0 is a session the server expired: nothing heard.
		w.inSeen = true
		at, ok := w.pop()
		if ok && len(head) >= 16 && binary.BigEndian.Uint64(head[8:16]) != 0 {
			w.c.negotiated.Store(int64(time.Duration(int32(binary.BigEndian.Uint32(head[4:8]))) * time.Millisecond))
			w.c.hear(at)
		}
		return
	}
	if len(head) >= 4 && int32(binary.BigEndian.Uint32(head[:4])) == -1 {
		return // a watch notification
	}
	if at, ok := w.pop(); ok {
		w.c.hear(at)
	}
}

// pop takes the sending time of the oldest request not answered.
func (w *wire) pop() (int64, bool) {
	if len(w.sent) == 0 {
		return 0, false
	}
	at := w.sent[0]
	w.sent = w.sent[1:]
	return at, true
}

// frameScanner splits a byte stream into ZooKeeper's frames (a 4-byte
// length, then the body) and reports each frame, with its first bytes,
// once it has passed whole.
type frameScanner struct {
	head [20]byte // the length and the body's first 16 bytes
	n    int      // bytes of the length read
	body int      // the body's length
	got  int      // bytes of the body passed
}

func (s *frameScanner) feed(b []byte, frame func(head []byte)) {
	for len(b) > 0 {
		if s.n < 4 {
			k := copy(s.head[s.n:4], b)
			s.n += k
			b = b[k:]
			if s.n < 4 {
				return
			}
			s.body = int(binary.BigEndian.Uint32(s.head[:4]))
			s.got = 0
		}
		if s.got < len(s.head)-4 && s.got < s.body {
			k := copy(s.head[4+s.got:4+min(s.body, len(s.head)-4)], b)
			s.got += k
			b = b[k:]
		} else {
			k := min(s.body-s.got, len(b))
			s.got += k
			b = b[k:]
		}
		if s.got == s.body {
			frame(s.head[4 : 4+min(s.body, len(s.head)-4)])
			s.n = 0
		}
	}
}

// hear records that the server answered a request sent at (ns since the
// Client's epoch).
func (c *connection) hear(at int64) {
	for {
		old := c.heard.Load()
		if old >= at || c.heard.CompareAndSwap(old, at) {
			return
		}
	}
}

// safe returns the safe part of the session timeout: two thirds of the
// one negotiated, or of timeout when that is shorter or not known.
func (c *connection) safe(timeout time.Duration) time.Duration {
	if n := time.Duration(c.negotiated.Load()); n > 0 && n < timeout {
		timeout = n
	}
	return timeout * 2 / 3
}

// LeaseExpiry returns until when this session is known to be alive: the
// sending time of the latest request the server answered, plus two thirds
// of the session timeout (see the lease, above). It is on the monotonic
// clock: compare it with time.Now (Before, Until), never with a wall time
// from elsewhere. The zero time once the session has ended, or before the
// server answered anything in it. A member hands nothing of what it owns
// through the session out once time.Now is past it.
func (s *Session) LeaseExpiry() time.Time {
	if s.Err() != nil || s.conn == nil {
		return time.Time{}
	}
	heard := s.conn.heard.Load()
	if heard == 0 {
		return time.Time{}
	}
	return s.epoch.Add(time.Duration(heard) + s.conn.safe(s.timeout))
}

// LeaseExpiry is the live session's LeaseExpiry; the zero time when there
// is none.
func (z *Client) LeaseExpiry() time.Time {
	s := z.live.Load()
	if s == nil {
		return time.Time{}
	}
	return s.LeaseExpiry()
}
