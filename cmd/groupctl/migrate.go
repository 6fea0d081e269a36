package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/layout"
	"github.com/consumergroup/consumergroup/zookeeper"
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
		// The coordinator itself: unreachable, it is exit status 2, as
		// ZooKeeper is (c.kafka).
		c.bootstrap = *bootstrap
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
	z       *zookeeper.Client
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
func (m *migration) mark(ctx context.Context, marker *zookeeper.Migration) (created bool, err error) {
	if marker != nil {
		return false, nil
	}
	_, err = m.z.MarkMigrated(ctx, m.group, markerBy, m.brokers)
	return err == nil, err
}

// toZooKeeper rolls the group back: Kafka's offsets into ZooKeeper, the
// marker removed.
func (m *migration) toZooKeeper(ctx context.Context) error {
	if err := m.checkIdle(ctx); err != nil {
		return err
	}
	marker, err := m.z.Migration(ctx, m.group)
	if err != nil && !errors.Is(err, zookeeper.ErrBadData) {
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
