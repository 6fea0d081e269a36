package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ZooKeeper is one ZooKeeper server process: standalone from
// StartZooKeeper, or a member of an Ensemble. Its client port and data dir
// stay the same across Stop, Kill and Restart. Its methods are safe for
// concurrent use.
type ZooKeeper struct {
	cfg     config
	cfgPath string
	addr    string // 127.0.0.1:clientPort
	// ready reports whether mntr's zk_server_state means the server
	// serves clients: standalone, or leader/follower in an ensemble.
	ready func(state string) bool

	server // label: prefix of log lines and errors, "zookeeper 127.0.0.1:port"
}

// StartZooKeeper starts a standalone server on a free 127.0.0.1 port with
// a fresh temporary data dir, and returns once it serves requests. Close it
// to stop it and remove its data.
func StartZooKeeper(opts ...Option) (*ZooKeeper, error) {
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	j, err := findJars(cfg.jars)
	if err != nil {
		return nil, err
	}
	cfg.server = j
	return onFreshPorts(func() (*ZooKeeper, error) { return startStandalone(cfg) })
}

// startStandalone makes one attempt of StartZooKeeper.
func startStandalone(cfg config) (*ZooKeeper, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	z, err := newZooKeeper(cfg, port, 0, nil)
	if err != nil {
		return nil, err
	}
	z.ready = func(state string) bool { return state == stateStandalone }
	if err := z.Restart(); err != nil {
		return nil, errors.Join(err, z.Close())
	}
	return z, nil
}

// newZooKeeper creates the server's directory, zoo.cfg and, for an
// ensemble member (myid > 0), its myid file. It starts nothing.
func newZooKeeper(cfg config, clientPort, myid int, quorum []string) (*ZooKeeper, error) {
	dir, err := os.MkdirTemp("", "consumergroup-zookeeper-")
	if err != nil {
		return nil, fmt.Errorf("testenv: creating the ZooKeeper directory: %w", err)
	}
	z := &ZooKeeper{
		cfg:     cfg,
		cfgPath: filepath.Join(dir, "zoo.cfg"),
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort)),
	}
	z.dir, z.label = dir, "zookeeper "+z.addr
	if err := z.writeConfig(clientPort, myid, quorum); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return z, nil
}

// writeConfig writes zoo.cfg (and myid) as running-zookeeper.md describes.
func (z *ZooKeeper) writeConfig(clientPort, myid int, quorum []string) error {
	dataDir := filepath.Join(z.dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return fmt.Errorf("testenv: creating the ZooKeeper data dir: %w", err)
	}
	tick := z.cfg.tickTime.Milliseconds()
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\n", tick)
	fmt.Fprintf(&b, "dataDir=%s\n", dataDir)
	fmt.Fprintf(&b, "clientPort=%d\n", clientPort)
	b.WriteString("clientPortAddress=127.0.0.1\n")
	b.WriteString("admin.enableServer=false\n")
	fmt.Fprintf(&b, "minSessionTimeout=%d\n", 2*tick)
	b.WriteString("maxSessionTimeout=60000\n")
	b.WriteString("4lw.commands.whitelist=*\n")
	if z.cfg.unlimitedClients {
		b.WriteString("maxClientCnxns=0\n")
	}
	// No fsync of the transaction log: these machines' disks take tens of
	// milliseconds per fsync, which would make every write (and the pings
	// queued behind writes) that slow. A killed server still loses nothing
	// (the page cache outlives the process); only a machine crash would.
	b.WriteString("forceSync=no\n")
	if len(quorum) > 0 {
		// Followers must connect and sync within initLimit ticks and stay
		// within syncLimit ticks of the leader.
		b.WriteString("initLimit=10\n")
		b.WriteString("syncLimit=5\n")
		b.WriteString("reconfigEnabled=false\n")
		for _, line := range quorum {
			b.WriteString(line + "\n")
		}
		myidPath := filepath.Join(dataDir, "myid")
		if err := os.WriteFile(myidPath, []byte(strconv.Itoa(myid)+"\n"), 0o600); err != nil {
			return fmt.Errorf("testenv: writing %s: %w", myidPath, err)
		}
	}
	if err := os.WriteFile(z.cfgPath, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("testenv: writing %s: %w", z.cfgPath, err)
	}
	return nil
}

// Source says where the server's jars come from: "Debian's package",
// "ZooKeeper 3.8.4 from Maven Central" or "the jars in <dir>".
func (z *ZooKeeper) Source() string { return z.cfg.server.source }

// Addr returns the client address, "127.0.0.1:port".
func (z *ZooKeeper) Addr() string { return z.addr }

// TickTime returns the server's tickTime.
func (z *ZooKeeper) TickTime() time.Duration {
	return time.Duration(z.cfg.tickTime.Milliseconds()) * time.Millisecond
}

// Running reports whether the server process is alive (it may still be
// starting or, in an ensemble, waiting for a quorum).
func (z *ZooKeeper) Running() bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.proc != nil && !z.proc.exited()
}

// Restart starts the server again on the same port with the same data
// (stopping it gracefully first if it runs) and returns once it serves
// requests; an ensemble member serves once it has joined a quorum.
func (z *ZooKeeper) Restart() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return errorf("%s: restart after Close", z.label)
	}
	if err := z.stopLocked(); err != nil {
		return err
	}
	if err := z.startLocked(); err != nil {
		return err
	}
	return z.waitReadyLocked(time.Now().Add(z.cfg.startTimeout), z.cfg.startTimeout, readyPollInterval, z.probe)
}

// startLocked starts the java process; z.mu is held.
func (z *ZooKeeper) startLocked() error {
	// slf4j-simple writes to stderr: warnings and errors always, so that
	// a server that fails to start explains itself in our error; its
	// whole INFO log only when asked for, and only then to our stderr.
	level := "warn"
	var out io.Writer // nil: the output only feeds error messages
	if z.cfg.serverLog {
		level = "info"
		out = &prefixWriter{w: os.Stderr, prefix: z.label + ": "}
	}
	args := []string{
		"-Xmx512m",
		"-XX:+UseSerialGC",
		"-XX:-UsePerfData", // no hsperfdata files left in /tmp
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=" + level,
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
		// Peers on loopback answer at once: give up on a silent one
		// quickly, and retry elections at least every second instead of
		// backing off to a minute.
		"-Dzookeeper.cnxTimeout=1000",
		"-Dzookeeper.fastleader.maxNotificationInterval=1000",
		"-cp", z.cfg.server.classPath,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain",
		z.cfgPath,
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = z.dir
	proc, err := startProcess(cmd, out)
	if err != nil {
		return fmt.Errorf("%w (%s)", err, z.label)
	}
	z.proc = proc
	return nil
}

// readyPollInterval is how often a starting server is probed.
const readyPollInterval = 50 * time.Millisecond

// startAttempts is how many times a fresh server or ensemble is started on
// newly drawn ports when another process took one of them.
const startAttempts = 4

// onFreshPorts runs start, which draws its own ports, again while it fails
// because another process bound one of them first, at most startAttempts
// times.
func onFreshPorts[T any](start func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := start()
		if !errors.Is(err, errPortTaken) || attempt == startAttempts {
			return v, err
		}
	}
}

// probe returns nil when the server answers ruok with imok and reports a
// serving state in mntr.
func (z *ZooKeeper) probe() error {
	answer, err := fourLetter(z.addr, "ruok", fourLetterTimeout)
	if err != nil {
		return err
	}
	if answer != "imok" {
		return errorf("ruok to %s answered %q", z.addr, answer)
	}
	m, err := mntr(z.addr, fourLetterTimeout)
	if err != nil {
		return err
	}
	if state := m[mntrState]; !z.ready(state) {
		return errorf("%s is %s", z.label, state)
	}
	return nil
}

// FourLetter sends a four-letter word (ruok, mntr, srvr, stat, cons, ...)
// to the server and returns its answer.
func (z *ZooKeeper) FourLetter(cmd string) (string, error) {
	return fourLetter(z.addr, cmd, fourLetterTimeout)
}

// Mntr returns the server's monitoring counters (the mntr four-letter
// word), such as zk_server_state, zk_znode_count, zk_ephemerals_count,
// zk_watch_count and zk_packets_received. It fails while the server does
// not serve requests.
func (z *ZooKeeper) Mntr() (map[string]string, error) {
	return mntr(z.addr, fourLetterTimeout)
}

// Close stops the server if it runs and removes its data. It is
// idempotent; later calls return nil.
func (z *ZooKeeper) Close() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.closeLocked()
}
