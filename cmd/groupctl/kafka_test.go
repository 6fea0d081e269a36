package main

// groupctl --bootstrap-server: the groups of Kafka's own coordinator,
// run here by JoinKafkaConsumerGroup on both group protocols, on kfake and
// on the shared Kafka 4 broker.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// kafkaDescribeOut is describe --output json of a group of Kafka's
// coordinator: the ZooKeeper path's fields, and those of Kafka.
type kafkaDescribeOut struct {
	describeOut
	Kind             string `json:"kind"`
	Protocol         string `json:"protocol"`
	CoordinatorState string `json:"coordinator_state"`
	Status           string `json:"status"`
	Members          []struct {
		ID         string             `json:"id"`
		Host       string             `json:"host"`
		ClientID   string             `json:"client_id"`
		Topics     []string           `json:"topics"`
		Assignment map[string][]int32 `json:"assignment"`
	} `json:"members"`
}

// kafkaTool runs "groupctl CMD --bootstrap-server ADDRS ARGS...".
func (c *cluster) kafkaTool(cmd string, args ...string) result {
	c.t.Helper()
	return runTool(c.t, append([]string{cmd, "--bootstrap-server", strings.Join(c.kafka.Addrs(), ",")}, args...)...)
}

// kafkaDescribe runs describe --output json on Kafka's coordinator.
func (c *cluster) kafkaDescribe(group string) kafkaDescribeOut {
	c.t.Helper()
	r := c.kafkaTool("describe", "--output", "json", group).want(c.t, 0)
	var d kafkaDescribeOut
	r.decode(c.t, &d)
	return d
}

// joinKafka starts a member of group on Kafka's coordinator, reading
// topic, and a goroutine that reads its Stream (a message counts as
// processed once the next is asked for) and sends what it read on the
// channel returned; the test's end closes the member.
func (c *cluster) joinKafka(group, topic, protocol string) (*consumergroup.ConsumerGroup, <-chan *consumergroup.ConsumerEvent) {
	c.t.Helper()
	cfg := consumergroup.NewConsumerGroupConfig()
	cfg.GroupProtocol = protocol
	cfg.CommitInterval = 100 * time.Millisecond
	cfg.SessionTimeout = 2 * time.Second
	cfg.KafkaOptions = []kgo.Opt{kgo.HeartbeatInterval(500 * time.Millisecond)}
	g, err := consumergroup.JoinKafkaConsumerGroup(testCtx(c.t), group, []string{topic}, c.kafka.Addrs(), cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	read := make(chan *consumergroup.ConsumerEvent, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range g.Stream() {
			read <- ev
		}
	}()
	c.t.Cleanup(func() {
		g.Close()
		<-done
	})
	return g, read
}

// TestKafkaCoordinator: list, describe, lag, reset-offsets, delete and
// consume with --bootstrap-server on a group of JoinKafkaConsumerGroup's,
// classic and consumer (KIP-848), on kfake and Kafka 4.
func TestKafkaCoordinator(t *testing.T) {
	for _, kind := range testenv.KafkaKinds() {
		if kind == testenv.KindKafka39 {
			continue // ZooKeeper-era: classic only, as kfake's; Kafka 4 is the destination
		}
		for _, protocol := range []string{consumergroup.GroupProtocolClassic, consumergroup.GroupProtocolConsumer} {
			t.Run(string(kind)+"/"+protocol, func(t *testing.T) { testKafkaCoordinator(t, kind, protocol) })
		}
	}
}

func testKafkaCoordinator(t *testing.T, kind testenv.Kind, protocol string) {
	c := newClusterKind(t, kind, map[string]int32{"k": 2})
	topic, group := c.topic("k"), c.group("kg-"+protocol)
	for p := range int32(2) {
		c.produce(topic, p, "a", "b", "c", "d", "e")
	}
	g, stream := c.joinKafka(group, topic, protocol)
	for i := range 10 {
		select {
		case <-stream:
		case <-time.After(waitTimeout):
			t.Fatalf("the member received %d of 10 messages", i)
		}
	}

	// describe: the member, its client id, host and assignment, the
	// protocol; everything committed but the message in the member's
	// hands (processed once the next is taken, see Stream).
	var d kafkaDescribeOut
	waitFor(t, waitTimeout, "a stable group with 9 messages committed", func() error {
		d = c.kafkaDescribe(group)
		if d.State != consumergroup.StateStable || len(d.Members) != 1 || d.TotalLag != 1 || len(d.Partitions) != 2 ||
			len(d.Members[0].Assignment[topic]) != 2 {
			return fmt.Errorf("%+v", d)
		}
		return nil
	})
	m := d.Members[0]
	if d.Kind != "kafka" || d.Protocol != protocol || d.Group != group {
		t.Errorf("describe: kind %q protocol %q group %q, want kafka %s %s", d.Kind, d.Protocol, d.Group, protocol, group)
	}
	if m.ID == "" || m.ClientID == "" || m.Host == "" || !slices.Equal(m.Topics, []string{topic}) || !slices.Equal(m.Assignment[topic], []int32{0, 1}) {
		t.Errorf("describe: member %+v, want an id, client id, host, topic %s and partitions 0,1", m, topic)
	}
	for _, p := range d.Partitions {
		if p.Owner != m.ID || p.Committed < 4 || p.LogEnd != 5 || p.Lag != p.LogEnd-p.Committed {
			t.Errorf("describe: partition %+v, want owner %s, committed 4 or 5, log end 5, lag the difference", p, m.ID)
		}
	}
	r := c.kafkaTool("describe", group).want(t, 0).wantStdout(t, "KIND kafka", "PROTOCOL "+protocol, "STATE stable", "TOTAL LAG 1")
	lines := tableLines(t, r)
	rows := checkTable(t, lines[2:3+len(d.Members)], "MEMBER", "CLIENT-ID", "HOST", "TOPICS", "ASSIGNMENT")
	if rows[0][0] != m.ID || rows[0][4] != topic+":0,1" {
		t.Errorf("describe's member row %v, want %s ... %s:0,1\n%s", rows[0], m.ID, topic, r.stdout)
	}
	checkTable(t, lines[4+len(d.Members):], "TOPIC", "PARTITION", "OWNER", "COMMITTED", "LOG-END", "LAG", "STATUS")

	// list: the group, its kind and members.
	var l struct {
		Groups []struct {
			Group, Kind, Protocol, State string
			Members                      int
		}
	}
	c.kafkaTool("list", "--output", "json").want(t, 0).decode(t, &l)
	found := false
	for _, e := range l.Groups {
		if e.Group == group {
			found = e.Kind == "kafka" && e.Protocol == protocol && e.Members == 1 && e.State == "Stable"
			if !found {
				t.Errorf("list: %+v, want kind kafka, protocol %s, 1 member, Stable", e, protocol)
			}
		}
	}
	if !found {
		t.Errorf("list lacks %s: %+v", group, l)
	}

	// reset-offsets and delete are refused while the member is there; a
	// dry run is not.
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-earliest").want(t, 0).wantStdout(t, "dry run")
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-earliest", "--execute").want(t, 1).
		wantStderr(t, "refused, nothing changed", "has members", "stop its consumers first")
	c.kafkaTool("delete", group).want(t, 1).wantStderr(t, "refused, nothing changed", "has members")
	c.kafkaTool("delete-offsets", group, "--topic", topic).want(t, 1).wantStderr(t, "refused, nothing changed", "has members")
	if after := c.kafkaDescribe(group); after.TotalLag != 1 || after.Partitions[0].Committed < 4 || after.Partitions[1].Committed < 4 {
		t.Errorf("a refused reset changed the offsets: %+v", after.Partitions)
	}

	// Without members (Close commits the message in hand): lag, then a
	// reset.
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	c.produce(topic, 0, "f", "g")
	waitFor(t, waitTimeout, "an empty group", func() error {
		if d := c.kafkaDescribe(group); d.State != consumergroup.StateEmpty || len(d.Members) != 0 {
			return fmt.Errorf("state %s, %d members", d.State, len(d.Members))
		}
		return nil
	})
	var lag lagOut
	c.kafkaTool("lag", "--output", "json", group).want(t, 0).decode(t, &lag)
	if lag.Group != group || lag.TotalLag != 2 || len(lag.Partitions) != 2 || lag.Partitions[0].Lag != 2 || lag.Partitions[0].LogEnd != 7 {
		t.Errorf("lag: %+v, want a total of 2, 2 on partition 0 (log end 7)", lag)
	}
	c.kafkaTool("lag", group).want(t, 0).wantStdout(t, "TOTAL LAG 2")

	var reset resetOut
	c.kafkaTool("reset-offsets", group, "--topic", topic, "--to-offset", "1", "--execute", "--output", "json").want(t, 0).decode(t, &reset)
	if !reset.Executed || len(reset.Changes) != 2 || reset.Changes[0].Old != 5 || reset.Changes[0].New != 1 {
		t.Errorf("reset-offsets: %+v, want 2 changes from 5 to 1, executed", reset)
	}
	if d := c.kafkaDescribe(group); d.TotalLag != 10 || d.Partitions[0].Committed != 1 {
		t.Errorf("after the reset: total lag %d, partitions %+v; want 10 (6+4)", d.TotalLag, d.Partitions)
	}

	// consume joins the group (JoinKafkaConsumerGroup) and starts at the
	// reset offsets.
	r = c.kafkaTool("consume", "--group", group, "--topic", topic, "--group-protocol", protocol, "--session-timeout", "2s",
		"--max", "10", "--output", "json").want(t, 0)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var msg message
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			t.Fatalf("consume printed %q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%d/%d", msg.Partition, msg.Offset))
	}
	slices.Sort(got)
	want := []string{"0/1", "0/2", "0/3", "0/4", "0/5", "0/6", "1/1", "1/2", "1/3", "1/4"}
	if !slices.Equal(got, want) {
		t.Errorf("consume printed %v, want %v\n%v", got, want, r)
	}
	if d := c.kafkaDescribe(group); d.TotalLag != 0 {
		t.Errorf("after consume: total lag %d, want 0 (it commits what it printed)", d.TotalLag)
	}

	c.kafkaTool("delete", group).want(t, 0).wantStdout(t, "deleted group "+group)
	c.kafkaTool("describe", group).want(t, 1).wantStderr(t, "no such group", group)
}

// TestKafkaFlags: the flags of --bootstrap-server, an unknown group, an
// unreachable broker, and list of both kinds of group side by side.
func TestKafkaFlags(t *testing.T) {
	c := newCluster(t, map[string]int32{"f": 1})
	boot := strings.Join(c.kafka.Addrs(), ",")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"describe", "g", "--bootstrap-server", boot, "--zookeeper", c.zkAddr()}, bothSourcesMsg},
		{[]string{"lag", "g", "--bootstrap-server", boot, "--brokers", boot}, "--brokers is for groups in ZooKeeper"},
		{[]string{"delete", "g", "--bootstrap-server", boot, "--chroot", "/x"}, "--chroot is ZooKeeper's"},
		{[]string{"reset-offsets", "g", "--bootstrap-server", " , ", "--topic", "f", "--to-earliest"}, "names no broker"},
		{[]string{"consume", "--group", "g", "--topic", "f", "--group-protocol", "consumer", "--zookeeper", c.zkAddr()}, "needs --bootstrap-server"},
		{[]string{"consume", "--group", "g", "--topic", "f", "--group-protocol", "eager", "--bootstrap-server", boot}, "classic or consumer"},
		{[]string{"describe", "g", "--bootstrap-server", freeAddr(t)}, "unreachable"},
		{[]string{"list", "--bootstrap-server", freeAddr(t)}, "connection refused"},
	} {
		runTool(t, tc.args...).want(t, exitUsage).wantStderr(t, tc.want)
	}
	c.kafkaTool("list").want(t, 0).wantStderr(t, "no consumer groups in Kafka at "+boot)
	c.kafkaTool("produce", "--topic", "f", "--count", "3", "--value-prefix", "m").want(t, 0)
	c.kafkaTool("consume", "--topic", "f", "--from-offset", "1", "--max", "2").want(t, 0).wantStdout(t, "f\t0\t1\t1\tm1\n", "f\t0\t2\t2\tm2\n")
	c.kafkaTool("describe", "nope").want(t, 1).wantStderr(t, "no such group", `"nope"`, "Kafka at "+boot)
	c.kafkaTool("lag", "nope").want(t, 1).wantStderr(t, "no such group")
	c.kafkaTool("delete", "nope").want(t, 1).wantStderr(t, "no such group")
	c.kafkaTool("consume", "--group", "g", "--topic", "missing", "--max", "1").want(t, 1).wantStderr(t, "missing")

	// A group in ZooKeeper and one in Kafka, both without members: list
	// with both flags shows each with its kind.
	c.tool("reset-offsets", "zkgroup", "--topic", "f", "--to-earliest", "--execute").want(t, 0)
	c.kafkaTool("reset-offsets", "kgroup", "--topic", "f", "--to-earliest", "--execute").want(t, 0).
		wantStderr(t, `group "kgroup" does not exist in Kafka at`+" "+boot+": --execute creates it")
	c.kafkaTool("delete-offsets", "nope", "--topic", "f").want(t, 1).wantStderr(t, "no such group")
	r := runTool(t, "list", "--zookeeper", c.zkAddr(), "--bootstrap-server", boot).want(t, 0)
	rows := checkTable(t, tableLines(t, r), "GROUP", "TYPE", "MEMBERS", "STATE")
	if !slices.EqualFunc(rows, [][]string{{"kgroup", "classic", "0", "Empty"}, {"zkgroup", "zookeeper", "0", "empty"}}, slices.Equal) {
		t.Errorf("list of both kinds:\n%s", r.stdout)
	}
	var l listOut
	c.tool("list", "--output", "json").want(t, 0).decode(t, &l)
	if len(l.Groups) != 1 || l.Groups[0].Group != "zkgroup" {
		t.Errorf("list of ZooKeeper's groups: %+v", l)
	}
	c.kafkaTool("delete-offsets", "kgroup", "--topic", "f").want(t, 0).wantStdout(t, "deleted the offsets of topic f in group kgroup")
	c.kafkaTool("delete-offsets", "kgroup", "--topic", "f").want(t, 1).wantStderr(t, "no offsets of topic")
}

// TestKafkaServe: serve --bootstrap-server shows the groups of Kafka's
// coordinator, in its API and its metrics.
func TestKafkaServe(t *testing.T) {
	c := newCluster(t, map[string]int32{"s": 2})
	c.produce("s", 0, "a", "b")
	_, read := c.joinKafka("sg", "s", consumergroup.GroupProtocolConsumer)
	p := startTool(t, "serve", "serve", "--bootstrap-server", strings.Join(c.kafka.Addrs(), ","), "--listen", "127.0.0.1:0", "--interval", "200ms")
	lines := p.waitOutput("the URL", func(ls []outLine) bool { return len(ls) > 0 && strings.Contains(ls[0].text, "http://") })
	url := strings.Fields(lines[0].text)[2]
	for range 2 {
		select {
		case <-read:
		case <-time.After(waitTimeout):
			t.Fatal("the member received nothing")
		}
	}
	var detail struct {
		Description kafkaDescribeOut `json:"description"`
	}
	waitFor(t, waitTimeout, "the group in serve's API", func() error {
		if err := getJSON(t, url+"api/groups/sg", &detail); err != nil {
			return err
		}
		if d := detail.Description; d.Protocol != "consumer" || len(d.Members) != 1 || d.TotalLag != 1 {
			return fmt.Errorf("%+v", d)
		}
		return nil
	})
	var list struct {
		Groups []struct {
			Group   string `json:"group"`
			Members int    `json:"members"`
		} `json:"groups"`
	}
	if err := getJSON(t, url+"api/groups", &list); err != nil || len(list.Groups) != 1 || list.Groups[0].Group != "sg" {
		t.Errorf("api/groups: %+v, %v", list, err)
	}
	p.signal(sigint)
	if code := p.wait(waitTimeout); code != 0 {
		t.Errorf("serve exited %d\n%s", code, p.describe())
	}
}
