package compat

import (
	"errors"
	"fmt"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/internal/zk"
)

// startBurrow starts Burrow (LinkedIn's lag monitor, Debian's package
// burrow: its kafka_zk module reads the group's offsets nodes in the
// target's ZooKeeper, its cluster module the target's log ends) on r's
// target, once /consumers exists (Burrow lists it once, at its start), and
// returns once its HTTP API answers; nil when Burrow is not installed
// (scripts/compat.sh installs it where apt-get may). It is stopped when the
// test ends.
func (r *run) startBurrow() *testenv.Burrow {
	r.t.Helper()
	if !testenv.BurrowInstalled() {
		return nil
	}
	if _, err := r.conn.Create(r.e.chroot+"/consumers", nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		r.t.Fatalf("create %s/consumers: %v", r.e.chroot, err)
	}
	b, err := testenv.StartBurrow(testenv.BurrowConfig{ZooKeeper: r.e.servers, Chroot: r.e.chroot, Kafka: r.e.kafka.Addrs()})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		if err := b.Close(); err != nil {
			r.t.Error(err)
		}
		if r.t.Failed() {
			r.t.Logf("Burrow's output:\n%s", b.Output())
		}
	})
	return b
}

// burrowOffsetsMatch returns nil when Burrow reports, for every partition
// of the topic, the log end as the group's latest committed offset.
func (r *run) burrowOffsetsMatch(b *testenv.Burrow) error {
	parts, err := b.ConsumerOffsets(group, topic)
	if err != nil {
		return err
	}
	if len(parts) != partitions {
		return fmt.Errorf("burrow lists %d partitions of %s, want %d", len(parts), topic, partitions)
	}
	for p, offsets := range parts {
		latest := int64(-1)
		for _, o := range offsets {
			latest = max(latest, o)
		}
		if latest != r.produced[int32(p)] {
			return fmt.Errorf("burrow: partition %d at %d, want %d", p, latest, r.produced[int32(p)])
		}
	}
	return nil
}
