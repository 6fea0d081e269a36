package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kind names a kind of Kafka cluster the tests, the demo and the
// benchmarks run against.
type Kind string

// The kinds of Kafka cluster.
const (
	// KindKfake is franz-go's in-process fake broker (StartKafka),
	// registered in ZooKeeper by this package.
	KindKfake Kind = "kfake"
	// KindKafka39 is Apache Kafka 3.9 in ZooKeeper mode: it registers
	// itself under /brokers in ZooKeeper, as production ZooKeeper-era
	// clusters do.
	KindKafka39 Kind = "kafka-3.9"
	// KindKafka4 is Apache Kafka 4.x, one KRaft node (broker and
	// controller): nothing in ZooKeeper.
	KindKafka4 Kind = "kafka-4"
	// KindKafka28 and KindKafka36 are older Apache Kafka lines in
	// ZooKeeper mode, registering themselves as KindKafka39 does: `make
	// compat` runs the ZooKeeper coordinator's smoke scenario on them.
	KindKafka28 Kind = "kafka-2.8"
	KindKafka36 Kind = "kafka-3.6"
	// KindExternal is the cluster that CONSUMERGROUP_TEST_KAFKA names:
	// treated as a cluster without ZooKeeper registration.
	KindExternal Kind = "external"
)

// ApacheKinds are the kinds of real Apache Kafka broker the behaviour
// suites run on. StartApache also runs OlderKinds.
var ApacheKinds = []Kind{KindKafka39, KindKafka4}

// OlderKinds are the older ZooKeeper-mode lines `make compat` runs on.
var OlderKinds = []Kind{KindKafka28, KindKafka36}

// ZooKeeperMode reports whether brokers of the kind are Apache Kafka in
// ZooKeeper mode, registering themselves in ZooKeeper.
func (k Kind) ZooKeeperMode() bool {
	return k == KindKafka39 || k == KindKafka36 || k == KindKafka28
}

// Environment variables of the real brokers.
const (
	// EnvKafka points the tests at an existing cluster (host:port[,...])
	// instead of the brokers this package starts.
	EnvKafka = "CONSUMERGROUP_TEST_KAFKA"
	// EnvKafkaCache overrides where scripts/ensure-kafka.sh puts the jars.
	EnvKafkaCache = "CONSUMERGROUP_KAFKA_CACHE"
	// envKafkaLog, set to 1, makes the brokers print their log to stderr.
	envKafkaLog = "CONSUMERGROUP_KAFKA_LOG"
)

// Settings of the real brokers.
const (
	// apacheStartTimeout bounds a broker's start: a JVM, storage
	// recovery and, on 2 busy cores, a slow first metadata answer.
	apacheStartTimeout = 90 * time.Second
	// apacheZKSession is a 3.9 broker's ZooKeeper session timeout: after
	// a kill, its registration lingers this long.
	apacheZKSession = 3 * time.Second
	// apacheReadyPoll is how often a starting broker is asked for metadata.
	apacheReadyPoll = 200 * time.Millisecond
)

// ErrKafkaNotInstalled is returned (wrapped, saying which) when a real
// broker's jars are not in the cache.
var ErrKafkaNotInstalled = errors.New("apache Kafka is not installed")

// KafkaCache returns the directory scripts/ensure-kafka.sh fills: one
// directory per kind, with lib/ and VERSION, or UNAVAILABLE saying why not.
func KafkaCache() string {
	if d := os.Getenv(EnvKafkaCache); d != "" {
		return d
	}
	return filepath.Join(cacheRoot(), "kafka")
}

// cacheRoot is where the scripts cache what they fetch from Maven Central:
// $XDG_CACHE_HOME/consumergroup, else ~/.cache/consumergroup.
func cacheRoot() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "consumergroup")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "consumergroup")
}

// ApacheInstalled returns the version of the kind's jars in the cache and
// their lib directory, or an error wrapping ErrKafkaNotInstalled that says
// why they are missing (what scripts/ensure-kafka.sh reported) and what
// to run.
func ApacheInstalled(kind Kind) (version, lib string, err error) {
	if !kind.ZooKeeperMode() && kind != KindKafka4 {
		return "", "", errorf("%q is not a kind of Apache Kafka broker (want %s, %s, %s or %s)", kind, KindKafka39, KindKafka4, KindKafka36, KindKafka28)
	}
	dir := filepath.Join(KafkaCache(), string(kind))
	if why, err := os.ReadFile(filepath.Join(dir, "UNAVAILABLE")); err == nil {
		return "", "", fmt.Errorf("%w: %s", ErrKafkaNotInstalled, strings.TrimSpace(string(why)))
	}
	v, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		return "", "", fmt.Errorf("%w: no %s jars in %s: run scripts/ensure-kafka.sh (make test runs it)", ErrKafkaNotInstalled, kind, dir)
	}
	lib = filepath.Join(dir, "lib")
	if _, err := os.Stat(lib); err != nil {
		return "", "", fmt.Errorf("%w: %s: %v: run scripts/ensure-kafka.sh again", ErrKafkaNotInstalled, kind, err)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return "", "", fmt.Errorf("%w: no java on PATH (Kafka needs Java 17 or newer)", ErrKafkaNotInstalled)
	}
	return strings.TrimSpace(string(v)), lib, nil
}

// Apache is one real Apache Kafka broker process: a 3.9 broker in
// ZooKeeper mode or a 4.x KRaft node. Its ports and data stay the same
// across Stop, Kill and Restart. Its methods are safe for concurrent use.
type Apache struct {
	kind      Kind
	version   string
	lib       string
	props     string
	addr      string    // the PLAINTEXT listener, 127.0.0.1:port
	zkServers []string  // 3.9 only
	chroot    string    // 3.9 only: where it registers in ZooKeeper
	logOut    io.Writer // the broker's log, or nil

	topicAdmin
	client *kgo.Client // admin requests

	server // label: the same as topicAdmin's name
}

// StartApache starts a real broker of kind on free 127.0.0.1 ports with a
// fresh temporary data dir, and returns once it answers requests. A
// KindKafka39 broker registers in the ZooKeeper at zkServers under chroot
// ("" or "/path"); a KindKafka4 node takes neither. Close it to stop it and
// remove its data.
func StartApache(kind Kind, zkServers []string, chroot string) (*Apache, error) {
	version, lib, err := ApacheInstalled(kind)
	if err != nil {
		return nil, err
	}
	if err := validChroot(chroot); err != nil {
		return nil, err
	}
	if kind.ZooKeeperMode() && len(zkServers) == 0 {
		return nil, errorf("a Kafka broker in ZooKeeper mode (%s) needs ZooKeeper servers", kind)
	}
	if kind == KindKafka4 && (len(zkServers) > 0 || chroot != "") {
		return nil, errorf("a Kafka 4 (KRaft) node takes no ZooKeeper")
	}
	return onFreshPorts(func() (*Apache, error) { return startApache(kind, version, lib, zkServers, chroot) })
}

// startApache makes one attempt of StartApache.
func startApache(kind Kind, version, lib string, zkServers []string, chroot string) (*Apache, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "consumergroup-kafka-")
	if err != nil {
		return nil, fmt.Errorf("testenv: creating the Kafka directory: %w", err)
	}
	a := &Apache{
		kind: kind, version: version, lib: lib,
		props:     filepath.Join(dir, "server.properties"),
		addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		zkServers: zkServers, chroot: chroot,
	}
	a.name = fmt.Sprintf("kafka %s %s", version, a.addr)
	a.dir, a.label = dir, a.name
	if os.Getenv(envKafkaLog) == "1" {
		a.logOut = &prefixWriter{w: os.Stderr, prefix: a.name + ": "}
	}
	fail := func(err error) (*Apache, error) { return nil, errors.Join(err, a.Close()) }
	if err := a.writeConfig(ports[1]); err != nil {
		return fail(err)
	}
	if kind == KindKafka4 {
		if err := a.format(); err != nil {
			return fail(err)
		}
	}
	if a.client, err = kgo.NewClient(kgo.SeedBrokers(a.addr), kgo.MetadataMinAge(50*time.Millisecond)); err != nil {
		return fail(fmt.Errorf("testenv: creating the Kafka admin client: %w", err))
	}
	a.admin = kadm.NewClient(a.client)
	if err := a.Restart(); err != nil {
		return fail(err)
	}
	return a, nil
}

// writeConfig writes server.properties: one node, replication factor 1,
// one __consumer_offsets partition, no initial rebalance delay, short
// group sessions for both group protocols.
func (a *Apache) writeConfig(controllerPort int) error {
	data := filepath.Join(a.dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return fmt.Errorf("testenv: creating the Kafka data dir: %w", err)
	}
	lines := []string{
		"log.dirs=" + data,
		"advertised.listeners=PLAINTEXT://" + a.addr,
		"offsets.topic.replication.factor=1",
		"offsets.topic.num.partitions=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"min.insync.replicas=1",
		"default.replication.factor=1",
		"num.partitions=1",
		"auto.create.topics.enable=false",
		"group.initial.rebalance.delay.ms=0",
		"group.min.session.timeout.ms=500",
		"num.network.threads=2",
		"num.io.threads=2",
		"num.recovery.threads.per.data.dir=1",
		"log.cleaner.enable=false",
		"delete.topic.enable=true",
	}
	switch {
	case a.kind.ZooKeeperMode():
		zkConnect := strings.Join(a.zkServers, ",") + a.chroot
		lines = append(lines,
			"broker.id=0",
			"zookeeper.connect="+zkConnect,
			fmt.Sprintf("zookeeper.session.timeout.ms=%d", apacheZKSession.Milliseconds()),
			"listeners=PLAINTEXT://"+a.addr,
		)
	case a.kind == KindKafka4:
		caddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(controllerPort))
		lines = append(lines,
			"process.roles=broker,controller",
			"node.id=1",
			"controller.quorum.voters=1@"+caddr,
			"listeners=PLAINTEXT://"+a.addr+",CONTROLLER://"+caddr,
			"controller.listener.names=CONTROLLER",
			"inter.broker.listener.name=PLAINTEXT",
			"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"share.coordinator.state.topic.replication.factor=1",
			"share.coordinator.state.topic.min.isr=1",
			// A node restarted after a kill registers again at once
			// instead of waiting out its old registration (default 9 s).
			"broker.heartbeat.interval.ms=200",
			"broker.session.timeout.ms=1500",
			// KIP-848 groups: sessions and heartbeats short enough for tests.
			"group.consumer.min.session.timeout.ms=500",
			"group.consumer.session.timeout.ms=3000",
			"group.consumer.min.heartbeat.interval.ms=100",
			"group.consumer.heartbeat.interval.ms=250",
			// Kafka 4.4 computes a KIP-848 group's new assignment at
			// most every group.consumer.assignment.interval.ms (1 s by
			// default): a join or leave waited up to a second for it,
			// then a heartbeat. 0: at once.
			"group.consumer.assignment.interval.ms=0",
			// Share groups (the format enables share.version): record
			// locks and delivery-count limits short enough for tests
			// (the group configs share.record.lock.duration.ms and
			// share.delivery.count.limit must lie within these), and
			// heartbeats and sessions as short as KIP-848's.
			"group.share.min.record.lock.duration.ms=1000",
			"group.share.min.delivery.count.limit=2",
			"group.share.min.session.timeout.ms=500",
			"group.share.session.timeout.ms=3000",
			"group.share.min.heartbeat.interval.ms=100",
			"group.share.heartbeat.interval.ms=250",
			"group.share.assignment.interval.ms=0",
		)
	}
	body := strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(a.props, []byte(body), 0o600); err != nil {
		return fmt.Errorf("testenv: writing %s: %w", a.props, err)
	}
	return nil
}

// jvmArgs are the java options of every broker command: a small heap, one
// GC thread, quick start-up, logging at warn unless asked for.
func (a *Apache) jvmArgs(mainClass string, args ...string) []string {
	level := "warn"
	if a.logOut != nil {
		level = "info"
	}
	out := []string{
		"-Xms128m", "-Xmx512m",
		"-XX:+UseSerialGC",
		"-XX:TieredStopAtLevel=1", // C1 only: a faster start, fast enough for tests
		"-XX:-UsePerfData",
		"-Djava.awt.headless=true",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=" + level,
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
		"-Dlog4j2.level=" + level,
		"-cp", filepath.Join(a.lib, "*"),
		mainClass,
	}
	return append(out, args...)
}

// format prepares a KRaft node's storage with a random cluster id, share
// groups enabled.
func (a *Apache) format() error {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return fmt.Errorf("testenv: drawing a cluster id: %w", err)
	}
	clusterID := base64.RawURLEncoding.EncodeToString(id)
	// share.version=2: share groups (KIP-932) and their dead-letter
	// topics (KIP-1191); a node formatted at the latest release version
	// may not enable them by itself.
	cmd := exec.Command("java", a.jvmArgs("kafka.tools.StorageTool", "format", "--cluster-id="+clusterID, "--config="+a.props, "--feature", "share.version=2")...)
	cmd.Dir = a.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errorf("%s: formatting its storage: %v\n%s", a.name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Kind returns the broker's kind.
func (a *Apache) Kind() Kind { return a.kind }

// Version returns the Apache Kafka version, such as "4.4.0".
func (a *Apache) Version() string { return a.version }

// Addrs returns the broker's address, for seed brokers.
func (a *Apache) Addrs() []string { return []string{a.addr} }

// Admin returns an admin client of the broker, closed by Close.
func (a *Apache) Admin() *kadm.Client { return a.admin }

// Restart starts the broker again on the same ports and data (stopping it
// gracefully first if it runs) and returns once it answers metadata
// requests with itself as a live broker and a controller.
func (a *Apache) Restart() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errorf("%s: restart after Close", a.name)
	}
	if err := a.stopLocked(); err != nil {
		return err
	}
	deadline := time.Now().Add(apacheStartTimeout)
	for {
		cmd := exec.Command("java", a.jvmArgs("kafka.Kafka", a.props)...)
		cmd.Dir = a.dir
		proc, err := startProcess(cmd, a.logOut)
		if err != nil {
			return fmt.Errorf("%w (%s)", err, a.name)
		}
		a.proc = proc
		err = a.waitReadyLocked(deadline, apacheStartTimeout, apacheReadyPoll, a.probe)
		// A 3.9 broker killed a moment ago is still registered under its
		// old ZooKeeper session until that expires: the new one exits at
		// once; start it again once the old registration is gone.
		if err != nil && a.kind.ZooKeeperMode() && a.proc.exited() && time.Now().Before(deadline) &&
			strings.Contains(a.proc.out.lastLines(200), "NodeExists") {
			time.Sleep(apacheZKSession / 4) // polling for the old session's expiry, not synchronizing
			continue
		}
		return err
	}
}

// probe returns nil when the broker answers a metadata request that lists
// a live broker and a controller. It asks the broker itself: the client's
// own metadata answers may come from its cache.
func (a *Apache) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	seeds := a.client.SeedBrokers()
	if len(seeds) == 0 {
		return errorf("%s: the admin client has no seed broker", a.name)
	}
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // brokers only
	resp, err := req.RequestWith(ctx, seeds[0])
	if err != nil {
		return err
	}
	if len(resp.Brokers) == 0 {
		return errorf("%s lists no live broker yet", a.name)
	}
	if resp.ControllerID < 0 {
		return errorf("%s has no controller yet", a.name)
	}
	return nil
}

// Close stops the broker if it runs and removes its data. It is
// idempotent; later calls return nil.
func (a *Apache) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed && a.client != nil {
		a.client.Close()
	}
	return a.closeLocked()
}
