package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// getJSON reads path and decodes its JSON into a generic map, so that the
// tests see the JSON types as written.
func getJSON(t *testing.T, s *session, path string) map[string]any {
	t.Helper()
	data, _, err := s.Get(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s holds %q: %v", path, data, err)
	}
	return m
}

// number returns m[key] when it is a JSON number.
func number(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	n, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%q is %T %v in %v, want a number", key, m[key], m[key], m)
	}
	return n
}

// numbers returns v as a list of ints when it is a JSON array of numbers.
func numbers(t *testing.T, v any) []int32 {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is %T, want an array", v, v)
	}
	out := make([]int32, len(list))
	for i, x := range list {
		n, ok := x.(float64)
		if !ok {
			t.Fatalf("%v holds %T %v, want numbers", list, x, x)
		}
		out[i] = int32(n)
	}
	return out
}

func checkBroker(t *testing.T, s *session, chroot, id, addr string) {
	t.Helper()
	path := chroot + "/brokers/ids/" + id
	_, stat, err := s.Get(path)
	if err != nil {
		t.Fatal(err)
	}
	if stat.EphemeralOwner == 0 {
		t.Errorf("%s is not ephemeral", path)
	}
	m := getJSON(t, s, path)
	if v := number(t, m, "version"); v != 4 {
		t.Errorf("%s: version %v, want 4", path, v)
	}
	if v := number(t, m, "jmx_port"); v != -1 {
		t.Errorf("%s: jmx_port %v, want -1", path, v)
	}
	port := number(t, m, "port")
	if got := fmt.Sprintf("%v:%v", m["host"], port); got != addr {
		t.Errorf("%s: host:port %s, want %s", path, got, addr)
	}
	ts, ok := m["timestamp"].(string)
	if !ok {
		t.Fatalf("%s: timestamp is %T, want a string", path, m["timestamp"])
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Minute {
		t.Errorf("%s: timestamp %q is not the unix time in ms", path, ts)
	}
	endpoints, ok := m["endpoints"].([]any)
	if !ok || len(endpoints) != 1 || endpoints[0] != "PLAINTEXT://"+addr {
		t.Errorf("%s: endpoints %v, want [PLAINTEXT://%s]", path, m["endpoints"], addr)
	}
	protocols, ok := m["listener_security_protocol_map"].(map[string]any)
	if !ok || len(protocols) != 1 || protocols["PLAINTEXT"] != "PLAINTEXT" {
		t.Errorf("%s: listener_security_protocol_map %v", path, m["listener_security_protocol_map"])
	}
}

// checkTopic checks /brokers/topics/<topic> and its state nodes against
// the cluster: partitions partitions, each on replicas brokers.
func checkTopic(t *testing.T, s *session, k *Kafka, topic string, partitions, replicas int) {
	t.Helper()
	path := k.Chroot() + "/brokers/topics/" + topic
	m := getJSON(t, s, path)
	if v := number(t, m, "version"); v != 1 {
		t.Errorf("%s: version %v, want 1", path, v)
	}
	assignment, ok := m["partitions"].(map[string]any)
	if !ok || len(assignment) != partitions {
		t.Fatalf("%s: partitions %v, want %d of them", path, m["partitions"], partitions)
	}
	for p := range partitions {
		replicaIDs := numbers(t, assignment[strconv.Itoa(p)])
		if len(replicaIDs) != replicas {
			t.Errorf("%s: partition %d has replicas %v, want %d", path, p, replicaIDs, replicas)
		}
		statePath := fmt.Sprintf("%s/partitions/%d/state", path, p)
		state := getJSON(t, s, statePath)
		for key, want := range map[string]float64{"version": 1, "controller_epoch": 1, "leader_epoch": 0} {
			if v := number(t, state, key); v != want {
				t.Errorf("%s: %s %v, want %v", statePath, key, v, want)
			}
		}
		leader := int32(number(t, state, "leader"))
		if want := k.Cluster().LeaderFor(topic, int32(p)); leader != want || replicaIDs[0] != leader {
			t.Errorf("%s: leader %d, replicas %v; the cluster's leader is %d", statePath, leader, replicaIDs, want)
		}
		if isr := numbers(t, state["isr"]); !slices.Contains(isr, leader) {
			t.Errorf("%s: isr %v lacks the leader %d", statePath, isr, leader)
		}
	}
}

func TestKafkaRegistersInZooKeeper(t *testing.T) {
	t.Parallel()
	servers := ZooKeeperAddrs(t)
	chroot := Chroot(t)
	k, err := StartKafka(servers, chroot, 2, map[string]int32{"orders": 2, "events": 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	})
	s := connect(t, servers, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ids, _, err := s.Children(chroot + "/brokers/ids")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"0", "1"}) {
		t.Fatalf("brokers %v, want [0 1]", ids)
	}
	addrs := k.Addrs()
	for i, id := range ids {
		checkBroker(t, s, chroot, id, addrs[i])
	}
	checkTopic(t, s, k, "orders", 2, 2)
	checkTopic(t, s, k, "events", 1, 2)

	if err := k.Produce(ctx, "orders", 1, kgo.StringRecord("a"), kgo.StringRecord("b")); err != nil {
		t.Fatal(err)
	}
	if err := k.AddPartitions(ctx, "orders", 4); err != nil {
		t.Fatal(err)
	}
	checkTopic(t, s, k, "orders", 4, 2)
	if err := k.Produce(ctx, "orders", 3, kgo.StringRecord("c")); err != nil {
		t.Fatalf("producing to an added partition: %v", err)
	}
	consumeExactly(ctx, t, k.Addrs(), "orders", 1, "a", "b")
	consumeExactly(ctx, t, k.Addrs(), "orders", 3, "c")

	if err := k.CreateTopic(ctx, "created", 3); err != nil {
		t.Fatal(err)
	}
	checkTopic(t, s, k, "created", 3, 2)

	if err := k.UnregisterBroker(1); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := s.Exists(chroot + "/brokers/ids/1"); ok {
		t.Error("broker 1 still registered after UnregisterBroker")
	}
	if err := k.RegisterBroker(1); err != nil {
		t.Fatal(err)
	}
	checkBroker(t, s, chroot, "1", addrs[1])
	if k.RegisterBroker(1) == nil || k.UnregisterBroker(7) == nil {
		t.Error("registering a registered broker or unregistering an unknown one succeeded")
	}

	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if ids, _, err := s.Children(chroot + "/brokers/ids"); err != nil || len(ids) != 0 {
		t.Errorf("after Close, brokers %v (%v), want none", ids, err)
	}
	if ok, _, _ := s.Exists(chroot + "/brokers/topics/orders"); !ok {
		t.Error("the topic's persistent registration vanished with the cluster")
	}
	if err := k.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// consumeExactly reads one partition from its start and checks its values.
func consumeExactly(ctx context.Context, t *testing.T, brokers []string, topic string, partition int32, want ...string) {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	for len(got) < len(want) {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s/%d: got %v, want %v: %v", topic, partition, got, want, err)
		}
		fetches.EachError(func(_ string, _ int32, err error) { t.Fatalf("consuming %s/%d: %v", topic, partition, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Partition == partition {
				got = append(got, string(r.Value))
			}
		})
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s/%d holds %v, want %v", topic, partition, got, want)
	}
}

func TestKafkaRejectsBadArguments(t *testing.T) {
	servers := []string{"127.0.0.1:1"} // never dialed: arguments are checked first
	for name, start := range map[string]func() (*Kafka, error){
		"trailing slash": func() (*Kafka, error) { return StartKafka(servers, "/kafka/", 1, nil) },
		"relative":       func() (*Kafka, error) { return StartKafka(servers, "kafka", 1, nil) },
		"no broker":      func() (*Kafka, error) { return StartKafka(servers, "", 0, nil) },
		"no partition":   func() (*Kafka, error) { return StartKafka(servers, "", 1, map[string]int32{"t": 0}) },
	} {
		if k, err := start(); err == nil {
			k.Close()
			t.Errorf("%s: StartKafka succeeded", name)
		}
	}
}

// TestKafkaReregistersAfterSessionExpiry cuts the cluster's ZooKeeper
// connection until its session expires: the brokers vanish, and register
// again on the next session, as Kafka brokers do.
func TestKafkaReregistersAfterSessionExpiry(t *testing.T) {
	t.Parallel()
	servers := ZooKeeperAddrs(t)
	chroot := Chroot(t)
	p, err := NewProxy(servers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	k, err := StartKafka([]string{p.Addr()}, chroot, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	})
	s := connect(t, servers, 10*time.Second)
	path := chroot + "/brokers/ids/0"
	_, before, err := s.Get(path)
	if err != nil {
		t.Fatal(err)
	}

	p.Cut()
	waitFor(t, 20*time.Second, "the broker vanishes once its session expires", func() error {
		if ok, _, err := s.Exists(path); err != nil || ok {
			return fmt.Errorf("exists: %v, %v", ok, err)
		}
		return nil
	})
	p.Restore()
	waitFor(t, 20*time.Second, "the broker registers again on a new session", func() error {
		_, stat, err := s.Get(path)
		if err != nil {
			return err
		}
		if stat.EphemeralOwner == before.EphemeralOwner {
			return fmt.Errorf("still owned by the expired session 0x%x", stat.EphemeralOwner)
		}
		return nil
	})
	checkBroker(t, s, chroot, "0", k.Addrs()[0])
}
