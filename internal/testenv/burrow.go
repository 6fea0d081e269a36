package testenv

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
	"time"
)

// burrowCluster is Burrow's name for the Kafka cluster, in its API's paths.
const burrowCluster = "test"

// burrowStartTimeout bounds Burrow's start, until its HTTP API answers.
const burrowStartTimeout = time.Minute

// burrowPoll is how often StartBurrow asks whether the API answers yet.
const burrowPoll = 100 * time.Millisecond

// burrowConfig is Burrow's configuration: %[1]q its pid file, %[2]q its
// log level, %[3]s the ZooKeeper servers, %[4]q where Burrow keeps its own
// nodes, %[5]q the cluster's name, %[6]s the Kafka brokers, %[7]q where the
// groups' offsets nodes live (the chroot), %[8]q its HTTP address.
const burrowConfig = `[general]
pidfile=%[1]q

[logging]
level=%[2]q

[zookeeper]
servers=%[3]s
timeout=6
root-path=%[4]q

[client-profile.%[5]s]
client-id="burrow-%[5]s"
kafka-version="1.0.0"

[cluster.%[5]s]
class-name="kafka"
servers=%[6]s
client-profile=%[5]q
topic-refresh=1
offset-refresh=1

[consumer.zk]
class-name="kafka_zk"
cluster=%[5]q
servers=%[3]s
zookeeper-path=%[7]q
zookeeper-timeout=6

[httpserver.default]
address=%[8]q

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

// BurrowConfig says what StartBurrow points Burrow at.
type BurrowConfig struct {
	// ZooKeeper is the ZooKeeper servers' addresses, without a chroot.
	ZooKeeper []string
	// Chroot is where the groups live: Burrow's kafka_zk module reads
	// Chroot/consumers, and Burrow keeps its own nodes under
	// Chroot/burrow. Burrow lists Chroot/consumers once, at its start, and
	// never again if it is missing: create it first.
	Chroot string
	// Kafka is the brokers' addresses.
	Kafka []string
	// Debug sets Burrow's log level to debug rather than info.
	Debug bool
}

// Burrow is a running Burrow, LinkedIn's Kafka lag monitor (Debian's
// package burrow, binary /usr/bin/Burrow; scripts/ensure-burrow.sh installs
// it), started by StartBurrow; Close stops it. The tests run it against
// their ZooKeeper and Kafka to check that its ZooKeeper consumer module
// (kafka_zk) reads our groups' offsets as those of Kafka's own consumer.
type Burrow struct {
	base   string // http://127.0.0.1:port
	dir    string // its configuration; removed by Close
	proc   *process
	out    *syncBuffer
	client *http.Client

	closeOnce sync.Once
	closeErr  error
}

// burrowBinary returns the path of Burrow's binary, or "" when it is not
// installed.
func burrowBinary() string {
	for _, p := range []string{"Burrow", "/usr/bin/Burrow"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// BurrowInstalled reports whether Burrow's binary is installed.
func BurrowInstalled() bool { return burrowBinary() != "" }

// StartBurrow starts Burrow on cfg's ZooKeeper and Kafka and returns once
// its HTTP API answers its health check. The caller closes it.
func StartBurrow(cfg BurrowConfig) (*Burrow, error) {
	bin := burrowBinary()
	if bin == "" {
		return nil, errorf("Burrow is not installed: run scripts/ensure-burrow.sh, or apt-get install burrow")
	}
	addr, err := UnusedAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "burrow-")
	if err != nil {
		return nil, errorf("burrow: %w", err)
	}
	level := "info"
	if cfg.Debug {
		level = "debug"
	}
	conf := fmt.Sprintf(burrowConfig, filepath.Join(dir, "burrow.pid"), level, quoteAll(cfg.ZooKeeper),
		cfg.Chroot+"/burrow", burrowCluster, quoteAll(cfg.Kafka), cfg.Chroot, addr)
	if err := os.WriteFile(filepath.Join(dir, "burrow.toml"), []byte(conf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, errorf("burrow: %w", err)
	}
	b := &Burrow{
		base: "http://" + addr,
		dir:  dir,
		out:  &syncBuffer{},
		// No idle connection outlives a request: the leak checks count
		// their goroutines.
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	cmd := exec.Command(bin, "-config-dir", dir)
	cmd.Dir = dir
	if b.proc, err = startProcess(cmd, b.out); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := b.waitServing(); err != nil {
		return nil, err
	}
	return b, nil
}

// waitServing polls Burrow's health check until it answers GOOD; when
// Burrow exits or does not answer in time, it closes b.
func (b *Burrow) waitServing() error {
	deadline := time.Now().Add(burrowStartTimeout)
	var err error
	for {
		if b.proc.exited() {
			err = fmt.Errorf("exited: %v", b.proc.exitError())
			break
		}
		if err = b.healthy(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			err = fmt.Errorf("did not answer on its HTTP API within %v: %v", burrowStartTimeout, err)
			break
		}
		time.Sleep(burrowPoll)
	}
	closeErr := b.Close()
	err = errorf("Burrow %v\nBurrow's output:\n%s", err, b.Output())
	if closeErr != nil {
		return fmt.Errorf("%w; %v", err, closeErr)
	}
	return err
}

// healthy returns nil when Burrow's health check answers GOOD.
func (b *Burrow) healthy() error {
	body, err := b.Get("/burrow/admin")
	if err == nil && string(body) != "GOOD" {
		err = fmt.Errorf("health check answers %q", body)
	}
	return err
}

// Get fetches a path of Burrow's HTTP API; a status other than 200 OK is
// an error (the body is returned too).
func (b *Burrow) Get(path string) ([]byte, error) {
	resp, err := b.client.Get(b.base + path)
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

// TopicOffsets returns the log ends of topic's partitions as Burrow's
// cluster module last read them. Burrow keeps the offsets of a group only
// for the partitions it knows this way.
func (b *Burrow) TopicOffsets(topic string) ([]int64, error) {
	body, err := b.Get("/v3/kafka/" + burrowCluster + "/topic/" + topic)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Offsets []int64 `json:"offsets"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("%v: %s", err, body)
	}
	return resp.Offsets, nil
}

// ConsumerOffsets returns, for each partition of topic that Burrow lists
// for group, the committed offsets it holds, oldest first: empty for a
// partition Burrow has no offset of.
func (b *Burrow) ConsumerOffsets(group, topic string) ([][]int64, error) {
	body, err := b.Get("/v3/kafka/" + burrowCluster + "/consumer/" + group)
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
		return nil, fmt.Errorf("burrow: %s", resp.Message)
	}
	out := make([][]int64, 0, len(resp.Topics[topic]))
	for _, p := range resp.Topics[topic] {
		var offsets []int64
		for _, o := range p.Offsets {
			if o != nil { // a slot of Burrow's ring not filled yet
				offsets = append(offsets, o.Offset)
			}
		}
		out = append(out, offsets)
	}
	return out, nil
}

// Output returns everything Burrow has printed so far.
func (b *Burrow) Output() string { return b.out.String() }

// Close kills Burrow, waits for its process to be reaped and removes its
// configuration. It may be called more than once.
func (b *Burrow) Close() error {
	b.closeOnce.Do(func() {
		b.closeErr = b.proc.kill()
		if err := os.RemoveAll(b.dir); err != nil && b.closeErr == nil {
			b.closeErr = errorf("burrow: %w", err)
		}
	})
	return b.closeErr
}

// quoteAll formats ss as a TOML array of strings.
func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// syncBuffer is a bytes.Buffer safe for concurrent use: the process's
// output copier writes while the tests read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
