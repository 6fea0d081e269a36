package main

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// The demo on Kafka's own group coordinator (--coordinator kafka): the same
// scenario and summary, the members joined with JoinKafkaConsumerGroup. A
// crash cuts every Kafka connection of the member, so that only the
// coordinator's session timeout ends it.

const (
	coordZooKeeper = "zookeeper"
	coordKafka     = "kafka"
)

// kafkaDemo reports whether the members use Kafka's coordinator.
func (d *demo) kafkaDemo() bool { return d.o.coordinator == coordKafka }

// joinKafka joins m through Kafka's coordinator.
func (d *demo) joinKafka(ctx context.Context, m *demoMember) error {
	m.cut = &demoCutter{conns: map[net.Conn]bool{}}
	cfg := d.settings.config()
	cfg.Strategy = consumergroup.StrategySticky
	cfg.GroupProtocol = d.o.protocol
	cfg.SessionTimeout = 3 * time.Second // kfake's and the test brokers' KIP-848 session (internal/testenv)
	cfg.Notifications = m.notes
	cfg.KafkaOptions = []kgo.Opt{kgo.Dialer(m.cut.DialContext), kgo.HeartbeatInterval(250 * time.Millisecond),
		kgo.FetchMaxWait(100 * time.Millisecond), kgo.MetadataMinAge(200 * time.Millisecond)}
	g, err := consumergroup.JoinKafkaConsumerGroup(ctx, demoGroup, []string{demoTopic}, d.kafka.Addrs(), cfg)
	if err != nil {
		return err
	}
	m.group = g
	return nil
}

// kafkaOwners returns each partition's owner's name, from what the active
// members hold, and the newest generation their notifications named.
// stable is false while a partition has no owner or two, or the partitions
// are not spread evenly over the active members: both of Kafka's
// assignors (cooperative-sticky and KIP-848's uniform) give every member of
// a group whose members read the same topics its even share, so an uneven
// spread is a rebalance still under way (a member that joined and holds
// nothing yet, a leaver's partitions not yet given out).
func (d *demo) kafkaOwners() (owners map[int32]string, gen int, stable bool) {
	d.mu.Lock()
	members := append([]*demoMember(nil), d.members...)
	parts := d.parts
	d.mu.Unlock()
	owners = map[int32]string{}
	stable = true
	active := 0
	held := map[string]int{}
	for _, m := range members {
		d.mu.Lock()
		on := m.state == "active"
		gen = max(gen, m.gen)
		d.mu.Unlock()
		if !on {
			continue
		}
		active++
		for _, tp := range m.group.ClaimedPartitions() {
			if _, dup := owners[tp.Partition]; dup {
				stable = false
			}
			owners[tp.Partition] = m.name
			held[m.name]++
		}
	}
	if active == 0 || int32(len(owners)) != parts {
		return owners, gen, false
	}
	share := int(parts) / active
	for _, m := range members {
		d.mu.Lock()
		on := m.state == "active"
		d.mu.Unlock()
		if on && (held[m.name] < share || held[m.name] > share+1) {
			stable = false
		}
	}
	return owners, gen, stable
}

// crashKafka cuts m off from Kafka: it stops delivering on its own before
// the coordinator's session timeout, and commits nothing more; the others
// get its partitions once the coordinator drops it.
func (d *demo) crashKafka(ctx context.Context, m *demoMember) error {
	held := m.group.ClaimedPartitions()
	m.cut.cut()
	d.logf("member %s crashed: its Kafka connections are cut", m.name)
	for len(m.group.ClaimedPartitions()) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond): // the demo polls what it shows
		}
	}
	c := &crashInfo{member: m.name, committed: map[consumergroup.TopicPartition]int64{}, processed: map[consumergroup.TopicPartition]int64{}}
	offsets, err := d.admin.FetchOffsets(ctx, demoGroup)
	if err != nil {
		return err
	}
	for _, tp := range held {
		if o, ok := offsets.Lookup(tp.Topic, tp.Partition); ok && o.Err == nil {
			c.committed[tp] = o.At
		}
	}
	d.mu.Lock()
	for tp, off := range m.last {
		c.processed[tp] = off
	}
	d.crash = c
	m.state = "crashed"
	d.mu.Unlock()
	d.logf("member %s: no answer from the coordinator; it has stopped delivering and can commit nothing more", m.name)
	go m.close()
	return nil
}

// demoCutter dials the member's Kafka connections and cuts them all at once.
type demoCutter struct {
	mu    sync.Mutex
	gone  bool
	conns map[net.Conn]bool
}

var errDemoCut = errors.New("demo: connection cut")

func (c *demoCutter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var dl net.Dialer
	conn, err := dl.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		conn.Close()
		return nil, errDemoCut
	}
	c.conns[conn] = true
	return conn, nil
}

func (c *demoCutter) cut() {
	c.mu.Lock()
	c.gone = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for conn := range conns {
		conn.Close()
	}
}
