package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// demoMember is one member of the demo's group, in this process, with its
// own ZooKeeper connection (through a proxy, so that it can crash) and its
// own Kafka client.
type demoMember struct {
	name   string
	d      *demo
	proxy  *testenv.Proxy
	cut    *demoCutter // --coordinator kafka: cuts its Kafka connections
	zk     *zookeeper.Client
	client *kgo.Client
	group  *consumergroup.ConsumerGroup
	notes  chan *consumergroup.Notification
	done   chan struct{} // the consuming loop and the notification reader ended

	closeOnce sync.Once

	// Guarded by d.mu.
	state     string // active, left, crashed
	gen       int    // the newest generation its notifications named
	processed int
	last      map[consumergroup.TopicPartition]int64 // last offset processed
}

func (d *demo) join(ctx context.Context, name string) (*demoMember, error) {
	m := &demoMember{name: name, d: d, state: "active", notes: make(chan *consumergroup.Notification, 256), done: make(chan struct{}),
		last: map[consumergroup.TopicPartition]int64{}}
	var err error
	if d.kafkaDemo() {
		if err := d.joinKafka(ctx, m); err != nil {
			return nil, err
		}
		return d.started(m), nil
	}
	// Through a proxy to the first server, so that it can crash.
	if m.proxy, err = testenv.NewProxy(d.zkServer); err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if m.zk, err = zookeeper.Dial(dctx, zookeeper.Config{Servers: []string{m.proxy.Addr()}, Chroot: d.o.chroot, SessionTimeout: d.settings.session}); err != nil {
		m.proxy.Close()
		return nil, err
	}
	if m.client, err = kgo.NewClient(kgo.SeedBrokers(d.kafka.Addrs()...), kgo.FetchMaxWait(100*time.Millisecond), kgo.MetadataMinAge(200*time.Millisecond)); err != nil {
		m.zk.Close()
		m.proxy.Close()
		return nil, err
	}
	cfg := d.settings.config()
	if m.group, err = consumergroup.NewConsumerGroupTopics(dctx, m.client, m.zk, demoGroup, []string{demoTopic}, m.notes, cfg); err != nil {
		m.client.Close()
		m.zk.Close()
		m.proxy.Close()
		return nil, err
	}
	return d.started(m), nil
}

// started starts the member's loops.
func (d *demo) started(m *demoMember) *demoMember {
	d.mu.Lock()
	d.members = append(d.members, m)
	d.mu.Unlock()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		// Next, not Stream: waiting in Next holds no message, so an idle
		// partition's lag reaches 0 (docs/LAG.md) and a hand-off does not
		// wait for a message in hand.
		for {
			ev, err := m.group.Next(context.Background())
			if err != nil {
				return // ErrClosed: the member left or crashed
			}
			d.record(m, ev)
			if d.o.work > 0 {
				time.Sleep(d.o.work) // the work of processing a message
			}
		}
	}()
	go func() {
		defer close(m.done)
		for {
			select {
			case n := <-m.notes:
				d.mu.Lock()
				m.gen = max(m.gen, n.Generation)
				d.mu.Unlock()
				if n.Type == consumergroup.REBALANCE_ERROR && !errors.Is(n.Err, context.Canceled) {
					d.logf("member %s: %v", m.name, n.Err)
				}
			case <-loopDone:
				return
			}
		}
	}()
	d.logf("member %s joined", m.name)
	return m
}

// record is the processing of one message.
func (d *demo) record(m *demoMember, ev *consumergroup.ConsumerEvent) {
	seq, err := strconv.Atoi(string(ev.Value))
	if err != nil {
		d.logf("member %s: message %s/%d@%d holds %q, not a sequence number", m.name, ev.Topic, ev.Partition, ev.Offset, ev.Value)
		return
	}
	tp := consumergroup.TopicPartition{Topic: ev.Topic, Partition: ev.Partition}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.count[seq] == 0 {
		d.distinct++
		d.firstBy[seq] = m.name
		d.where[seq] = location{tp, ev.Offset}
	}
	d.count[seq]++
	m.processed++
	m.last[tp] = max(m.last[tp], ev.Offset)
	if d.delivered[tp] == nil {
		d.delivered[tp] = map[string]time.Time{}
	}
	d.delivered[tp][m.name] = time.Now()
}

func (d *demo) member(name string) (*demoMember, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.members {
		if m.name == name && m.state == "active" {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no active member %s", name)
}

// leave closes a member gracefully.
func (d *demo) leave(name string) error {
	m, err := d.member(name)
	if err != nil {
		return err
	}
	m.close()
	d.mu.Lock()
	m.state = "left"
	d.mu.Unlock()
	d.logf("member %s left gracefully", name)
	return nil
}

// crashMember cuts a member off from ZooKeeper: its session ends, it stops
// delivering, and nothing it processed since its last commit can be
// committed any more (the fence): what the next owners deliver again.
func (d *demo) crashMember(ctx context.Context, name string) error {
	m, err := d.member(name)
	if err != nil {
		return err
	}
	if d.kafkaDemo() {
		return d.crashKafka(ctx, m)
	}
	held := m.group.ClaimedPartitions()
	oldID := m.group.ID()
	sess, err := m.zk.Session(ctx)
	if err != nil {
		return err
	}
	m.proxy.Cut()
	d.logf("member %s crashed: its ZooKeeper connection is cut", name)
	select {
	case <-sess.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	c := &crashInfo{member: name, committed: map[consumergroup.TopicPartition]int64{}, processed: map[consumergroup.TopicPartition]int64{}}
	for _, tp := range held {
		if off, err := d.watcher.Offset(ctx, demoGroup, tp.Topic, tp.Partition); err == nil {
			c.committed[tp] = off
		}
	}
	d.mu.Lock()
	for tp, off := range m.last {
		c.processed[tp] = off
	}
	d.crash = c
	m.state = "crashed"
	d.mu.Unlock()
	d.logf("member %s: session over; it has stopped delivering and can commit nothing more", name)
	go m.close() // its Close cannot commit either: the fence refuses it
	// The rest of the group learns of the crash when ZooKeeper expires the
	// session: the registration goes.
	for {
		ids, w, err := d.watcher.Consumers(ctx, demoGroup)
		if err != nil {
			return err
		}
		if !slices.Contains(ids, oldID) {
			return nil
		}
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close stops the member and everything it holds; concurrent and repeated
// calls wait for the first.
func (m *demoMember) close() {
	m.closeOnce.Do(func() {
		m.group.Close()
		<-m.done
		if m.proxy == nil {
			return // Kafka's coordinator: the group owned its client
		}
		m.client.Close()
		m.zk.Close()
		m.proxy.Close()
	})
}
