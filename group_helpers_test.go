package consumergroup_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// cluster is the Kafka a test runs against, and the ZooKeeper chroot its
// groups live under: a kfake of the test's own registered under a chroot
// of the test's, or a shared real broker (see startClusterKind).
type cluster struct {
	t        *testing.T
	kind     testenv.Kind
	servers  []string // ZooKeeper
	chroot   string   // the groups' chroot
	kafka    testenv.Cluster
	producer *kgo.Client
	seq      int    // next sequence number to produce
	suffix   string // makes topic and group names unique on a shared cluster; "" on kfake
	// clientOpts are added to the options of the members' clients.
	clientOpts []kgo.Opt
	coord      string // the members' coordinator: coordZK (also "") or Kafka's (see group_coord_test.go)
	mode       string // the members' delivery mode: modeStream (also ""), modeDone or modePull
	lastGroup  string // the group joined last
}

func startCluster(t *testing.T, topics map[string]int32) *cluster {
	t.Helper()
	return startClusterOn(t, testenv.ZooKeeperAddrs(t), topics)
}

// startClusterOn is startCluster on the ZooKeeper at servers.
func startClusterOn(t *testing.T, servers []string, topics map[string]int32) *cluster {
	t.Helper()
	chroot := testenv.Chroot(t)
	kafka, err := testenv.StartKafka(servers, chroot, 1, topics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kafka.Close() })
	return newCluster(t, testenv.KindKfake, servers, chroot, kafka, "")
}

// forEachKind runs scenario as a subtest on every kind of Kafka cluster
// (testenv.KafkaKinds): kfake, Apache Kafka 3.9 in ZooKeeper mode, Apache
// Kafka 4 (KRaft). A kind whose jars are not installed is skipped with the
// reason.
func forEachKind(t *testing.T, scenario func(t *testing.T, kind testenv.Kind)) {
	for _, kind := range testenv.KafkaKinds() {
		t.Run(string(kind), func(t *testing.T) { scenario(t, kind) })
	}
}

var nameSeq atomic.Int64

// startClusterKind returns a cluster of kind with topics (base names: the
// test reaches them through c.topic) created. kfake is the test's own, as
// in startCluster; a real broker is the package's shared one, so topics and
// groups get names of the test's own. A 3.9 broker registers itself in
// ZooKeeper: groups live under its chroot, where the group sees the
// broker's own /brokers writes. A KRaft broker registers nowhere: groups
// live under a chroot of the test's and read partition counts from Kafka.
func startClusterKind(t *testing.T, kind testenv.Kind, topics map[string]int32) *cluster {
	t.Helper()
	servers := testenv.ZooKeeperAddrs(t)
	if kind == testenv.KindKfake {
		return startClusterOn(t, servers, topics)
	}
	kafka, err := testenv.SharedCluster(kind)
	if errors.Is(err, testenv.ErrKafkaNotInstalled) {
		t.Skipf("%s: %v", kind, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	chroot, registered := kafka.Registration()
	if !registered {
		chroot = testenv.Chroot(t)
	}
	suffix := fmt.Sprintf(".%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), nameSeq.Add(1))
	c := newCluster(t, kind, servers, chroot, kafka, suffix)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for base, n := range topics {
		if err := kafka.CreateTopic(ctx, c.topic(base), n); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// newCluster adds the producer.
func newCluster(t *testing.T, kind testenv.Kind, servers []string, chroot string, kafka testenv.Cluster, suffix string) *cluster {
	t.Helper()
	producer, err := kgo.NewClient(kgo.SeedBrokers(kafka.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	return &cluster{t: t, kind: kind, servers: servers, chroot: chroot, kafka: kafka, producer: producer, suffix: suffix}
}

// topic returns the cluster's name for the test's topic base.
func (c *cluster) topic(base string) string { return base + c.suffix }

// group returns the cluster's name for the test's group base.
func (c *cluster) group(base string) string { return base + c.suffix }

// joinAddrs returns the ZooKeeper connect string, chroot last, for
// JoinConsumerGroup; it sets cfg.Brokers when the cluster's brokers are not
// registered in ZooKeeper (KRaft), as users of such clusters must.
func (c *cluster) joinAddrs(cfg *cg.ConsumerGroupConfig) []string {
	if _, ok := c.kafka.Registration(); !ok {
		cfg.Brokers = c.kafka.Addrs()
	}
	return []string{c.servers[0] + c.chroot}
}

// produce writes n sequence-numbered messages spread over partitions
// 0..partitions-1 of topic; the value is the sequence number.
func (c *cluster) produce(topic string, partitions int32, n int) {
	c.t.Helper()
	ctx := testCtx(c.t)
	const batch = 2000
	for n > 0 {
		k := min(n, batch)
		recs := make([]*kgo.Record, k)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Partition: int32(c.seq % int(partitions)), Value: []byte(strconv.Itoa(c.seq))}
			c.seq++
		}
		for attempt := 0; len(recs) > 0; attempt++ {
			var failed []*kgo.Record
			for _, r := range c.producer.ProduceSync(ctx, recs...) {
				if r.Err == nil {
					continue
				}
				if attempt == 100 || !strings.Contains(r.Err.Error(), "invalid record partitioning") {
					c.t.Fatalf("produce: %v", r.Err)
				}
				failed = append(failed, r.Record)
			}
			if recs = failed; len(recs) > 0 {
				// Partitions were added: wait for the producer to see them.
				c.producer.ForceMetadataRefresh()
				time.Sleep(20 * time.Millisecond) // polling the producer's metadata, not synchronizing
			}
		}
		n -= k
	}
}

// groupConfig is the tests' configuration: short intervals.
func groupConfig() *cg.ConsumerGroupConfig {
	cfg := cg.NewConsumerGroupConfig()
	cfg.ZookeeperTimeout = testSession
	cfg.CommitInterval = 100 * time.Millisecond
	cfg.HandoffTimeout = 2 * time.Second
	cfg.MetadataInterval = 200 * time.Millisecond
	if os.Getenv("CONSUMERGROUP_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg
}

// gracefulSession is the ZooKeeper session timeout of the graceful
// scenarios' members. A member whose client reads nothing from ZooKeeper for
// two thirds of its session timeout takes its session as lost (see
// cg.Session) and leaves like a crashed one: what it processed since its
// last commit is delivered again, by design. With testSession (1.2 s) a
// stall of 800 ms is enough, and a loaded 2-core machine running -race
// produces such stalls (a ZooKeeper server pause cut two members off at
// once): the graceful scenarios then failed on a crash's redeliveries. Their
// members get a session that outlives such stalls; crashes are the chaos and
// session tests' subject.
const gracefulSession = 10 * time.Second

// gracefulConfig is groupConfig for the graceful scenarios: their members
// keep their sessions through a ZooKeeper stall (see gracefulSession).
func gracefulConfig() *cg.ConsumerGroupConfig {
	cfg := groupConfig()
	cfg.ZookeeperTimeout = gracefulSession
	return cfg
}

// testMember is one member of a group under test, with its own ZK (through
// a proxy when asked) and franz-go client.
type testMember struct {
	name   string
	group  *cg.ConsumerGroup
	zk     *cg.ZK
	proxy  *testenv.Proxy
	client *kgo.Client
	cutter *cutter // Kafka's coordinator: cuts the member's Kafka connections
	events chan *cg.Notification
	done   chan struct{} // the consuming loop ended
	mode   string        // delivery mode of its loop (see consume)
}

// join starts a member of group; viaProxy puts a proxy between it and
// ZooKeeper. Its loop hands every message to handle.
func (c *cluster) join(name, group string, topics []string, cfg *cg.ConsumerGroupConfig, viaProxy bool, handle func(*testMember, *cg.ConsumerEvent)) *testMember {
	c.t.Helper()
	m := &testMember{name: name, events: make(chan *cg.Notification, 1000), done: make(chan struct{}), mode: c.mode}
	c.lastGroup = group
	if cfg.Logger != nil {
		// CONSUMERGROUP_TEST_LOG: every line names its member.
		named := *cfg
		named.Logger = cfg.Logger.With("member", name)
		cfg = &named
	}
	if c.kafkaCoord() {
		c.joinKafka(m, group, topics, cfg)
		m.consume(handle)
		return m
	}
	servers := c.servers
	if viaProxy {
		p, err := testenv.NewProxy(servers[0])
		if err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(func() { p.Close() })
		m.proxy = p
		servers = []string{p.Addr()}
	}
	z, err := cg.DialZK(testCtx(c.t), cg.ZKConfig{Servers: servers, Chroot: c.chroot, SessionTimeout: cfg.ZookeeperTimeout})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { z.Close() })
	m.zk = z
	opts := append([]kgo.Opt{kgo.SeedBrokers(c.kafka.Addrs()...), kgo.FetchMaxWait(50 * time.Millisecond), kgo.MetadataMinAge(50 * time.Millisecond)}, c.clientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	m.client = cl
	g, err := cg.NewConsumerGroupTopics(testCtx(c.t), cl, z, group, topics, m.events, cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	m.group = g
	c.t.Cleanup(func() { g.Close() })
	m.consume(handle)
	return m
}

// consume starts the member's loop, in its delivery mode: over Stream
// (modeStream), over Stream with MarkDone after each message (modeDone),
// or calling Next until the group is closed (modePull).
func (m *testMember) consume(handle func(*testMember, *cg.ConsumerEvent)) {
	if m.mode == modePull {
		go func() {
			defer close(m.done)
			for {
				ev, err := m.group.Next(context.Background())
				if err != nil {
					if !errors.Is(err, cg.ErrClosed) {
						panic(fmt.Sprintf("%s: Next: %v", m.name, err))
					}
					return
				}
				handle(m, ev)
			}
		}()
		return
	}
	stream := m.group.Stream()
	done := m.mode == modeDone
	go func() {
		defer close(m.done)
		for ev := range stream {
			handle(m, ev)
			if done {
				if err := m.group.MarkDone(ev); err != nil {
					panic(fmt.Sprintf("%s: MarkDone: %v", m.name, err))
				}
			}
		}
	}()
}

// close leaves gracefully and waits for the member's loop to end.
func (m *testMember) close(t *testing.T) {
	t.Helper()
	if err := m.group.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, m.done, m.name+"'s loop end")
}

// ledger records what every member processed, and checks that no partition
// is processed by two members at the same time.
type ledger struct {
	mu        sync.Mutex
	count     map[int]int                            // sequence number to times processed
	by        map[int][]string                       // sequence number to members that processed it
	last      map[cg.TopicPartition]int64            // last processed offset
	inHand    map[cg.TopicPartition]string           // member processing a message of the partition now
	overlaps  []string                               // violations
	processed int                                    // distinct messages
	changed   chan struct{}                          // closed and replaced on every message
	perMember map[string]map[cg.TopicPartition]int64 // member to partition to last offset processed
	where     map[int]location                       // sequence number to its partition and offset
}

type location struct {
	tp  cg.TopicPartition
	off int64
}

func newLedger() *ledger {
	return &ledger{
		count: map[int]int{}, by: map[int][]string{}, last: map[cg.TopicPartition]int64{},
		inHand: map[cg.TopicPartition]string{}, changed: make(chan struct{}),
		perMember: map[string]map[cg.TopicPartition]int64{},
		where:     map[int]location{},
	}
}

// handle is a member loop's processing of one message.
func (l *ledger) handle(m *testMember, ev *cg.ConsumerEvent) {
	tp := cg.TopicPartition{Topic: ev.Topic, Partition: ev.Partition}
	seq, err := strconv.Atoi(string(ev.Value))
	if err != nil {
		panic(fmt.Sprintf("message %s/%d@%d holds %q", ev.Topic, ev.Partition, ev.Offset, ev.Value))
	}
	l.mu.Lock()
	if other, busy := l.inHand[tp]; busy && other != m.name {
		l.overlaps = append(l.overlaps, fmt.Sprintf("%s/%d@%d: %s started while %s was processing it", tp.Topic, tp.Partition, ev.Offset, m.name, other))
	}
	l.inHand[tp] = m.name
	l.mu.Unlock()

	time.Sleep(20 * time.Microsecond) // the work, long enough to overlap if ownership did

	l.mu.Lock()
	delete(l.inHand, tp)
	if l.count[seq] == 0 {
		l.processed++
	}
	l.count[seq]++
	l.where[seq] = location{tp, ev.Offset}
	l.by[seq] = append(l.by[seq], m.name)
	l.last[tp] = max(l.last[tp], ev.Offset)
	if l.perMember[m.name] == nil {
		l.perMember[m.name] = map[cg.TopicPartition]int64{}
	}
	l.perMember[m.name][tp] = max(l.perMember[m.name][tp], ev.Offset)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// waitProcessed waits until n distinct messages were processed.
func (l *ledger) waitProcessed(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(2 * testTimeout)
	for {
		l.mu.Lock()
		got, ch := l.processed, l.changed
		l.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			l.mu.Lock()
			var missing []int
			for seq := 0; seq < n && len(missing) < 10; seq++ {
				if l.count[seq] == 0 {
					missing = append(missing, seq)
				}
			}
			var dups []string
			for seq, c := range l.count {
				if c > 1 {
					dups = append(dups, fmt.Sprintf("%d×%d@%v by %v", seq, c, l.where[seq], l.by[seq]))
				}
			}
			near := map[string]int{}
			for seq, loc := range l.where {
				for _, m := range missing {
					if loc.tp.Partition == int32(m%8) && loc.off >= int64(m/8)-3 && loc.off <= int64(m/8)+3 {
						near[fmt.Sprintf("%d@%d", loc.tp.Partition, loc.off)] = seq
					}
				}
			}
			l.mu.Unlock()
			t.Fatalf("processed %d distinct messages of %d; missing (first ten) %v; dups %v; near %v", got, n, missing, dups, near)
		}
	}
}

// waitFor waits until cond holds, checking after every event of ch.
func waitNotification(t *testing.T, m *testMember, typ uint8, what string) *cg.Notification {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case n := <-m.events:
			if n.Type == typ {
				return n
			}
		case <-deadline:
			t.Fatalf("%s: no notification of type %d within %v", what, typ, testTimeout)
		}
	}
}

func ctxWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// testenvAddr is the first address of the shared ZooKeeper.
func testenvAddr(t *testing.T) string { return testenv.ZooKeeperAddrs(t)[0] }

// processedNow returns how many distinct messages were processed.
func (l *ledger) processedNow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.processed
}

// newClient returns a franz-go client of the cluster for NewConsumerGroup,
// closed when the test ends.
func newClient(t *testing.T, c *cluster) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...), kgo.FetchMaxWait(50*time.Millisecond), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
