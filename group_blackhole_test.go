package consumergroup_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// links puts a proxy (testenv.Proxy) between a member's Kafka client and
// every broker it dials, so that the test can make Kafka silent to it; or,
// with real, a path through network namespaces of its own
// (testenv.SilentLink) whose packets the test drops.
type links struct {
	t       *testing.T
	real    bool
	mu      sync.Mutex
	proxies map[string]*testenv.Proxy      // broker address to its proxy
	paths   map[string]*testenv.SilentLink // broker address to its path (real)
	silent  bool
}

func newLinks(t *testing.T) *links { return &links{t: t, proxies: map[string]*testenv.Proxy{}} }

// newRealLinks is newLinks losing real packets (testenv.SilentLink).
func newRealLinks(t *testing.T) *links {
	return &links{t: t, real: true, paths: map[string]*testenv.SilentLink{}}
}

// DialContext is the member's kgo.Dialer: through the broker's proxy or
// path.
func (l *links) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if l.real {
		return l.dialPath(ctx, network, addr)
	}
	l.mu.Lock()
	p := l.proxies[addr]
	if p == nil {
		var err error
		if p, err = testenv.NewProxy(addr); err != nil {
			l.mu.Unlock()
			return nil, err
		}
		l.t.Cleanup(func() { p.Close() })
		l.proxies[addr] = p
		if l.silent {
			p.Blackhole()
		}
	}
	l.mu.Unlock()
	var d net.Dialer
	return d.DialContext(ctx, network, p.Addr())
}

// dialPath dials addr through its SilentLink, made at the first dial.
func (l *links) dialPath(ctx context.Context, network, addr string) (net.Conn, error) {
	l.mu.Lock()
	p := l.paths[addr]
	if p == nil {
		var err error
		if p, err = testenv.NewSilentLink(addr); err != nil {
			l.mu.Unlock()
			return nil, err
		}
		l.t.Cleanup(func() { p.Close() })
		l.paths[addr] = p
		if l.silent {
			if err := p.Blackhole(); err != nil {
				l.mu.Unlock()
				return nil, err
			}
		}
	}
	l.mu.Unlock()
	return p.Dial(ctx, network, addr)
}

// blackhole makes every broker silent to the member (on), or heals.
func (l *links) blackhole(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.silent = on
	for _, p := range l.proxies {
		if on {
			p.Blackhole()
		} else {
			p.Heal()
		}
	}
	for _, p := range l.paths {
		err := p.Heal()
		if on {
			err = p.Blackhole()
		}
		if err != nil {
			l.t.Error(err)
		}
	}
}

// blackholeMember is a member with its silent switches: ZooKeeper's
// (the ZooKeeper coordinator's members) and Kafka's.
type blackholeMember struct {
	*testMember
	kafka *links
}

func (m *blackholeMember) silence(zk, kafka, on bool) {
	if zk && m.proxy != nil {
		if on {
			m.proxy.Blackhole()
		} else {
			m.proxy.Heal()
		}
	}
	if kafka {
		m.kafka.blackhole(on)
	}
}

// blackholeScenario: who goes silent to whom, and for how long (in
// session timeouts).
type blackholeScenario struct {
	name      string
	zk, kafka bool    // what goes silent
	all       bool    // to every member (else to one)
	sessions  float64 // how long
	real      bool    // Kafka's silence loses real packets (testenv.SilentLink), not the proxy's
}

var blackholeScenarios = []blackholeScenario{
	{name: "zookeeper-silent-to-one", zk: true, sessions: 3},
	{name: "kafka-silent-to-one", kafka: true, sessions: 3},
	{name: "both-silent-to-one", zk: true, kafka: true, sessions: 3},
	{name: "coordinator-silent-to-all", zk: true, all: true, sessions: 0.5},
}

// TestGroupBlackholes: the network goes silent (packets dropped, nothing
// closed: half-open TCP) between members and ZooKeeper, Kafka, or both,
// on both coordinators, while messages flow. Nothing is lost, no partition
// is processed by two members at once, duplicates come only from the
// silenced member's session loss (inside its uncommitted window); the
// recovery after the silence ends is logged.
func TestGroupBlackholes(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	setups := []setup{{coord: coordZK, kind: testenv.KindKfake}, {coord: coordClassic, kind: testenv.KindKfake}}
	forEachSetup(t, setups, func(t *testing.T, s setup) {
		for _, sc := range blackholeScenarios {
			if s.coord != coordZK && sc.zk && !sc.kafka {
				// Kafka's coordinator: ZooKeeper plays no part; its
				// coordinator silent to everyone is Kafka silent.
				if !sc.all {
					continue
				}
				sc.zk, sc.kafka = false, true
			}
			t.Run(sc.name, func(t *testing.T) {
				if s.coord != coordZK && !sc.all && os.Getenv("CG_BLACKHOLE_KAFKA") == "" {
					// TestKafkaBlackholes runs these on Kafka's
					// coordinator with real packet loss (both
					// protocols); through the proxy they add 25 s.
					t.Skip("Kafka silent to one member on Kafka's coordinator through the proxy: set CG_BLACKHOLE_KAFKA=1 (TestKafkaBlackholes runs it with real packet loss)")
				}
				testBlackhole(t, s, sc)
			})
		}
	})
}

func testBlackhole(t *testing.T, s setup, sc blackholeScenario) {
	c := startClusterSetup(t, s, map[string]int32{"bh": 8})
	topic, group := c.topic("bh"), c.group("g")
	l := newLedger()
	losses := newLossRecorder(t, c, group, l)
	session := testSession
	if c.kafkaCoord() {
		session = kafkaSession
	}
	// The members not silenced keep their ZooKeeper sessions through a
	// stall of a loaded machine (gracefulConfig): the silenced one's
	// loss is the subject. Silent to all, everyone has the short session.
	join := func(name string) *blackholeMember {
		cfg := groupConfig()
		if name != "v" && !sc.all {
			cfg = gracefulConfig()
		}
		cfg.Metrics = losses.metrics(name)
		kl := newLinks(t)
		if sc.real {
			kl = newRealLinks(t)
		}
		c.clientOpts = []kgo.Opt{kgo.Dialer(kl.DialContext)}
		defer func() { c.clientOpts = nil }()
		return &blackholeMember{testMember: c.join(name, group, []string{topic}, cfg, true, l.handle), kafka: kl}
	}
	a, b, v := join("a"), join("b"), join("v")
	c.produce(topic, 8, 4000)
	l.waitProcessed(t, 4000)

	silenced := []*blackholeMember{v}
	if sc.all {
		silenced = []*blackholeMember{a, b, v}
	}
	// The silenced member's window: from what the group had committed
	// when the silence began (it commits nothing during it) to what it had
	// processed when it ended.
	committed := snapshotCommitted(t, losses)
	for _, m := range silenced {
		m.silence(sc.zk, sc.kafka, true)
	}
	start := time.Now()
	c.produce(topic, 8, 4000)
	// The silence lasts its time (the scenario, not a wait for an event).
	time.Sleep(time.Until(start.Add(time.Duration(sc.sessions * float64(session)))))
	for _, m := range silenced {
		m.silence(sc.zk, sc.kafka, false)
	}
	healed := time.Now()
	if !sc.all {
		l.mu.Lock()
		processed := maps.Clone(l.perMember["v"])
		l.mu.Unlock()
		losses.mu.Lock()
		losses.windows["v"] = append(losses.windows["v"], lossWindow{committed: committed, processed: processed})
		losses.mu.Unlock()
	}
	l.waitProcessed(t, 8000)
	backlog := time.Since(healed)
	waitHeldSome(t, v.testMember)
	back := time.Since(healed)
	c.produce(topic, 8, 4000)
	l.waitProcessed(t, 12000)
	for _, m := range []*blackholeMember{a, b, v} {
		m.close(t)
	}
	checkBlackhole(t, l, losses, announcers(a.testMember, b.testMember, v.testMember), 12000)
	t.Logf("%s on %s: silent %v; after it ended: everything produced before processed in %v, the silenced member holding partitions again in %v; loss windows (one for the silenced member recorded by the test): %s",
		sc.name, s.name(), time.Duration(sc.sessions*float64(session)), backlog.Round(time.Millisecond), back.Round(time.Millisecond), losses)
}

// explainedDuplicate reports whether every processing of message seq but
// the last was given up by design: the first inside a lost session's
// window, or announced by its member (HANDOFF_TIMEOUT: an idle Stream
// loop's last message, moved on with its partition; a quiet partition can
// move twice). l.mu is held.
func explainedDuplicate(l *ledger, losses *lossRecorder, announced map[location][]string, seq, n int) bool {
	by := l.by[seq]
	for i := range n - 1 {
		if i == 0 && losses.covers(seq, 2) {
			continue
		}
		if !slices.Contains(announced[l.where[seq]], by[i]) {
			return false
		}
	}
	return true
}

// announcers drains the members' notifications: per message announced by
// HANDOFF_TIMEOUT, every member that announced it.
func announcers(members ...*testMember) map[location][]string {
	out := map[location][]string{}
	for _, m := range members {
		for more := true; more; {
			select {
			case n := <-m.events:
				if n.Type == cg.HANDOFF_TIMEOUT {
					loc := location{cg.TopicPartition{Topic: n.Topic, Partition: n.Partition}, n.Offset}
					out[loc] = append(out[loc], m.name)
				}
			default:
				more = false
			}
		}
	}
	return out
}

// snapshotCommitted returns the group's committed offsets now.
func snapshotCommitted(t *testing.T, losses *lossRecorder) map[cg.TopicPartition]int64 {
	t.Helper()
	all, err := losses.fetch(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	out := map[cg.TopicPartition]int64{}
	for topic, ps := range all {
		for p, off := range ps {
			out[cg.TopicPartition{Topic: topic, Partition: p}] = off
		}
	}
	return out
}

// waitHeldSome waits until m holds a partition.
func waitHeldSome(t *testing.T, m *testMember) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for len(m.group.ClaimedPartitions()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s holds no partition after %v", m.name, testTimeout)
		}
		time.Sleep(20 * time.Millisecond) // polling the member, not synchronizing
	}
}

// checkBlackhole: nothing lost, no overlap, duplicates only inside a lost
// session's window or announced by HANDOFF_TIMEOUT.
func checkBlackhole(t *testing.T, l *ledger, losses *lossRecorder, announced map[location][]string, total int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.overlaps) > 0 {
		t.Errorf("partitions processed by two members at once: %v", l.overlaps[:min(10, len(l.overlaps))])
	}
	var outside []string
	dups := 0
	for seq, n := range l.count {
		if n == 1 {
			continue
		}
		dups += n - 1
		if explainedDuplicate(l, losses, announced, seq, n) {
			continue
		}
		loc := l.where[seq]
		outside = append(outside, fmt.Sprintf("seq %d (%v@%d) %d× by %v", seq, loc.tp, loc.off, n, l.by[seq]))
	}
	sort.Strings(outside)
	if len(outside) > 0 {
		losses.mu.Lock()
		for name, ws := range losses.windows {
			for i, w := range ws {
				t.Logf("%s's loss %d: committed %v, processed %v", name, i, w.committed, w.processed)
			}
		}
		losses.mu.Unlock()
		t.Errorf("%d duplicates outside a lost session's window (sessions lost: %s): %s", len(outside), losses, strings.Join(outside[:min(10, len(outside))], "; "))
	}
	missing := 0
	for seq := range total {
		if l.count[seq] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d messages never processed", missing)
	}
	t.Logf("lost %d, duplicates %d (all in lost sessions' windows or announced), overlaps %d", missing, dups, len(l.overlaps))
}
