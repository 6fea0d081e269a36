package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/consumergroup/consumergroup"
)

// The reads, checks and writes of a migration: who is in the group, the
// offsets on either side, the plan, Kafka's commit and the read-back.
// checkIdle refuses while the group has members, in ZooKeeper or on
// Kafka's coordinator (either protocol).
func (m *migration) checkIdle(ctx context.Context) error {
	ids, _, err := m.z.Consumers(ctx, m.group)
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		return fmt.Errorf("refused, nothing written: group %s has %d members in ZooKeeper (%s): stop them first, gracefully (Close commits their offsets): %w",
			m.group, len(ids), strings.Join(ids, ", "), consumergroup.ErrGroupActive)
	}
	var members []string
	var described kadm.DescribedGroups
	err = retryKafka(ctx, func() error {
		described, err = m.admin.DescribeGroups(ctx, m.group)
		if err == nil {
			if d, ok := described[m.group]; ok && d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
				err = d.Err
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot tell whether group %s has members on Kafka's coordinator: %w", m.group, err)
	}
	if d, ok := described[m.group]; ok {
		switch {
		case d.Err == nil:
			for _, mem := range d.Members {
				members = append(members, mem.MemberID+" ("+mem.ClientHost+")")
			}
		case !errors.Is(d.Err, kerr.GroupIDNotFound):
			return fmt.Errorf("cannot tell whether group %s has members on Kafka's coordinator: %w", m.group, d.Err)
		}
	}
	// KIP-848 groups: brokers without the API have none.
	if cg, err := m.admin.DescribeConsumerGroups(ctx, m.group); err == nil {
		if d, ok := cg[m.group]; ok && d.Err == nil {
			for _, mem := range d.Members {
				members = append(members, mem.MemberID+" ("+mem.ClientHost+")")
			}
		}
	}
	if len(members) > 0 {
		return fmt.Errorf("refused, nothing written: group %s has %d members on Kafka's coordinator (%s): stop them first: %w",
			m.group, len(members), strings.Join(members, ", "), consumergroup.ErrGroupActive)
	}
	return nil
}

// zkOffsets reads the group's offsets in ZooKeeper; unreadable nodes are
// noted and left out.
func (m *migration) zkOffsets(ctx context.Context) (map[string]map[int32]int64, error) {
	offsets, err := m.z.Offsets(ctx, m.group)
	if offsets == nil {
		return nil, err
	}
	if err != nil {
		m.note("left out, unreadable in ZooKeeper: %v", err)
	}
	return offsets, nil
}

// retryKafka runs f again while Kafka answers with a retriable error (a
// group coordinator being elected, __consumer_offsets being created), until
// ctx ends.
func retryKafka(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil || !kerr.IsRetriable(err) {
			return err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// kafkaOffsets reads the group's offsets in Kafka.
func (m *migration) kafkaOffsets(ctx context.Context) (out map[string]map[int32]int64, err error) {
	err = retryKafka(ctx, func() error { out, err = m.fetchOffsets(ctx); return err })
	return out, err
}

func (m *migration) fetchOffsets(ctx context.Context) (map[string]map[int32]int64, error) {
	resp, err := m.admin.FetchOffsets(ctx, m.group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[string]map[int32]int64{}, nil // a group Kafka never saw has no offsets there
	}
	if err != nil {
		return nil, fmt.Errorf("read group %s's offsets in Kafka: %w", m.group, err)
	}
	out := map[string]map[int32]int64{}
	var errs []error
	resp.Each(func(o kadm.OffsetResponse) {
		switch {
		case o.Err != nil:
			errs = append(errs, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
		case o.At >= 0:
			if out[o.Topic] == nil {
				out[o.Topic] = map[int32]int64{}
			}
			out[o.Topic][o.Partition] = o.At
		}
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("read group %s's offsets in Kafka: %w", m.group, errors.Join(errs...))
	}
	return out, nil
}

// plan computes the destination's offsets from the source's: each within
// the log's bounds (what retention removed is reported and skipped), the
// newer of the two unless --force.
func (m *migration) plan(ctx context.Context, src, dst map[string]map[int32]int64) (map[consumergroup.TopicPartition]int64, error) {
	topics := make([]string, 0, len(src))
	for t := range src {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	if len(topics) == 0 {
		return nil, nil
	}
	starts, err := m.admin.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := m.admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	writes := map[consumergroup.TopicPartition]int64{}
	for _, t := range topics {
		parts := make([]int32, 0, len(src[t]))
		for p := range src[t] {
			parts = append(parts, p)
		}
		slices.Sort(parts)
		for _, p := range parts {
			row := migrateRow{Topic: t, Partition: p, Source: src[t][p], Dest: -1, LogStart: -1, LogEnd: -1, New: -1}
			if d, ok := dst[t][p]; ok {
				row.Dest, row.New = d, d
			}
			s, okS := starts.Lookup(t, p)
			en, okE := ends.Lookup(t, p)
			if !okS || !okE || s.Err != nil || en.Err != nil {
				why := "not in Kafka"
				if okE && en.Err != nil {
					why = en.Err.Error()
				} else if okS && s.Err != nil {
					why = s.Err.Error()
				}
				row.Note = "skipped: " + why + " (topic deleted?)"
				m.out.Partitions = append(m.out.Partitions, row)
				continue
			}
			row.LogStart, row.LogEnd = s.Offset, en.Offset
			v := row.Source
			var notes []string
			switch {
			case v < s.Offset:
				notes = append(notes, fmt.Sprintf("retention removed %d..%d: clamped to the log start %d", v, s.Offset-1, s.Offset))
				v = s.Offset
			case v > en.Offset:
				notes = append(notes, fmt.Sprintf("beyond the log end %d: clamped to it", en.Offset))
				v = en.Offset
			}
			if row.Dest > v {
				if m.force {
					notes = append(notes, fmt.Sprintf("the destination's newer %d overwritten (--force)", row.Dest))
				} else {
					notes = append(notes, fmt.Sprintf("the destination's %d is newer: kept (--force writes the source's)", row.Dest))
					v = row.Dest
				}
			}
			row.Note = strings.Join(notes, "; ")
			row.New = v
			row.Changed = v != row.Dest
			if row.Changed {
				writes[consumergroup.TopicPartition{Topic: t, Partition: p}] = v
			}
			m.out.Partitions = append(m.out.Partitions, row)
		}
	}
	m.out.Written = len(writes)
	return writes, nil
}

// commitKafka writes offsets to Kafka as a group without members.
func (m *migration) commitKafka(ctx context.Context, writes map[consumergroup.TopicPartition]int64) error {
	if len(writes) == 0 {
		return nil
	}
	os := make(kadm.Offsets)
	for tp, off := range writes {
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: off, LeaderEpoch: -1})
	}
	err := retryKafka(ctx, func() error {
		resp, err := m.admin.CommitOffsets(ctx, m.group, os)
		if err == nil {
			err = resp.Error()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("write group %s's offsets to Kafka: %w", m.group, err)
	}
	return nil
}

// verify checks that the destination, read back, holds every new offset.
func (m *migration) verify(after map[string]map[int32]int64) error {
	var bad []string
	for _, r := range m.out.Partitions {
		if r.New < 0 {
			continue
		}
		got, ok := after[r.Topic][r.Partition]
		if !ok {
			got = -1
		}
		if got != r.New {
			bad = append(bad, fmt.Sprintf("%s/%d holds %s, want %d", r.Topic, r.Partition, num(got), r.New))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("verify: read back, the %s offsets differ: %s", m.out.To, strings.Join(bad, ", "))
	}
	return nil
}
