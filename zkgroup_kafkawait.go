package consumergroup

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Waiting for Kafka: a member that claimed partitions and cannot list
// their offsets in Kafka (brokers down, or not answering) keeps its claims
// and asks again, backing off, instead of releasing them and claiming them
// again at every retry of the loop (issue 20: 20 claim/release cycles in
// 4 s, and a Health that said only "no partitions"). Health says
// ReasonKafkaUnreachable meanwhile, and one REBALANCE_ERROR
// (ErrKafkaUnreachable) tells the application when it begins. A waiting
// partition that the assignment moves away is released (apply, through
// releaseWaiting); Close releases the rest (end); a session's end takes the
// claims with it.

// awaitKafka keeps tps, claimed, whose offsets Kafka could not list (err),
// and schedules the next listing.
func (m *member) awaitKafka(tps []TopicPartition, err error) {
	g := m.c.g
	if m.kafkaWait == nil {
		m.kafkaWait = make(map[TopicPartition]bool)
	}
	for _, tp := range tps {
		m.kafkaWait[tp] = true
	}
	if m.kafkaBackoff == 0 {
		m.kafkaBackoff = kafkaRetryMin
		g.log.Warn("Kafka unreachable: keeping the claimed partitions and asking again", "partitions", tps, "err", err)
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: err})
	} else {
		m.kafkaBackoff = min(2*m.kafkaBackoff, kafkaRetryMax)
		g.log.Debug("Kafka still unreachable", "partitions", tps, "retry", m.kafkaBackoff, "err", err)
	}
	g.obs.health.kafka(false, fmt.Sprintf("cannot list the offsets of %d claimed partitions, asking again (%v)", len(m.kafkaWait), err))
	m.kafkaRetry = time.After(m.kafkaBackoff)
}

// kafkaAnswered ends a wait for Kafka: it listed offsets again, or nothing
// waits for it any more. Partitions still waiting (Kafka answered for
// others) are asked for at once.
func (m *member) kafkaAnswered() {
	if m.kafkaBackoff == 0 {
		return
	}
	m.kafkaBackoff, m.kafkaRetry = 0, nil
	if len(m.kafkaWait) > 0 {
		m.kafkaRetry = time.After(0)
	}
	m.c.g.obs.health.kafka(true, "")
	m.c.g.log.Info("Kafka answers again", "waiting", len(m.kafkaWait))
}

// retryKafka takes over the waiting partitions that are still this
// member's: Kafka is asked again (takeOver waits again if it fails).
func (m *member) retryKafka() error {
	m.kafkaRetry = nil
	mine := m.mine()
	var tps []TopicPartition
	for tp := range m.kafkaWait {
		if mine[tp] {
			tps = append(tps, tp)
			delete(m.kafkaWait, tp)
		}
	}
	if len(tps) == 0 {
		return nil
	}
	sortPartitions(tps)
	return m.takeOver(tps)
}

// releaseWaiting releases the waiting partitions that mine (the
// assignment in force) no longer gives this member. One whose release
// fails waits on, to be released at the next apply.
func (m *member) releaseWaiting(mine map[TopicPartition]bool) error {
	var errs error
	tps := slices.Collect(maps.Keys(m.kafkaWait))
	sortPartitions(tps)
	for _, tp := range tps {
		if mine[tp] {
			continue
		}
		if err := m.release(tp); err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		delete(m.kafkaWait, tp)
		m.gaveNow = append(m.gaveNow, tp)
	}
	if len(m.kafkaWait) == 0 {
		m.kafkaAnswered() // nothing waits for Kafka any more
	}
	return errs
}

// waiting returns the partitions waiting for Kafka, sorted.
func (m *member) waiting() []TopicPartition {
	tps := slices.Collect(maps.Keys(m.kafkaWait))
	sortPartitions(tps)
	return tps
}
