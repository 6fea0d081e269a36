package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// seqLedger counts how many times each sequence number was processed.
type seqLedger struct {
	mu      sync.Mutex
	count   map[int]int
	changed chan struct{} // closed and replaced on every message
}

func newSeqLedger() *seqLedger { return &seqLedger{count: map[int]int{}, changed: make(chan struct{})} }

func (l *seqLedger) handle(ev *consumergroup.ConsumerEvent) {
	seq, err := strconv.Atoi(string(ev.Value))
	if err != nil {
		panic(fmt.Sprintf("message %s/%d@%d holds %q", ev.Topic, ev.Partition, ev.Offset, ev.Value))
	}
	l.mu.Lock()
	l.count[seq]++
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// distinct returns how many sequence numbers were processed.
func (l *seqLedger) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.count)
}

// wait waits until n distinct sequence numbers were processed.
func (l *seqLedger) wait(t *testing.T, n int, what string) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		l.mu.Lock()
		got, ch := len(l.count), l.changed
		l.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: %d distinct messages processed within %v, want %d", what, got, waitTimeout, n)
		}
	}
}

// check fails t unless 0..n-1 were each processed exactly once.
func (l *seqLedger) check(t *testing.T, n int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var missing, twice []string
	for seq := range n {
		switch c := l.count[seq]; {
		case c == 0:
			missing = append(missing, strconv.Itoa(seq))
		case c > 1:
			twice = append(twice, fmt.Sprintf("%d×%d", seq, c))
		}
	}
	if len(l.count) != n || len(missing) > 0 || len(twice) > 0 {
		t.Fatalf("of %d messages: %d distinct processed; missing %v; processed more than once %v",
			n, len(l.count), missing[:min(10, len(missing))], twice[:min(10, len(twice))])
	}
}

// seqProducer produces sequence-numbered messages over partitions
// 0..parts-1 of topic until stopped.
type seqProducer struct {
	stop, done chan struct{}
	n          int // produced, read after done
	err        error
}

func startSeqProducer(c *cluster, topic string, parts int) *seqProducer {
	p := &seqProducer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			recs := make([]*kgo.Record, 8)
			for i := range recs {
				recs[i] = &kgo.Record{Topic: topic, Partition: int32(p.n % parts), Value: []byte(strconv.Itoa(p.n))}
				p.n++
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			err := c.producer.ProduceSync(ctx, recs...).FirstErr()
			cancel()
			if err != nil {
				p.err = err
				return
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// halt stops the producer and returns how many messages it produced.
func (p *seqProducer) halt(t *testing.T) int {
	t.Helper()
	close(p.stop)
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Fatal("the producer did not stop")
	}
	if p.err != nil {
		t.Fatalf("produce: %v", p.err)
	}
	return p.n
}

// consumeInto starts g's loop over Stream into l; the returned channel is
// closed when the loop ends (after Close).
func consumeInto(g *consumergroup.ConsumerGroup, l *seqLedger) <-chan struct{} {
	done := make(chan struct{})
	stream := g.Stream()
	go func() {
		defer close(done)
		for ev := range stream {
			l.handle(ev)
		}
	}()
	return done
}

// TestMigrateUnderWay is the whole move while messages keep coming: members
// on ZooKeeper with DualCommit; stopped gracefully; groupctl migrate
// --execute; members on Kafka's coordinator (classic on Kafka 3.9, KIP-848
// on Kafka 4, whose groups live in ZooKeeper beside a KRaft cluster): every
// message processed exactly once, and a member started the old way refuses.
func TestMigrateUnderWay(t *testing.T) {
	for _, kind := range []testenv.Kind{testenv.KindKafka39, testenv.KindKafka4} {
		t.Run(string(kind), func(t *testing.T) { testMigrateUnderWay(t, kind) })
	}
}

func testMigrateUnderWay(t *testing.T, kind testenv.Kind) {
	t0 := time.Now()
	step := func(what string) { t.Logf("%v: %s", time.Since(t0).Round(time.Millisecond), what) }
	c := newClusterKind(t, kind, map[string]int32{"move": 4})
	step("cluster")
	topic, group := c.topic("move"), c.group("g")
	brokers := c.kafka.Addrs()
	l := newSeqLedger()
	prod := startSeqProducer(c, topic, 4)
	t.Cleanup(func() {
		select {
		case <-prod.stop:
		default:
			close(prod.stop)
		}
		<-prod.done
	})

	// On ZooKeeper, with dual commit.
	zcfg := consumergroup.NewConsumerGroupConfig()
	zcfg.ZookeeperTimeout = 10 * time.Second
	zcfg.CommitInterval = 100 * time.Millisecond
	zcfg.HandoffTimeout = 2 * time.Second
	zcfg.DualCommit = true
	zcfg.KafkaOptions = []kgo.Opt{kgo.FetchMaxWait(50 * time.Millisecond), kgo.MetadataMinAge(100 * time.Millisecond)}
	if _, registered := c.kafka.Registration(); !registered {
		zcfg.Brokers = brokers
	}
	var zkMembers []*consumergroup.ConsumerGroup
	var loops []<-chan struct{}
	for range 2 {
		g, err := consumergroup.JoinConsumerGroupTopics(testCtx(t), group, []string{topic}, []string{c.zkAddr()}, zcfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		zkMembers = append(zkMembers, g)
		loops = append(loops, consumeInto(g, l))
	}
	l.wait(t, 400, "members on ZooKeeper")
	step("400 on ZooKeeper")
	for i, g := range zkMembers {
		g.Close()
		waitClosedCh(t, loops[i])
	}
	step("closed")
	onZK := l.distinct()
	zk, kafka := c.zkOffsets(group, topic), c.kafkaOffsets(group, topic)
	wantOffsets(t, "Kafka's offsets after the ZooKeeper members' Close (dual commit)", kafka, zk)

	// The move.
	r := c.migrate(group, "--bootstrap-server", strings.Join(brokers, ","), "--execute").want(t, exitOK).wantStdout(t, "migrated: ", "verified")
	t.Logf("groupctl migrate --execute on %s, messages still coming:\n%s%s", kind, r.stdout, r.stderr)
	if _, err := consumergroup.JoinConsumerGroupTopics(testCtx(t), group, []string{topic}, []string{c.zkAddr()}, zcfg); !errors.Is(err, consumergroup.ErrGroupMigrated) {
		t.Fatalf("a member started the old way after the move: %v; want ErrGroupMigrated", err)
	}

	step("migrated")
	// On Kafka's coordinator.
	kcfg := consumergroup.NewConsumerGroupConfig()
	kcfg.CommitInterval = 100 * time.Millisecond
	kcfg.HandoffTimeout = 2 * time.Second
	kcfg.SessionTimeout = 3 * time.Second
	kcfg.GroupProtocol = consumergroup.GroupProtocolClassic
	if kind == testenv.KindKafka4 {
		kcfg.GroupProtocol = consumergroup.GroupProtocolConsumer
	}
	kcfg.KafkaOptions = []kgo.Opt{kgo.FetchMaxWait(50 * time.Millisecond), kgo.MetadataMinAge(100 * time.Millisecond), kgo.HeartbeatInterval(250 * time.Millisecond)}
	var kMembers []*consumergroup.ConsumerGroup
	loops = nil
	for range 2 {
		g, err := consumergroup.JoinKafkaConsumerGroup(testCtx(t), group, []string{topic}, brokers, kcfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		kMembers = append(kMembers, g)
		loops = append(loops, consumeInto(g, l))
	}
	step("joined Kafka")
	l.wait(t, onZK+400, "members on Kafka's coordinator")
	step("400 on Kafka")
	// The rollback is refused while members run on Kafka's coordinator.
	c.migrate(group, "--bootstrap-server", strings.Join(brokers, ","), "--to", "zookeeper", "--execute").
		want(t, exitError).wantStderr(t, "refused, nothing written", "members on Kafka's coordinator")
	wantOffsets(t, "ZooKeeper's offsets after a refused rollback", c.zkOffsets(group, topic), zk)
	if !c.migrated(group) {
		t.Fatal("a refused rollback removed the marker")
	}
	n := prod.halt(t)
	l.wait(t, n, "every message produced")
	step("all")
	for i, g := range kMembers {
		g.Close()
		waitClosedCh(t, loops[i])
	}
	step("closed Kafka")
	l.check(t, n)
	t.Logf("%s: %d messages produced while moving; %d processed on ZooKeeper (dual commit), %d on Kafka's coordinator (%s); none missing, none twice",
		kind, n, onZK, n-onZK, kcfg.GroupProtocol)
}

func waitClosedCh(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatal("a member's loop did not end after Close")
	}
}
