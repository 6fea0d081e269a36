package consumergroup_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// The share group scenarios run once on kfake and once on a real Apache
// Kafka 4 broker (testenv's shared one, formatted with share.version=2):
// forEachShareKind. The record lock and the delivery-count limit are the
// group's configs on Kafka (share.record.lock.duration.ms,
// share.delivery.count.limit), the broker's on kfake, which reads only its
// own (group.share.record.lock.duration.ms, group.share.delivery.count.limit).

// shareLock is the record lock duration of the scenarios: short enough to
// watch locks run out, long enough for a loaded machine's round trips.
const shareLock = 2 * time.Second

// shareLimit is the scenarios' delivery-count limit.
const shareLimit = 3

// shareKinds are the brokers the share scenarios run on.
func shareKinds() []testenv.Kind {
	out := []testenv.Kind{testenv.KindKfake}
	for _, k := range testenv.KafkaKinds() {
		if k == testenv.KindKafka4 {
			out = append(out, k)
		}
	}
	return out
}

// forEachShareKind runs scenario on each kind of shareKinds.
func forEachShareKind(t *testing.T, scenario func(t *testing.T, sc *shareCluster)) {
	for _, k := range shareKinds() {
		t.Run(string(k), func(t *testing.T) { scenario(t, startShareCluster(t, k)) })
	}
}

// shareCluster is the Kafka of a share scenario.
type shareCluster struct {
	t        *testing.T
	kind     testenv.Kind
	addrs    []string
	suffix   string // names of the test's own on a shared broker
	admin    *kgo.Client
	producer *kgo.Client
	seq      int // produceN's next number
}

// startShareCluster returns a cluster of kind: a kfake of the test's own
// with the scenarios' lock and limit, or the shared Kafka 4.
func startShareCluster(t *testing.T, kind testenv.Kind) *shareCluster {
	t.Helper()
	sc := &shareCluster{t: t, kind: kind}
	if kind == testenv.KindKfake {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BrokerConfigs(map[string]string{
			"group.share.record.lock.duration.ms": strconv.Itoa(int(shareLock.Milliseconds())),
			"share.record.lock.sweep.interval.ms": "50",
			"group.share.delivery.count.limit":    strconv.Itoa(shareLimit),
			"group.share.heartbeat.interval.ms":   "250",
			"group.share.session.timeout.ms":      "3000",
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		sc.addrs = c.ListenAddrs()
	} else {
		k, err := testenv.SharedCluster(kind)
		if errors.Is(err, testenv.ErrKafkaNotInstalled) {
			t.Skipf("%s: %v", kind, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		sc.addrs = k.Addrs()
		sc.suffix = fmt.Sprintf(".%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), nameSeq.Add(1))
	}
	var err error
	if sc.admin, err = kgo.NewClient(kgo.SeedBrokers(sc.addrs...)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.admin.Close)
	sc.producer, err = kgo.NewClient(kgo.SeedBrokers(sc.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.producer.Close)
	return sc
}

// topic creates the test's topic base with partitions and returns its name.
func (sc *shareCluster) topic(base string, partitions int32) string {
	sc.t.Helper()
	name := base + sc.suffix
	ctx := testCtx(sc.t)
	resp, err := kadm.NewClient(sc.admin).CreateTopic(ctx, partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		sc.t.Fatalf("create topic %s: %v", name, err)
	}
	// Wait until the producer sees every partition.
	for {
		resp, err := kadm.NewClient(sc.producer).ListTopics(ctx, name)
		if err == nil && len(resp[name].Partitions) == int(partitions) && resp[name].Err == nil {
			return name
		}
		select {
		case <-ctx.Done():
			sc.t.Fatalf("topic %s: not ready: %v", name, err)
		case <-time.After(50 * time.Millisecond): // polling the metadata, not synchronizing
		}
	}
}

// group returns the test's name for group base, with the scenarios' lock
// and delivery-count limit set on real Kafka (kfake takes the broker's).
func (sc *shareCluster) group(base string) string {
	sc.t.Helper()
	name := base + sc.suffix
	if sc.kind == testenv.KindKfake {
		return name
	}
	sc.setGroupConfigs(name, map[string]string{
		"share.record.lock.duration.ms": strconv.Itoa(int(shareLock.Milliseconds())),
		"share.delivery.count.limit":    strconv.Itoa(shareLimit),
	})
	return name
}

// setGroupConfigs sets configs of group (IncrementalAlterConfigs).
func (sc *shareCluster) setGroupConfigs(group string, configs map[string]string) {
	sc.t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for k, v := range configs {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = k, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(v)
		r.Configs = append(r.Configs, c)
	}
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(testCtx(sc.t), sc.admin)
	if err == nil && len(resp.Resources) == 1 {
		if err = kerr.ErrorForCode(resp.Resources[0].ErrorCode); err != nil && resp.Resources[0].ErrorMessage != nil {
			err = fmt.Errorf("%w: %s", err, *resp.Resources[0].ErrorMessage)
		}
	}
	if err != nil {
		sc.t.Fatalf("set configs %v of group %s: %v", configs, group, err)
	}
}

// produce writes values to partition of topic, one record each, the value
// as key too.
func (sc *shareCluster) produce(topic string, partition int32, values ...string) {
	sc.t.Helper()
	rs := make([]*kgo.Record, len(values))
	for i, v := range values {
		rs[i] = &kgo.Record{Topic: topic, Partition: partition, Key: []byte(v), Value: []byte(v)}
	}
	if err := sc.producer.ProduceSync(testCtx(sc.t), rs...).FirstErr(); err != nil {
		sc.t.Fatalf("produce: %v", err)
	}
}

// produceN writes n records, values "p<partition>-<i>" (i counting over
// the test's calls), spread over partitions; it returns the values.
func (sc *shareCluster) produceN(topic string, partitions int32, n int) []string {
	sc.t.Helper()
	by := make([][]string, partitions)
	var all []string
	for range n {
		i := sc.seq
		sc.seq++
		p := int32(i) % partitions
		v := fmt.Sprintf("p%d-%d", p, i)
		by[p] = append(by[p], v)
		all = append(all, v)
	}
	for p, vs := range by {
		if len(vs) > 0 {
			sc.produce(topic, int32(p), vs...)
		}
	}
	return all
}

// shareConfig is the members' config: quick metadata, notifications to a
// buffer of the test's, the test's logger.
func shareConfig() *cg.ConsumerGroupConfig {
	cfg := cg.NewConsumerGroupConfig()
	cfg.MetadataInterval = time.Second
	cfg.JoinTimeout = time.Minute
	cfg.Logger = testenv.Logger()
	cfg.KafkaOptions = []kgo.Opt{kgo.MetadataMinAge(50 * time.Millisecond), kgo.FetchMaxWait(100 * time.Millisecond)}
	return cfg
}

// join joins group as a share member; Close runs when the test ends.
func (sc *shareCluster) join(group string, topics []string, cfg *cg.ConsumerGroupConfig) *cg.ConsumerGroup {
	sc.t.Helper()
	if cfg == nil {
		cfg = shareConfig()
	}
	g, err := cg.JoinKafkaShareGroup(testCtx(sc.t), group, topics, sc.addrs, cfg)
	if err != nil {
		sc.t.Fatalf("JoinKafkaShareGroup: %v", err)
	}
	sc.t.Cleanup(func() { g.Close() })
	return g
}

// waitSettled waits until the group has finished every record of topic:
// the share-partition lag Kafka reports (DescribeShareGroupOffsets) is 0,
// or the start offset is the log end (kfake): every record was accepted,
// rejected or archived. (Kafka 4.4 persists the start offset lazily: it
// stays below the log end while the lag is 0.)
func (sc *shareCluster) waitSettled(group, topic string, partitions int32) {
	sc.t.Helper()
	adm := kadm.NewClient(sc.admin)
	ctx := testCtx(sc.t)
	var last string
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		var starts kadm.DescribedShareGroupsOffsets
		if err == nil {
			starts, err = adm.DescribeShareGroupOffsets(ctx, group)
		}
		if err == nil {
			settled := 0
			last = ""
			ends.Each(func(o kadm.ListedOffset) {
				s, ok := starts[group].Offsets.Lookup(topic, o.Partition)
				if ok && s.Err == nil && (s.Lag == 0 || s.StartOffset == o.Offset) {
					settled++
				}
				last += fmt.Sprintf(" p%d: start %d lag %d end %d;", o.Partition, s.StartOffset, s.Lag, o.Offset)
			})
			if settled == int(partitions) {
				return
			}
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			sc.t.Fatalf("group %s: records of %s not all finished:%s", group, topic, last)
		case <-time.After(100 * time.Millisecond): // polling the broker's offsets, not synchronizing
		}
	}
}

// shareLedger records every delivery of the scenarios' records.
type shareLedger struct {
	mu     sync.Mutex
	deliv  map[string][]shareDelivery // value: its deliveries, in order
	done   map[string]string          // value: how it was finished last ("accept", "reject")
	change chan struct{}
}

// shareDelivery is one delivery of a record to a member.
type shareDelivery struct {
	member string
	count  int32
}

func newShareLedger() *shareLedger {
	return &shareLedger{deliv: make(map[string][]shareDelivery), done: make(map[string]string), change: make(chan struct{})}
}

// delivered records ev's delivery to member.
func (l *shareLedger) delivered(member string, ev *cg.ConsumerEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := string(ev.Value)
	l.deliv[v] = append(l.deliv[v], shareDelivery{member, ev.DeliveryCount})
	l.wakeLocked()
}

// finished records how ev was finished.
func (l *shareLedger) finished(ev *cg.ConsumerEvent, how string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done[string(ev.Value)] = how
	l.wakeLocked()
}

func (l *shareLedger) wakeLocked() {
	close(l.change)
	l.change = make(chan struct{})
}

// waitFinished waits until every value is finished.
func (l *shareLedger) waitFinished(t *testing.T, values []string) {
	t.Helper()
	ctx := testCtx(t)
	for {
		l.mu.Lock()
		missing, ch := 0, l.change
		for _, v := range values {
			if l.done[v] == "" {
				missing++
			}
		}
		l.mu.Unlock()
		if missing == 0 {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("%d of %d records never finished", missing, len(values))
		}
	}
}

// deliveries returns a copy of value's deliveries.
func (l *shareLedger) deliveries(v string) []shareDelivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]shareDelivery(nil), l.deliv[v]...)
}

// duplicates counts the deliveries beyond the first of values.
func (l *shareLedger) duplicates(values []string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range values {
		if d := len(l.deliv[v]); d > 1 {
			n += d - 1
		}
	}
	return n
}

// consume runs g's Next loop on a goroutine until ctx ends or g closes:
// handle decides each message's fate. The returned channel closes when the
// loop has returned.
func consume(ctx context.Context, t *testing.T, name string, g *cg.ConsumerGroup, l *shareLedger, handle func(ev *cg.ConsumerEvent) string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := g.Next(ctx)
			if err != nil {
				if !errors.Is(err, context.Canceled) && !errors.Is(err, cg.ErrClosed) {
					t.Errorf("%s: Next: %v", name, err)
				}
				return
			}
			l.delivered(name, ev)
			finish(t, name, g, l, ev, handle(ev))
		}
	}()
	return done
}

// finish applies how ("accept": taking the next, "done": MarkDone,
// "release", "reject", "hold": leave it, the lock decides).
func finish(t *testing.T, name string, g *cg.ConsumerGroup, l *shareLedger, ev *cg.ConsumerEvent, how string) {
	var err error
	switch how {
	case "accept", "hold":
	case "done":
		err = g.MarkDone(ev)
	case "release":
		err = g.Release(ev)
	case "reject":
		err = g.Reject(ev)
	}
	if err != nil {
		t.Errorf("%s: %s of %s: %v", name, how, ev.Value, err)
		return
	}
	switch how {
	case "accept", "done":
		l.finished(ev, "accept")
	case "reject":
		l.finished(ev, "reject")
	}
}
