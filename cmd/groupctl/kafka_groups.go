package main

// The groups of Kafka's coordinator: list, describe's table, delete,
// delete-offsets and serve's poll with --bootstrap-server.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/consumergroup/consumergroup"
)

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

// genText is a generation, "-" when unknown (0: a classic group Kafka
// did not give one, or an empty group).
func genText(g int) string {
	if g <= 0 {
		return "-"
	}
	return fmt.Sprint(g)
}

// describeKafkaHead is describe's table of a group of Kafka's coordinator
// up to its partitions: the group, and its members with their client id
// and assignment.
func describeKafkaHead(t *tableWriter, d described) {
	t.line("GROUP %s  KIND kafka  PROTOCOL %s  STATE %s (%s)  GENERATION %s  STRATEGY %s  MEMBERS %d  TOTAL LAG %s  STATUS %s",
		d.Group, d.Protocol, d.State, orDash(d.CoordinatorState), genText(d.Generation), orDash(d.Strategy), len(d.Members), lagText(d.TotalLag), d.status.text())
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
