package consumergroup_test

import (
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestTakeOverLeadersFromZooKeeper: a take-over lists its partitions'
// bounds from the leaders Kafka's controller records in ZooKeeper, and
// falls back to Kafka's metadata for a partition whose state names a broker
// the client does not know, no leader, or cannot be read: each partition
// starts where it must (its committed offset, or the oldest), nothing is
// skipped or delivered twice.
func TestTakeOverLeadersFromZooKeeper(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 4})
	c.produce("t", 4, 40) // partition p holds the messages p, p+4, ...: offsets 0..9
	raw := testenv.RawZK(t)
	states := c.chroot + "/brokers/topics/t/partitions/"
	testenv.PutZNode(t, raw, states+"1/state", `{"controller_epoch":1,"leader":99,"version":1,"leader_epoch":0,"isr":[99]}`)
	testenv.PutZNode(t, raw, states+"2/state", `{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":1,"isr":[]}`)
	testenv.PutZNode(t, raw, states+"3/state", `not a state`)
	testenv.PutZNode(t, raw, c.chroot+"/consumers/g/offsets/t/1", "5") // committed: start at 5
	testenv.PutZNode(t, raw, c.chroot+"/consumers/g/offsets/t/0", "3")

	l := newLedger()
	m := c.join("a", "g", []string{"t"}, groupConfig(), false, l.handle)
	defer m.close(t)
	l.waitProcessed(t, 40-5-3)
	l.mu.Lock()
	defer l.mu.Unlock()
	for seq, n := range l.count {
		p, off := seq%4, seq/4
		if (p == 1 && off < 5) || (p == 0 && off < 3) {
			t.Errorf("message %d (partition %d, offset %d) delivered: before the committed offset", seq, p, off)
		}
		if n > 1 {
			t.Errorf("message %d delivered %d times", seq, n)
		}
	}
	if l.processed != 32 {
		t.Errorf("processed %d distinct messages, want 32", l.processed)
	}
}
