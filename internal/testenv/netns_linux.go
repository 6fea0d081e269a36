package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// SilentLink is a network path on which packets can really be lost: two
// network namespaces of its own, joined by a veth pair. The client side
// dials from one (Dial); a relay (a Proxy) accepts in the other and
// forwards to the target, on the loopback of the test's own namespace.
// Blackhole makes the path drop every packet both ways, as a partitioned
// network does: each side's neighbour entry is replaced by a link-layer
// address nobody has, so frames are sent and no one takes them. Nothing
// is closed and nobody is told; TCP retransmits with its backoff,
// connection attempts go unanswered, and Heal lets the retransmissions
// through. (The proxy's own Blackhole only stops forwarding: the
// kernel still accepts connections and acknowledges data.)
//
// It needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2's ip;
// NetnsSupport says why not where it cannot. Close removes the namespaces
// (and with them the veth pair).
type SilentLink struct {
	nsC, nsR string // the client's and the relay's namespaces
	ifC, ifR string // their veth ends
	ipC, ipR string // their addresses
	macC     string // the client end's link-layer address
	macR     string
	relay    *Proxy
	mu       sync.Mutex
	closed   bool
}

var (
	silentSeq     atomic.Int64
	netnsOnce     sync.Once
	netnsSupport  error
	errNoNetnsMsg = "testenv: network namespaces unavailable (needs root and iproute2's ip)"
)

// NetnsSupport returns nil when SilentLink can be made here, else why not.
func NetnsSupport() error {
	netnsOnce.Do(func() {
		if os.Geteuid() != 0 {
			netnsSupport = fmt.Errorf("%s: not root", errNoNetnsMsg)
			return
		}
		if _, err := exec.LookPath("ip"); err != nil {
			netnsSupport = fmt.Errorf("%s: %w", errNoNetnsMsg, err)
			return
		}
		name := fmt.Sprintf("cgprobe%d", os.Getpid())
		if err := ip("netns", "add", name); err != nil {
			netnsSupport = fmt.Errorf("%s: %w", errNoNetnsMsg, err)
			return
		}
		if err := ip("netns", "del", name); err != nil {
			netnsSupport = fmt.Errorf("%s: %w", errNoNetnsMsg, err)
		}
	})
	return netnsSupport
}

// ip runs iproute2's ip with args.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewSilentLink makes a path to target (host:port on this namespace's
// loopback) through two new namespaces.
func NewSilentLink(target string) (*SilentLink, error) {
	if err := NetnsSupport(); err != nil {
		return nil, err
	}
	n := silentSeq.Add(1)
	id := fmt.Sprintf("%d-%d", os.Getpid(), n)
	short := fmt.Sprintf("%x%x", os.Getpid()&0xffff, n&0xff) // interface names: at most 15 bytes
	sub := fmt.Sprintf("10.%d.%d", 200+(os.Getpid()>>8)%50, (int(n)*4+os.Getpid())%250)
	l := &SilentLink{
		nsC: "cg-" + id + "-c", nsR: "cg-" + id + "-r",
		ifC: "cgc" + short, ifR: "cgr" + short,
		ipC: sub + ".2", ipR: sub + ".1",
		macC: fmt.Sprintf("02:00:00:%02x:%02x:02", (os.Getpid()>>8)&0xff, n&0xff),
		macR: fmt.Sprintf("02:00:00:%02x:%02x:01", (os.Getpid()>>8)&0xff, n&0xff),
	}
	if err := l.setUp(); err != nil {
		l.Close()
		return nil, err
	}
	ln, err := inNetns(l.nsR, func() (net.Listener, error) { return net.Listen("tcp", l.ipR+":0") })
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("testenv: silent link to %s: listening: %w", target, err)
	}
	l.relay = proxyOn(ln, target)
	return l, nil
}

// setUp makes the namespaces and the veth pair, with static neighbour
// entries (no ARP: Blackhole and Heal replace them).
func (l *SilentLink) setUp() error {
	steps := [][]string{
		{"netns", "add", l.nsC},
		{"netns", "add", l.nsR},
		{"link", "add", l.ifC, "address", l.macC, "netns", l.nsC, "type", "veth", "peer", "name", l.ifR, "address", l.macR, "netns", l.nsR},
		{"-n", l.nsC, "addr", "add", l.ipC + "/30", "dev", l.ifC},
		{"-n", l.nsR, "addr", "add", l.ipR + "/30", "dev", l.ifR},
		{"-n", l.nsC, "link", "set", l.ifC, "up"},
		{"-n", l.nsR, "link", "set", l.ifR, "up"},
		{"-n", l.nsC, "link", "set", "lo", "up"},
		{"-n", l.nsR, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return fmt.Errorf("testenv: silent link: %w", err)
		}
	}
	return l.neighbours(l.macR, l.macC)
}

// neighbours sets the link-layer address each side sends to.
func (l *SilentLink) neighbours(toR, toC string) error {
	if err := ip("-n", l.nsC, "neigh", "replace", l.ipR, "dev", l.ifC, "lladdr", toR, "nud", "permanent"); err != nil {
		return err
	}
	return ip("-n", l.nsR, "neigh", "replace", l.ipC, "dev", l.ifR, "lladdr", toC, "nud", "permanent")
}

// Addr is the relay's address, as the client side dials it.
func (l *SilentLink) Addr() string { return l.relay.Addr() }

// Dial connects to the relay from the client's namespace (addr is
// ignored: the link leads to its one target).
func (l *SilentLink) Dial(ctx context.Context, network, _ string) (net.Conn, error) {
	return inNetns(l.nsC, func() (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, l.relay.Addr())
	})
}

// Blackhole drops every packet of the link, both ways, from now on.
func (l *SilentLink) Blackhole() error {
	return l.neighbours("02:00:00:00:00:0b", "02:00:00:00:00:0a")
}

// Heal lets packets through again.
func (l *SilentLink) Heal() error { return l.neighbours(l.macR, l.macC) }

// Close stops the relay and removes the namespaces.
func (l *SilentLink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	if l.relay != nil {
		errs = append(errs, l.relay.Close())
	}
	for _, ns := range []string{l.nsC, l.nsR} {
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			errs = append(errs, ip("netns", "del", ns))
		}
	}
	return errors.Join(errs...)
}

// inNetns runs f on a thread moved into namespace ns: the sockets f makes
// belong to ns for their life. The thread moves back after; if it cannot,
// it is left locked and ends with the goroutine.
func inNetns[T any](ns string, f func() (T, error)) (T, error) {
	var zero T
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{zero, err}
			return
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{zero, err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{zero, fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		v, err := f()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}
