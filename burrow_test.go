package consumergroup_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// burrow is a running Burrow (LinkedIn's lag monitor, Debian's package):
// its ZooKeeper consumer module reads our groups' offset nodes, its cluster
// module the test Kafka's log ends, its HTTP API answers on a loopback port.
type burrow struct {
	t    *testing.T
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	out  *lockedBuffer
	dir  string
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// burrowBinary finds Burrow; scripts/ensure-burrow.sh (make test) installs it.
func burrowBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"Burrow", "/usr/bin/Burrow"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("Burrow is not installed: run scripts/ensure-burrow.sh (make test does), or apt-get install burrow")
	return ""
}

// startBurrow starts Burrow on c's ZooKeeper (under c's chroot) and Kafka.
func startBurrow(t *testing.T, c *cluster) *burrow {
	t.Helper()
	bin := burrowBinary(t)
	addr, err := testenv.UnusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	quote := func(ss []string) string {
		q := make([]string, len(ss))
		for i, s := range ss {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	conf := fmt.Sprintf(`[general]
pidfile=%[1]q

[logging]
level="debug"

[zookeeper]
servers=%[2]s
timeout=6
root-path=%[3]q

[client-profile.test]
client-id="burrow-test"
kafka-version="1.0.0"

[cluster.test]
class-name="kafka"
servers=%[4]s
client-profile="test"
topic-refresh=1
offset-refresh=1

[consumer.zk]
class-name="kafka_zk"
cluster="test"
servers=%[2]s
zookeeper-path=%[5]q
zookeeper-timeout=6

[httpserver.default]
address=%[6]q

[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1

[evaluator.default]
class-name="caching"
expire-cache=10
`, filepath.Join(dir, "burrow.pid"), quote(c.servers), c.chroot+"/burrow", quote(c.kafka.Addrs()), c.chroot, addr)
	if err := os.WriteFile(filepath.Join(dir, "burrow.toml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &burrow{t: t, base: "http://" + addr, out: &lockedBuffer{}, dir: dir}
	b.cmd = exec.Command(bin, "-config-dir", dir)
	b.cmd.Dir = dir
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start Burrow: %v", err)
	}
	exited := make(chan struct{})
	go func() { b.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("Burrow's output:\n%s", b.out.String())
		}
	})
	b.waitFor("Burrow's HTTP API", func() error {
		select {
		case <-exited:
			return fmt.Errorf("Burrow exited: %v\n%s", b.cmd.ProcessState, b.out.String())
		default:
		}
		body, err := b.get("/burrow/admin")
		if err == nil && string(body) != "GOOD" {
			err = fmt.Errorf("health check answers %q", body)
		}
		return err
	})
	return b
}

// get fetches a path of Burrow's HTTP API.
func (b *burrow) get(path string) ([]byte, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(b.base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return body, nil
}

// waitFor polls cond until it returns nil, failing the test after
// testTimeout with its last error.
func (b *burrow) waitFor(what string, cond func() error) {
	b.t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not within %v: %v", what, testTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consumerOffsets returns, for each partition of topic that Burrow lists
// for group, whether it holds at least one committed offset.
func (b *burrow) consumerOffsets(group, topic string) ([]bool, error) {
	body, err := b.get("/v3/kafka/test/consumer/" + group)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Error   bool   `json:"error"`
		Message string `json:"message"`
		Topics  map[string][]struct {
			Offsets []*struct {
				Offset int64 `json:"offset"`
			} `json:"offsets"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("%v: %s", err, body)
	}
	if resp.Error {
		return nil, fmt.Errorf("Burrow: %s", resp.Message)
	}
	var out []bool
	for _, p := range resp.Topics[topic] {
		has := false
		for _, o := range p.Offsets {
			has = has || o != nil
		}
		out = append(out, has)
	}
	return out, nil
}

// TestBurrow runs the real Burrow (its ZooKeeper consumer module) against a
// group of ours that consumes half of a topic: one member runs, the other
// half of the partitions is assigned to a member that has not started. Burrow
// reads a topic's offset nodes by their count, once, so it must see every
// partition's node at once; it then reports an offset for every partition.
func TestBurrow(t *testing.T) {
	const topic, parts, group = "orders", 8, "burrowed"
	c := startCluster(t, map[string]int32{topic: parts})
	c.produce(topic, parts, 8*parts)
	// Burrow lists /consumers once at its start and never again if it is
	// missing: a Kafka cluster's ZooKeeper has it.
	z := dialZK(t, c.chroot)
	if err := z.MkdirAll(testCtx(t), "/consumers"); err != nil {
		t.Fatal(err)
	}
	b := startBurrow(t, c)
	// Burrow keeps consumer offsets only of partitions its cluster module
	// knows: wait for it to list the topic's log ends.
	b.waitFor("Burrow's cluster module to list "+topic, func() error {
		body, err := b.get("/v3/kafka/test/topic/" + topic)
		if err != nil {
			return err
		}
		var resp struct {
			Offsets []int64 `json:"offsets"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return err
		}
		if len(resp.Offsets) != parts {
			return fmt.Errorf("offsets %v", resp.Offsets)
		}
		return nil
	})

	idleMember(t, z, group, topic)
	l := newLedger()
	m := c.join("a", group, []string{topic}, groupConfig(), false, l.handle)
	l.waitProcessed(t, 4*parts) // its half: 4 partitions of 8 messages

	var last []bool
	b.waitFor("Burrow to see an offset for every partition of "+topic, func() error {
		has, err := b.consumerOffsets(group, topic)
		if err != nil {
			return err
		}
		last = has
		var missing []int
		for p, ok := range has {
			if !ok {
				missing = append(missing, p)
			}
		}
		if len(has) != parts || len(missing) > 0 {
			return fmt.Errorf("Burrow lists %d partitions, without an offset: %v", len(has), missing)
		}
		return nil
	})
	t.Logf("Burrow sees offsets of partitions: %v", last)
	m.close(t)
}

// TestBurrowTwoMembers is the case Burrow was seen to miss partitions in:
// two members that start together, with interleaved partitions
// (round-robin), each writing its initial offsets.
func TestBurrowTwoMembers(t *testing.T) {
	const topic, parts, group = "orders", 8, "pair"
	c := startCluster(t, map[string]int32{topic: parts})
	c.produce(topic, parts, 8*parts)
	z := dialZK(t, c.chroot)
	if err := z.MkdirAll(testCtx(t), "/consumers"); err != nil {
		t.Fatal(err)
	}
	b := startBurrow(t, c)
	b.waitFor("Burrow's cluster module to list "+topic, func() error {
		body, err := b.get("/v3/kafka/test/topic/" + topic)
		if err != nil {
			return err
		}
		var resp struct {
			Offsets []int64 `json:"offsets"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return err
		}
		if len(resp.Offsets) != parts {
			return fmt.Errorf("offsets %v", resp.Offsets)
		}
		return nil
	})
	cfg := groupConfig()
	cfg.Strategy = cg.StrategyRoundRobin
	l := newLedger()
	m1 := c.join("a", group, []string{topic}, cfg, false, l.handle)
	m2 := c.join("b", group, []string{topic}, cfg, false, l.handle)
	l.waitProcessed(t, 8*parts)
	b.waitFor("Burrow to see an offset for every partition of "+topic, func() error {
		has, err := b.consumerOffsets(group, topic)
		if err != nil {
			return err
		}
		var missing []int
		for p, ok := range has {
			if !ok {
				missing = append(missing, p)
			}
		}
		if len(has) != parts || len(missing) > 0 {
			return fmt.Errorf("Burrow lists %d partitions, without an offset: %v", len(has), missing)
		}
		return nil
	})
	m1.close(t)
	m2.close(t)
}
