package testenv

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// proxyDialTimeout bounds the proxy's connection attempt to its target.
const proxyDialTimeout = 2 * time.Second

// Proxy forwards TCP connections from a free 127.0.0.1 port to a target,
// and cuts them on demand: the way to force a ZooKeeper client to
// disconnect, and its session to expire, without touching the server.
// When either side ends its half of a connection, the proxy closes the
// whole connection (ZooKeeper and Kafka never half-close). Its methods are
// safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	cut     bool                    // guarded by mu: refuse connections until Restore
	silent  chan struct{}           // guarded by mu: blackholed until closed (Heal); nil: not
	latency time.Duration           // guarded by mu: added to every chunk, each way
	done    chan struct{}           // closed by Close
	closed  bool                    // guarded by mu
	links   map[*proxyLink]struct{} // guarded by mu: open proxied connections
	wg      sync.WaitGroup          // the accept loop and every link's goroutines
}

// proxyLink is one proxied connection: the client's and the target's end.
type proxyLink struct {
	client, server net.Conn
	once           sync.Once
	closed         chan struct{} // closed by close
}

func (l *proxyLink) close() {
	l.once.Do(func() {
		close(l.closed)
		l.client.Close()
		l.server.Close()
	})
}

// NewProxy listens on a free 127.0.0.1 port and forwards every connection
// it accepts to target, in both directions. Close it to stop it.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testenv: proxy to %s: listening: %w", target, err)
	}
	return proxyOn(ln, target), nil
}

// proxyOn is a Proxy accepting on ln.
func proxyOn(ln net.Listener, target string) *Proxy {
	p := &Proxy{target: target, ln: ln, links: make(map[*proxyLink]struct{}), done: make(chan struct{})}
	p.wg.Go(p.acceptLoop)
	return p
}

// Addr returns the address clients connect to, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Cut closes every open connection at once and, until Restore, closes new
// connections as soon as they are accepted: clients see their connection
// drop and every reconnection fail.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	links := p.takeLinksLocked()
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Restore lets new connections through again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Blackhole makes the proxy silent, as a network that drops every packet
// (half-open TCP): nothing is forwarded either way and nobody is told;
// connections stay open, new ones are accepted and hear nothing. What was
// sent meanwhile is held, and delivered in order by Heal, as TCP delivers
// its retransmissions once the network is back.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.silent == nil {
		p.silent = make(chan struct{})
	}
}

// Heal ends Blackhole: what was held goes through, in order.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.silent != nil {
		close(p.silent)
		p.silent = nil
	}
}

// SetLatency delays every chunk of bytes by d, each way (0: none).
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latency = d
}

// gate returns the channel to wait on before forwarding (nil: go ahead)
// and the latency.
func (p *Proxy) gate() (chan struct{}, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.silent, p.latency
}

// Connections returns how many proxied connections are open.
func (p *Proxy) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Close stops listening, closes every connection and returns once every
// goroutine of the proxy has ended. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	links := p.takeLinksLocked()
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("testenv: closing the proxy to %s: %w", p.target, err)
	}
	return nil
}

// takeLinksLocked empties the set of open links and returns them.
func (p *Proxy) takeLinksLocked() []*proxyLink {
	links := make([]*proxyLink, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	clear(p.links)
	return links
}

// acceptLoop accepts connections until the listener closes.
func (p *Proxy) acceptLoop() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // closed by Close; Accept fails on nothing else here
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		if !refuse {
			p.wg.Add(1) // held until the link's goroutines are done
		}
		p.mu.Unlock()
		if refuse {
			client.Close()
			continue
		}
		go p.serve(client)
	}
}

// serve dials the target for one accepted client connection and copies
// both ways until either side closes or the link is cut.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if silent, _ := p.gate(); silent != nil {
		// Blackholed: the connection is accepted (the kernel did) and
		// hears nothing until Heal.
		select {
		case <-silent:
		case <-p.done:
			client.Close()
			return
		}
	}
	server, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		client.Close() // the client sees what it would see without a target
		return
	}
	l := &proxyLink{client: client, server: server, closed: make(chan struct{})}
	p.mu.Lock()
	refuse := p.cut || p.closed // cut while we dialed
	if !refuse {
		p.links[l] = struct{}{}
	}
	p.mu.Unlock()
	if refuse {
		l.close()
		return
	}

	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		p.forward(l, dst, src)
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done // one direction ended: end the other
	l.close()
	<-done
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// chunk is what one read brought, due to be forwarded at due.
type chunk struct {
	b   []byte
	due time.Time
}

// forward copies src to dst until either fails or l closes, after the
// latency and never while blackholed.
func (p *Proxy) forward(l *proxyLink, dst, src net.Conn) {
	ch := make(chan chunk, 16)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32*1024)
			n, err := src.Read(buf)
			if n > 0 {
				_, lat := p.gate()
				ch <- chunk{buf[:n], time.Now().Add(lat)}
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		l.close() // ends the reader's Read
		for range ch {
		}
	}()
	for c := range ch {
		if d := time.Until(c.due); d > 0 {
			t := time.NewTimer(d) // the link's latency, not a synchronization
			select {
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return
			}
		}
		for {
			silent, _ := p.gate()
			if silent == nil {
				break
			}
			select {
			case <-silent:
			case <-l.closed:
				return
			}
		}
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
	// src ended (a close, a reset): a silent network does not carry
	// that either, until Heal.
	for {
		silent, _ := p.gate()
		if silent == nil {
			return
		}
		select {
		case <-silent:
		case <-l.closed:
			return
		}
	}
}
