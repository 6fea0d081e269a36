package main

// The tests build groupctl once and run it as a user would: a separate
// process, its exit status, its stdout and stderr. ZooKeeper is the test
// package's shared server (testenv); Kafka is a kfake cluster in this
// process, registered in ZooKeeper under a chroot of each test, that the
// binary finds there and reaches over loopback.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/internal/testenv/leakcheck"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// groupctl is the path of the binary TestMain builds.
var groupctl string

// Bounds of the tests' waits.
const (
	// toolTimeout bounds one run of the binary that should end by itself.
	toolTimeout = 60 * time.Second
	// waitTimeout bounds a wait for an event (a state, some output).
	waitTimeout = 30 * time.Second
	// pollEvery is how often a condition is polled.
	pollEvery = 50 * time.Millisecond
)

// buildThenTest is what leakcheck.Main runs: it builds the binary into a
// temporary directory, runs the tests and removes the directory, all before
// Main stops the shared ZooKeeper, checks for leaked goroutines and exits.
type buildThenTest struct{ m *testing.M }

func (b buildThenTest) Run() int {
	if bin := os.Getenv("CG_GROUPCTL"); bin != "" {
		// A groupctl built elsewhere (another commit's, to compare).
		groupctl = bin
		return b.m.Run()
	}
	dir, err := os.MkdirTemp("", "groupctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "groupctl tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	groupctl = filepath.Join(dir, "groupctl")
	args := []string{"build", "-o", groupctl}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "groupctl tests: go %s: %v\n", strings.Join(cmd.Args[1:], " "), err)
		return 1
	}
	return b.m.Run()
}

func TestMain(m *testing.M) { leakcheck.Main(buildThenTest{m}, testenv.StopShared) }

// toolEnv is the binary's environment: the tests' own, without the
// variable that gives --zookeeper's default, so that each run says where
// ZooKeeper is.
// A race-enabled binary sleeps a second before it exits (GORACE's
// atexit_sleep_ms), to catch the races of goroutines still running: 10 ms
// will do here.
func toolEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envZooKeeper+"=") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	if raceEnabled {
		env = append(env, strings.TrimSpace("GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=10"))
	}
	return append(env, extra...)
}

// result is one finished run of the binary.
type result struct {
	args           []string
	code           int
	stdout, stderr string
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("groupctl %s: exit %d after %v\n--- stdout:\n%s--- stderr:\n%s",
		strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// want fails the test unless the run exited with code.
func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got\n%v", code, r)
	}
	return r
}

// wantStderr fails the test unless stderr holds every one of subs.
func (r result) wantStderr(t *testing.T, subs ...string) result {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.stderr, s) {
			t.Fatalf("stderr lacks %q:\n%v", s, r)
		}
	}
	return r
}

// wantStdout fails the test unless stdout holds every one of subs.
func (r result) wantStdout(t *testing.T, subs ...string) result {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.stdout, s) {
			t.Fatalf("stdout lacks %q:\n%v", s, r)
		}
	}
	return r
}

// decode decodes stdout, one JSON document, into v.
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not the JSON expected (%v):\n%v", err, r)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout holds more than one JSON document:\n%v", r)
	}
}

// runTool runs the binary to completion.
func runTool(t *testing.T, args ...string) result {
	t.Helper()
	return runToolEnv(t, nil, args...)
}

func runToolEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runToolInput(t, env, "", args...)
}

// runToolInput runs the binary with stdin as its standard input.
func runToolInput(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, groupctl, args...)
	cmd.Env = toolEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		r.code = ee.ExitCode()
	default:
		t.Fatalf("%v\n%v", err, r)
	}
	checkRace(t, r.stderr)
	if r.took > time.Second {
		t.Logf("slow: groupctl %s: %v", strings.Join(args, " "), r.took.Round(time.Millisecond))
	}
	return r
}

// checkRace fails the test when a race-enabled binary reported a race.
func checkRace(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		t.Errorf("groupctl has a data race:\n%s", stderr)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// arrivals orders the lines of every process the tests read: a line with a
// smaller arrival was read first.
var arrivals atomic.Int64

// outLine is one line a process printed.
type outLine struct {
	text    string
	arrival int64
}

// proc is a running groupctl whose stdout is read line by line as it
// prints.
type proc struct {
	t      *testing.T
	name   string
	args   []string
	cmd    *exec.Cmd
	stderr syncBuffer
	exited chan struct{} // closed once stdout hit EOF and Wait returned

	mu      sync.Mutex
	lines   []outLine
	changed chan struct{} // closed and replaced on every line and at exit
	code    int           // exit status (-1: killed by a signal); set before exited closes
}

// startTool starts the binary; the test's end kills it if it still runs.
func startTool(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args, exited: make(chan struct{}), changed: make(chan struct{})}
	p.cmd = exec.Command(groupctl, args...)
	p.cmd.Env = toolEnv()
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill() // an error says it has exited already
		<-p.exited
		checkRace(t, p.stderr.String())
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, outLine{sc.Text(), arrivals.Add(1)})
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stdout) // a line too long: drain to EOF all the same
		err := p.cmd.Wait()
		p.mu.Lock()
		p.code = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -2
		}
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
		close(p.exited)
	}()
	return p
}

// snapshot returns the lines printed so far, and a channel closed on the
// next line or at exit.
func (p *proc) snapshot() ([]outLine, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines[:len(p.lines):len(p.lines)], p.changed
}

// waitOutput waits until cond holds for the lines printed so far, failing
// the test if it does not within waitTimeout or the process exits first.
func (p *proc) waitOutput(what string, cond func([]outLine) bool) []outLine {
	p.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		lines, changed := p.snapshot()
		if cond(lines) {
			return lines
		}
		select {
		case <-changed:
		case <-p.exited:
			if lines, _ := p.snapshot(); cond(lines) {
				return lines
			}
			p.t.Fatalf("%s exited (status %d) before %s\n%s", p.name, p.exitCode(), what, p.describe())
		case <-deadline.C:
			p.t.Fatalf("%s: no %s within %v\n%s", p.name, what, waitTimeout, p.describe())
		}
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%s: signal %v: %v", p.name, sig, err)
	}
}

// wait waits for the process to exit and returns its status.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.exitCode()
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %v\n%s", p.name, timeout, p.describe())
		return 0
	}
}

func (p *proc) exitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

// stdout returns what the process printed so far.
func (p *proc) stdout() string {
	lines, _ := p.snapshot()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

// describe is the process's command line and output, for failures; long
// output is cut.
func (p *proc) describe() string {
	out := p.stdout()
	if len(out) > 4000 {
		out = "[...]\n" + out[len(out)-4000:]
	}
	return fmt.Sprintf("groupctl %s\n--- stdout:\n%s--- stderr:\n%s", strings.Join(p.args, " "), out, p.stderr.String())
}

// waitFor polls cond until it returns nil, failing the test with cond's last
// error after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v: %v", what, timeout, err)
		}
		time.Sleep(pollEvery) // polling interval, not synchronization
	}
}

// testCtx is a context for the test's own calls, ended with the test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	t.Cleanup(cancel)
	return ctx
}

// cluster is the Kafka a test runs against and the ZooKeeper chroot of its
// groups: a kfake of the test's own registered under a chroot of the
// test's (newCluster), or a shared real broker (newClusterKind).
type cluster struct {
	t        *testing.T
	kind     testenv.Kind
	servers  []string
	chroot   string
	kafka    testenv.Cluster
	producer *kgo.Client // manual partitioner
	suffix   string      // makes topic and group names unique on a shared cluster
	extra    []string    // flags of every command: --brokers where ZooKeeper does not list them

	zkOnce sync.Once
	zk     *zookeeper.Client
}

func newCluster(t *testing.T, topics map[string]int32) *cluster {
	t.Helper()
	servers := testenv.ZooKeeperAddrs(t)
	chroot := testenv.Chroot(t)
	kafka, err := testenv.StartKafka(servers, chroot, 1, topics)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kafka.Close() })
	return withProducer(t, &cluster{t: t, kind: testenv.KindKfake, servers: servers, chroot: chroot, kafka: kafka})
}

// forEachKind runs scenario as a subtest on every kind of Kafka cluster:
// kfake, Apache Kafka 3.9 in ZooKeeper mode, Apache Kafka 4 (KRaft).
func forEachKind(t *testing.T, scenario func(t *testing.T, kind testenv.Kind)) {
	for _, kind := range testenv.KafkaKinds() {
		t.Run(string(kind), func(t *testing.T) { scenario(t, kind) })
	}
}

var nameSeq atomic.Int64

// newClusterKind is newCluster on a cluster of kind. A real broker is the
// package's shared one: topics and groups get names of the test's own
// (c.topic, c.group). A 3.9 broker registers itself in ZooKeeper, where
// groupctl discovers it; a KRaft broker does not: every command gets
// --brokers.
func newClusterKind(t *testing.T, kind testenv.Kind, topics map[string]int32) *cluster {
	t.Helper()
	if kind == testenv.KindKfake {
		return newCluster(t, topics)
	}
	servers := testenv.ZooKeeperAddrs(t)
	kafka, err := testenv.SharedCluster(kind)
	if errors.Is(err, testenv.ErrKafkaNotInstalled) {
		t.Skipf("%s: %v", kind, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, kind: kind, servers: servers, kafka: kafka,
		suffix: fmt.Sprintf(".%s-%d", strings.ReplaceAll(t.Name(), "/", "_"), nameSeq.Add(1))}
	chroot, registered := kafka.Registration()
	if !registered {
		chroot = testenv.Chroot(t)
		c.extra = []string{"--brokers", strings.Join(kafka.Addrs(), ",")}
	}
	c.chroot = chroot
	for base, n := range topics {
		if err := kafka.CreateTopic(testCtx(t), c.topic(base), n); err != nil {
			t.Fatal(err)
		}
	}
	return withProducer(t, c)
}

// withProducer gives c its producer.
func withProducer(t *testing.T, c *cluster) *cluster {
	t.Helper()
	p, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	c.producer = p
	return c
}

// topic returns the cluster's name of the test's topic base.
func (c *cluster) topic(base string) string { return base + c.suffix }

// group returns the cluster's name of the test's group base.
func (c *cluster) group(base string) string { return base + c.suffix }

// zkAddr is --zookeeper with the chroot: "host:port,.../chroot".
func (c *cluster) zkAddr() string { return strings.Join(c.servers, ",") + c.chroot }

// tool runs "groupctl CMD --zookeeper ADDR ARGS...".
func (c *cluster) tool(cmd string, args ...string) result {
	c.t.Helper()
	return runTool(c.t, append(append([]string{cmd, "--zookeeper", c.zkAddr()}, c.extra...), args...)...)
}

// start starts "groupctl CMD --zookeeper ADDR ARGS...".
func (c *cluster) start(name, cmd string, args ...string) *proc {
	c.t.Helper()
	return startTool(c.t, name, append(append([]string{cmd, "--zookeeper", c.zkAddr()}, c.extra...), args...)...)
}

// produceRecords writes recs to one partition of topic.
func (c *cluster) produceRecords(ctx context.Context, topic string, partition int32, recs ...*kgo.Record) error {
	for _, r := range recs {
		r.Topic, r.Partition = topic, partition
	}
	return c.producer.ProduceSync(ctx, recs...).FirstErr()
}

// ZK is the test's own ZooKeeper connection, under the chroot.
func (c *cluster) ZK() *zookeeper.Client {
	c.t.Helper()
	c.zkOnce.Do(func() {
		z, err := zookeeper.Dial(testCtx(c.t), zookeeper.Config{Servers: c.servers, Chroot: c.chroot})
		if err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(func() { z.Close() })
		c.zk = z
	})
	if c.zk == nil {
		c.t.Fatal("no ZooKeeper connection")
	}
	return c.zk
}

// produce writes values to one partition of topic, keyed by their index.
func (c *cluster) produce(topic string, partition int32, values ...string) {
	c.t.Helper()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(v)}
	}
	if err := c.produceRecords(testCtx(c.t), topic, partition, recs...); err != nil {
		c.t.Fatal(err)
	}
}

// member is a member of a group in this process, made with the library.
type member struct {
	g        *consumergroup.ConsumerGroup
	received chan *consumergroup.ConsumerEvent
	done     chan struct{}
}

// join starts a member of group consuming topics and waits until it has
// registered. With read, a goroutine
// reads its Stream and hands the messages to received (buffered); without,
// nothing is read: the member holds partitions and commits nothing new.
func (c *cluster) join(group string, topics []string, read bool) *member {
	c.t.Helper()
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.ZookeeperTimeout = 2 * time.Second
	cfg.CommitInterval = 100 * time.Millisecond
	cfg.HandoffTimeout = time.Second
	cfg.KafkaOptions = []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond), kgo.MetadataMinAge(100 * time.Millisecond)}
	g, err := consumergroup.JoinConsumerGroupTopics(testCtx(c.t), group, topics, []string{c.zkAddr()}, cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	m := &member{g: g, received: make(chan *consumergroup.ConsumerEvent, 10000), done: make(chan struct{})}
	c.t.Cleanup(func() { m.close(c.t) })
	// The member registers in the background.
	waitFor(c.t, waitTimeout, "the member's registration", func() error {
		if g.ID() == "" {
			return fmt.Errorf("no consumer id yet")
		}
		return nil
	})
	if !read {
		close(m.done)
		return m
	}
	stream := g.Stream()
	go func() {
		defer close(m.done)
		for ev := range stream {
			m.received <- ev
		}
	}()
	return m
}

// close leaves the group gracefully.
func (m *member) close(t *testing.T) {
	t.Helper()
	if err := m.g.Close(); err != nil {
		t.Error(err)
	}
	select {
	case <-m.done:
	case <-time.After(waitTimeout):
		t.Fatal("a member's loop did not end after Close")
	}
}

// receive waits for n messages.
func (m *member) receive(t *testing.T, n int) []*consumergroup.ConsumerEvent {
	t.Helper()
	var out []*consumergroup.ConsumerEvent
	timeout := time.After(waitTimeout)
	for len(out) < n {
		select {
		case ev := <-m.received:
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("received %d of %d messages within %v", len(out), n, waitTimeout)
		}
	}
	return out
}

// The JSON the commands print, as a script reads it.

type listOut struct {
	Groups []struct {
		Group   string `json:"group"`
		Members int    `json:"members"`
	} `json:"groups"`
}

type describeOut struct {
	Group      string `json:"group"`
	State      string `json:"state"`
	Generation int    `json:"generation"`
	Strategy   string `json:"strategy"`
	Members    []struct {
		ID     string    `json:"id"`
		Host   string    `json:"host"`
		Start  time.Time `json:"start"`
		Topics []string  `json:"topics"`
	} `json:"members"`
	Partitions []partitionOut `json:"partitions"`
	TotalLag   int64          `json:"total_lag"`
}

type partitionOut struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Owner     string `json:"owner"`
	Committed int64  `json:"committed"`
	LogEnd    int64  `json:"log_end"`
	Lag       int64  `json:"lag"`
}

type lagOut struct {
	Group      string `json:"group"`
	Time       string `json:"time"`
	TotalLag   int64  `json:"total_lag"`
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Committed int64  `json:"committed"`
		LogEnd    int64  `json:"log_end"`
		Lag       int64  `json:"lag"`
	} `json:"partitions"`
}

type resetOut struct {
	Group    string `json:"group"`
	Executed bool   `json:"executed"`
	Changes  []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Old       int64  `json:"old"`
		New       int64  `json:"new"`
	} `json:"changes"`
}

// message is one line of consume --output json.
type message struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Timestamp string `json:"timestamp"`
}

// parseMessage parses one line of consume --output json, strictly.
func parseMessage(line string) (message, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &raw); err != nil {
		return message{}, fmt.Errorf("not JSON: %q: %v", line, err)
	}
	for _, k := range []string{"topic", "partition", "offset", "key", "value"} {
		if _, ok := raw[k]; !ok {
			return message{}, fmt.Errorf("no %q in %s", k, line)
		}
	}
	var m message
	err := json.Unmarshal([]byte(line), &m)
	return m, err
}

// describe runs describe --output json.
func (c *cluster) describe(group string) (describeOut, result) {
	c.t.Helper()
	r := c.tool("describe", "--output", "json", group).want(c.t, 0)
	var d describeOut
	r.decode(c.t, &d)
	return d, r
}

// committed returns describe's committed offset of each partition of topic.
func (c *cluster) committed(group, topic string) map[int32]int64 {
	c.t.Helper()
	d, _ := c.describe(group)
	out := map[int32]int64{}
	for _, p := range d.Partitions {
		if p.Topic == topic {
			out[p.Partition] = p.Committed
		}
	}
	return out
}

// tableLines splits table output into lines, failing on trailing spaces
// (tabwriter pads cells, never line ends).
func tableLines(t *testing.T, r result) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for _, l := range lines {
		if strings.TrimRight(l, " ") != l {
			t.Errorf("table line %q ends with spaces", l)
		}
	}
	return lines
}

// checkTable checks a table section: a header with the given columns, then
// rows with as many cells (none empty: "-" stands for nothing), aligned on
// the header's columns. It returns the rows' cells.
func checkTable(t *testing.T, lines []string, header ...string) [][]string {
	t.Helper()
	if len(lines) == 0 {
		t.Fatalf("no table with header %v", header)
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != strings.Join(header, " ") {
		t.Fatalf("table header %q, want columns %v", lines[0], header)
	}
	// Where each column starts in the header.
	starts := make([]int, len(header))
	from := 0
	for i, h := range header {
		starts[i] = from + strings.Index(lines[0][from:], h)
		from = starts[i] + len(h)
	}
	var rows [][]string
	for _, l := range lines[1:] {
		cells := strings.Fields(l)
		if len(cells) != len(header) {
			t.Fatalf("row %q has %d cells, want %d (%v)", l, len(cells), len(header), header)
		}
		for i, s := range starts {
			if s >= len(l) || (s > 0 && l[s-1] != ' ') || l[s] == ' ' {
				t.Fatalf("row %q: cell %d does not start under %q (column %d)\n%s", l, i, header[i], s, strings.Join(lines, "\n"))
			}
		}
		rows = append(rows, cells)
	}
	return rows
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testenv.UnusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// sigint is the signal of Ctrl-C.
var sigint os.Signal = syscall.SIGINT
