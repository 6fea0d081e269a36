package compat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// A target is what one row of the compatibility table runs on: a ZooKeeper
// server of one line, and Kafka: franz-go's kfake registered in that
// ZooKeeper by the tests, or an Apache Kafka broker in ZooKeeper mode,
// registering itself.
type target struct {
	name   string       // as CONSUMERGROUP_COMPAT names it: zookeeper-3.5, kafka-2.8, ...
	zkLine string       // the ZooKeeper line (scripts/ensure-zookeeper-maven.sh)
	kafka  testenv.Kind // KindKfake or a ZooKeeper-mode Apache Kafka kind
}

// targets are every target, in the table's order. A Kafka line runs on the
// ZooKeeper line whose client it ships (2.8: 3.5; 3.6 and 3.9: 3.8).
var targets = []target{
	{"zookeeper-3.5", "3.5", testenv.KindKfake},
	{"zookeeper-3.6", "3.6", testenv.KindKfake},
	{"zookeeper-3.7", "3.7", testenv.KindKfake},
	{"zookeeper-3.8", "3.8", testenv.KindKfake},
	{"zookeeper-3.9", "3.9", testenv.KindKfake},
	{"kafka-2.8", "3.5", testenv.KindKafka28},
	{"kafka-3.6", "3.8", testenv.KindKafka36},
	{"kafka-3.9", "3.8", testenv.KindKafka39},
}

// envCompat selects the targets: "all", or names separated by commas or
// spaces. Unset, TestCompat skips (make compat sets it).
const envCompat = "CONSUMERGROUP_COMPAT"

// selectTargets returns the targets spec names, in the table's order.
func selectTargets(spec string) ([]target, error) {
	names := strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == ' ' })
	if len(names) == 0 {
		return nil, fmt.Errorf("%s=%q names no target", envCompat, spec)
	}
	if slices.Contains(names, "all") {
		return targets, nil
	}
	var out []target
	for _, n := range names {
		i := slices.IndexFunc(targets, func(t target) bool { return t.name == n })
		if i < 0 {
			return nil, fmt.Errorf("%s: unknown target %q (want all or some of %s)", envCompat, n, targetNames())
		}
		if !slices.ContainsFunc(out, func(t target) bool { return t.name == n }) {
			out = append(out, targets[i])
		}
	}
	slices.SortFunc(out, func(a, b target) int {
		return slices.IndexFunc(targets, func(t target) bool { return t.name == a.name }) -
			slices.IndexFunc(targets, func(t target) bool { return t.name == b.name })
	})
	return out, nil
}

func targetNames() string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

// An env is a started target: the scenario's ZooKeeper and Kafka.
type env struct {
	servers   []string        // ZooKeeper
	chroot    string          // where the brokers are registered and the group lives
	kafka     testenv.Cluster // its brokers
	zkVersion string          // as the server reports it (srvr)
	kVersion  string          // "kfake" or the Apache Kafka version
}

// versions says what ran, for the table.
func (e *env) versions() string {
	if e.kVersion == "kfake" {
		return "ZooKeeper " + e.zkVersion + ", kfake"
	}
	return "Kafka " + e.kVersion + " on ZooKeeper " + e.zkVersion
}

// startTimeout bounds starting a target's servers: two JVMs on 2 busy cores.
const startTimeout = 3 * time.Minute

// start starts tg's servers (stopped when the test ends) and creates the
// scenario's topic.
func start(t *testing.T, tg target) *env {
	t.Helper()
	version, lib, err := testenv.MavenZooKeeper(tg.zkLine)
	if err != nil {
		t.Fatalf("%v (make compat fetches it)", err)
	}
	z, err := testenv.StartZooKeeper(testenv.WithJars(lib), testenv.WithStartTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := z.Close(); err != nil {
			t.Error(err)
		}
	})
	e := &env{servers: []string{z.Addr()}, zkVersion: serverVersion(t, z)}
	if !strings.HasPrefix(e.zkVersion, version) {
		t.Fatalf("the server reports version %s, the cache holds %s", e.zkVersion, version)
	}
	if tg.kafka == testenv.KindKfake {
		e.chroot, e.kVersion = "/compat", "kfake"
		k, err := testenv.StartKafka(e.servers, e.chroot, 1, map[string]int32{topic: partitions})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { k.Close() })
		e.kafka = k
		return e
	}
	e.chroot = "/kafka"
	a, err := testenv.StartApache(tg.kafka, e.servers, e.chroot)
	if errors.Is(err, testenv.ErrKafkaNotInstalled) {
		t.Fatalf("%v (make compat fetches it)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	e.kafka, e.kVersion = a, a.Version()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := a.CreateTopic(ctx, topic, partitions); err != nil {
		t.Fatal(err)
	}
	return e
}

// serverVersion returns the version the server reports in srvr
// ("Zookeeper version: 3.5.10-<commit>, built on ..."): "3.5.10".
func serverVersion(t *testing.T, z *testenv.ZooKeeper) string {
	t.Helper()
	out, err := z.FourLetter("srvr")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Zookeeper version: "); ok {
			v, _, _ = strings.Cut(v, ",")
			v, _, _ = strings.Cut(v, "-")
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("srvr answered no version:\n%s", out)
	return ""
}

// TestSelectTargets: CONSUMERGROUP_COMPAT's names, in any order, give the
// table's order; unknown names and empty lists are refused.
func TestSelectTargets(t *testing.T) {
	got, err := selectTargets("kafka-2.8, zookeeper-3.5 kafka-2.8")
	if err != nil || len(got) != 2 || got[0].name != "zookeeper-3.5" || got[1].name != "kafka-2.8" {
		t.Fatalf("selectTargets = %v, %v; want zookeeper-3.5, kafka-2.8", got, err)
	}
	if all, err := selectTargets("all"); err != nil || len(all) != len(targets) {
		t.Fatalf("all: %d targets, %v", len(all), err)
	}
	for _, bad := range []string{"", " , ", "zookeeper-3.4"} {
		if _, err := selectTargets(bad); err == nil {
			t.Errorf("selectTargets(%q): no error", bad)
		}
	}
	for _, tg := range targets {
		if _, err := selectTargets(tg.name); err != nil {
			t.Errorf("%s: %v", tg.name, err)
		}
		if !slices.Contains(testenv.ZooKeeperLines, tg.zkLine) {
			t.Errorf("%s runs on ZooKeeper %s, which scripts/ensure-zookeeper-maven.sh does not fetch", tg.name, tg.zkLine)
		}
	}
}
