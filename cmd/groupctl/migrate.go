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
	"github.com/consumergroup/consumergroup/internal/layout"
)

// Where migrate moves a group's offsets.
const (
	toKafka     = "kafka"     // from ZooKeeper to Kafka's group coordinator
	toZooKeeper = "zookeeper" // back: the rollback
)

// migrateRow is one partition of a migration: the source's offset, the
// destination's before, the log's bounds and what the destination holds
// after (or would, in a dry run).
type migrateRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Source    int64  `json:"source"`      // the source's committed offset
	Dest      int64  `json:"destination"` // the destination's before, -1 none
	LogStart  int64  `json:"log_start"`   // -1 unknown
	LogEnd    int64  `json:"log_end"`     // -1 unknown
	New       int64  `json:"new"`         // the destination's after, -1 nothing
	Changed   bool   `json:"changed"`
	Note      string `json:"note,omitempty"`
}

// migrateOut is what migrate prints.
type migrateOut struct {
	Group      string       `json:"group"`
	From       string       `json:"from"`
	To         string       `json:"to"`
	Force      bool         `json:"force"`
	Executed   bool         `json:"executed"`
	UpToDate   bool         `json:"up_to_date"` // nothing to change: a second run
	Written    int          `json:"written"`    // offsets written (or that --execute would write)
	Verified   bool         `json:"verified"`   // read back and found as written
	Marker     string       `json:"marker"`     // the marker's znode
	Migrated   bool         `json:"migrated"`   // the marker is there after the run (or would be)
	Partitions []migrateRow `json:"partitions"`
	Notes      []string     `json:"notes,omitempty"`
}

// markerBy names groupctl in the markers it writes.
const markerBy = "groupctl migrate"

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "migrate", "GROUP [--to kafka|zookeeper] [--bootstrap-server HOST:PORT,...] [--force] [--execute]")
	to := fs.String("to", toKafka, "where the group's offsets go: kafka (Kafka's group coordinator, __consumer_offsets) or zookeeper (the rollback)")
	bootstrap := fs.String("bootstrap-server", "", "Kafka brokers of the group coordinator, comma-separated (default: --brokers, or the brokers registered in ZooKeeper)")
	force := fs.Bool("force", false, "write exactly the source's offsets (bounded by the log), even where the destination's are newer (default: the newer of the two, Kafka 0.8.2's rule)")
	execute := fs.Bool("execute", false, "write the offsets and the marker (default: a dry run)")
	ctx, cancel, z, group, err := openGroup(ctx, fs, c, args)
	if err != nil {
		return err
	}
	defer cancel()
	defer z.Close()
	if *to != toKafka && *to != toZooKeeper {
		return usageError{msg: fmt.Sprintf("--to must be %s or %s, not %q", toKafka, toZooKeeper, *to), usage: usageText(fs)}
	}
	if *bootstrap != "" {
		if c.brokers != "" && c.brokers != *bootstrap {
			return usageError{msg: "--bootstrap-server and --brokers differ: give one", usage: usageText(fs)}
		}
		c.brokers = *bootstrap
	}
	cl, admin, err := c.kafka(ctx, z)
	if err != nil {
		return err
	}
	defer cl.Close()
	brokers, err := c.brokerList(ctx, z)
	if err != nil {
		return err
	}
	_, chroot, _ := c.servers()
	paths, _ := layout.NewPaths(chroot)
	m := &migration{c: c, e: e, z: z, admin: admin, group: group, force: *force, execute: *execute, brokers: strings.Join(brokers, ","),
		out: migrateOut{Group: group, To: *to, Force: *force, Marker: paths.Migration(group), Partitions: []migrateRow{}}}
	if *to == toKafka {
		m.out.From = toZooKeeper
		err = m.toKafka(ctx)
	} else {
		m.out.From = toKafka
		err = m.toZooKeeper(ctx)
	}
	if err != nil {
		return err
	}
	return m.print()
}

// migration is one run of migrate.
type migration struct {
	c       *common
	e       *env
	z       *consumergroup.ZK
	admin   *kadm.Client
	group   string
	brokers string // Kafka's, for the marker
	force   bool
	execute bool
	out     migrateOut
}

func (m *migration) note(format string, args ...any) {
	m.out.Notes = append(m.out.Notes, fmt.Sprintf(format, args...))
}

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

// toKafka moves the group from ZooKeeper to Kafka's coordinator.
func (m *migration) toKafka(ctx context.Context) error {
	if err := m.checkIdle(ctx); err != nil {
		return err
	}
	marker, err := m.z.Migration(ctx, m.group)
	if err != nil {
		return err
	}
	src, err := m.zkOffsets(ctx)
	if err != nil {
		return err
	}
	if len(src) == 0 {
		return fmt.Errorf("group %s has no offsets in ZooKeeper at %s: nothing to migrate", m.group, m.c.zookeeper)
	}
	dst, err := m.kafkaOffsets(ctx)
	if err != nil {
		return err
	}
	writes, err := m.plan(ctx, src, dst)
	if err != nil {
		return err
	}
	m.out.Migrated = true
	if len(writes) == 0 && marker != nil {
		m.out.UpToDate = true
		return nil
	}
	if !m.execute {
		m.out.Migrated = marker != nil
		return nil
	}
	created, err := m.mark(ctx, marker)
	if err != nil {
		return err
	}
	undo := func(cause error) error {
		if created {
			if err := m.z.ClearMigration(context.WithoutCancel(ctx), m.group); err != nil {
				return errors.Join(cause, fmt.Errorf("and removing the marker again failed: %w", err))
			}
			return fmt.Errorf("%w (the marker was removed again: members may start on ZooKeeper)", cause)
		}
		return cause
	}
	// A member that joined ZooKeeper between the check and the marker.
	if err := m.checkIdle(ctx); err != nil {
		return undo(err)
	}
	if err := m.commitKafka(ctx, writes); err != nil {
		return undo(err)
	}
	after, err := m.kafkaOffsets(ctx)
	if err != nil {
		return undo(fmt.Errorf("verify: %w", err))
	}
	if err := m.verify(after); err != nil {
		return undo(err)
	}
	m.out.Executed, m.out.Verified = true, true
	return nil
}

// mark writes the marker unless it is there (marker); created says
// whether this run wrote it.
func (m *migration) mark(ctx context.Context, marker *consumergroup.Migration) (created bool, err error) {
	if marker != nil {
		return false, nil
	}
	_, err = m.z.MarkMigrated(ctx, m.group, markerBy, m.brokers)
	return err == nil, err
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

// toZooKeeper rolls the group back: Kafka's offsets into ZooKeeper, the
// marker removed.
func (m *migration) toZooKeeper(ctx context.Context) error {
	if err := m.checkIdle(ctx); err != nil {
		return err
	}
	marker, err := m.z.Migration(ctx, m.group)
	if err != nil && !errors.Is(err, consumergroup.ErrBadData) {
		return err
	}
	markerThere := marker != nil || err != nil
	src, err := m.kafkaOffsets(ctx)
	if err != nil {
		return err
	}
	if len(src) == 0 {
		return fmt.Errorf("group %s has no offsets in Kafka: nothing to move back to ZooKeeper", m.group)
	}
	dst, err := m.zkOffsets(ctx)
	if err != nil {
		return err
	}
	writes, err := m.plan(ctx, src, dst)
	if err != nil {
		return err
	}
	if len(writes) == 0 && !markerThere {
		m.out.UpToDate = true
		return nil
	}
	if !m.execute {
		m.out.Migrated = markerThere
		return nil
	}
	if len(writes) > 0 {
		if err := m.z.ResetOffsets(ctx, m.group, writes); err != nil {
			if errors.Is(err, consumergroup.ErrGroupActive) {
				return fmt.Errorf("refused, nothing written: %w (stop the group's members first)", err)
			}
			return err
		}
	}
	after, err := m.zkOffsets(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if err := m.verify(after); err != nil {
		return err
	}
	if err := m.z.ClearMigration(ctx, m.group); err != nil {
		return err
	}
	m.out.Executed, m.out.Verified = true, true
	return nil
}

func (m *migration) print() error {
	for _, n := range m.out.Notes {
		fmt.Fprintf(m.e.stderr, "groupctl migrate: note: %s\n", n)
	}
	for _, r := range m.out.Partitions {
		if r.Note != "" {
			fmt.Fprintf(m.e.stderr, "groupctl migrate: note: %s/%d: %s\n", r.Topic, r.Partition, r.Note)
		}
	}
	o := m.out
	dest := "Kafka (__consumer_offsets)"
	if o.To == toZooKeeper {
		dest = "ZooKeeper"
	}
	return newPrinter(m.e, m.c).print(o, func(t *tableWriter) {
		t.row("TOPIC", "PARTITION", strings.ToUpper(o.From), strings.ToUpper(o.To), "LOG-START", "LOG-END", "NEW", "NOTE")
		for _, r := range o.Partitions {
			newCell := num(r.New)
			if r.Changed {
				newCell += " *"
			}
			t.row(r.Topic, r.Partition, r.Source, num(r.Dest), num(r.LogStart), num(r.LogEnd), newCell, orDash(r.Note))
		}
		switch {
		case o.UpToDate && o.To == toKafka:
			t.line("nothing to change: group %s is migrated already (Kafka holds its offsets, marker %s)", o.Group, o.Marker)
		case o.UpToDate:
			t.line("nothing to change: group %s is on ZooKeeper already (its offsets there, no marker)", o.Group)
		case !o.Executed && o.To == toKafka:
			t.line("dry run: nothing written; --execute writes %d offsets (*) to %s and the marker %s", o.Written, dest, o.Marker)
		case !o.Executed:
			t.line("dry run: nothing written; --execute writes %d offsets (*) to %s and removes the marker %s", o.Written, dest, o.Marker)
		case o.To == toKafka && o.Written == 0:
			t.line("migrated: Kafka held every offset already (dual commit), verified; marker %s written: JoinConsumerGroup now refuses group %s (ConsumerGroupConfig.IgnoreMigration overrides); ZooKeeper's offsets are kept for a rollback (groupctl migrate %s --to zookeeper)",
				o.Marker, o.Group, o.Group)
		case o.To == toKafka:
			t.line("migrated: %d offsets written to %s and verified; marker %s written: JoinConsumerGroup now refuses group %s (ConsumerGroupConfig.IgnoreMigration overrides); ZooKeeper's offsets are kept for a rollback (groupctl migrate %s --to zookeeper)",
				o.Written, dest, o.Marker, o.Group, o.Group)
		default:
			t.line("rolled back: %d offsets written to %s and verified; marker %s removed: members may join through ZooKeeper again; Kafka's offsets are kept", o.Written, dest, o.Marker)
		}
	})
}
