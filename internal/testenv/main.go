package testenv

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// TB is what the package needs of a *testing.T or *testing.B.
type TB interface {
	Helper()
	Fatal(args ...any)
	Name() string
}

// EnvZooKeeper names the environment variable that points tests at an
// existing ZooKeeper: a comma-separated list of host:port addresses.
const EnvZooKeeper = "CONSUMERGROUP_TEST_ZOOKEEPER"

// shared is the package's ZooKeeper, started by the first ZooKeeperAddrs
// and stopped by StopShared after the tests.
var shared struct {
	mu      sync.Mutex // guards the fields below; held while starting
	started bool       // startShared ran (or StopShared ended it: err says so)
	zk      *ZooKeeper // nil when an external ensemble is used or start failed
	addrs   []string
	err     error
}

// StopShared stops the shared ZooKeeper if ZooKeeperAddrs started it; the
// tests' TestMain calls it after the tests, through leakcheck.Main:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m, testenv.StopShared) }
//
// It stops the shared Kafka brokers first (a 3.9 broker shuts down
// through ZooKeeper), then ZooKeeper.
func StopShared() error {
	return errors.Join(stopSharedKafka(), stopSharedZooKeeper())
}

// stopSharedZooKeeper stops the shared ZooKeeper if ZooKeeperAddrs
// started it.
func stopSharedZooKeeper() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		// Nothing may start a server once the tests have ended.
		shared.started = true
		shared.err = errorf("ZooKeeperAddrs called after the tests ended")
	}
	if shared.zk == nil {
		return nil
	}
	err := shared.zk.Close()
	shared.zk = nil
	shared.err = errorf("the shared ZooKeeper is stopped: the tests have ended")
	return err
}

// ZooKeeperAddrs returns the addresses of the ZooKeeper the package's
// tests share. The first call starts a standalone server (stopped by
// Main), unless CONSUMERGROUP_TEST_ZOOKEEPER lists the addresses of one
// to use instead. It fails the test when ZooKeeper is not installed or
// does not start. Isolate tests from each other with Chroot.
func ZooKeeperAddrs(t TB) []string {
	t.Helper()
	addrs, err := SharedAddrs()
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// SharedAddrs is ZooKeeperAddrs for code that has no testing.TB, such as
// examples: it returns the error instead of failing a test.
func SharedAddrs() ([]string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		startShared()
	}
	return append([]string(nil), shared.addrs...), shared.err
}

// startShared starts the shared ZooKeeper or records why it did not;
// shared.mu is held.
func startShared() {
	if env := os.Getenv(EnvZooKeeper); env != "" {
		for addr := range strings.SplitSeq(env, ",") {
			if addr = strings.TrimSpace(addr); addr != "" {
				shared.addrs = append(shared.addrs, addr)
			}
		}
		if len(shared.addrs) == 0 {
			shared.err = errorf("%s=%q lists no address", EnvZooKeeper, env)
		}
		return
	}
	if err := Installed(); err != nil {
		shared.err = err
		return
	}
	z, err := StartZooKeeper()
	if err != nil {
		shared.err = fmt.Errorf("testenv: starting the shared ZooKeeper: %w", err)
		return
	}
	shared.zk = z
	shared.addrs = []string{z.Addr()}
}

// SharedZooKeeper returns the server ZooKeeperAddrs started, to read its
// counters with Mntr. It returns nil before the first ZooKeeperAddrs and
// when CONSUMERGROUP_TEST_ZOOKEEPER names an external ensemble.
func SharedZooKeeper() *ZooKeeper {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return shared.zk
}

var chrootSeq atomic.Int64

// notZnodeChar matches what Chroot replaces in test names: everything but
// letters, digits, '.', '_' and '-', which are legal in any znode name.
var notZnodeChar = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Chroot returns a ZooKeeper path unique to the test in this process,
// "/t/<test name>-<n>": no trailing slash, and only characters legal in a
// znode path. Nothing is created.
func Chroot(t TB) string {
	name := notZnodeChar.ReplaceAllString(t.Name(), "_")
	return fmt.Sprintf("/t/%s-%d", name, chrootSeq.Add(1))
}

// sharedKafka holds the package's real clusters, started at first use by
// SharedCluster and stopped by Main.
var sharedKafka struct {
	mu       sync.Mutex // guards the fields below; held while starting
	ended    bool       // Main stopped them: nothing may start again
	clusters map[Kind]Cluster
	errs     map[Kind]error
}

// Chroot39 is where the shared Kafka 3.9 broker registers in the shared
// ZooKeeper: tests on it keep their groups under this chroot, with names
// of their own.
const Chroot39 = "/kafka-3.9"

// SharedCluster returns the package's shared real cluster of kind,
// starting it at first use (Main stops it): a KindKafka39 broker
// registered in the shared ZooKeeper under Chroot39, a KindKafka4 KRaft
// node, or, for KindExternal, the cluster CONSUMERGROUP_TEST_KAFKA names.
// The error wraps ErrKafkaNotInstalled when the kind's jars are missing:
// skip the test with it. Tests on a shared cluster must use topic and
// group names of their own.
func SharedCluster(kind Kind) (Cluster, error) {
	sharedKafka.mu.Lock()
	defer sharedKafka.mu.Unlock()
	if sharedKafka.ended {
		return nil, errorf("SharedCluster(%s) called after the tests ended", kind)
	}
	if c, ok := sharedKafka.clusters[kind]; ok {
		return c, nil
	}
	if err, ok := sharedKafka.errs[kind]; ok {
		return nil, err
	}
	c, err := startSharedCluster(kind)
	if err != nil {
		if sharedKafka.errs == nil {
			sharedKafka.errs = make(map[Kind]error)
		}
		sharedKafka.errs[kind] = err
		return nil, err
	}
	if sharedKafka.clusters == nil {
		sharedKafka.clusters = make(map[Kind]Cluster)
	}
	sharedKafka.clusters[kind] = c
	return c, nil
}

// startSharedCluster starts (or dials) the shared cluster of kind.
func startSharedCluster(kind Kind) (Cluster, error) {
	switch kind {
	case KindExternal:
		addrs := externalAddrs()
		if len(addrs) == 0 {
			return nil, errorf("%s is not set", EnvKafka)
		}
		return DialExternal(addrs)
	case KindKafka39:
		if _, _, err := ApacheInstalled(kind); err != nil {
			return nil, err
		}
		shared.mu.Lock()
		if !shared.started {
			shared.started = true
			startShared()
		}
		zk, err := append([]string(nil), shared.addrs...), shared.err
		shared.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return StartApache(kind, zk, Chroot39)
	case KindKafka4:
		return StartApache(kind, nil, "")
	}
	return nil, errorf("no shared cluster of kind %q (want %s, %s or %s)", kind, KindKafka39, KindKafka4, KindExternal)
}

// stopSharedKafka stops the clusters SharedCluster started.
func stopSharedKafka() error {
	sharedKafka.mu.Lock()
	defer sharedKafka.mu.Unlock()
	sharedKafka.ended = true
	var errs []error
	for _, c := range sharedKafka.clusters {
		if cl, ok := c.(interface{ Close() error }); ok {
			errs = append(errs, cl.Close())
		}
	}
	sharedKafka.clusters = nil
	return errors.Join(errs...)
}
