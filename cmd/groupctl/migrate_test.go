package main

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// migrate runs "groupctl migrate GROUP --zookeeper ADDR ARGS..." in this
// process, through run.
func (c *cluster) migrate(group string, args ...string) result {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(""), getenv: func(string) string { return "" }}
	full := append(append([]string{"migrate", group, "--zookeeper", c.zkAddr()}, c.extra...), args...)
	start := time.Now()
	code := run(testCtx(c.t), e, full)
	return result{args: full, code: code, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
}

// admin is an admin client of the cluster, closed with the test.
func (c *cluster) admin() *kadm.Client {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// kafkaOffsets is group's offsets of topic in Kafka's __consumer_offsets.
func (c *cluster) kafkaOffsets(group, topic string) map[int32]int64 {
	c.t.Helper()
	out, err := testenv.CommittedOffsets(testCtx(c.t), c.admin(), group)
	if err != nil {
		c.t.Fatal(err)
	}
	return out[topic]
}

// zkOffsets is group's offsets of topic in ZooKeeper.
func (c *cluster) zkOffsets(group, topic string) map[int32]int64 {
	c.t.Helper()
	offsets, err := c.ZK().Offsets(testCtx(c.t), group)
	if err != nil {
		c.t.Fatal(err)
	}
	return offsets[topic]
}

// migrated reports whether group's migration marker is there.
func (c *cluster) migrated(group string) bool {
	c.t.Helper()
	m, err := c.ZK().Migration(testCtx(c.t), group)
	if err != nil {
		c.t.Fatal(err)
	}
	return m != nil
}

func wantOffsets(t *testing.T, what string, got, want map[int32]int64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

// TestMigrate: groupctl migrate on a real Kafka 3.9 with ZooKeeper: it
// refuses while the group has members (either coordinator) and writes
// nothing; a dry run writes nothing; --execute clamps what retention
// removed, keeps Kafka's newer offsets (--force overrides), verifies and
// leaves the marker that makes JoinConsumerGroup refuse, ZooKeeper's
// offsets kept; a second run changes nothing and says so; --to zookeeper
// rolls back.
func TestMigrate(t *testing.T) {
	c := newClusterKind(t, testenv.KindKafka39, map[string]int32{"mig": 3, "other": 1})
	topic, group := c.topic("mig"), c.group("g")
	for p := int32(0); p < 3; p++ {
		c.produce(topic, p, "0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
	}
	ctx := testCtx(t)
	z := c.ZK()
	for p, off := range map[int32]int64{0: 4, 1: 6, 2: 8} {
		if err := z.Commit(ctx, group, topic, p, off); err != nil {
			t.Fatal(err)
		}
	}
	adm := c.admin()

	// Members on ZooKeeper: refused, nothing written.
	m := c.join(group, []string{topic}, false)
	c.migrate(group, "--execute").want(t, exitError).wantStderr(t, "refused, nothing written", "members in ZooKeeper", m.g.ID())
	m.close(t)
	if k := c.kafkaOffsets(group, topic); len(k) != 0 || c.migrated(group) {
		t.Fatalf("a refused migration wrote Kafka offsets %v, marker %v", k, c.migrated(group))
	}
	// A member on Kafka's coordinator: refused, nothing written.
	km, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(c.topic("other")),
		kgo.DisableAutoCommit(), kgo.HeartbeatInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitTimeout, "the Kafka member's join", func() error {
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		km.PollRecords(pctx, 1) // the member joins while it polls
		cancel()
		d, err := adm.DescribeGroups(ctx, group)
		if err != nil || len(d[group].Members) == 0 {
			return errors.New("no member yet")
		}
		return nil
	})
	c.migrate(group, "--execute").want(t, exitError).wantStderr(t, "refused, nothing written", "members on Kafka's coordinator")
	km.Close()
	if k := c.kafkaOffsets(group, topic); len(k) != 0 || c.migrated(group) {
		t.Fatalf("a refused migration wrote Kafka offsets %v, marker %v", k, c.migrated(group))
	}

	// Retention removed 0/0..6; Kafka has a newer offset of partition 1.
	if _, err := adm.DeleteRecords(ctx, kadm.OffsetsFromRecords(kgo.Record{Topic: topic, Partition: 0, Offset: 6})); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CommitOffsets(ctx, group, kadm.OffsetsFromRecords(kgo.Record{Topic: topic, Partition: 1, Offset: 8})); err != nil {
		t.Fatal(err)
	}
	before := map[int32]int64{1: 9}
	wantOffsets(t, "Kafka's offsets before", c.kafkaOffsets(group, topic), before)

	// Dry run: reported, nothing written.
	r := c.migrate(group).want(t, exitOK).wantStdout(t, "dry run: nothing written", "--execute writes 2 offsets").
		wantStderr(t, "retention removed 4..6: clamped to the log start 7", "the destination's 9 is newer: kept")
	t.Logf("dry run on Kafka 3.9:\n%s%s", r.stdout, r.stderr)
	wantOffsets(t, "Kafka's offsets after a dry run", c.kafkaOffsets(group, topic), before)
	if c.migrated(group) {
		t.Fatal("a dry run wrote the marker")
	}

	// Execute: clamped, max wins, verified, marked; ZooKeeper's kept.
	r = c.migrate(group, "--execute").want(t, exitOK).wantStdout(t, "migrated: 2 offsets written", "verified", "/migration")
	t.Logf("--execute on Kafka 3.9:\n%s%s", r.stdout, r.stderr)
	wantOffsets(t, "Kafka's offsets after --execute", c.kafkaOffsets(group, topic), map[int32]int64{0: 7, 1: 9, 2: 8})
	wantOffsets(t, "ZooKeeper's offsets after --execute", c.zkOffsets(group, topic), map[int32]int64{0: 4, 1: 6, 2: 8})
	if !c.migrated(group) {
		t.Fatal("no marker after --execute")
	}
	_, err = consumergroup.JoinConsumerGroup(group, topic, []string{c.zkAddr()}, nil)
	if !errors.Is(err, consumergroup.ErrGroupMigrated) {
		t.Fatalf("JoinConsumerGroup after the migration: %v; want ErrGroupMigrated", err)
	}

	// A second run: nothing to change.
	var out migrateOut
	c.migrate(group, "--execute", "--output", "json").want(t, exitOK).decode(t, &out)
	if !out.UpToDate || out.Executed || out.Written != 0 || !out.Migrated {
		t.Fatalf("a second run: %+v; want up to date, nothing written", out)
	}
	c.migrate(group, "--execute").want(t, exitOK).wantStdout(t, "nothing to change: group "+group+" is migrated already")

	// --force: exactly ZooKeeper's, within the log.
	c.migrate(group, "--execute", "--force").want(t, exitOK).wantStdout(t, "migrated: 1 offsets written").
		wantStderr(t, "the destination's newer 9 overwritten (--force)")
	wantOffsets(t, "Kafka's offsets after --force", c.kafkaOffsets(group, topic), map[int32]int64{0: 7, 1: 6, 2: 8})

	// Rollback: Kafka's into ZooKeeper (the newer of the two), the marker removed.
	r = c.migrate(group, "--to", "zookeeper").want(t, exitOK).wantStdout(t, "dry run", "removes the marker")
	if !c.migrated(group) {
		t.Fatal("a dry run of the rollback removed the marker")
	}
	r = c.migrate(group, "--to", "zookeeper", "--execute").want(t, exitOK).wantStdout(t, "rolled back: 1 offsets written to ZooKeeper and verified")
	t.Logf("--to zookeeper --execute on Kafka 3.9:\n%s%s", r.stdout, r.stderr)
	wantOffsets(t, "ZooKeeper's offsets after the rollback", c.zkOffsets(group, topic), map[int32]int64{0: 7, 1: 6, 2: 8})
	if c.migrated(group) {
		t.Fatal("the marker is still there after the rollback")
	}
	c.migrate(group, "--to", "zookeeper", "--execute").want(t, exitOK).wantStdout(t, "nothing to change")
	g, err := consumergroup.JoinConsumerGroup(group, topic, []string{c.zkAddr()}, nil)
	if err != nil {
		t.Fatalf("JoinConsumerGroup after the rollback: %v", err)
	}
	g.Close()

	// Bad usage.
	c.migrate(group, "--to", "nowhere").want(t, exitUsage).wantStderr(t, `--to must be kafka or zookeeper, not "nowhere"`)
}
