package main

// groupctl on share groups (KIP-932), made to exist by a bare franz-go
// share consumer: list's type and state filters, describe, reset-offsets,
// delete-offsets, delete and serve.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// shareDescribeOut is describe --output json of a share group.
type shareDescribeOut struct {
	Group    string `json:"group"`
	Type     string `json:"type"`
	Kind     string `json:"kind"`
	Protocol string `json:"protocol"`
	State    string `json:"state"`
	TotalLag *int64 `json:"total_lag"`
	Error    string `json:"error"`
	Members  []struct {
		ID         string             `json:"id"`
		ClientID   string             `json:"client_id"`
		Topics     []string           `json:"topics"`
		Assignment map[string][]int32 `json:"assignment"`
	} `json:"members"`
	Partitions []struct {
		Topic       string `json:"topic"`
		Partition   int32  `json:"partition"`
		Owner       string `json:"owner"`
		StartOffset *int64 `json:"start_offset"`
		LogEnd      *int64 `json:"log_end"`
		Lag         *int64 `json:"lag"`
	} `json:"partitions"`
}

// shareDescribe runs describe --output json of a share group; exit 1 (a
// lag unknown) is accepted: its JSON says why.
func (c *cluster) shareDescribe(group string) (shareDescribeOut, result) {
	c.t.Helper()
	r := c.kafkaTool("describe", "--output", "json", group)
	if r.code != 0 && r.code != exitError {
		c.t.Fatalf("describe: %v", r)
	}
	var d shareDescribeOut
	r.decode(c.t, &d)
	return d, r
}

// offsets are a share group's partitions as "partition:start/lag", in
// order.
func (d shareDescribeOut) offsets() string {
	var out []string
	for _, p := range d.Partitions {
		s, l := "-", "-"
		if p.StartOffset != nil {
			s = fmt.Sprint(*p.StartOffset)
		}
		if p.Lag != nil {
			l = fmt.Sprint(*p.Lag)
		}
		out = append(out, fmt.Sprintf("%d:%s/%s", p.Partition, s, l))
	}
	return strings.Join(out, " ")
}

// setShareEarliest makes group's share partitions start at their log
// start (share.auto.offset.reset=earliest), as Kafka's group config does.
func setShareEarliest(t *testing.T, c *cluster, group string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Value, cfg.Op = "share.auto.offset.reset", kmsg.StringPtr("earliest"), kmsg.IncrementalAlterConfigOpSet
	r.Configs = append(r.Configs, cfg)
	req.Resources = append(req.Resources, r)
	resp, err := req.RequestWith(testCtx(t), c.producer)
	if err == nil && len(resp.Resources) == 1 {
		err = kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("share.auto.offset.reset of %s: %v", group, err)
	}
}

// bareShareMember joins group with a bare franz-go share consumer of topic and
// polls until it was delivered every record below ends (partition: log
// end), accepting those of the partitions in accept and releasing the
// others; it then flushes its acknowledgements. Close it to leave.
func bareShareMember(t *testing.T, c *cluster, group, topic string, ends map[int32]int64, accept ...int32) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...), kgo.ShareGroup(group), kgo.ConsumeTopics(topic),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	seen := map[int32]map[int64]bool{}
	missing := func() int64 {
		var n int64
		for p, end := range ends {
			n += end - int64(len(seen[p]))
		}
		return n
	}
	ctx, cancel := context.WithTimeout(testCtx(t), waitTimeout)
	defer cancel()
	for missing() > 0 {
		fs := cl.PollRecords(ctx, 0)
		if ctx.Err() != nil {
			t.Fatalf("share member of %s: %d records never delivered (seen %v)", group, missing(), seen)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if seen[r.Partition] == nil {
				seen[r.Partition] = map[int64]bool{}
			}
			seen[r.Partition][r.Offset] = true
			if slices.Contains(accept, r.Partition) {
				r.Ack(kgo.AckAccept)
			} else {
				r.Ack(kgo.AckRelease)
			}
		})
	}
	if err := cl.FlushAcks(ctx); err != nil {
		t.Fatalf("flush acks: %v", err)
	}
	return cl
}

// TestShareGroupTools: a share group of a bare franz-go share consumer in
// list (with its type and state, filtered), describe (its member and
// assignment, each partition's start offset and lag as Kafka reports
// them), reset-offsets (refused with a member, then --to-latest,
// --to-earliest, --to-datetime), delete-offsets, delete and serve, on
// kfake and Kafka 4 (share.version 1).
func TestShareGroupTools(t *testing.T) {
	for _, kind := range testenv.KafkaKinds() {
		if kind == testenv.KindKafka39 {
			continue // no share groups before Kafka 4
		}
		t.Run(string(kind), func(t *testing.T) { testShareGroupTools(t, kind) })
	}
}

func testShareGroupTools(t *testing.T, kind testenv.Kind) {
	c := newClusterKind(t, kind, map[string]int32{"q": 2})
	topic, group, classic := c.topic("q"), c.group("sq"), c.group("cg")
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	for p := range int32(2) {
		if err := c.produceRecords(testCtx(t), topic, p, timestamped(5, at, "v", 0)...); err != nil {
			t.Fatal(err)
		}
	}
	setShareEarliest(t, c, group)
	member := bareShareMember(t, c, group, topic, map[int32]int64{0: 5, 1: 5}, 0)
	// A classic group beside it (once the broker's group coordinator
	// runs: the share member's join waited for it).
	c.kafkaTool("reset-offsets", classic, "--topic", topic, "--to-earliest", "--execute").want(t, 0)

	testShareDescribe(t, c, group, topic)

	testShareList(t, c, group, classic)
	c.kafkaTool("lag", group).want(t, 0).wantStdout(t, "TOTAL LAG 5")
	if r := c.kafkaTool("describe", "--all-groups").want(t, 0); !strings.Contains(r.stdout, "GROUP "+group+"  KIND kafka  PROTOCOL share") {
		t.Errorf("describe --all-groups lacks the share group:\n%s", r.stdout)
	}

	// With a member: dry runs only; the member is named as what to stop.
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-latest").want(t, 0).
		wantStdout(t, "dry run").wantStderr(t, "1 live member", "--execute will be refused")
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-latest", "--execute").want(t, exitError).
		wantStderr(t, "refused, nothing changed", fmt.Sprintf("share group %q", group), "has 1 members", "only while it has none", "stop its consumers first")
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-offset", "3").want(t, exitUsage).
		wantStderr(t, fmt.Sprintf("group %q is a share group", group), "--to-earliest, --to-latest or --to-datetime")
	c.kafkaTool("delete", group).want(t, exitError).wantStderr(t, "refused, nothing changed")
	c.kafkaTool("delete-offsets", group, "--topic", topic).want(t, exitError).wantStderr(t, "refused, nothing changed", "has members")
	if after, _ := c.shareDescribe(group); !shareAccepted(after.offsets()) {
		t.Errorf("a refused change changed the group: %s", after.offsets())
	}

	member.Close() // leaves the group
	waitFor(t, waitTimeout, "an empty share group", func() error {
		if d, _ := c.shareDescribe(group); d.State != "empty" || len(d.Members) != 0 {
			return fmt.Errorf("state %s, %d members", d.State, len(d.Members))
		}
		return nil
	})
	testShareReset(t, c, group, topic, at)
	testShareServe(t, c, group, classic, topic)

	c.kafkaTool("delete", group).want(t, 0).wantStdout(t, "deleted group "+group)
	c.kafkaTool("describe", group).want(t, exitError).wantStderr(t, "no such group")

	testShareDeleteOffsets(t, c, topic)
	testShareCreate(t, c, classic, topic)
}

// testShareCreate: reset-offsets --type share places a share group that
// does not exist yet (where its first member starts); --type share of
// another type of group, or without Kafka, is refused.
func testShareCreate(t *testing.T, c *cluster, classic, topic string) {
	fresh := c.group("fresh")
	c.kafkaTool("reset-offsets", fresh, "--type", "share", "--topic", topic, "--to-earliest").want(t, 0).
		wantStdout(t, "dry run").wantStderr(t, "does not exist", "--execute would create it")
	c.kafkaTool("describe", fresh).want(t, exitError).wantStderr(t, "no such group")
	c.kafkaTool("reset-offsets", fresh, "--type", "share", "--topic", topic+":1", "--to-earliest", "--execute").want(t, 0).
		wantStderr(t, "--execute creates it")
	var d shareDescribeOut
	waitFor(t, waitTimeout, "the new share group", func() error {
		d, _ = c.shareDescribe(fresh)
		if d.Type != "share" || d.offsets() != "1:0/5" {
			return fmt.Errorf("type %q, %s", d.Type, d.offsets())
		}
		return nil
	})
	c.kafkaTool("reset-offsets", classic, "--type", "share", "--topic", topic, "--to-earliest").want(t, exitUsage).
		wantStderr(t, "--type share", fmt.Sprintf("group %q is a classic group", classic))
	c.kafkaTool("reset-offsets", fresh, "--type", "consumer", "--topic", topic, "--to-earliest").want(t, exitUsage).
		wantStderr(t, `--type "consumer"`, "--type share")
	c.tool("reset-offsets", fresh, "--type", "share", "--topic", topic, "--to-earliest").want(t, exitUsage).
		wantStderr(t, "give --bootstrap-server")
}

// shareAccepted reports whether a share group's offsets (offsets()) are
// those of partition 0 accepted (lag 0; start 5 on kfake, anywhere from 0
// to 5 on Kafka 4.4, which moves it later and by steps: 2 seen in make
// test) and partition 1 released (start 0, lag 5).
func shareAccepted(offsets string) bool { return shareAcceptedRE.MatchString(offsets) }

var shareAcceptedRE = regexp.MustCompile(`^0:[0-5]/0 1:0/5$`)

// testShareDescribe: describe of the share group of one member that
// accepted partition 0 and released partition 1, in JSON and table.
func testShareDescribe(t *testing.T, c *cluster, group, topic string) {
	var d shareDescribeOut
	waitFor(t, waitTimeout, "partition 0 accepted, partition 1 not", func() error {
		d, _ = c.shareDescribe(group)
		if !shareAccepted(d.offsets()) || d.TotalLag == nil || *d.TotalLag != 5 || len(d.Members) != 1 {
			return fmt.Errorf("%s, total lag %v, %d members, error %q", d.offsets(), d.TotalLag, len(d.Members), d.Error)
		}
		return nil
	})
	m := d.Members[0]
	if d.Type != "share" || d.Kind != "kafka" || d.Protocol != "share" || d.State != "stable" || d.Error != "" {
		t.Errorf("describe: type %q kind %q protocol %q state %q error %q, want share kafka share stable", d.Type, d.Kind, d.Protocol, d.State, d.Error)
	}
	if m.ID == "" || !slices.Equal(m.Assignment[topic], []int32{0, 1}) || !slices.Equal(m.Topics, []string{topic}) {
		t.Errorf("describe: member %+v, want an id, topic %s and partitions 0,1", m, topic)
	}
	for _, p := range d.Partitions {
		if p.Owner != m.ID || p.LogEnd == nil || *p.LogEnd != 5 {
			t.Errorf("describe: partition %+v, want member %s, log end 5", p, m.ID)
		}
	}
	r := c.kafkaTool("describe", group).want(t, 0).wantStdout(t, "PROTOCOL share", "STATE stable (Stable)", "TOTAL LAG 5")
	t.Logf("describe of a share group:\n%s", r.stdout)
	lines := tableLines(t, r)
	rows := checkTable(t, lines[5:], "TOPIC", "PARTITION", "MEMBERS", "START-OFFSET", "LOG-END", "LAG", "STATUS")
	if len(rows) != 2 || rows[1][3] != "0" || rows[1][5] != "5" || rows[1][2] != m.ID {
		t.Errorf("describe's partitions:\n%s", r.stdout)
	}
}

// testShareDeleteOffsets: delete-offsets of an empty share group: its
// share state of the topic goes (kfake drops a share group left with none).
func testShareDeleteOffsets(t *testing.T, c *cluster, topic string) {
	other := c.group("sq2")
	setShareEarliest(t, c, other)
	bareShareMember(t, c, other, topic, map[int32]int64{0: 7, 1: 5}, 0, 1).Close()
	waitFor(t, waitTimeout, "an empty share group", func() error {
		if d, _ := c.shareDescribe(other); len(d.Members) != 0 {
			return fmt.Errorf("%d members", len(d.Members))
		}
		return nil
	})
	c.kafkaTool("delete-offsets", other, "--topic", topic).want(t, 0).wantStdout(t, fmt.Sprintf("deleted the offsets of topic %s in group %s", topic, other))
	if r := c.kafkaTool("describe", other); !strings.Contains(r.stderr, "no such group") && strings.Contains(r.stdout, "\n"+topic+" ") {
		t.Errorf("after delete-offsets, %s remains:\n%v", topic, r)
	}
}

// testShareList: list shows the share group's type and state beside a
// classic group's, and --type and --state filter them (the groups of other
// tests on a shared broker aside).
func testShareList(t *testing.T, c *cluster, group, classic string) {
	ours := func(names []string) []string {
		return slices.DeleteFunc(names, func(n string) bool { return n != group && n != classic })
	}
	r := c.kafkaTool("list").want(t, 0)
	var rows [][]string
	for _, row := range checkTable(t, tableLines(t, r), "GROUP", "TYPE", "MEMBERS", "STATE") {
		if len(ours([]string{row[0]})) > 0 {
			rows = append(rows, row)
		}
	}
	t.Logf("list (ours):\n%v", rows)
	if !slices.EqualFunc(rows, [][]string{{classic, "classic", "0", "Empty"}, {group, "share", "1", "Stable"}}, slices.Equal) {
		t.Errorf("list:\n%s", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--type", "share"}, []string{group}},
		{[]string{"--type", "Consumer,CLASSIC"}, []string{classic}},
		{[]string{"--type", "consumer"}, nil},
		{[]string{"--state", "stable"}, []string{group}},
		{[]string{"--state", "Empty,dead"}, []string{classic}},
		{[]string{"--type", "share", "--state", "empty"}, nil},
	} {
		var l listOut
		c.kafkaTool("list", append(tc.args, "--output", "json")...).want(t, 0).decode(t, &l)
		var got []string
		for _, g := range l.Groups {
			got = append(got, g.Group)
		}
		if got = ours(got); !slices.Equal(got, tc.want) {
			t.Errorf("list %v: %v, want %v", tc.args, got, tc.want)
		}
	}
	if c.kind == testenv.KindKfake { // alone on its cluster
		c.kafkaTool("list", "--type", "share", "--state", "empty").want(t, 0).wantStderr(t, "no groups of Kafka's coordinator match --type and --state")
	}
	c.kafkaTool("list", "--type", "queue").want(t, exitUsage).wantStderr(t, `--type "queue"`, "classic, consumer, share, zookeeper")
	c.kafkaTool("list", "--state", "stable,idle").want(t, exitUsage).wantStderr(t, `"idle" is not one of the states`, "preparingrebalance", "rebalancing")
	c.kafkaTool("list", "--type", "zookeeper").want(t, exitUsage).wantStderr(t, "--type zookeeper", "need --zookeeper")
	c.tool("list", "--type", "share").want(t, exitUsage).wantStderr(t, "--type share", "need --bootstrap-server")
}

// testShareReset: reset-offsets of the empty share group, --to-latest,
// --to-earliest and --to-datetime, each dry run first; a broker that
// refuses a partition fails the plan, naming it.
func testShareReset(t *testing.T, c *cluster, group, topic string, at time.Time) {
	var reset resetOut
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-latest", "--output", "json").want(t, 0).decode(t, &reset)
	if reset.Executed || len(reset.Changes) != 2 || reset.Changes[1].Old != 0 || reset.Changes[1].New != 5 {
		t.Errorf("reset-offsets --to-latest, dry run: %+v, want partition 1 from 0 to 5, not executed", reset)
	}
	if d, _ := c.shareDescribe(group); !shareAccepted(d.offsets()) {
		t.Errorf("a dry run changed the group: %s", d.offsets())
	}
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-latest", "--execute").want(t, 0).wantStdout(t, "written: 2 offsets")
	if d, _ := c.shareDescribe(group); d.offsets() != "0:5/0 1:5/0" {
		t.Errorf("after --to-latest: %s, want 0:5/0 1:5/0", d.offsets())
	}
	c.kafkaTool("reset-offsets", group, "--all-topics", "--to-earliest", "--execute").want(t, 0)
	if d, _ := c.shareDescribe(group); d.offsets() != "0:0/5 1:0/5" || *d.TotalLag != 10 {
		t.Errorf("after --to-earliest: %s, total lag %v; want 0:0/5 1:0/5, 10", d.offsets(), d.TotalLag)
	}
	// Two newer records on partition 0: --to-datetime between the batches
	// starts partition 0 at them, partition 1 at its end.
	later := at.Add(30 * time.Minute)
	if err := c.produceRecords(testCtx(t), topic, 0, timestamped(2, later, "w", 0)...); err != nil {
		t.Fatal(err)
	}
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-datetime", later.Format(time.RFC3339), "--execute").want(t, 0)
	if d, _ := c.shareDescribe(group); d.offsets() != "0:5/2 1:5/0" {
		t.Errorf("after --to-datetime: %s, want 0:5/2 1:5/0", d.offsets())
	}
	if c.kind == testenv.KindKfake { // intercepts kfake's answers
		testShareBrokerRefusals(t, c, group, topic)
	}
}

// testShareBrokerRefusals: a partition the broker refuses fails
// reset-offsets, naming it; a broker that reports no lag makes it unknown.
func testShareBrokerRefusals(t *testing.T, c *cluster, group, topic string) {
	// A partition the broker refuses fails the plan, naming it; the other
	// is written.
	c.kafka.(*testenv.Kafka).Cluster().ControlKey(int16(kmsg.AlterShareGroupOffsets), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.AlterShareGroupOffsetsRequest)
		resp := req.ResponseKind().(*kmsg.AlterShareGroupOffsetsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewAlterShareGroupOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				if rp.Partition == 1 {
					sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	r := c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-earliest", "--execute").want(t, exitError).
		wantStderr(t, topic+"/1: TOPIC_AUTHORIZATION_FAILED")
	if strings.Contains(r.stderr, topic+"/0") {
		t.Errorf("the refusal named a partition that was answered:\n%s", r.stderr)
	}
	// Describing a partition's start offset fails the plan, naming it.
	shareOffsets := func(errPartition0 bool) {
		c.kafka.(*testenv.Kafka).Cluster().ControlKey(int16(kmsg.DescribeShareGroupOffsets), func(kr kmsg.Request) (kmsg.Response, error, bool) {
			req := kr.(*kmsg.DescribeShareGroupOffsetsRequest)
			resp := req.ResponseKind().(*kmsg.DescribeShareGroupOffsetsResponse)
			g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
			g.GroupID = group
			rt := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
			rt.Topic = topic
			for p := range int32(2) {
				rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition() // Lag -1: not reported
				rp.Partition, rp.StartOffset = p, 5
				if p == 0 && errPartition0 {
					rp.ErrorCode, rp.StartOffset = kerr.UnknownServerError.Code, -1
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			g.Topics = append(g.Topics, rt)
			resp.Groups = append(resp.Groups, g)
			return resp, nil, true
		})
	}
	shareOffsets(true)
	r = c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-earliest").want(t, exitError).
		wantStderr(t, "nothing planned", topic+"/0: UNKNOWN_SERVER_ERROR")
	if r.stdout != "" {
		t.Errorf("a failed plan printed a plan:\n%s", r.stdout)
	}
	// A broker that reports no lag (DescribeShareGroupOffsets v0): unknown,
	// never 0, and said why.
	shareOffsets(false)
	r = c.kafkaTool("describe", group).want(t, exitError).wantStdout(t, "TOTAL LAG unknown").
		wantStderr(t, "no lag reported by Kafka for "+topic+"/0, "+topic+"/1", "KIP-1226")
}

// testShareServe: serve shows the share group beside the classic one, with
// its type and Kafka's lag, in /api/groups and /metrics.
func testShareServe(t *testing.T, c *cluster, group, classic, topic string) {
	p := startTool(t, "serve", "serve", "--bootstrap-server", strings.Join(c.kafka.Addrs(), ","), "--listen", "127.0.0.1:0", "--interval", "200ms")
	lines := p.waitOutput("the URL", func(ls []outLine) bool { return len(ls) > 0 && strings.Contains(ls[0].text, "http://") })
	url := strings.Fields(lines[0].text)[2]
	type summary struct {
		Group    string `json:"group"`
		Type     string `json:"type"`
		TotalLag int64  `json:"total_lag"`
	}
	waitFor(t, waitTimeout, "both groups in /api/groups", func() error {
		var list struct {
			Groups []summary `json:"groups"`
		}
		if err := getJSON(t, url+"api/groups", &list); err != nil {
			return err
		}
		got := map[string]summary{}
		for _, g := range list.Groups {
			got[g.Group] = g
		}
		if got[classic].Type != "classic" || got[group].Type != "share" || got[group].TotalLag != 2 {
			return fmt.Errorf("%+v", list.Groups)
		}
		return nil
	})
	resp, err := http.Get(url + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`groupctl_group_info{group=%q,type="share"} 1`, group),
		fmt.Sprintf(`groupctl_group_info{group=%q,type="classic"} 1`, classic),
		fmt.Sprintf(`groupctl_partition_lag{group=%q,topic=%q,partition="0"} 2`, group, topic),
		fmt.Sprintf(`groupctl_partition_committed_offset{group=%q,topic=%q,partition="0"} 5`, group, topic),
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	p.signal(sigint)
	if code := p.wait(waitTimeout); code != 0 {
		t.Errorf("serve exited %d\n%s", code, p.describe())
	}
}

// TestServeShareOwners: in serve's answers, a share group's partition
// counts for every member it is assigned to (Owner lists them); a classic
// group's owner is one id, commas and all.
func TestServeShareOwners(t *testing.T) {
	t.Parallel()
	snapOf := func(protocol, owner string) *snapshot {
		d := &consumergroup.GroupDescription{Group: "g", Protocol: protocol, State: "stable",
			Members:    []consumergroup.MemberDescription{{ID: "a"}, {ID: "b"}},
			Partitions: []consumergroup.PartitionDescription{{Topic: "t", Partition: 0, Owner: owner, Committed: 1, LogEnd: 3, Lag: 2}}}
		st := &groupState{desc: d, tracker: newLagTracker(lageval.DefaultSize, time.Hour)}
		st.report = st.tracker.observe(d, nil, time.Now())
		return newSnapshot(pollInfo{}, 0, map[string]*groupSnap{"g": newGroupSnap("g", st)})
	}
	var detail struct {
		Owned  map[string]int              `json:"owned"`
		Owners map[string][]map[string]any `json:"owners"`
	}
	share := snapOf(typeShare, "a,b")
	if err := json.Unmarshal(share.renderDetail(share.groups["g"], nil), &detail); err != nil {
		t.Fatal(err)
	}
	if len(detail.Owned) != 2 || detail.Owned["a"] != 1 || detail.Owned["b"] != 1 || len(detail.Owners["a"]) != 1 || len(detail.Owners["b"]) != 1 {
		t.Errorf("share group: owned %v, owners %v; want t/0 for a and for b", detail.Owned, detail.Owners)
	}
	if list := string(share.renderList()); !strings.Contains(list, `"type":"share"`) {
		t.Errorf("/api/groups: %s, want type share", list)
	}
	var b strings.Builder
	if err := share.writeMetrics(&b); err != nil || !strings.Contains(b.String(), `groupctl_group_info{group="g",type="share"} 1`) {
		t.Errorf("/metrics (%v):\n%s", err, b.String())
	}
	classic := snapOf(typeClassic, "a,b")
	detail.Owned, detail.Owners = nil, nil
	if err := json.Unmarshal(classic.renderDetail(classic.groups["g"], nil), &detail); err != nil {
		t.Fatal(err)
	}
	if len(detail.Owned) != 1 || detail.Owned["a,b"] != 1 {
		t.Errorf("classic group: owned %v, want the one owner \"a,b\"", detail.Owned)
	}
}

// TestShareGroupSharedPartition: two share members of a topic of one
// partition, both assigned it: describe names both as its members, each
// with the partition in its assignment (kfake).
func TestShareGroupSharedPartition(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]int32{"one": 1})
	c.produce("one", 0, "a", "b", "c")
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan struct{})
	var clients []*kgo.Client
	defer func() { // the pollers end, then the members leave
		cancel()
		for range clients {
			<-done
		}
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for range 2 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafka.Addrs()...), kgo.ShareGroup("pair"), kgo.ConsumeTopics("one"),
			kgo.FetchMaxWait(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
		go func() { // polls (accepting what it gets) until the test ends
			defer func() { done <- struct{}{} }()
			for ctx.Err() == nil && !cl.PollRecords(ctx, 0).IsClientClosed() {
			}
		}()
	}
	var ids []string
	waitFor(t, waitTimeout, "two members sharing partition 0", func() error {
		var d shareDescribeOut
		r := c.kafkaTool("describe", "--output", "json", "pair")
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			return fmt.Errorf("describe (the group may not exist yet): %v", r) // polled again
		}
		ids = ids[:0]
		for _, m := range d.Members {
			if slices.Equal(m.Assignment["one"], []int32{0}) {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) != 2 || len(d.Partitions) != 1 || d.Partitions[0].Owner != strings.Join(ids, ",") {
			return fmt.Errorf("members %+v, partitions %+v", d.Members, d.Partitions)
		}
		return nil
	})
	r := c.kafkaTool("describe", "pair").want(t, 0)
	if !strings.Contains(r.stdout, strings.Join(ids, ",")) {
		t.Errorf("describe's table lacks the partition's two members:\n%s", r.stdout)
	}
}
