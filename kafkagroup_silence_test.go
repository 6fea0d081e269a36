package consumergroup_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// kfakeKafkaCoords is Kafka's coordinator, both protocols, on kfake.
func kfakeKafkaCoords() []setup {
	return []setup{{coord: coordClassic, kind: testenv.KindKfake}, {coord: coordConsumer, kind: testenv.KindKfake}}
}

// commitWrites is a kgo hook that records when the member wrote its
// OffsetCommit requests.
type commitWrites struct {
	mu     sync.Mutex
	writes []time.Time
}

func (h *commitWrites) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && kmsg.Key(key) == kmsg.OffsetCommit {
		h.mu.Lock()
		h.writes = append(h.writes, time.Now())
		h.mu.Unlock()
	}
}

// between counts the commits written in [from, to).
func (h *commitWrites) between(from, to time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, w := range h.writes {
		if !w.Before(from) && w.Before(to) {
			n++
		}
	}
	return n
}

// waitWatchStop waits, until deadline, for m's own watch to stop its
// partitions (ErrSessionExpired, "no answer from Kafka's group
// coordinator"); false when it did not.
func waitWatchStop(m *testMember, deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case n := <-m.events:
			if n.Type == cg.REBALANCE_ERROR && errors.Is(n.Err, cg.ErrSessionExpired) && strings.Contains(n.Err.Error(), "no answer") {
				return true
			}
		case <-timer.C:
			return false
		}
	}
}

// TestKafkaCommitIntoSilence: Kafka goes silent to a member while its
// periodic commit is on its way. The commit waits for the silence; the
// member's watch must not wait behind it: it stops the partitions within
// two thirds of the session timeout (plus its tick and a loaded machine's
// slack) of the last answer. Before the fix the commit held the watch's
// lock and the run loop, and the partitions stopped only after the silence.
func TestKafkaCommitIntoSilence(t *testing.T) {
	forEachSetup(t, kfakeKafkaCoords(), testKafkaCommitIntoSilence)
}

func testKafkaCommitIntoSilence(t *testing.T, s setup) {
	const parts, n = 4, 2000
	c := startClusterSetup(t, s, map[string]int32{"cs": parts})
	topic, group := c.topic("cs"), c.group("g")
	l := newLedger()
	kl, commits := newLinks(t), &commitWrites{}
	c.clientOpts = []kgo.Opt{kgo.Dialer(kl.DialContext), kgo.WithHooks(commits)}
	// Slow processing: the member has a backlog fetched before the
	// silence, delivers it during the silence's first two thirds of a
	// session, and commits what it processed every CommitInterval.
	slow := func(m *testMember, ev *cg.ConsumerEvent) {
		time.Sleep(3 * time.Millisecond) // the work
		l.handle(m, ev)
	}
	a := c.join("a", group, []string{topic}, groupConfig(), false, slow)
	c.clientOpts = nil
	waitHeld(t, a, parts)
	c.produce(topic, parts, n)
	l.waitProcessed(t, 100)
	drainAll(a.events)

	kl.blackhole(true)
	silenced := time.Now()
	bound := kafkaSession*2/3 + time.Second
	stopped := waitWatchStop(a, silenced.Add(2*kafkaSession))
	took := time.Since(silenced)
	inSilence := commits.between(silenced, time.Now())
	kl.blackhole(false)
	if inSilence == 0 {
		t.Fatalf("no commit was written during the silence (%v): the scenario needs one waiting on the silent Kafka", took.Round(time.Millisecond))
	}
	switch {
	case !stopped:
		t.Fatalf("the watch did not stop the partitions within %v of silence (%d commits waiting on it)", 2*kafkaSession, inSilence)
	case took > bound:
		t.Errorf("the watch stopped the partitions %v after the silence began, past %v (%d commits waiting on it)", took.Round(time.Millisecond), bound, inSilence)
	}
	t.Logf("%s: watch stopped the partitions %v after the silence began (%d commits written into it)", s.name(), took.Round(time.Millisecond), inSilence)
	l.waitProcessed(t, n)
	a.close(t)
	checkNoOverlap(t, l)
}

// heartbeatGate is a kgo hook that holds the member's next heartbeat
// answer, when armed, before franz-go reads it: the member is stuck in its
// heartbeat as a paused process is, while its own hooks already saw the
// answer arrive.
type heartbeatGate struct {
	mu   sync.Mutex
	next *gateHold
}

type gateHold struct {
	held    chan struct{} // closed once an answer is held
	release chan struct{} // closed to let it go
	once    sync.Once
}

func (h *gateHold) let() { h.once.Do(func() { close(h.release) }) }

// arm holds the next heartbeat answer until the hold's let.
func (g *heartbeatGate) arm(t *testing.T) *gateHold {
	h := &gateHold{held: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(h.let)
	g.mu.Lock()
	g.next = h
	g.mu.Unlock()
	return h
}

func (g *heartbeatGate) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if k := kmsg.Key(key); (k != kmsg.Heartbeat && k != kmsg.ConsumerGroupHeartbeat) || e2e.ReadErr != nil {
		return
	}
	g.mu.Lock()
	h := g.next
	g.next = nil
	g.mu.Unlock()
	if h != nil {
		close(h.held)
		<-h.release
	}
}

// waitClosedWithin waits for ch to close within d.
func waitClosedWithin(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

// deliveredBy counts the messages member processed.
func deliveredBy(l *ledger, member string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, by := range l.by {
		for _, m := range by {
			if m == member {
				n++
			}
		}
	}
	return n
}

// TestKafkaFencedAnswerIsNotHeard: a member stuck past its session (its
// heartbeat's answer held before franz-go reads it, as in a paused
// process) is fenced by the coordinator, which gives its partitions to
// the other member. The member's next heartbeat is answered at once, with
// the fence (UNKNOWN_MEMBER_ID or FENCED_MEMBER_EPOCH). That answer must
// not count as the coordinator heard: while franz-go has not yet taken it
// (held again here), the member must not resume its partitions nor deliver
// anything. Before the fix the watch counted it, resumed the partitions
// half a session later and delivered what the other member owned.
func TestKafkaFencedAnswerIsNotHeard(t *testing.T) {
	forEachSetup(t, kfakeKafkaCoords(), testKafkaFencedAnswer)
}

func testKafkaFencedAnswer(t *testing.T, s setup) {
	const parts = 4
	c := startClusterSetup(t, s, map[string]int32{"fa": parts})
	topic, group := c.topic("fa"), c.group("g")
	l := newLedger()
	gate := &heartbeatGate{}
	c.clientOpts = []kgo.Opt{kgo.WithHooks(gate)}
	a := c.join("a", group, []string{topic}, groupConfig(), false, l.handle)
	c.clientOpts = nil
	waitHeld(t, a, parts)
	b := c.join("b", group, []string{topic}, groupConfig(), false, l.handle)
	waitSplit(t, time.Now(), map[*testMember]int{a: parts / 2, b: parts / 2}, "b joins a")
	c.produce(topic, parts, 400)
	l.waitProcessed(t, 400)

	// a's next heartbeat answer (not a fence) is held: the coordinator
	// hears nothing more from a, ends its session after kafkaSession and
	// gives everything to b; a's watch stops a's partitions meanwhile.
	first := gate.arm(t)
	waitClosedWithin(t, first.held, kafkaSession, "a's next heartbeat answered")
	c.produce(topic, parts, 400)
	if !waitWatchStop(a, time.Now().Add(2*kafkaSession)) {
		t.Fatalf("a's watch did not stop its partitions while its heartbeat was held")
	}
	waitHeld(t, b, parts)
	l.waitProcessed(t, 800)

	// a's next heartbeat, once franz-go takes the held answer, is fenced
	// at once; that answer is held in turn, for longer than the half
	// session after which the watch resumed on an answer.
	second := gate.arm(t)
	first.let()
	waitClosedWithin(t, second.held, kafkaSession, "a's heartbeat after the held one answered")
	before := deliveredBy(l, "a")
	c.produce(topic, parts, 400)
	deadline := time.Now().Add(kafkaSession * 5 / 6)
	for time.Now().Before(deadline) && deliveredBy(l, "a") == before && len(a.group.ClaimedPartitions()) == 0 {
		time.Sleep(20 * time.Millisecond) // polling the member, not synchronizing
	}
	if got := deliveredBy(l, "a") - before; got > 0 {
		t.Errorf("a, fenced, delivered %d messages on the fenced answer", got)
	}
	if held := a.group.ClaimedPartitions(); len(held) > 0 {
		t.Errorf("a, fenced, resumed %v on the fenced answer", held)
	}
	second.let()
	fenced := false
	for !fenced {
		n := waitNotification(t, a, cg.REBALANCE_ERROR, "a learns it was fenced")
		fenced = errors.Is(n.Err, cg.ErrNotOwner) && strings.Contains(n.Err.Error(), "fenced this member")
	}
	waitHeldSome(t, a)
	c.produce(topic, parts, 400)
	l.waitProcessed(t, 1600)
	for _, m := range []*testMember{a, b} {
		m.close(t)
	}
	checkNoOverlap(t, l)
}
