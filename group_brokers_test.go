package consumergroup_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestSeedExample runs the seed's example loop (JoinConsumerGroup with the
// defaults, Stream, Close after ten messages) on every kind of cluster: the
// group finds the brokers in ZooKeeper where they register (kfake, Kafka
// 3.9), and is given them where they do not (Kafka 4).
func TestSeedExample(t *testing.T) { forEachKind(t, testSeedExample) }

func testSeedExample(t *testing.T, kind testenv.Kind) {
	c := startClusterKind(t, kind, map[string]int32{"my_topic": 1})
	topic, group := c.topic("my_topic"), c.group("my_consumer_group_name")
	c.produce(topic, 1, 10)
	var cfg *cg.ConsumerGroupConfig // the seed's nil: every default
	if _, ok := c.kafka.Registration(); !ok {
		cfg = cg.NewConsumerGroupConfig()
	}
	addrs := []string{c.servers[0] + c.chroot}
	if cfg != nil {
		addrs = c.joinAddrs(cfg)
	}
	consumer, err := cg.JoinConsumerGroup(group, topic, addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for event := range consumer.Stream() {
		got = append(got, string(event.Value))
		if len(got) == 10 {
			consumer.Close()
		}
	}
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	z := dialZK(t, c.chroot)
	off, err := z.Offset(testCtx(t), group, topic, 0)
	if err != nil || off != 10 {
		t.Fatalf("committed offset after Close = %d, %v; want 10", off, err)
	}
}

// TestGroupPartitionsAdded: partitions added to a topic through the Admin
// API are consumed without a restart. On Kafka 3.9 the group learns of them
// through its watch on /brokers/topics/<topic>, which the broker itself
// writes; on Kafka 4 from Kafka's metadata.
func TestGroupPartitionsAdded(t *testing.T) { forEachSetup(t, smallMatrix(), testGroupPartitionsAdded) }

func testGroupPartitionsAdded(t *testing.T, s setup) {
	c := startClusterSetup(t, s, map[string]int32{"grow": 2})
	topic, group := c.topic("grow"), c.group("g")
	l := newLedger()
	a := c.join("a", group, []string{topic}, gracefulConfig(), false, l.handle)
	b := c.join("b", group, []string{topic}, gracefulConfig(), false, l.handle)
	c.produce(topic, 2, 100)
	l.waitProcessed(t, 100)

	if err := c.kafka.AddPartitions(testCtx(t), topic, 6); err != nil {
		t.Fatal(err)
	}
	if _, registered := c.kafka.Registration(); registered && !c.kafkaCoord() {
		// The count ZooKeeper describes: on 3.9 the broker's own write.
		z := dialZK(t, c.chroot)
		n, _, err := z.Partitions(testCtx(t), topic)
		if err != nil || n != 6 {
			t.Fatalf("ZooKeeper describes %d partitions of %s (%v), want 6", n, topic, err)
		}
	}
	c.produce(topic, 6, 600)
	l.waitProcessed(t, 700)
	// Every message was processed; a rebalance may still be moving a
	// partition (KIP-848 hands one over in two steps): wait for it.
	deadline := time.After(testTimeout)
	for got := 0; got != 6; {
		if got = len(a.group.ClaimedPartitions()) + len(b.group.ClaimedPartitions()); got == 6 {
			break
		}
		select {
		case <-a.events:
		case <-b.events:
		case <-deadline:
			t.Fatalf("the members hold %d partitions after 4 were added, want 6", got)
		}
	}
	a.close(t)
	b.close(t)
	announced := checkExactlyOnce(t, l, a, b)
	checkCleanAnnounced(t, c, group, l, announced)
}

// TestBrokerRegistration39: broker discovery reads the real Kafka 3.9
// registration (JSON version 5, with features and endpoints), not only
// our imitation of it.
func TestBrokerRegistration39(t *testing.T) {
	cl, err := testenv.SharedCluster(testenv.KindKafka39)
	if errors.Is(err, testenv.ErrKafkaNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	chroot, _ := cl.Registration()
	raw := rawZK(t)
	data, _, err := raw.Get(chroot + "/brokers/ids/0")
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		Version   int            `json:"version"`
		Features  map[string]any `json:"features"`
		Endpoints []string       `json:"endpoints"`
	}
	if err := json.Unmarshal(data, &reg); err != nil {
		t.Fatalf("the broker's registration %s: %v", data, err)
	}
	if reg.Version != 5 || reg.Features == nil {
		t.Errorf("registration %s: version %d, features %v; want version 5 with features", data, reg.Version, reg.Features)
	}
	z := dialZK(t, chroot)
	brokers, err := z.Brokers(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(brokers, cl.Addrs()) {
		t.Fatalf("discovered brokers %v from %s, want %v", brokers, data, cl.Addrs())
	}
}

// TestBrokerKilled: a real broker is killed (SIGKILL) while the group
// consumes a backlog and restarted on the same data: nothing is lost, no
// message is processed twice (nothing moved between members), and the
// group resumes by itself. The test logs how long consumption stopped.
func TestBrokerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts brokers of its own")
	}
	var setups []setup
	for _, kind := range testenv.ApacheKinds {
		setups = append(setups, setup{coord: coordZK, kind: kind})
	}
	// On Kafka's coordinator the broker is the coordinator too: the
	// members' sessions end with it (see testBrokerKilled).
	setups = append(setups, setup{coord: coordClassic, kind: testenv.KindKafka4}, setup{coord: coordConsumer, kind: testenv.KindKafka4})
	forEachSetup(t, setups, testBrokerKilled)
}

func testBrokerKilled(t *testing.T, s setup) {
	kind := s.kind
	servers := testenv.ZooKeeperAddrs(t)
	var chroot string
	var zkServers []string
	if kind == testenv.KindKafka39 {
		chroot, zkServers = testenv.Chroot(t), servers
	}
	broker, err := testenv.StartApache(kind, zkServers, chroot)
	if errors.Is(err, testenv.ErrKafkaNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Close() })
	if chroot == "" {
		chroot = testenv.Chroot(t)
	}
	c := newCluster(t, kind, servers, chroot, broker, "")
	c.coord = s.coord
	// Small fetches: the members cannot hold the whole backlog when the
	// broker dies.
	c.clientOpts = []kgo.Opt{kgo.FetchMaxPartitionBytes(16 << 10), kgo.FetchMaxBytes(32 << 10)}
	const topic, parts, total = "killed", 4, 20000
	if err := broker.CreateTopic(testCtx(t), topic, parts); err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	var mu sync.Mutex
	var firstAfter time.Time // when the first message produced after the restart was processed
	slow := func(m *testMember, ev *cg.ConsumerEvent) {
		time.Sleep(50 * time.Microsecond) // a backlog stays while the broker dies
		if seq, err := strconv.Atoi(string(ev.Value)); err == nil && seq >= total/2 {
			mu.Lock()
			if firstAfter.IsZero() {
				firstAfter = time.Now()
			}
			mu.Unlock()
		}
		l.handle(m, ev)
	}
	c.produce(topic, parts, total/2)
	cfg := gracefulConfig()
	a := c.join("a", "g", []string{topic}, cfg, false, slow)
	b := c.join("b", "g", []string{topic}, cfg, false, slow)
	l.waitProcessed(t, total/8)

	killedAt := time.Now()
	if err := broker.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := broker.Restart(); err != nil {
		t.Fatal(err)
	}
	answering := time.Now()
	c.produce(topic, parts, total/2)
	l.waitProcessed(t, total)
	a.close(t)
	b.close(t)
	var announced map[location]string
	if c.kafkaCoord() {
		// The coordinator died with the broker: the members stopped on
		// their own, their sessions ended, and the group assigned the
		// partitions again from what was committed. Nothing is lost and
		// no partition is processed by two members at once; what was
		// processed and not committed may come again.
		checkNoOverlap(t, l)
		announced, _ = drainNotifications(a, b)
	} else {
		announced = checkExactlyOnce(t, l, a, b)
	}
	checkCleanAnnounced(t, c, "g", l, announced)

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%s: killed, answering again after %v; the group delivered the first new message %v after that (%v after the kill); %d messages, none lost or twice",
		broker.Version(), answering.Sub(killedAt).Round(time.Millisecond), firstAfter.Sub(answering).Round(time.Millisecond),
		firstAfter.Sub(killedAt).Round(time.Millisecond), total)
}
