package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	commands := []string{"consume", "delete", "delete-offsets", "demo", "describe", "lag", "list", "migrate", "produce", "reset-offsets", "serve"}

	// No command: a usage error, with the usage.
	r := runTool(t).want(t, exitUsage)
	for _, s := range append(commands, "usage: groupctl COMMAND") {
		if !strings.Contains(r.stdout+r.stderr, s) {
			t.Fatalf("no %q in the usage:\n%v", s, r)
		}
	}

	r = runTool(t, "bogus").want(t, exitUsage).wantStderr(t, `unknown command "bogus"`, "usage: groupctl COMMAND")
	if r.stdout != "" {
		t.Errorf("a usage error printed on stdout:\n%v", r)
	}

	// Asked for: the usage on stdout, success.
	for _, help := range []string{"help", "-h", "--help"} {
		r := runTool(t, help).want(t, exitOK).wantStdout(t, "usage: groupctl COMMAND")
		r.wantStdout(t, commands...)
	}

	// A command's bad flag: its own usage.
	runTool(t, "list", "--bogus").want(t, exitUsage).
		wantStderr(t, "groupctl list: flag provided but not defined: -bogus", "usage: groupctl list", "-zookeeper")
	runTool(t, "list", "--output", "yaml").want(t, exitUsage).wantStderr(t, `--output must be table or json, not "yaml"`)
	runTool(t, "list", "--timeout", "0s").want(t, exitUsage).wantStderr(t, "--timeout must be positive")
	runTool(t, "list", "extra").want(t, exitUsage).wantStderr(t, "list takes no argument")
	runTool(t, "describe").want(t, exitUsage).wantStderr(t, "want exactly one GROUP argument, got 0", "usage: groupctl describe")
	runTool(t, "lag", "a", "b").want(t, exitUsage).wantStderr(t, "want exactly one GROUP argument, got 2")
	runTool(t, "produce", "--count", "3").want(t, exitUsage).wantStderr(t, "--topic is required")

	// A --zookeeper that names no server is a usage error, not a crash.
	for _, zk := range []string{",", " , "} {
		r := runTool(t, "list", "--zookeeper", zk).want(t, exitUsage)
		if strings.Contains(r.stderr, "panic") {
			t.Fatalf("groupctl crashed on --zookeeper %q:\n%v", zk, r)
		}
		r.wantStderr(t, "--zookeeper")
	}
}

// TestFlagsAfterArguments: flags may follow GROUP, as the usage lines show
// them ("reset-offsets GROUP --topic T ..."), and "--" ends the flags. In
// process: only the parsing matters, ZooKeeper is never reached.
func TestFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	nowhere := freeAddr(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"reset-offsets", "g", "--topic", "t", "--to-offset", "-1"}, exitUsage, `--to-offset "-1" is not a non-negative integer`},
		{[]string{"describe", "g", "--output", "xml"}, exitUsage, `--output must be table or json, not "xml"`},
		{[]string{"describe", "g", "--zookeeper", nowhere, "--timeout", "1ms"}, exitUsage, "unreachable: ZooKeeper at " + nowhere},
		// After "--", everything is an argument.
		{[]string{"describe", "--zookeeper", nowhere, "--timeout", "1ms", "--", "--output"}, exitUsage, "unreachable"},
		{[]string{"describe", "g", "--", "--output", "json"}, exitUsage, "want exactly one GROUP argument, got 3"},
		{[]string{"describe", "--", "g", "--bogus"}, exitUsage, "want exactly one GROUP argument, got 2"},
	} {
		var stdout, stderr bytes.Buffer
		e := &env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(""), getenv: func(string) string { return "" }}
		code := run(context.Background(), e, tc.args)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("groupctl %s: exit %d, want %d and %q; stderr:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.msg, stderr.String())
		}
	}
}

func TestUnreachableZooKeeper(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	for _, args := range [][]string{
		{"list", "--zookeeper", addr, "--timeout", "1s"},
		{"describe", "--zookeeper", addr + "/kafka", "--timeout", "1s", "g"},
		{"consume", "--zookeeper", addr, "--timeout", "1s", "--group", "g", "--topic", "t"},
	} {
		r := runTool(t, args...).want(t, exitUsage).wantStderr(t, addr, "unreachable")
		if r.took > 5*time.Second {
			t.Errorf("%s took %v with --timeout 1s", args[0], r.took)
		}
		t.Logf("%s: exit %d after %v: %s", args[0], r.code, r.took.Round(time.Millisecond), strings.TrimSpace(r.stderr))
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]int32{"orders": 2})

	// Nothing yet: an empty list, in both formats.
	var empty listOut
	c.tool("list", "--output", "json").want(t, 0).decode(t, &empty)
	if empty.Groups == nil || len(empty.Groups) != 0 {
		t.Fatalf("want \"groups\": [], got %+v", empty)
	}
	if rows := checkTable(t, tableLines(t, c.tool("list").want(t, 0)), "GROUP", "TYPE", "MEMBERS", "STATE"); len(rows) != 0 {
		t.Fatalf("rows in an empty list: %v", rows)
	}

	// idle: a group whose only member has left; busy: two members.
	c.join("idle", []string{"orders"}, false).close(t)
	c.join("busy", []string{"orders"}, false)
	c.join("busy", []string{"orders"}, false)

	want := []string{"busy 2", "idle 0"}
	var got []string
	waitFor(t, waitTimeout, "list with busy's 2 members", func() error {
		var l listOut
		c.tool("list", "--output", "json").want(t, 0).decode(t, &l)
		got = got[:0]
		for _, g := range l.Groups {
			got = append(got, fmt.Sprintf("%s %d", g.Group, g.Members))
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("list says %v, want %v", got, want)
		}
		return nil
	})

	r := c.tool("list").want(t, 0)
	rows := checkTable(t, tableLines(t, r), "GROUP", "TYPE", "MEMBERS", "STATE")
	got = got[:0]
	for _, row := range rows {
		if row[1] != "zookeeper" {
			t.Errorf("list: type %q of %s, want zookeeper", row[1], row[0])
		}
		got = append(got, row[0]+" "+row[2])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("table rows %v, want %v\n%v", got, want, r)
	}

	// The other ways to say where the groups are: --chroot, and the
	// environment variable.
	servers := strings.Join(c.servers, ",")
	r2 := runTool(t, "list", "--zookeeper", servers, "--chroot", c.chroot).want(t, 0)
	r3 := runToolEnv(t, []string{envZooKeeper + "=" + c.zkAddr()}, "list").want(t, 0)
	if r2.stdout != r.stdout || r3.stdout != r.stdout {
		t.Fatalf("--chroot and $%s list other groups:\n%v\n%v\n%v", envZooKeeper, r, r2, r3)
	}
	runTool(t, "list", "--zookeeper", c.zkAddr(), "--chroot", "/elsewhere").want(t, exitUsage).wantStderr(t, "differ")
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	const topic, parts, perPart = "events", 4, 5
	c := newCluster(t, map[string]int32{topic: parts})
	m1 := c.join("live", []string{topic}, true)
	m2 := c.join("live", []string{topic}, true)
	ids := []string{m1.g.ID(), m2.g.ID()}
	t.Logf("members %v", ids)

	// Stable: both members, each partition owned by the one the
	// assignment gives it to.
	waitFor(t, waitTimeout, "stable group", func() error {
		d, _ := c.describe("live")
		if d.State != "stable" || len(d.Members) != 2 {
			return fmt.Errorf("state %q, %d members", d.State, len(d.Members))
		}
		return nil
	})

	// Messages, then wait until what the members took is committed: all
	// but the message each one holds.
	for p := range int32(parts) {
		var vs []string
		for i := range perPart {
			vs = append(vs, fmt.Sprintf("%d-%d", p, i))
		}
		c.produce(topic, p, vs...)
	}
	const total = parts * perPart
	got := len(m1.receive(t, total/2)) + len(m2.receive(t, total/2))
	t.Logf("the members received %d messages", got)
	var d describeOut
	var r result
	waitFor(t, waitTimeout, "the commits", func() error {
		d, r = c.describe("live")
		sum := int64(0)
		for _, p := range d.Partitions {
			sum += max(p.Committed, 0)
		}
		if d.State != "stable" || sum < total-2 {
			return fmt.Errorf("state %q, %d committed of %d", d.State, sum, total)
		}
		return nil
	})

	if d.Group != "live" || d.Generation < 1 || d.Strategy == "" {
		t.Errorf("group %q, generation %d, strategy %q", d.Group, d.Generation, d.Strategy)
	}
	var gotIDs []string
	for _, m := range d.Members {
		gotIDs = append(gotIDs, m.ID)
		host, _ := os.Hostname()
		if m.Host != host {
			t.Errorf("member %s: host %q, want %q", m.ID, m.Host, host)
		}
		if age := time.Since(m.Start); age < 0 || age > time.Minute {
			t.Errorf("member %s: start %v", m.ID, m.Start)
		}
		if !slices.Equal(m.Topics, []string{topic}) {
			t.Errorf("member %s: topics %v", m.ID, m.Topics)
		}
	}
	slices.Sort(gotIDs)
	slices.Sort(ids)
	if !slices.Equal(gotIDs, ids) {
		t.Errorf("members %v, want %v", gotIDs, ids)
	}
	if len(d.Partitions) != parts {
		t.Fatalf("%d partitions, want %d\n%v", len(d.Partitions), parts, r)
	}
	owners := map[string]int{}
	sumLag := int64(0)
	for i, p := range d.Partitions {
		if p.Topic != topic || p.Partition != int32(i) {
			t.Errorf("partition %d is %s/%d", i, p.Topic, p.Partition)
		}
		owners[p.Owner]++
		if p.LogEnd != perPart || p.Committed < perPart-1 || p.Committed > perPart || p.Lag != p.LogEnd-p.Committed {
			t.Errorf("partition %d: committed %d, log end %d, lag %d; want log end %d, committed %d or %d, lag the difference",
				p.Partition, p.Committed, p.LogEnd, p.Lag, perPart, perPart-1, perPart)
		}
		sumLag += p.Lag
	}
	if owners[ids[0]] != parts/2 || owners[ids[1]] != parts/2 {
		t.Errorf("owners %v: want %d partitions for each member", owners, parts/2)
	}
	if d.TotalLag != sumLag {
		t.Errorf("total lag %d, partitions' lags add up to %d", d.TotalLag, sumLag)
	}

	// The same as a table: the summary line, the members, the partitions.
	r = c.tool("describe", "live").want(t, 0)
	lines := tableLines(t, r)
	if len(lines) != 1+1+1+2+1+1+parts {
		t.Fatalf("%d lines, want %d\n%v", len(lines), 1+1+1+2+1+1+parts, r)
	}
	if want := fmt.Sprintf("GROUP live  STATE stable  GENERATION %d  STRATEGY %s  MEMBERS 2  TOTAL LAG ", d.Generation, d.Strategy); !strings.HasPrefix(lines[0], want) ||
		!strings.Contains(lines[0], "  STATUS ") {
		t.Errorf("summary %q, want it to start with %q", lines[0], want)
	}
	if lines[1] != "" || lines[5] != "" {
		t.Errorf("sections are not separated by blank lines\n%v", r)
	}
	members := checkTable(t, lines[2:5], "MEMBER", "HOST", "STARTED", "TOPICS")
	for _, row := range members {
		if !slices.Contains(ids, row[0]) || row[3] != topic {
			t.Errorf("member row %v", row)
		}
		if _, err := time.Parse(time.RFC3339, row[2]); err != nil {
			t.Errorf("member row %v: STARTED: %v", row, err)
		}
	}
	partsRows := checkTable(t, lines[6:], "TOPIC", "PARTITION", "OWNER", "COMMITTED", "LOG-END", "LAG", "STATUS")
	for i, row := range partsRows {
		// As the JSON said a moment ago; COMMITTED and LAG may have moved since.
		p := d.Partitions[i]
		committed, err1 := strconv.Atoi(row[3])
		lag, err2 := strconv.Atoi(row[5])
		if row[0] != topic || row[1] != strconv.Itoa(i) || row[2] != p.Owner || row[4] != strconv.Itoa(perPart) ||
			err1 != nil || err2 != nil || committed+lag != perPart || (lag == 0) != (row[6] == "OK") || (lag > 0 && row[6] != "-") {
			t.Errorf("partition row %v, want %s %d %s <committed> %d <lag>", row, topic, i, p.Owner, perPart)
		}
	}

	// A group that does not exist.
	for _, output := range []string{"table", "json"} {
		r := c.tool("describe", "--output", output, "nosuch").want(t, exitError).wantStderr(t, "no such group", `"nosuch"`)
		if r.stdout != "" {
			t.Errorf("describe of an unknown group printed:\n%v", r)
		}
	}
}

func TestLag(t *testing.T) {
	t.Parallel()
	const topic, parts, perPart, consumed = "clicks", 3, 10, 12
	c := newCluster(t, map[string]int32{topic: parts})
	for p := range int32(parts) {
		c.produce(topic, p, slices.Repeat([]string{"x"}, perPart)...)
	}
	r := c.tool("consume", "--group", "lg", "--topic", topic, "--max", strconv.Itoa(consumed), "--output", "json").want(t, 0)
	if n := strings.Count(r.stdout, "\n"); n != consumed {
		t.Fatalf("consume --max %d printed %d lines\n%v", consumed, n, r)
	}

	check := func(l lagOut) {
		t.Helper()
		sum := int64(0)
		for _, p := range l.Partitions {
			if p.LogEnd != perPart || p.Lag != p.LogEnd-max(p.Committed, 0) {
				t.Errorf("partition %d: committed %d, log end %d, lag %d", p.Partition, p.Committed, p.LogEnd, p.Lag)
			}
			sum += p.Lag
		}
		if l.Group != "lg" || len(l.Partitions) != parts || l.TotalLag != sum || l.TotalLag != parts*perPart-consumed {
			t.Errorf("group %q, %d partitions, total lag %d, partitions' lags add up to %d, want %d",
				l.Group, len(l.Partitions), l.TotalLag, sum, parts*perPart-consumed)
		}
		if _, err := time.Parse(time.RFC3339, l.Time); err != nil {
			t.Errorf("time %q: %v", l.Time, err)
		}
	}
	var l lagOut
	c.tool("lag", "--output", "json", "lg").want(t, 0).decode(t, &l)
	check(l)

	r = c.tool("lag", "lg").want(t, 0)
	lines := tableLines(t, r)
	rows := checkTable(t, lines[:len(lines)-1], "TIME", "GROUP", "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "CONSUMED/S", "PRODUCED/S", "STATUS")
	// One sample: OK where the lag is 0, too few to judge elsewhere.
	if len(rows) != parts || lines[len(lines)-1] != fmt.Sprintf("TOTAL LAG %d  STATUS needs 3 samples (lag --watch)", parts*perPart-consumed) {
		t.Errorf("lag table:\n%v", r)
	}

	c.tool("lag", "nosuch").want(t, exitError).wantStderr(t, "no such group")
	c.tool("lag", "--watch", "--interval", "0s", "lg").want(t, exitUsage).wantStderr(t, "--interval must be positive")

	// --watch prints until interrupted, and Ctrl-C is a clean end: with a
	// pause between refreshes (the signal arrives while it waits), and
	// with none (it arrives during a refresh).
	for _, tc := range []struct {
		interval string
		docs     int
	}{{"100ms", 3}, {"1ms", 5}, {"1ms", 20}} {
		p := c.start("lag --watch", "lag", "--watch", "--interval", tc.interval, "--output", "json", "lg")
		start := time.Now()
		p.waitOutput(fmt.Sprintf("%d documents", tc.docs), func(lines []outLine) bool {
			n := 0
			for _, l := range lines {
				if strings.HasPrefix(l.text, "{") && strings.HasSuffix(l.text, "}") {
					n++ // one compact object a line (NDJSON)
				}
			}
			return n >= tc.docs
		})
		took := time.Since(start)
		p.signal(sigint)
		if code := p.wait(10 * time.Second); code != 0 {
			t.Fatalf("lag --watch --interval %s exited %d after SIGINT\n%s", tc.interval, code, p.describe())
		}
		if s := p.stderr.String(); s != "" {
			t.Errorf("lag --watch printed on stderr: %s", s)
		}
		dec := json.NewDecoder(strings.NewReader(p.stdout()))
		n := 0
		for {
			var l lagOut
			err := dec.Decode(&l)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("document %d: %v\n%s", n, err, p.describe())
			}
			check(l)
			n++
		}
		if n < tc.docs {
			t.Fatalf("%d documents, want at least %d", n, tc.docs)
		}
		t.Logf("lag --watch --interval %s: %d documents in %v, exit 0 on SIGINT", tc.interval, n, took.Round(time.Millisecond))
	}
}

// timestamped returns n records with timestamps from at, a millisecond
// apart, whose values are prefix0, prefix1...
func timestamped(n int, at time.Time, prefix string, from int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(prefix + strconv.Itoa(from+i)), Timestamp: at.Add(time.Duration(i) * time.Millisecond)}
	}
	return recs
}

func TestResetOffsets(t *testing.T) {
	t.Parallel()
	const topic, parts, perPart = "payments", 4, 10
	c := newCluster(t, map[string]int32{topic: parts})
	// Per partition, offsets 0-4 written two hours ago, 5-9 one hour ago.
	early, late := time.Now().Add(-2*time.Hour).Truncate(time.Second), time.Now().Add(-time.Hour).Truncate(time.Second)
	for p := range int32(parts) {
		recs := append(timestamped(perPart/2, early, fmt.Sprintf("%d-", p), 0), timestamped(perPart/2, late, fmt.Sprintf("%d-", p), perPart/2)...)
		if err := c.produceRecords(testCtx(t), topic, p, recs...); err != nil {
			t.Fatal(err)
		}
	}

	// The group's first consumer reads 20 messages and leaves.
	c.tool("consume", "--group", "rg", "--topic", topic, "--max", "20", "--output", "json").want(t, 0)
	d, _ := c.describe("rg")
	before := map[int32]int64{}
	sum := int64(0)
	for _, p := range d.Partitions {
		before[p.Partition] = p.Committed // -1: nothing committed (not claimed before it stopped)
		sum += max(p.Committed, 0)
	}
	if d.State != "empty" || len(before) != parts || sum != 20 {
		t.Fatalf("after consume --max 20: state %q, committed %v (sum %d, want 20)", d.State, before, sum)
	}

	unchanged := func(what string) {
		t.Helper()
		if got := c.committed("rg", topic); !maps.Equal(got, before) {
			t.Fatalf("%s changed the offsets: %v, was %v", what, got, before)
		}
	}

	// A dry run shows the change and writes nothing.
	r := c.tool("reset-offsets", "rg", "--topic", topic, "--to-earliest").want(t, 0)
	lines := tableLines(t, r)
	rows := checkTable(t, lines[:len(lines)-1], "TOPIC", "PARTITION", "OLD", "NEW")
	if len(rows) != parts || lines[len(lines)-1] != "dry run: nothing written (add --execute)" {
		t.Fatalf("dry run:\n%v", r)
	}
	for i, row := range rows {
		if want := []string{topic, strconv.Itoa(i), num(before[int32(i)]), "0"}; !slices.Equal(row, want) {
			t.Errorf("dry run row %v, want %v", row, want)
		}
	}
	var ro resetOut
	c.tool("reset-offsets", "rg", "--topic", topic, "--to-latest", "--output", "json").want(t, 0).decode(t, &ro)
	if ro.Group != "rg" || ro.Executed || len(ro.Changes) != parts {
		t.Fatalf("dry run: %+v", ro)
	}
	for _, ch := range ro.Changes {
		if ch.Old != before[ch.Partition] || ch.New != perPart {
			t.Errorf("dry run change %+v, want old %d, new %d", ch, before[ch.Partition], perPart)
		}
	}
	unchanged("a dry run")

	// An active group: refused, nothing written. (The member does not read
	// its messages, so it commits nothing new either.)
	m := c.join("rg", []string{topic}, false)
	waitFor(t, waitTimeout, "rg's member", func() error {
		if d, _ := c.describe("rg"); len(d.Members) != 1 {
			return fmt.Errorf("%d members", len(d.Members))
		}
		return nil
	})
	r = c.tool("reset-offsets", "rg", "--topic", topic, "--to-earliest", "--execute").want(t, exitError).
		wantStderr(t, "refused", "has members")
	if r.stdout != "" {
		t.Errorf("a refused reset printed:\n%v", r)
	}
	m.close(t)
	unchanged("a refused reset")

	// Each mode, executed.
	all := func(off int64) map[int32]int64 {
		out := map[int32]int64{}
		for p := range int32(parts) {
			out[p] = off
		}
		return out
	}
	for _, tc := range []struct {
		args []string
		want map[int32]int64
	}{
		{[]string{"--to-earliest"}, all(0)},
		{[]string{"--to-offset", "3"}, all(3)},
		{[]string{"--shift-by", "-2"}, all(1)},
		{[]string{"--shift-by", "-5"}, all(0)}, // bounded by the log start
		{[]string{"--shift-by", "4"}, all(4)},
		{[]string{"--to-offset", "1000"}, all(perPart)}, // bounded by the log end
		{[]string{"--to-offset", "2"}, all(2)},
		{[]string{"--to-latest"}, all(perPart)},
		{[]string{"--to-datetime", early.Add(30 * time.Minute).Format(time.RFC3339)}, all(perPart / 2)},
		{[]string{"--to-datetime", strconv.FormatInt(early.Add(-time.Minute).UnixMilli(), 10)}, all(0)},
		{[]string{"--to-datetime", time.Now().Add(time.Hour).Format(time.RFC3339)}, all(perPart)}, // nothing after: the end
		{[]string{"--to-datetime", late.Format(time.RFC3339)}, all(perPart / 2)},
		{[]string{"--partitions", "0,2", "--to-offset", "7"}, map[int32]int64{0: 7, 1: perPart / 2, 2: 7, 3: perPart / 2}},
	} {
		old := c.committed("rg", topic)
		args := append(append([]string{"rg", "--topic", topic}, tc.args...), "--execute", "--output", "json")
		var ro resetOut
		c.tool("reset-offsets", args...).want(t, 0).decode(t, &ro)
		if !ro.Executed {
			t.Fatalf("%v: not executed: %+v", tc.args, ro)
		}
		for _, ch := range ro.Changes {
			if ch.Old != old[ch.Partition] || ch.New != tc.want[ch.Partition] {
				t.Errorf("%v: change %+v, want old %d, new %d", tc.args, ch, old[ch.Partition], tc.want[ch.Partition])
			}
		}
		got := c.committed("rg", topic)
		if !maps.Equal(got, tc.want) {
			t.Fatalf("%v: committed %v, want %v", tc.args, got, tc.want)
		}
	}
	r = c.tool("reset-offsets", "rg", "--topic", topic, "--to-offset", "7", "--partitions", "0,2", "--execute").want(t, 0)
	if lines := tableLines(t, r); len(lines) != 4 || lines[3] != "written: 2 offsets of group rg" {
		t.Errorf("executed reset of 2 partitions:\n%v", r)
	}

	// The next consumer starts at the new offsets: 7-9 of partitions 0
	// and 2, 5-9 of 1 and 3, nothing else.
	want := map[string]bool{}
	for p, from := range map[int32]int{0: 7, 1: 5, 2: 7, 3: 5} {
		for o := from; o < perPart; o++ {
			want[fmt.Sprintf("%d@%d=%d-%d", p, o, p, o)] = true
		}
	}
	r = c.tool("consume", "--group", "rg", "--topic", topic, "--max", strconv.Itoa(len(want)), "--output", "json").want(t, 0)
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		msg, err := parseMessage(line)
		if err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%d@%d=%s", msg.Partition, msg.Offset, msg.Value)] = true
	}
	if !maps.Equal(got, want) || strings.Count(r.stdout, "\n") != len(want) {
		t.Fatalf("consumed after the reset:\n%s\nwant %v", r.stdout, slices.Sorted(maps.Keys(want)))
	}
	if got := c.committed("rg", topic); !maps.Equal(got, all(perPart)) {
		t.Fatalf("committed %v after reading everything", got)
	}
}

func TestResetOffsetsBadFlags(t *testing.T) {
	t.Parallel()
	const topic = "audit"
	c := newCluster(t, map[string]int32{topic: 3})
	c.produce(topic, 0, "a", "b", "c")
	c.tool("consume", "--group", "bg", "--topic", topic, "--max", "2").want(t, 0)
	before := c.committed("bg", topic)

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"bg", "--topic", topic, "--to-earliest", "--to-latest"}, "give exactly one of --to-earliest, --to-latest"},
		{[]string{"bg", "--topic", topic, "--to-offset", "1", "--shift-by", "1"}, "give exactly one of"},
		{[]string{"bg", "--topic", topic}, "give exactly one of"},
		{[]string{"bg", "--topic", topic, "--to-offset", "-1"}, `--to-offset "-1" is not a non-negative integer`},
		{[]string{"bg", "--topic", topic, "--to-offset", "ten"}, `--to-offset "ten" is not a non-negative integer`},
		{[]string{"bg", "--topic", topic, "--shift-by", "1.5"}, `--shift-by "1.5" is not an integer`},
		{[]string{"bg", "--topic", topic, "--to-datetime", "yesterday"}, `--to-datetime "yesterday" is neither RFC 3339`},
		{[]string{"bg", "--topic", topic, "--to-earliest", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"bg", "--to-earliest"}, "--topic or --all-topics is required"},
		{[]string{"--topic", topic, "--to-earliest"}, "want exactly one GROUP argument, got 0"},
		{[]string{"bg", "--topic", topic, "--to-earliest", "--partitions", "0,x"}, `--partitions: "x" is not a partition number`},
		{[]string{"bg", "--topic", topic, "--to-earliest", "--partitions", "1,9"}, "no such partition: audit:9"},
	} {
		args := append(tc.args, "--execute")
		r := c.tool("reset-offsets", args...).want(t, exitUsage).wantStderr(t, "groupctl reset-offsets: "+tc.msg, "usage: groupctl reset-offsets")
		if r.stdout != "" {
			t.Errorf("%v printed on stdout:\n%v", tc.args, r)
		}
	}
	if got := c.committed("bg", topic); !maps.Equal(got, before) {
		t.Fatalf("bad flags changed the offsets: %v, was %v", got, before)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]int32{"logs": 2})
	c.produce("logs", 0, "a", "b")
	m := c.join("dg", []string{"logs"}, true)
	m.receive(t, 2)
	c.join("keep", []string{"logs"}, false).close(t)

	r := c.tool("delete", "dg").want(t, exitError).wantStderr(t, "has members")
	if r.stdout != "" {
		t.Errorf("a refused delete printed:\n%v", r)
	}
	if d, _ := c.describe("dg"); len(d.Members) != 1 || len(d.Partitions) != 2 {
		t.Fatalf("after a refused delete: %+v", d)
	}

	m.close(t)
	var out struct {
		Group   string `json:"group"`
		Deleted bool   `json:"deleted"`
	}
	c.tool("delete", "--output", "json", "dg").want(t, 0).decode(t, &out)
	if out.Group != "dg" || !out.Deleted {
		t.Fatalf("delete printed %+v", out)
	}
	var l listOut
	c.tool("list", "--output", "json").want(t, 0).decode(t, &l)
	if len(l.Groups) != 1 || l.Groups[0].Group != "keep" {
		t.Fatalf("list after deleting dg: %+v", l)
	}
	c.tool("describe", "dg").want(t, exitError).wantStderr(t, "no such group")

	c.tool("delete", "keep").want(t, 0).wantStdout(t, "deleted group keep")
	c.tool("delete", "keep").want(t, exitError).wantStderr(t, "no such group", `"keep"`)
	c.tool("delete", "nosuch").want(t, exitError).wantStderr(t, "no such group", `"nosuch"`)
}

func TestProduceConsume(t *testing.T) {
	t.Parallel()
	forEachKind(t, testProduceConsume)
}

func testProduceConsume(t *testing.T, kind testenv.Kind) {
	const n = 50
	c := newClusterKind(t, kind, map[string]int32{"jobs": 3})
	topic, group := c.topic("jobs"), c.group("cg")

	c.tool("produce", "--topic", topic, "--count", strconv.Itoa(n), "--value-prefix", "m-").want(t, 0).
		wantStdout(t, fmt.Sprintf("produced %d messages to %s", n, topic))

	// consume --max prints exactly that many JSON lines and ends.
	consume := func(max int) []message {
		t.Helper()
		r := c.tool("consume", "--group", group, "--topic", topic, "--max", strconv.Itoa(max), "--output", "json").want(t, 0).
			wantStderr(t, "joined group "+group+" as "+group+"_")
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != max {
			t.Fatalf("%d lines, want %d\n%v", len(lines), max, r)
		}
		var out []message
		for _, l := range lines {
			m, err := parseMessage(l)
			if err != nil {
				t.Fatal(err)
			}
			if m.Topic != topic {
				t.Errorf("topic %q", m.Topic)
			}
			if _, err := time.Parse(time.RFC3339Nano, m.Timestamp); err != nil {
				t.Errorf("timestamp %q: %v", m.Timestamp, err)
			}
			out = append(out, m)
		}
		return out
	}
	// Every message once; offsets per partition from 0 without a gap.
	seen := map[string]bool{}
	next := map[int32]int64{}
	for _, m := range consume(n) {
		if m.Value != "m-"+m.Key || seen[m.Key] {
			t.Errorf("message %+v: a duplicate, or its value is not m-KEY", m)
		}
		seen[m.Key] = true
		if m.Offset != next[m.Partition] {
			t.Errorf("partition %d: offset %d, want %d", m.Partition, m.Offset, next[m.Partition])
		}
		next[m.Partition] = m.Offset + 1
	}
	if len(seen) != n || len(next) < 2 {
		t.Fatalf("%d distinct messages over partitions %v, want %d spread by key", len(seen), next, n)
	}

	// More, to one partition: the group goes on where it stopped.
	var p struct {
		Topic    string `json:"topic"`
		Produced int    `json:"produced"`
	}
	c.tool("produce", "--topic", topic, "--count", "5", "--start", "100", "--partition", "1", "--output", "json").want(t, 0).decode(t, &p)
	if p.Topic != topic || p.Produced != 5 {
		t.Fatalf("produce printed %+v", p)
	}
	for i, m := range consume(5) {
		if m.Partition != 1 || m.Offset != next[1]+int64(i) || m.Key != strconv.Itoa(100+i) || m.Value != m.Key {
			t.Errorf("message %d: %+v, want partition 1, offset %d, key and value %d", i, m, next[1]+int64(i), 100+i)
		}
	}

	// The table format: topic, partition, offset, key, value.
	c.tool("produce", "--topic", topic, "--count", "1", "--start", "7", "--partition", "2", "--value-prefix", "tab\there").want(t, 0)
	r := c.tool("consume", "--group", group, "--topic", topic, "--max", "1").want(t, 0)
	if want := fmt.Sprintf("%s\t2\t%d\t7\t%q\n", topic, next[2], "tab\there7"); r.stdout != want {
		t.Errorf("table line %q, want %q", r.stdout, want)
	}

	c.tool("consume", "--topic", topic).want(t, exitUsage).wantStderr(t, "give --group, or --from-offset or --from-time", "usage: groupctl consume")
	c.tool("consume", "--group", group).want(t, exitUsage).wantStderr(t, "--topic is required")
	c.tool("consume", "--group", group, "--topic", topic, "--from", "middle").want(t, exitUsage).wantStderr(t, `--from must be oldest or newest, not "middle"`)
	c.tool("produce", "--topic", topic, "--count", "0").want(t, exitUsage).wantStderr(t, "--count must be at least 1")
}

func TestDemo(t *testing.T) {
	if os.Getenv(testenv.EnvZooKeeper) != "" {
		t.Skip(testenv.EnvZooKeeper + " is set: the demo starts its own ZooKeeper, which may not be installed here")
	}
	t.Parallel()
	// --duration: a demo that cannot finish ends by itself, with its summary.
	r := runTool(t, "demo", "--messages", "2000", "--partitions", "4", "--members", "2", "--plain", "--duration", "45s").want(t, 0).
		wantStdout(t, "lost                 0", "nothing lost", "a member crashes", "partitions are added")
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "  ") {
			t.Log(line)
		}
	}
	t.Logf("demo took %v", r.took.Round(time.Millisecond))
	runTool(t, "demo", "--members", "1").want(t, exitUsage).wantStderr(t, "--members must be at least 2")
}
