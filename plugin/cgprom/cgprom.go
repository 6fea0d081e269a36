// Package cgprom exports the measurements of consumergroup members as
// Prometheus metrics. It lives in its own module so that the library's
// go.mod does not depend on Prometheus.
//
//	m := cgprom.NewMetrics("consumergroup")
//	prometheus.MustRegister(m)
//	cfg := consumergroup.NewConsumerGroupConfig()
//	cfg.Metrics = m
//
// One Metrics may serve every member of a process; the series carry the
// group's name (and the topic and partition where they are per partition).
// When a member closes, the gauges of its group go (Metrics.Closed); the
// counters and histograms stay.
package cgprom

import (
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/consumergroup/consumergroup"
)

// Metrics is a consumergroup.Metrics and a prometheus.Collector: set it in
// ConsumerGroupConfig.Metrics and register it.
type Metrics struct {
	delivered   *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	committed   *prometheus.GaugeVec
	logEnd      *prometheus.GaugeVec
	lag         *prometheus.GaugeVec
	commitTime  *prometheus.HistogramVec
	commitFails *prometheus.CounterVec
	rebalances  *prometheus.CounterVec
	rebTime     *prometheus.HistogramVec
	unowned     *prometheus.HistogramVec
	held        *prometheus.GaugeVec
	handoffWait *prometheus.HistogramVec
	handoffOver *prometheus.CounterVec
	sessLost    *prometheus.CounterVec
	queue       *prometheus.GaugeVec
	buffered    *prometheus.GaugeVec
	dualTime    *prometheus.HistogramVec
	dualFails   *prometheus.CounterVec
	shared      *prometheus.CounterVec // share groups: records by what became of them

	// The per-partition counters of the delivery path, looked up once.
	mu    sync.RWMutex
	parts map[partKey]partCounters
}

type partKey struct {
	group string
	tp    consumergroup.TopicPartition
}

type partCounters struct{ messages, bytes prometheus.Counter }

var _ consumergroup.Metrics = (*Metrics)(nil)
var _ consumergroup.ShareMetrics = (*Metrics)(nil)
var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns the metrics, named namespace_name (e.g.
// consumergroup_lag); an empty namespace means "consumergroup".
func NewMetrics(namespace string) *Metrics {
	if namespace == "" {
		namespace = "consumergroup"
	}
	perPart := []string{"group", "topic", "partition"}
	perGroup := []string{"group"}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	}
	hist := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help,
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, perGroup) // 1 ms .. 262 s
	}
	return &Metrics{
		delivered:   counter("delivered_messages_total", "Messages handed to the application.", perPart),
		bytes:       counter("delivered_bytes_total", "Bytes of keys, values and headers handed to the application.", perPart),
		committed:   gauge("committed_offset", "The offset the member committed last: the next one to consume.", perPart),
		logEnd:      gauge("log_end_offset", "The partition's log end (high watermark) at the member's last fetch.", perPart),
		lag:         gauge("lag", "Log end minus committed offset, as the member knows them.", perPart),
		commitTime:  hist("commit_seconds", "Time a commit of offsets took, failed ones included."),
		commitFails: counter("commit_failures_total", "Commits of offsets that failed.", perGroup),
		rebalances:  counter("rebalances_total", "Rebalances of the member that completed.", perGroup),
		rebTime:     hist("rebalance_seconds", "Time from a rebalance's start to its end, for the member."),
		unowned:     hist("unowned_seconds", "Per rebalance, the longest time a partition the member claimed was without an owner."),
		held:        gauge("partitions_held", "Partitions the member holds.", perGroup),
		handoffWait: hist("handoff_wait_seconds", "Time a member giving partitions up waited for the application's message in hand."),
		handoffOver: counter("handoff_timeouts_total", "Hand-offs whose wait HandoffTimeout cut short.", perGroup),
		sessLost:    counter("session_losses_total", "Coordination sessions lost under the member.", perGroup),
		queue:       gauge("delivery_queue_messages", "Messages fetched by the last poll and waiting for the application.", perGroup),
		buffered:    gauge("client_buffered_records", "Records the Kafka client has buffered beyond the last poll.", perGroup),
		dualTime:    hist("dual_commit_seconds", "Time a copy of committed offsets to Kafka (DualCommit) took, failed ones included."),
		dualFails:   counter("dual_commit_failures_total", "Copies of committed offsets to Kafka (DualCommit) that failed; each is retried.", perGroup),
		shared: counter("share_records_total", "Share groups (JoinKafkaShareGroup): records acquired, redelivered (acquired with a "+
			"delivery count above 1), accepted, released, rejected, renewed (lock renewals), expired (locks that ran out) and "+
			"ack_errors (partitions whose acknowledgements Kafka refused), by outcome.", append(slices.Clone(perPart), "outcome")),
		parts: make(map[partKey]partCounters),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.delivered, m.bytes, m.committed, m.logEnd, m.lag, m.commitTime, m.commitFails,
		m.rebalances, m.rebTime, m.unowned, m.held, m.handoffWait, m.handoffOver, m.sessLost, m.queue, m.buffered,
		m.dualTime, m.dualFails, m.shared}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func labels(group string, tp consumergroup.TopicPartition) []string {
	return []string{group, tp.Topic, strconv.Itoa(int(tp.Partition))}
}

// Delivered implements consumergroup.Metrics.
func (m *Metrics) Delivered(e consumergroup.DeliveredEvent) {
	k := partKey{e.Group, e.Partition}
	m.mu.RLock()
	c, ok := m.parts[k]
	m.mu.RUnlock()
	if !ok {
		l := labels(e.Group, e.Partition)
		c = partCounters{m.delivered.WithLabelValues(l...), m.bytes.WithLabelValues(l...)}
		m.mu.Lock()
		m.parts[k] = c
		m.mu.Unlock()
	}
	c.messages.Add(float64(e.Messages))
	c.bytes.Add(float64(e.Bytes))
}

// Committed implements consumergroup.Metrics.
func (m *Metrics) Committed(e consumergroup.CommitEvent) {
	m.commitTime.WithLabelValues(e.Group).Observe(e.Took.Seconds())
	if e.Err != nil {
		m.commitFails.WithLabelValues(e.Group).Inc()
	}
}

// DualCommitted implements consumergroup.Metrics.
func (m *Metrics) DualCommitted(e consumergroup.CommitEvent) {
	m.dualTime.WithLabelValues(e.Group).Observe(e.Took.Seconds())
	if e.Err != nil {
		m.dualFails.WithLabelValues(e.Group).Inc()
	}
}

// Lag implements consumergroup.Metrics.
func (m *Metrics) Lag(e consumergroup.LagEvent) {
	l := labels(e.Group, e.Partition)
	m.committed.WithLabelValues(l...).Set(float64(e.Committed))
	m.logEnd.WithLabelValues(l...).Set(float64(e.LogEnd))
	m.lag.WithLabelValues(l...).Set(float64(e.Lag))
}

// Rebalanced implements consumergroup.Metrics: the partition gauges of the
// partitions released go.
func (m *Metrics) Rebalanced(e consumergroup.RebalanceEvent) {
	m.rebalances.WithLabelValues(e.Group).Inc()
	m.rebTime.WithLabelValues(e.Group).Observe(e.Took.Seconds())
	if len(e.Claimed) > 0 {
		m.unowned.WithLabelValues(e.Group).Observe(e.Unowned.Seconds())
	}
	m.held.WithLabelValues(e.Group).Set(float64(e.Held))
	for _, tp := range e.Released {
		m.forget(e.Group, &tp)
	}
}

// HandedOff implements consumergroup.Metrics.
func (m *Metrics) HandedOff(e consumergroup.HandoffEvent) {
	m.handoffWait.WithLabelValues(e.Group).Observe(e.Waited.Seconds())
	if e.TimedOut {
		m.handoffOver.WithLabelValues(e.Group).Inc()
	}
}

// SessionLost implements consumergroup.Metrics: the member holds nothing
// any more, and its partition gauges go.
func (m *Metrics) SessionLost(e consumergroup.SessionLossEvent) {
	m.sessLost.WithLabelValues(e.Group).Inc()
	m.held.WithLabelValues(e.Group).Set(0)
	m.forget(e.Group, nil)
}

// Closed implements consumergroup.Metrics: the member left the group, and
// the gauges of its state go (committed_offset, log_end_offset, lag,
// partitions_held, delivery_queue_messages, client_buffered_records), so
// that a closed member does not look as if it held its partitions still.
// The counters and histograms keep their totals.
func (m *Metrics) Closed(e consumergroup.ClosedEvent) {
	m.forget(e.Group, nil)
	for _, g := range []*prometheus.GaugeVec{m.held, m.queue, m.buffered} {
		g.DeleteLabelValues(e.Group)
	}
}

// Shared implements consumergroup.ShareMetrics: a share group member's
// records of one partition, counted by outcome in share_records_total.
func (m *Metrics) Shared(e consumergroup.ShareEvent) {
	c := e.Counts
	l := labels(e.Group, e.Partition)
	for _, o := range []struct {
		outcome string
		n       int64
	}{{"acquired", c.Acquired}, {"redelivered", c.Redelivered}, {"accepted", c.Accepted}, {"released", c.Released},
		{"rejected", c.Rejected}, {"renewed", c.Renewed}, {"expired", c.Expired}, {"ack_errors", c.AckErrors}} {
		if o.n > 0 {
			m.shared.WithLabelValues(append(l, o.outcome)...).Add(float64(o.n))
		}
	}
}

// Polled implements consumergroup.Metrics.
func (m *Metrics) Polled(e consumergroup.PollEvent) {
	m.queue.WithLabelValues(e.Group).Set(float64(e.Fetched))
	m.buffered.WithLabelValues(e.Group).Set(float64(e.Buffered))
}

// forget deletes the gauges of a partition of group, or of all of them
// (tp nil).
func (m *Metrics) forget(group string, tp *consumergroup.TopicPartition) {
	match := prometheus.Labels{"group": group}
	if tp != nil {
		match["topic"], match["partition"] = tp.Topic, strconv.Itoa(int(tp.Partition))
	}
	for _, g := range []*prometheus.GaugeVec{m.committed, m.logEnd, m.lag} {
		g.DeletePartialMatch(match)
	}
}

// Partitions returns the gauge of the partitions a member of group holds.
func (m *Metrics) Partitions(group string) prometheus.Gauge { return m.held.WithLabelValues(group) }
