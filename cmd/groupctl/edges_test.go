package main

// Regression tests of issue 20: the edges of reset-offsets, consume,
// migrate and the table printer.

import (
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// Issue 20.10: --shift-by the largest int64 overflowed and planned the log
// start; it saturates and plans the log end, the smallest plans the start.
func TestResetShiftBySaturates(t *testing.T) {
	t.Parallel()
	const topic = "shift"
	c := newCluster(t, map[string]int32{topic: 1})
	c.produce(topic, 0, "a", "b", "c")
	c.tool("reset-offsets", "sg", "--topic", topic, "--to-offset", "1", "--execute").want(t, 0)
	for _, tc := range []struct {
		by   string
		want int64
		note string
	}{
		{"9223372036854775807", 3, "shift/0: --shift-by 9223372036854775807 from 1 is 9223372036854775807, outside the log (0..3): clamped to the log end, 3"},
		{"-9223372036854775808", 0, "shift/0: --shift-by -9223372036854775808 from 1 is -9223372036854775807, outside the log (0..3): clamped to the log start, 0"},
	} {
		var ro resetOut
		r := c.tool("reset-offsets", "sg", "--topic", topic, "--shift-by", tc.by, "--output", "json").want(t, 0).wantStderr(t, tc.note)
		r.decode(t, &ro)
		if len(ro.Changes) != 1 || ro.Changes[0].Old != 1 || ro.Changes[0].New != tc.want {
			t.Errorf("--shift-by %s: %+v, want 1 -> %d\n%v", tc.by, ro.Changes, tc.want, r)
		}
	}
}

// Issue 20.11: a time before Kafka's timestamps begin (1970, Unix time 0)
// planned the log end: refused up front, on every kind of broker, and the
// offsets are unchanged.
func TestResetDatetimeBeforeEpoch(t *testing.T) {
	t.Parallel()
	forEachKind(t, testResetDatetimeBeforeEpoch)
}

func testResetDatetimeBeforeEpoch(t *testing.T, kind testenv.Kind) {
	c := newClusterKind(t, kind, map[string]int32{"old": 2})
	topic, group := c.topic("old"), c.group("eg")
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	for p := range int32(2) {
		if err := c.produceRecords(testCtx(t), topic, p, timestamped(4, at, "v", 0)...); err != nil {
			t.Fatal(err)
		}
	}
	c.tool("reset-offsets", group, "--topic", topic, "--to-offset", "2", "--execute").want(t, 0)
	before := c.committed(group, topic)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--to-datetime", "1960-01-01T00:00:00Z"}, `--to-datetime "1960-01-01T00:00:00Z" is before 1970-01-01T00:00:00Z (Unix time 0), where Kafka's timestamps begin`},
		{[]string{"--to-datetime", "-1"}, `--to-datetime "-1" is before 1970-01-01T00:00:00Z (Unix time 0), where Kafka's timestamps begin`},
		{[]string{"--by-duration", "P30000D"}, `--by-duration "P30000D" ago is before 1970-01-01T00:00:00Z (Unix time 0), where Kafka's timestamps begin`},
		{[]string{"--by-duration", "P9999999D"}, `--by-duration "P9999999D" ago is before 1970-01-01T00:00:00Z (Unix time 0), where Kafka's timestamps begin`},
	} {
		args := append(append([]string{group, "--topic", topic}, tc.args...), "--execute")
		r := c.tool("reset-offsets", args...).want(t, exitUsage).wantStderr(t, "groupctl reset-offsets: "+tc.msg, "--to-earliest")
		if r.stdout != "" {
			t.Errorf("%v printed on stdout:\n%v", tc.args, r)
		}
	}
	c.tool("consume", "--topic", topic, "--from-time", "1960-01-01T00:00:00Z", "--max", "1").want(t, exitUsage).
		wantStderr(t, `--from-time "1960-01-01T00:00:00Z" is before 1970-01-01T00:00:00Z (Unix time 0)`)
	if got := c.committed(group, topic); !maps.Equal(got, before) {
		t.Fatalf("refused resets changed the offsets: %v, was %v", got, before)
	}
	// Unix time 0 itself is a time: every message is at or after it.
	var ro resetOut
	c.tool("reset-offsets", group, "--topic", topic, "--to-datetime", "0", "--output", "json").want(t, 0).decode(t, &ro)
	for _, ch := range ro.Changes {
		if ch.New != 0 {
			t.Errorf("--to-datetime 0: %+v, want the log start 0", ch)
		}
	}
}

// Issue 20.11: a partition whose offset at the time the broker refuses
// fails the plan, naming the partition; it does not fall back to the log
// end.
func TestResetDatetimePartitionError(t *testing.T) {
	t.Parallel()
	const topic = "refused"
	c := newCluster(t, map[string]int32{topic: 2})
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	for p := range int32(2) {
		if err := c.produceRecords(testCtx(t), topic, p, timestamped(4, at, "v", 0)...); err != nil {
			t.Fatal(err)
		}
	}
	c.tool("reset-offsets", "pg", "--topic", topic, "--to-offset", "2", "--execute").want(t, 0)
	before := c.committed("pg", topic)
	// The broker answers the time query (not -1, -2: the log's bounds) with
	// offset 0 for partition 0 and an error for partition 1.
	c.kafka.(*testenv.Kafka).Cluster().ControlKey(int16(kmsg.ListOffsets), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.ListOffsetsRequest)
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				if rp.Timestamp < 0 {
					return nil, nil, false
				}
			}
		}
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.Timestamp, sp.Offset = -1, -1
				if rp.Partition == 1 {
					sp.ErrorCode = kerr.UnsupportedForMessageFormat.Code
				} else {
					sp.Timestamp, sp.Offset = at.UnixMilli(), 0
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	r := c.tool("reset-offsets", "pg", "--topic", topic, "--to-datetime", at.Add(-time.Minute).Format(time.RFC3339), "--execute").
		want(t, exitError).wantStderr(t, "refused/1", "UNSUPPORTED_FOR_MESSAGE_FORMAT")
	t.Logf("a broker's refusal of one partition:\n%s", r.stderr)
	if r.stdout != "" || strings.Contains(r.stderr, "refused/0") {
		t.Errorf("a failed plan printed, or named a partition that was answered:\n%v", r)
	}
	if got := c.committed("pg", topic); !maps.Equal(got, before) {
		t.Fatalf("a failed plan changed the offsets: %v, was %v", got, before)
	}
}

// Issue 20.12 and 14: consume refuses a partition the topic does not have
// (it waited without end), a topic that does not exist, a negative
// --partition and a negative --max, as produce refuses a negative --count.
func TestConsumeBadPartitionAndMax(t *testing.T) {
	t.Parallel()
	const topic = "four"
	c := newCluster(t, map[string]int32{topic: 4})
	c.produce(topic, 3, "x")
	boot := strings.Join(c.kafka.Addrs(), ",")
	for _, tc := range []struct {
		run func(args ...string) result
		msg string
	}{
		{func(a ...string) result { return c.tool("consume", a...) }, "no such partition: four:99"},
		{func(a ...string) result { return c.kafkaTool("consume", a...) }, "no such partition: four:99"},
	} {
		r := tc.run("--topic", topic, "--partition", "99", "--from-offset", "0").want(t, exitUsage).
			wantStderr(t, "groupctl consume: "+tc.msg, "usage: groupctl consume")
		if r.stdout != "" {
			t.Errorf("printed:\n%v", r)
		}
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--topic", topic, "--partition", "-2", "--from-offset", "0"}, "--partition must be at least 0, not -2"},
		{[]string{"--topic", topic, "--group", "g", "--max", "-1"}, "--max must be at least 0, not -1"},
		{[]string{"--topic", topic, "--from-offset", "0", "--max", "-1"}, "--max must be at least 0, not -1"},
	} {
		c.tool("consume", tc.args...).want(t, exitUsage).wantStderr(t, "groupctl consume: "+tc.msg)
	}
	// A topic that does not exist: an error, not a wait without end.
	c.tool("consume", "--topic", "nosuch", "--from-offset", "0").want(t, exitError).wantStderr(t, `unknown topic: "nosuch"`)
	runTool(t, "consume", "--bootstrap-server", boot, "--topic", topic, "--partition", "3", "--from-offset", "0", "--max", "1").
		want(t, 0).wantStdout(t, "four\t3\t0\t0\tx\n")
}

// Issue 20.13: control characters of a name (a Kafka group id that
// retitles the terminal and clears the screen) are escaped in tables;
// JSON keeps the name exact.
func TestTableEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	const topic = "esc"
	c := newCluster(t, map[string]int32{topic: 1})
	c.produce(topic, 0, "a", "b")
	evil := "evil\x1b]0;pwned\x07\x1b[2J"
	if _, err := c.admin().CommitOffsets(testCtx(t), evil, kadm.OffsetsFromRecords(kgo.Record{Topic: topic, Partition: 0, Offset: 0})); err != nil {
		t.Fatal(err)
	}
	quoted := strconv.Quote(evil) // "evil\x1b]0;pwned\a\x1b[2J"
	for _, args := range [][]string{{"list"}, {"describe", evil}, {"lag", evil}} {
		r := c.kafkaTool(args[0], args[1:]...).want(t, 0).wantStdout(t, quoted)
		if strings.ContainsAny(r.stdout, "\x1b\x07") {
			t.Errorf("%s printed control characters raw:\n%q", args[0], r.stdout)
		}
	}
	var l listOut
	c.kafkaTool("list", "--output", "json").want(t, 0).decode(t, &l)
	if len(l.Groups) != 1 || l.Groups[0].Group != evil {
		t.Errorf("list --output json: %+v, want the name exact", l)
	}
	var d kafkaDescribeOut
	c.kafkaTool("describe", "--output", "json", evil).want(t, 0).decode(t, &d)
	if d.Group != evil {
		t.Errorf("describe --output json: group %q, want %q", d.Group, evil)
	}
}

// Issue 20.14: migrate exits 2 when --bootstrap-server is unreachable, as
// the usage says.
func TestMigrateUnreachableBootstrap(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]int32{"u": 1})
	if err := c.ZK().Commit(testCtx(t), "ug", "u", 0, 0); err != nil {
		t.Fatal(err)
	}
	c.migrate("ug", "--bootstrap-server", freeAddr(t)).want(t, exitUsage).wantStderr(t, "unreachable", "connection refused")
}

// Issue 20.14: a group Kafka has never seen (OffsetFetch answers
// GROUP_ID_NOT_FOUND, as kfake does) has no offsets there: migrate plans,
// writes and verifies.
func TestMigrateGroupKafkaNeverSaw(t *testing.T) {
	t.Parallel()
	const topic = "fresh"
	c := newCluster(t, map[string]int32{topic: 2})
	c.produce(topic, 0, "a", "b", "c")
	c.produce(topic, 1, "a", "b", "c")
	for p, off := range map[int32]int64{0: 1, 1: 2} {
		if err := c.ZK().Commit(testCtx(t), "ng", topic, p, off); err != nil {
			t.Fatal(err)
		}
	}
	c.migrate("ng").want(t, exitOK).wantStdout(t, "dry run: nothing written", "--execute writes 2 offsets")
	c.migrate("ng", "--execute").want(t, exitOK).wantStdout(t, "migrated: 2 offsets written", "verified")
	wantOffsets(t, "Kafka's offsets after --execute", c.kafkaOffsets("ng", topic), map[int32]int64{0: 1, 1: 2})
}

// escape leaves printable names alone and quotes the others.
func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"payments": "payments", "日本語 group": "日本語 group", "": "",
		"a\tb": `"a\tb"`, "x\ny": `"x\ny"`, "\xff": `"\xff"`, "e\x1b[2J": `"e\x1b[2J"`, "\u202e": `"\u202e"`,
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %s, want %s", in, got, want)
		}
	}
}
