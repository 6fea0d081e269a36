package consumergroup_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// The coordinator dimension of the behaviour suites: each suite is written
// once and runs over coordinator × broker.
const (
	coordZK       = "zookeeper"
	coordClassic  = "kafka-classic"  // Kafka's coordinator, classic protocol
	coordConsumer = "kafka-consumer" // Kafka's coordinator, KIP-848
)

// setup is one cell of the matrix.
type setup struct {
	coord string
	kind  testenv.Kind
	mode  string // how the members' loops take messages (see deliveryModes); "" is modeStream
}

func (s setup) name() string {
	n := s.coord + "/" + string(s.kind)
	if s.mode != "" && s.mode != modeStream {
		n += "/" + s.mode
	}
	return n
}

// The delivery-mode dimension: how the members' loops take messages.
const (
	modeStream = "stream" // for ev := range Stream(): the seed's rule
	modeDone   = "done"   // Stream, and MarkDone once each message is handled
	modePull   = "pull"   // Next in a loop
)

// withModes returns setups, each in every delivery mode of modes.
func withModes(setups []setup, modes ...string) []setup {
	var out []setup
	for _, s := range setups {
		for _, m := range modes {
			s.mode = m
			out = append(out, s)
		}
	}
	return out
}

// fullMatrix is every coordinator on every broker it runs on: ZooKeeper on
// kfake, Kafka 3.9 and Kafka 4; Kafka's coordinator on kfake and Kafka 4
// (KIP-848 needs 4.x; classic on 3.9 adds nothing the 4.x broker's classic
// coordinator does not cover, and costs a minute per suite; two suites
// add it: withClassic39).
func fullMatrix() []setup {
	var out []setup
	for _, k := range testenv.KafkaKinds() {
		out = append(out, setup{coord: coordZK, kind: k})
	}
	for _, co := range []string{coordClassic, coordConsumer} {
		for _, k := range testenv.KafkaKinds() {
			if k != testenv.KindKafka39 {
				out = append(out, setup{coord: co, kind: k})
			}
		}
	}
	return out
}

// withClassic39 is setups plus Kafka's coordinator, classic protocol, on
// Kafka 3.9 (when the run has that broker): for the suites of the
// protocol's basics and of graceful hand-offs. The other suites leave it
// out: Kafka 4's classic coordinator covers the same protocol, and each
// cell costs a broker's time.
func withClassic39(setups []setup) []setup {
	out := slices.Clone(setups)
	if slices.Contains(testenv.KafkaKinds(), testenv.KindKafka39) {
		out = append(out, setup{coord: coordClassic, kind: testenv.KindKafka39})
	}
	return out
}

// kfakeMatrix is every coordinator on kfake: for the many small suites.
func kfakeMatrix() []setup {
	return []setup{{coord: coordZK, kind: testenv.KindKfake}, {coord: coordClassic, kind: testenv.KindKfake}, {coord: coordConsumer, kind: testenv.KindKfake}}
}

// smallMatrix is ZooKeeper on every broker (as before the coordinator
// dimension) and Kafka's coordinator, both protocols, on kfake: for the
// small suites.
func smallMatrix() []setup {
	var out []setup
	for _, k := range testenv.KafkaKinds() {
		out = append(out, setup{coord: coordZK, kind: k})
	}
	return append(out, setup{coord: coordClassic, kind: testenv.KindKfake}, setup{coord: coordConsumer, kind: testenv.KindKfake})
}

// kafkaMatrix is Kafka's coordinator, both protocols, on kfake and Kafka 4.
func kafkaMatrix() []setup {
	var out []setup
	for _, s := range fullMatrix() {
		if s.coord != coordZK {
			out = append(out, s)
		}
	}
	return out
}

// forEachSetup runs scenario as a subtest for each setup.
func forEachSetup(t *testing.T, setups []setup, scenario func(t *testing.T, s setup)) {
	for _, s := range setups {
		t.Run(s.name(), func(t *testing.T) { scenario(t, s) })
	}
}

// startClusterSetup is startClusterKind with the members joining through
// the setup's coordinator.
func startClusterSetup(t *testing.T, s setup, topics map[string]int32) *cluster {
	t.Helper()
	c := startClusterKind(t, s.kind, topics)
	c.coord = s.coord
	c.mode = s.mode
	return c
}

// kafkaCoord reports whether the members use Kafka's coordinator.
func (c *cluster) kafkaCoord() bool { return c.coord == coordClassic || c.coord == coordConsumer }

// kafkaSession is the Kafka coordinator's session timeout in the tests:
// the brokers' group.consumer.session.timeout.ms (testenv), and classic's.
const kafkaSession = 3 * time.Second

// kafkaConfig adapts cfg to Kafka's coordinator.
func (c *cluster) kafkaConfig(cfg *cg.ConsumerGroupConfig, m *testMember) *cg.ConsumerGroupConfig {
	k := *cfg
	k.GroupProtocol = cg.GroupProtocolClassic
	if c.coord == coordConsumer {
		k.GroupProtocol = cg.GroupProtocolConsumer
	}
	k.SessionTimeout = kafkaSession
	k.Notifications = m.events
	k.KafkaOptions = append(slices.Clone(k.KafkaOptions),
		kgo.Dialer(m.cutter.DialContext),
		kgo.HeartbeatInterval(250*time.Millisecond),
		kgo.FetchMaxWait(50*time.Millisecond),
		kgo.MetadataMinAge(50*time.Millisecond))
	k.KafkaOptions = append(k.KafkaOptions, c.clientOpts...)
	return &k
}

// joinKafka is join on Kafka's coordinator.
func (c *cluster) joinKafka(m *testMember, group string, topics []string, cfg *cg.ConsumerGroupConfig) {
	c.t.Helper()
	m.cutter = newCutter()
	g, err := cg.JoinKafkaConsumerGroup(testCtx(c.t), group, topics, c.kafka.Addrs(), c.kafkaConfig(cfg, m))
	if err != nil {
		c.t.Fatal(err)
	}
	m.group = g
	c.t.Cleanup(func() { g.Close() })
}

// committed returns the group's committed offsets, from the coordinator's
// store.
func (c *cluster) committed(group string) map[string]map[int32]int64 {
	c.t.Helper()
	if !c.kafkaCoord() {
		z := dialZK(c.t, c.chroot, func(cfg *cg.ZKConfig) { cfg.Servers = c.servers })
		offsets, err := z.Offsets(testCtx(c.t), group)
		if err != nil {
			c.t.Fatal(err)
		}
		return offsets
	}
	out, err := testenv.CommittedOffsets(testCtx(c.t), c.admin(), group)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// admin returns an admin client of the cluster, closed with the test.
func (c *cluster) admin() *kadm.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// kafkaMembers returns the member ids Kafka's coordinator lists in group.
func (c *cluster) kafkaMembers(adm *kadm.Client, group string) []string {
	c.t.Helper()
	ctx := testCtx(c.t)
	var ids []string
	if c.coord == coordConsumer {
		d, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, g := range d {
			for _, m := range g.Members {
				ids = append(ids, m.MemberID)
			}
		}
		return ids
	}
	d, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, g := range d {
		for _, m := range g.Members {
			ids = append(ids, m.MemberID)
		}
	}
	return ids
}

// waitKafkaGone waits until Kafka's coordinator no longer lists member id.
func (c *cluster) waitKafkaGone(id string) {
	c.t.Helper()
	adm := c.admin()
	deadline := time.Now().Add(testTimeout)
	for slices.Contains(c.kafkaMembers(adm, c.lastGroup), id) {
		if time.Now().After(deadline) {
			c.t.Fatalf("member %s still in group %s after %v", id, c.lastGroup, testTimeout)
		}
		time.Sleep(50 * time.Millisecond) // polling the coordinator's state
	}
}

// waitHeld waits until m holds n partitions.
func waitHeld(t *testing.T, m *testMember, n int) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for len(m.group.ClaimedPartitions()) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %v, want %d partitions", m.name, m.group.ClaimedPartitions(), n)
		}
		time.Sleep(10 * time.Millisecond) // polling the member's state
	}
}

// cutter makes the connections of a member's Kafka client and cuts them
// all at once (a crash, as Kafka's coordinator sees it: only the session
// timeout ends the member); Restore lets it dial again.
type cutter struct {
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func newCutter() *cutter { return &cutter{conns: map[net.Conn]bool{}} }

var errCut = errors.New("test: connection cut")

func (c *cutter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	cut := c.cut
	c.mu.Unlock()
	if cut {
		return nil, errCut
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		conn.Close()
		return nil, errCut
	}
	c.conns[conn] = true
	return conn, nil
}

// Cut closes every connection and refuses new ones until Restore.
func (c *cutter) Cut() {
	c.mu.Lock()
	c.cut = true
	conns := c.conns
	c.conns = map[net.Conn]bool{}
	c.mu.Unlock()
	for conn := range conns {
		conn.Close()
	}
}

// Restore lets the member dial again.
func (c *cutter) Restore() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = false
}

// checkCleanKafka is checkClean on Kafka's coordinator: no member left in
// the group, and every partition committed right after its last processed
// message.
func checkCleanKafka(t *testing.T, c *cluster, group string, l *ledger, announced map[location]string) {
	t.Helper()
	adm := c.admin()
	if ids := c.kafkaMembers(adm, group); len(ids) != 0 {
		t.Fatalf("members left in group %s after Close: %v", group, ids)
	}
	offsets := c.committed(group)
	l.mu.Lock()
	defer l.mu.Unlock()
	for tp, last := range l.last {
		got := offsets[tp.Topic][tp.Partition]
		if _, pending := announced[location{tp, last}]; pending && got == last {
			continue
		}
		if got != last+1 {
			t.Errorf("committed offset of %s/%d is %d, want the last processed %d plus one", tp.Topic, tp.Partition, got, last)
		}
	}
}

// checkNoOverlap fails t if a partition was processed by two members at
// once.
func checkNoOverlap(t *testing.T, l *ledger) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.overlaps) > 0 {
		t.Errorf("partitions processed by two members at once: %v", l.overlaps)
	}
}
