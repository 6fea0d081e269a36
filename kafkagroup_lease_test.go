package consumergroup

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaLeaseHeard: the rules of Kafka's lease, hook by hook. Before the
// coordinator answered anything the lease is not valid (it was an hour
// from the first look, which the engine kept: a member's lease did not
// run out in its first hour); a heartbeat's answer counts once franz-go
// writes its next heartbeat (it took that answer without being fenced),
// never when franz-go reports the member lost before (the answer fenced
// it).
func TestKafkaLeaseHeard(t *testing.T) {
	ready := make(chan struct{})
	close(ready)
	kc := &kafkaCoordinator{session: 3 * time.Second, ready: ready, epoch: time.Now()}
	valid := func() bool { return time.Now().Before(kc.lease()) }
	answer := func(key kmsg.Key) {
		kc.OnBrokerE2E(kgo.BrokerMetadata{}, key.Int16(), kgo.BrokerE2E{ReadWait: time.Millisecond})
	}
	write := func(key kmsg.Key) { kc.OnBrokerWrite(kgo.BrokerMetadata{}, key.Int16(), 100, 0, 0, nil) }

	if valid() {
		t.Fatalf("lease valid until %v before the coordinator answered anything", kc.lease())
	}
	answer(kmsg.Heartbeat)
	if valid() {
		t.Fatal("lease valid on a heartbeat's answer franz-go has not taken yet")
	}
	kc.onLost(context.Background(), nil, nil) // the answer fenced the member
	write(kmsg.JoinGroup)
	write(kmsg.Heartbeat)
	if valid() {
		t.Fatal("lease valid on a heartbeat's answer that fenced the member")
	}
	answer(kmsg.Heartbeat)
	write(kmsg.Heartbeat)
	if !valid() {
		t.Fatal("lease not valid once franz-go sent the next heartbeat after an answer")
	}
	if d := time.Until(kc.lease()); d > kc.session*2/3 {
		t.Fatalf("lease valid for %v, more than two thirds of the session timeout", d)
	}
	// On the monotonic clock: a wall clock stepped back must not lengthen
	// it (time.Time's String shows the monotonic reading as m=...).
	if l := kc.lease().String(); !strings.Contains(l, " m=") {
		t.Fatalf("lease %s carries no monotonic clock reading: it moves with the wall clock", l)
	}

	// KIP-848: the answer that assigns counts at onAssigned.
	kc2 := &kafkaCoordinator{session: 3 * time.Second, ready: ready, epoch: time.Now()}
	kc2.OnBrokerE2E(kgo.BrokerMetadata{}, kmsg.ConsumerGroupHeartbeat.Int16(), kgo.BrokerE2E{})
	kc2.onAssigned(context.Background(), nil, nil)
	if !time.Now().Before(kc2.lease()) {
		t.Fatal("lease not valid after the answer that assigned")
	}
}
