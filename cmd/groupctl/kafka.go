package main

// --bootstrap-server: the commands on groups that Kafka's own group
// coordinator runs (JoinKafkaConsumerGroup's, the Java consumer's),
// instead of the groups in ZooKeeper.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
)

// Kinds of group: where its coordination lives.
const (
	kindZooKeeper = "zookeeper"
	kindKafka     = "kafka"
)

// bootstrapFlag adds --bootstrap-server to a command that can work on
// Kafka's coordinator.
func bootstrapFlag(fs *flag.FlagSet, c *common) {
	fs.StringVar(&c.bootstrap, "bootstrap-server", "", "Kafka addresses, comma-separated: the groups of Kafka's own group coordinator instead of ZooKeeper's (with the --tls* and --sasl-* flags)")
}

// checkBootstrap checks the flags that go, or do not go, with
// --bootstrap-server; parse calls it. --zookeeper given on the command line
// as well is for list only (both kinds of group); --brokers, --chroot and
// --zookeeper-auth are ZooKeeper's.
func (c *common) checkBootstrap(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	c.zkGiven = given["zookeeper"]
	if c.bootstrap == "" {
		return nil
	}
	if len(splitAddrs(c.bootstrap)) == 0 {
		return fmt.Errorf("--bootstrap-server %q names no broker", c.bootstrap)
	}
	if given["brokers"] {
		return errors.New("--brokers is for groups in ZooKeeper: with --bootstrap-server, drop it")
	}
	if c.zkGiven && !c.both {
		return errors.New("give --zookeeper (a group in ZooKeeper) or --bootstrap-server (a group of Kafka's coordinator), not both")
	}
	if !c.zkGiven {
		for _, f := range []string{"chroot", "zookeeper-auth"} {
			if given[f] {
				return fmt.Errorf("--%s is ZooKeeper's: it needs --zookeeper", f)
			}
		}
	}
	return nil
}

// onKafka reports whether the command works on Kafka's coordinator only.
func (c *common) onKafka() bool { return c.bootstrap != "" && !c.zkGiven }

// splitAddrs splits a comma-separated list of addresses.
func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// kafkaWhere names Kafka's coordinator for messages.
func (c *common) kafkaWhere() string { return "Kafka at " + c.bootstrap }

// bootstrapClient connects to --bootstrap-server: a client and its admin
// client; close the client. Brokers that accept no connection give
// errUnreachable.
func (c *common) bootstrapClient(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, *kadm.Client, error) {
	return c.kafka(ctx, nil, opts...)
}

// kafkaGroupErr says what a Kafka error means for group.
func (c *common) kafkaGroupErr(group string, err error) error {
	switch {
	case errors.Is(err, kerr.GroupIDNotFound):
		return fmt.Errorf("%w: %q in %s", consumergroup.ErrUnknownGroup, group, c.kafkaWhere())
	case errors.Is(err, kerr.NonEmptyGroup), errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
		errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.StaleMemberEpoch):
		return fmt.Errorf("%w: group %q in %s (%v)", consumergroup.ErrGroupActive, group, c.kafkaWhere(), err)
	}
	return err
}

// groupSource is where describe and lag read groups: ZooKeeper, or Kafka's
// coordinator.
type groupSource interface {
	// groups lists the groups.
	groups(ctx context.Context) ([]string, error)
	// describe reads a group with its lags (see describe).
	describe(ctx context.Context, group string) (described, error)
	// commitTimes says when the group's offsets were committed, nil when
	// unknown.
	commitTimes(ctx context.Context, group string) map[consumergroup.TopicPartition]time.Time
	// where names the source for messages: "ZooKeeper at ...".
	where() string
	close()
}

// openSource connects to the source the flags name.
func (c *common) openSource(ctx context.Context) (groupSource, error) {
	if c.onKafka() {
		cl, admin, err := c.bootstrapClient(ctx)
		if err != nil {
			return nil, err
		}
		return &kafkaSource{c: c, cl: cl, admin: admin}, nil
	}
	z, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &zkSource{c: c, z: z}, nil
}

// zkSource reads the groups in ZooKeeper.
type zkSource struct {
	c *common
	z *consumergroup.ZK
}

func (s *zkSource) groups(ctx context.Context) ([]string, error) { return s.z.Groups(ctx) }
func (s *zkSource) describe(ctx context.Context, g string) (described, error) {
	return describe(ctx, s.c, s.z, g)
}
func (s *zkSource) commitTimes(ctx context.Context, g string) map[consumergroup.TopicPartition]time.Time {
	return commitTimes(ctx, s.c, s.z, g)
}
func (s *zkSource) where() string { return "ZooKeeper at " + s.c.zookeeper }
func (s *zkSource) close()        { s.z.Close() }

// kafkaSource reads the groups of Kafka's coordinator.
type kafkaSource struct {
	c     *common
	cl    *kgo.Client
	admin *kadm.Client
}

func (s *kafkaSource) groups(ctx context.Context) ([]string, error) {
	gs, err := kafkaGroups(ctx, s.c, s.admin)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Group
	}
	return names, nil
}

func (s *kafkaSource) describe(ctx context.Context, g string) (described, error) {
	d, err := consumergroup.DescribeKafkaGroup(ctx, s.cl, g)
	if d == nil {
		if !errors.Is(err, consumergroup.ErrUnknownGroup) && !errors.Is(err, consumergroup.ErrInvalidArgument) {
			err = fmt.Errorf("%w: %s: %v", errUnreachable, s.where(), err)
		} else if errors.Is(err, consumergroup.ErrUnknownGroup) {
			err = fmt.Errorf("%w: %q in %s", consumergroup.ErrUnknownGroup, g, s.where())
		}
		return described{}, err
	}
	out := described{GroupDescription: d}
	if d.TotalLag < 0 {
		cause := err
		if cause == nil {
			cause = errors.New("no log end offset listed (a deleted topic?)")
		}
		out.kafkaErr = fmt.Errorf("%w: %s: %v", errKafka, s.where(), cause)
		err = nil
	}
	return out.evaluated(), err
}

func (s *kafkaSource) commitTimes(context.Context, string) map[consumergroup.TopicPartition]time.Time {
	return nil // Kafka does not say when an offset was committed
}
func (s *kafkaSource) where() string { return s.c.kafkaWhere() }
func (s *kafkaSource) close()        { s.cl.Close() }

// kafkaGroup is one group of Kafka's coordinator, as list shows it.
type kafkaGroup struct {
	Group    string
	Protocol string // classic or consumer
	State    string // Kafka's name
	Members  int
}

// kafkaGroups lists the consumer groups of Kafka's coordinator (not
// Connect's, nor share or streams groups), sorted, with their members.
func kafkaGroups(ctx context.Context, c *common, admin *kadm.Client) ([]kafkaGroup, error) {
	listed, err := admin.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: list groups: %v", errUnreachable, c.kafkaWhere(), err)
	}
	var classic, consumer []string
	for _, l := range listed.Sorted() {
		switch {
		case l.GroupType == "consumer":
			consumer = append(consumer, l.Group)
		case (l.GroupType == "classic" || l.GroupType == "") && (l.ProtocolType == "consumer" || l.ProtocolType == ""):
			classic = append(classic, l.Group)
		}
	}
	members := map[string]int{}
	if len(classic) > 0 {
		ds, err := admin.DescribeGroups(ctx, classic...)
		if err != nil {
			return nil, fmt.Errorf("%s: describe groups: %w", c.kafkaWhere(), err)
		}
		for g, d := range ds {
			members[g] = len(d.Members)
		}
	}
	if len(consumer) > 0 {
		ds, err := admin.DescribeConsumerGroups(ctx, consumer...)
		if err != nil {
			return nil, fmt.Errorf("%s: describe consumer groups: %w", c.kafkaWhere(), err)
		}
		for g, d := range ds {
			members[g] = len(d.Members)
		}
	}
	var out []kafkaGroup
	for _, g := range classic {
		out = append(out, kafkaGroup{Group: g, Protocol: "classic", State: listed[g].State, Members: members[g]})
	}
	for _, g := range consumer {
		out = append(out, kafkaGroup{Group: g, Protocol: "consumer", State: listed[g].State, Members: members[g]})
	}
	slices.SortFunc(out, func(a, b kafkaGroup) int { return strings.Compare(a.Group, b.Group) })
	return out, nil
}

// describeKafkaHead is describe's table of a group of Kafka's coordinator
// up to its partitions: the group, and its members with their client id
// and assignment.
func describeKafkaHead(t *tableWriter, d described) {
	t.line("GROUP %s  KIND kafka  PROTOCOL %s  STATE %s (%s)  GENERATION %d  STRATEGY %s  MEMBERS %d  TOTAL LAG %s  STATUS %s",
		d.Group, d.Protocol, d.State, orDash(d.CoordinatorState), d.Generation, orDash(d.Strategy), len(d.Members), lagText(d.TotalLag), d.status.Status)
	t.line("")
	t.row("MEMBER", "CLIENT-ID", "HOST", "TOPICS", "ASSIGNMENT")
	for _, m := range d.Members {
		t.row(m.ID, orDash(m.ClientID), orDash(m.Host), orDash(strings.Join(m.Topics, ",")), orDash(assignmentText(m.Assignment)))
	}
}

// assignmentText is "topic:0,1;other:2".
func assignmentText(a map[string][]int32) string {
	var parts []string
	for _, t := range slices.Sorted(maps.Keys(a)) {
		ps := make([]string, len(a[t]))
		for i, p := range a[t] {
			ps[i] = strconv.Itoa(int(p))
		}
		if len(ps) > 0 {
			parts = append(parts, t+":"+strings.Join(ps, ","))
		}
	}
	return strings.Join(parts, ";")
}

// sourceWhere names the source of groups the flags select.
func (c *common) sourceWhere() string {
	if c.onKafka() {
		return c.kafkaWhere()
	}
	return "ZooKeeper at " + c.zookeeper
}

// deleteKafkaGroup deletes a group of Kafka's coordinator: its committed
// offsets. Kafka refuses while the group has members.
func deleteKafkaGroup(ctx context.Context, c *common, group string) error {
	cl, admin, err := c.bootstrapClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := admin.DeleteGroup(ctx, group); err != nil {
		if errors.Is(err, kerr.NonEmptyGroup) {
			return fmt.Errorf("refused, nothing changed: %w (stop its consumers first)", c.kafkaGroupErr(group, err))
		}
		return c.kafkaGroupErr(group, err)
	}
	return nil
}

// consumeKafkaGroup joins a group of Kafka's coordinator
// (JoinKafkaConsumerGroup) and prints what it is given.
func consumeKafkaGroup(ctx context.Context, e *env, c *common, f *consumeFlags, ts []string, p eventPrinter, bad func(string) error) error {
	cfg := consumergroup.NewConsumerGroupConfig()
	if f.from == "newest" {
		cfg.InitialOffset = consumergroup.OffsetNewest
	}
	cfg.CommitInterval = f.commitEvery
	cfg.SessionTimeout = f.session
	cfg.GroupProtocol = f.protocol
	sec, err := c.sec.opts(c.getenv)
	if err != nil {
		return bad(err.Error())
	}
	// A short fetch wait keeps hand-offs fast (see NewConsumerGroup).
	cfg.KafkaOptions = append(sec, kgo.FetchMaxWait(250*time.Millisecond), kgo.DialTimeout(min(c.timeout, probeTimeout)),
		// Classic: franz-go's heartbeat (3 s by default) must be shorter
		// than a short --session-timeout.
		kgo.HeartbeatInterval(min(3*time.Second, f.session/3)))
	events := make(chan *consumergroup.Notification, 16)
	cfg.Notifications = events
	if err := cfg.Validate(); err != nil {
		return bad(err.Error())
	}
	brokers := splitAddrs(c.bootstrap)
	jctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if err := reachAny(jctx, brokers, min(c.timeout, probeTimeout)); err != nil {
		return fmt.Errorf("%w: %s: %v", errUnreachable, c.kafkaWhere(), err)
	}
	g, err := consumergroup.JoinKafkaConsumerGroup(jctx, f.group, ts, brokers, cfg)
	if err != nil {
		if errors.Is(err, consumergroup.ErrInvalidArgument) {
			return bad(err.Error())
		}
		return err
	}
	defer g.Close()
	cancel()
	protocol := f.protocol
	if protocol == "" {
		protocol = consumergroup.GroupProtocolClassic
	}
	fmt.Fprintf(e.stderr, "joined group %s of %s (protocol %s)\n", f.group, c.kafkaWhere(), protocol)
	return printGroup(ctx, e, f, g, events, p)
}

// deleteKafkaOffsets deletes the committed offsets of topic of a group of
// Kafka's coordinator; Kafka refuses while a member is subscribed to topic.
func deleteKafkaOffsets(ctx context.Context, c *common, group, topic string) error {
	cl, admin, err := c.bootstrapClient(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	fetched, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		return c.kafkaGroupErr(group, err)
	}
	set := kadm.TopicsSet{}
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			set.Add(topic, o.Partition)
		}
	})
	if len(set) == 0 {
		if _, ok := fetched[topic]; !ok {
			listed, err := admin.ListGroups(ctx)
			if _, known := listed[group]; err == nil && !known {
				return fmt.Errorf("%w: %q in %s", consumergroup.ErrUnknownGroup, group, c.kafkaWhere())
			}
		}
		return fmt.Errorf("group %q has no offsets of topic %q in %s", group, topic, c.kafkaWhere())
	}
	resps, err := admin.DeleteOffsets(ctx, group, set)
	if err == nil {
		err = resps.Error()
	}
	if errors.Is(err, kerr.GroupSubscribedToTopic) {
		return fmt.Errorf("%w: a member of group %q in %s consumes %q (%v)", consumergroup.ErrGroupActive, group, c.kafkaWhere(), topic, err)
	}
	if err != nil {
		return c.kafkaGroupErr(group, err)
	}
	return nil
}

// pollKafka is serve's poll of the groups of Kafka's coordinator
// (--bootstrap-server); Kafka does not say when offsets were committed.
func (s *server) pollKafka(ctx context.Context, now time.Time) {
	admin := kadm.NewClient(s.kafkaGroups)
	gs, err := kafkaGroups(ctx, s.c, admin)
	if err != nil {
		s.pollFailed(err, now)
		return
	}
	results := make(map[string]pollResult, len(gs))
	for _, g := range gs {
		d, err := consumergroup.DescribeKafkaGroup(ctx, s.kafkaGroups, g.Group)
		if errors.Is(err, consumergroup.ErrUnknownGroup) {
			continue // deleted meanwhile
		}
		results[g.Group] = pollResult{desc: d, err: err}
	}
	s.record(results, now)
}
