package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/internal/zk"
)

// burrow is a running Burrow (LinkedIn's lag monitor, Debian's package
// burrow): its kafka_zk module reads the group's offsets nodes in the
// target's ZooKeeper, its cluster module the target's log ends.
type burrow struct {
	base string // http://127.0.0.1:port
	out  *lockedBuffer
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

// burrowBinary returns Burrow's path, or "" when it is not installed
// (scripts/compat.sh installs it where apt-get may).
func burrowBinary() string {
	for _, p := range []string{"Burrow", "/usr/bin/Burrow"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// burrowConfig is Burrow's configuration: %[1]s its pid file, %[2]s the
// ZooKeeper servers, %[3]q the chroot, %[4]s the Kafka brokers, %[5]q its
// HTTP address.
const burrowConfig = `[general]
pidfile=%[1]q

[logging]
level="info"

[zookeeper]
servers=%[2]s
timeout=6
root-path="/burrow"

[client-profile.compat]
client-id="burrow-compat"
kafka-version="1.0.0"

[cluster.compat]
class-name="kafka"
servers=%[4]s
client-profile="compat"
topic-refresh=1
offset-refresh=1

[consumer.zk]
class-name="kafka_zk"
cluster="compat"
servers=%[2]s
zookeeper-path=%[3]q
zookeeper-timeout=6

[httpserver.default]
address=%[5]q

[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1

[evaluator.default]
class-name="caching"
expire-cache=10
`

// startBurrow starts Burrow on r's target, once /consumers exists (Burrow
// lists it once, at its start), and returns once its HTTP API answers; nil
// when Burrow is not installed. It is stopped when the test ends.
func (r *run) startBurrow() *burrow {
	r.t.Helper()
	bin := burrowBinary()
	if bin == "" {
		return nil
	}
	if _, err := r.conn.Create(r.e.chroot+"/consumers", nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		r.t.Fatalf("create %s/consumers: %v", r.e.chroot, err)
	}
	addr, err := testenv.UnusedAddr()
	if err != nil {
		r.t.Fatal(err)
	}
	dir := r.t.TempDir()
	conf := fmt.Sprintf(burrowConfig, filepath.Join(dir, "burrow.pid"), quoted(r.e.servers), r.e.chroot, quoted(r.e.kafka.Addrs()), addr)
	if err := os.WriteFile(filepath.Join(dir, "burrow.toml"), []byte(conf), 0o600); err != nil {
		r.t.Fatal(err)
	}
	b := &burrow{base: "http://" + addr, out: &lockedBuffer{}}
	cmd := exec.Command(bin, "-config-dir", dir)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, b.out, b.out
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start Burrow: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r.t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if r.t.Failed() {
			r.t.Logf("Burrow's output:\n%s", b.out.String())
		}
	})
	r.waitFor("Burrow's HTTP API", func() error {
		select {
		case <-exited:
			return fmt.Errorf("burrow exited: %v\n%s", cmd.ProcessState, b.out.String())
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

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// get fetches a path of Burrow's HTTP API.
func (b *burrow) get(path string) ([]byte, error) {
	// No idle connection outlives a request: the leak check counts
	// their goroutines.
	cl := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
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

// burrowOffsetsMatch returns nil when Burrow reports, for every partition
// of the topic, the log end as the group's latest committed offset.
func (r *run) burrowOffsetsMatch(b *burrow) error {
	body, err := b.get("/v3/kafka/compat/consumer/" + group)
	if err != nil {
		return err
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
		return fmt.Errorf("%v: %s", err, body)
	}
	if resp.Error {
		return fmt.Errorf("burrow: %s", resp.Message)
	}
	parts := resp.Topics[topic]
	if len(parts) != partitions {
		return fmt.Errorf("burrow lists %d partitions of %s, want %d", len(parts), topic, partitions)
	}
	for p, part := range parts {
		latest := int64(-1)
		for _, o := range part.Offsets {
			if o != nil {
				latest = max(latest, o.Offset)
			}
		}
		if latest != r.produced[int32(p)] {
			return fmt.Errorf("burrow: partition %d at %d, want %d", p, latest, r.produced[int32(p)])
		}
	}
	return nil
}
