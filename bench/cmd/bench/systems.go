package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/bench/env"
)

// sessionTimeout is every system's session timeout in the rebalance and
// scale parts: ZooKeeper's for ours, the group coordinator's for the others
// (-session; 2 s by default, so that a crash is detected fast in part 2).
var sessionTimeout = 2 * time.Second

// heartbeat is the franz-go and sarama members' heartbeat interval: they
// learn of a rebalance at their next heartbeat. Ours learns through
// ZooKeeper watches and has none.
const heartbeat = 200 * time.Millisecond

// memberOpts are the options of every franz-go client of parts 2 and 3: those
// of kafkaOpts, without fetch sessions. With them, franz-go's direct
// consumer on kfake sometimes holds every partition of a client for a whole
// FetchMaxWait after RemoveConsumePartitions (reproduced with a bare client:
// gaps of 250 to 300 ms, none without sessions), which would be charged to
// the unmoved partitions of whoever hands a partition over.
func memberOpts(b *bench, more ...kgo.Opt) []kgo.Opt {
	return kafkaOpts(b, append([]kgo.Opt{kgo.DisableFetchSessions()}, more...)...)
}

// member is one member of a group under test, delivering to a tracker.
type member interface {
	// owned returns the partitions the member holds, by its own view.
	owned() []int32
	// leave leaves the group gracefully and returns when done.
	leave()
	// crash cuts every connection of the member at once, as if its
	// process died; the group notices through its session timeout.
	crash()
	// close frees what a crashed member still holds.
	close()
}

// system starts members of one group.
type system struct {
	name  string
	start func(ctx context.Context, b *bench, topic, group string, idx int, tr *tracker) (member, error)
}

var systems = []system{
	{"ours (sticky)", startOurs},
	{"franz-go cooperative-sticky", startKgo(kgo.CooperativeStickyBalancer())},
	{"franz-go eager (range)", startKgo(kgo.RangeBalancer())},
	{"sarama (range, eager)", startSarama},
}

// ours is a member of our group, with its ZooKeeper connection through a
// proxy and its Kafka connections through a cutter.
type ours struct {
	g     *consumergroup.ConsumerGroup
	zk    *consumergroup.ZK
	cl    *kgo.Client
	proxy *env.Proxy
	cut   *env.Cutter
	done  chan struct{}
	once  sync.Once
}

func startOurs(ctx context.Context, b *bench, topic, group string, idx int, tr *tracker) (member, error) {
	proxy, err := env.NewProxy(b.zk.Addr())
	if err != nil {
		return nil, err
	}
	m := &ours{proxy: proxy, cut: env.NewCutter(), done: make(chan struct{})}
	if err := m.connect(ctx, b, proxy.Addr()); err != nil {
		proxy.Close()
		return nil, err
	}
	if err := m.join(ctx, topic, group, idx, tr); err != nil {
		m.cl.Close()
		m.zk.Close()
		proxy.Close()
		return nil, err
	}
	return m, nil
}

// startOursDirect starts a member of ours connected to ZooKeeper directly
// (it cannot crash).
func startOursDirect(ctx context.Context, b *bench, topic, group string, idx int, tr *tracker) (member, error) {
	m := &ours{cut: env.NewCutter(), done: make(chan struct{})}
	if err := m.connect(ctx, b, b.zk.Addr()); err != nil {
		return nil, err
	}
	if err := m.join(ctx, topic, group, idx, tr); err != nil {
		m.cl.Close()
		m.zk.Close()
		return nil, err
	}
	return m, nil
}

// connect opens the member's ZooKeeper session and Kafka client.
func (m *ours) connect(ctx context.Context, b *bench, zkAddr string) error {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var err error
	if m.zk, err = consumergroup.DialZK(dctx, consumergroup.ZKConfig{Servers: []string{zkAddr}, SessionTimeout: sessionTimeout}); err != nil {
		return err
	}
	if m.cl, err = kgo.NewClient(memberOpts(b, kgo.Dialer(m.cut.DialContext))...); err != nil {
		m.zk.Close()
		return err
	}
	return nil
}

// join joins the group and starts the Stream loop.
func (m *ours) join(ctx context.Context, topic, group string, idx int, tr *tracker) error {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var err error
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.ZookeeperTimeout = sessionTimeout
	cfg.Strategy = consumergroup.StrategySticky
	cfg.Logger = groupLogger(idx)
	if m.g, err = consumergroup.NewConsumerGroupTopics(dctx, m.cl, m.zk, group, []string{topic}, nil, cfg); err != nil {
		return err
	}
	stream := m.g.Stream()
	go func() {
		defer close(m.done)
		for ev := range stream {
			tr.deliver(idx, ev.Partition, time.Now())
		}
	}()
	return nil
}

func (m *ours) owned() []int32 {
	var ps []int32
	for _, tp := range m.g.ClaimedPartitions() {
		ps = append(ps, tp.Partition)
	}
	return ps
}

func (m *ours) leave() {
	m.once.Do(func() {
		m.g.Close()
		<-m.done
		m.cl.Close()
		m.zk.Close()
		if m.proxy != nil {
			m.proxy.Close()
		}
	})
}

func (m *ours) crash() {
	if m.proxy != nil {
		m.proxy.Cut()
	}
	m.cut.Cut()
}

func (m *ours) close() { m.leave() }

// ownedSet is a member's partitions as its rebalance callbacks tell them.
type ownedSet struct {
	mu sync.Mutex
	ps map[int32]bool
}

func (o *ownedSet) add(ps []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ps == nil {
		o.ps = map[int32]bool{}
	}
	for _, p := range ps {
		o.ps[p] = true
	}
}

func (o *ownedSet) remove(ps []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range ps {
		delete(o.ps, p)
	}
}

func (o *ownedSet) set(ps []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ps = map[int32]bool{}
	for _, p := range ps {
		o.ps[p] = true
	}
}

func (o *ownedSet) owned() []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	ps := make([]int32, 0, len(o.ps))
	for p := range o.ps {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// kgoMember is a franz-go group member.
type kgoMember struct {
	ownedSet
	cl   *kgo.Client
	cut  *env.Cutter
	done chan struct{}
	once sync.Once
}

func startKgo(balancer kgo.GroupBalancer, extra ...kgo.Opt) func(context.Context, *bench, string, string, int, *tracker) (member, error) {
	return func(ctx context.Context, b *bench, topic, group string, idx int, tr *tracker) (member, error) {
		m := &kgoMember{cut: env.NewCutter(), done: make(chan struct{})}
		var err error
		m.cl, err = kgo.NewClient(memberOpts(b, append([]kgo.Opt{
			kgo.Dialer(m.cut.DialContext),
			kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.Balancers(balancer),
			kgo.SessionTimeout(sessionTimeout), kgo.HeartbeatInterval(heartbeat),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.add(a[topic]) }),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) { m.remove(r[topic]) }),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { m.remove(l[topic]) }),
		}, extra...)...)...)
		if err != nil {
			return nil, err
		}
		go func() {
			defer close(m.done)
			for {
				fs := m.cl.PollFetches(context.Background())
				if fs.IsClientClosed() {
					return
				}
				now := time.Now()
				fs.EachPartition(func(p kgo.FetchTopicPartition) {
					if len(p.Records) > 0 {
						tr.deliver(idx, p.Partition, now)
					}
				})
			}
		}()
		return m, nil
	}
}

func (m *kgoMember) leave() {
	m.once.Do(func() {
		m.cl.Close()
		<-m.done
	})
}

func (m *kgoMember) crash() { m.cut.Cut() }

func (m *kgoMember) close() { m.leave() }

// saramaMember is a sarama group member.
type saramaMember struct {
	ownedSet
	cg     sarama.ConsumerGroup
	cut    *env.Cutter
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func startSarama(ctx context.Context, b *bench, topic, group string, idx int, tr *tracker) (member, error) {
	m := &saramaMember{cut: env.NewCutter(), done: make(chan struct{})}
	cfg := sarama.NewConfig()
	cfg.Version = saramaVersion
	cfg.Net.Proxy.Enable = true
	cfg.Net.Proxy.Dialer = m.cut
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = sessionTimeout
	cfg.Consumer.Group.Heartbeat.Interval = heartbeat
	var err error
	if m.cg, err = sarama.NewConsumerGroup(b.kafka.Addrs(), group, cfg); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	h := &saramaHandler{m: m, topic: topic, idx: idx, tr: tr}
	go func() {
		defer close(m.done)
		for cctx.Err() == nil {
			err := m.cg.Consume(cctx, []string{topic}, h)
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return
			}
			if err != nil {
				select {
				case <-time.After(100 * time.Millisecond):
				case <-cctx.Done():
				}
			}
		}
	}()
	return m, nil
}

type saramaHandler struct {
	m     *saramaMember
	topic string
	idx   int
	tr    *tracker
}

func (h *saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.m.set(s.Claims()[h.topic])
	return nil
}

func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error {
	h.m.set(nil)
	return nil
}

func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.tr.deliver(h.idx, msg.Partition, time.Now())
			s.MarkMessage(msg, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func (m *saramaMember) leave() {
	m.once.Do(func() {
		m.cg.Close() // leaves the group
		m.cancel()
		<-m.done
	})
}

func (m *saramaMember) crash() { m.cut.Cut() }

func (m *saramaMember) close() { m.leave() }

// groupLog is where BENCH_GROUPLOG=FILE sends every member's debug log.
var groupLog = sync.OnceValue(func() *os.File {
	name := os.Getenv("BENCH_GROUPLOG")
	if name == "" {
		return nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil
	}
	return f
})

// groupLogger is member idx's logger: silent unless BENCH_GROUPLOG names a
// file (debug level, to follow rebalances).
func groupLogger(idx int) *slog.Logger {
	f := groupLog()
	if f == nil {
		return nil
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})).With("member", idx)
}
