package consumergroup_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
)

// TestCloseDuringRegistration: Close while the member's registration is on
// its way to ZooKeeper (the create sent, its answer not yet back) leaves no
// registration behind in the ZK, whose session outlives the group. Before,
// Close canceled the create's wait and the member returned without
// deregistering: the node stayed for as long as the caller's session, a
// member that would be assigned partitions and never consume them.
func TestCloseDuringRegistration(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 2})
	hp := newHoldProxy(t, c.servers[0], []byte("g/ids/"))
	cfg := groupConfig()
	cfg.ZookeeperTimeout = gracefulSession // answers are held briefly
	g := joinBehind(t, c, hp, cfg.ZookeeperTimeout, cfg)
	waitClosed(t, hp.seen, "the registration's create")
	// The create reached ZooKeeper; its answer is held. Close now.
	closed := make(chan error, 1)
	go func() { closed <- g.Close() }()
	select {
	case err := <-closed: // the member did not wait for the answer
		hp.release()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(500 * time.Millisecond): // it waits for the answer: give it
		hp.release()
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
	}
	if ids := registrations(t, c); len(ids) != 0 {
		t.Fatalf("registrations left after Close, the ZK still open: %v", ids)
	}
}

// joinBehind starts a member of group g on topic t of c whose ZooKeeper
// session (of sessionTimeout) goes through hp; the test closes the member.
func joinBehind(t *testing.T, c *cluster, hp *holdProxy, sessionTimeout time.Duration, cfg *cg.ConsumerGroupConfig) *cg.ConsumerGroup {
	t.Helper()
	z, err := cg.DialZK(testCtx(t), cg.ZKConfig{Servers: []string{hp.addr()}, Chroot: c.chroot, SessionTimeout: sessionTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	g, err := cg.NewConsumerGroupTopics(testCtx(t), cl, z, "g", []string{"t"}, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// registrations returns the ids registered in group g, read directly from
// c's ZooKeeper (not through a proxy).
func registrations(t *testing.T, c *cluster) []string {
	t.Helper()
	ids, _, err := dialZK(t, c.chroot, func(zc *cg.ZKConfig) { zc.Servers = c.servers }).Consumers(testCtx(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// holdProxy forwards a ZooKeeper client's connection; once the client
// sends bytes containing mark, the server's answers are held until
// release.
type holdProxy struct {
	ln       net.Listener
	target   string
	mark     []byte
	seen     chan struct{} // closed when mark was sent
	seenOnce sync.Once
	released chan struct{}
	relOnce  sync.Once
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func newHoldProxy(t *testing.T, target string, mark []byte) *holdProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{ln: ln, target: target, mark: mark, seen: make(chan struct{}), released: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *holdProxy) addr() string { return p.ln.Addr().String() }

func (p *holdProxy) release() { p.relOnce.Do(func() { close(p.released) }) }

func (p *holdProxy) close() {
	p.release()
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *holdProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(server, client, true)
		go p.pipe(client, server, false)
	}
}

// pipe copies from src to dst; toServer watches for mark, the other way
// holds once it was seen.
func (p *holdProxy) pipe(dst, src net.Conn, toServer bool) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if toServer && bytes.Contains(buf[:n], p.mark) {
				p.seenOnce.Do(func() { close(p.seen) })
			}
			if !toServer {
				select {
				case <-p.seen:
					<-p.released
				default:
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // io.EOF or closed
			return
		}
	}
}

// TestRegistrationRetriedUnderSameID: a registration whose answer does not
// come back within ZookeeperTimeout (a ZooKeeper slowed by hundreds of
// members starting at once) is sent again under the same consumer id, and
// the group ends with one registration of this member. Before, the member
// gave up on the id and registered under a new one while the first create
// had been applied: a ghost member in the caller's session, which the
// leader gave partitions nobody took (issue 19: 500 members on 10,000
// partitions never converged).
func TestRegistrationRetriedUnderSameID(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 2})
	hp := newHoldProxy(t, c.servers[0], []byte("g/ids/"))
	cfg := groupConfig()
	cfg.ZookeeperTimeout = time.Second // each attempt's bound; the session below is longer
	rec := &logRecorder{}
	cfg.Logger = slog.New(rec)
	g := joinBehind(t, c, hp, gracefulSession, cfg)
	t.Cleanup(func() { g.Close() })
	waitClosed(t, hp.seen, "the registration's create")
	// The create reached ZooKeeper and was applied; its answer is held past
	// the attempt's bound.
	waitFor(t, "the first attempt given up", func() bool {
		_, again := rec.find(slog.LevelDebug, "registration not answered: sending it again under the same id")
		_, failed := rec.find(slog.LevelWarn, "rebalance error") // (before: a new id next)
		return again || failed
	}, func() string { return "neither retried nor reported" })
	hp.release()
	waitFor(t, "the member holds both partitions", func() bool { return len(g.Claims()) == 2 },
		func() string { return fmt.Sprint("holds ", g.Claims()) })
	if ids := registrations(t, c); len(ids) != 1 {
		t.Fatalf("registrations after a slow registration: %v, want this member's one", ids)
	}
}
