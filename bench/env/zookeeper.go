// Package env starts what the benchmarks run against, all on loopback: a
// ZooKeeper server (Debian's jars), a kfake Kafka cluster registered in it
// the way Kafka brokers register themselves, a TCP proxy and a dialer that
// cut connections on demand.
package env

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// javaDir holds the jars of Debian's zookeeper package.
const javaDir = "/usr/share/java"

var zkJars = []string{
	"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-nop.jar",
	"netty-handler.jar", "netty-common.jar", "netty-buffer.jar", "netty-transport.jar",
	"netty-resolver.jar", "netty-codec.jar", "netty-transport-native-epoll.jar",
	"netty-transport-native-unix-common.jar", "metrics-core.jar",
}

// TickTime is the server's tick: sessions expire on tick boundaries.
const TickTime = 200 * time.Millisecond

// ZooKeeper is one standalone server process, in its own process group.
type ZooKeeper struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process is reaped
}

// StartZooKeeper starts a standalone server on a free 127.0.0.1 port with a
// temporary data dir (forceSync=no, tickTime=200, minSessionTimeout=400) and
// returns once a client gets a session. The process gets SIGKILL if this
// program dies without closing it.
func StartZooKeeper() (*ZooKeeper, error) {
	for _, j := range zkJars {
		if _, err := os.Stat(filepath.Join(javaDir, j)); err != nil {
			return nil, fmt.Errorf("env: ZooKeeper is not installed (missing %s): run scripts/ensure-zookeeper.sh", j)
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "consumergroup-bench-zk-")
	if err != nil {
		return nil, err
	}
	z := &ZooKeeper{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, done: make(chan struct{})}
	cfg := fmt.Sprintf("tickTime=%d\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\nminSessionTimeout=%d\nmaxSessionTimeout=60000\n"+
		"4lw.commands.whitelist=*\nforceSync=no\n",
		TickTime.Milliseconds(), filepath.Join(dir, "data"), port, 2*TickTime.Milliseconds())
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	jars := make([]string, len(zkJars))
	for i, j := range zkJars {
		jars[i] = filepath.Join(javaDir, j)
	}
	z.cmd = exec.Command("java", "-Xmx1g", "-XX:+UseSerialGC", "-XX:-UsePerfData",
		"-cp", strings.Join(jars, ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	z.cmd.Dir = dir
	z.cmd.Stdout, z.cmd.Stderr = io.Discard, io.Discard
	z.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Pdeathsig follows the thread that started the process: start it from
	// a thread that stays locked until the process is reaped.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := z.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = z.cmd.Wait()
		close(z.done)
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("env: starting ZooKeeper: %w", err)
	}
	if err := z.waitReady(20 * time.Second); err != nil {
		return nil, errors.Join(err, z.Close())
	}
	return z, nil
}

// waitReady waits for ruok/imok, then for a client session.
func (z *ZooKeeper) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if ans, err := z.FourLetter("ruok"); err == nil && ans == "imok" {
			break
		}
		select {
		case <-z.done:
			return errors.New("env: ZooKeeper exited while starting")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("env: ZooKeeper %s not answering after %v", z.addr, timeout)
		}
	}
	conn, err := Connect(z.addr, 4*time.Second, time.Until(deadline))
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

// Connect opens a go-zookeeper connection to addr and waits for its
// session.
func Connect(addr string, session, wait time.Duration) (*zk.Conn, error) {
	conn, events, err := zk.Connect([]string{addr}, session, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				// Drain the rest so that go-zookeeper never blocks on it.
				go func() {
					for range events {
					}
				}()
				return conn, nil
			}
		case <-timer.C:
			conn.Close()
			return nil, fmt.Errorf("env: no ZooKeeper session with %s after %v", addr, wait)
		}
	}
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// Addr returns the client address, 127.0.0.1:port.
func (z *ZooKeeper) Addr() string { return z.addr }

// FourLetter sends a four-letter word and returns the answer.
func (z *ZooKeeper) FourLetter(cmd string) (string, error) {
	conn, err := net.DialTimeout("tcp", z.addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return string(b), err
}

// Mntr returns the server's monitoring counters.
func (z *ZooKeeper) Mntr() (map[string]string, error) {
	ans, err := z.FourLetter("mntr")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for line := range strings.Lines(ans) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok {
			m[k] = v
		}
	}
	if _, ok := m["zk_server_state"]; !ok {
		return nil, fmt.Errorf("env: mntr answered %q", ans)
	}
	return m, nil
}

// Close kills the server's process group and removes its data.
func (z *ZooKeeper) Close() error {
	select {
	case <-z.done:
	default:
		_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-z.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("env: ZooKeeper process %d not reaped", z.cmd.Process.Pid)
		}
	}
	return os.RemoveAll(z.dir)
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
