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
	Protocol string // its type: classic, consumer or share
	State    string // Kafka's name
	Members  int
}

// kafkaGroupType is the type of a group ListGroups lists, as list shows
// it: classic, consumer or share; "" for a group groupctl does not show
// (Connect's, Kafka Streams').
func kafkaGroupType(l kadm.ListedGroup) string {
	switch {
	case l.GroupType == typeConsumer, l.GroupType == typeShare:
		return l.GroupType
	case (l.GroupType == typeClassic || l.GroupType == "") && (l.ProtocolType == "consumer" || l.ProtocolType == ""):
		return typeClassic
	}
	return ""
}

// kafkaGroups lists the consumer and share groups of Kafka's coordinator
// that f keeps (not Connect's, nor streams groups), sorted, with their
// members: one request per group type, whatever the number of groups.
func kafkaGroups(ctx context.Context, c *common, admin *kadm.Client, f groupFilter) ([]kafkaGroup, error) {
	listed, err := admin.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: list groups: %v", errUnreachable, c.kafkaWhere(), err)
	}
	byType := map[string][]string{}
	var out []kafkaGroup
	for _, l := range listed.Sorted() {
		typ := kafkaGroupType(l)
		if typ == "" || !f.keeps(typ, l.State) {
			continue
		}
		byType[typ] = append(byType[typ], l.Group)
		out = append(out, kafkaGroup{Group: l.Group, Protocol: typ, State: l.State})
	}
	members, err := kafkaMemberCounts(ctx, c, admin, byType)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Members = members[out[i].Group]
	}
	return out, nil
}

// kafkaMemberCounts counts the members of the groups of each type.
func kafkaMemberCounts(ctx context.Context, c *common, admin *kadm.Client, byType map[string][]string) (map[string]int, error) {
	members := map[string]int{}
	if gs := byType[typeClassic]; len(gs) > 0 {
		ds, err := admin.DescribeGroups(ctx, gs...)
		if err != nil {
			return nil, fmt.Errorf("%s: describe groups: %w", c.kafkaWhere(), err)
		}
		for g, d := range ds {
			members[g] = len(d.Members)
		}
	}
	if gs := byType[typeConsumer]; len(gs) > 0 {
		ds, err := admin.DescribeConsumerGroups(ctx, gs...)
		if err != nil {
			return nil, fmt.Errorf("%s: describe consumer groups: %w", c.kafkaWhere(), err)
		}
		for g, d := range ds {
			members[g] = len(d.Members)
		}
	}
	if gs := byType[typeShare]; len(gs) > 0 {
		ds, err := admin.DescribeShareGroups(ctx, gs...)
		if err != nil {
			return nil, fmt.Errorf("%s: describe share groups: %w", c.kafkaWhere(), err)
		}
		for g, d := range ds {
			members[g] = len(d.Members)
		}
	}
	return members, nil
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
	share, err := isShareGroup(ctx, c, admin, group)
	if err != nil {
		return err
	}
	if share {
		return deleteShareOffsets(ctx, c, admin, group, topic)
	}
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
	gs, err := kafkaGroups(ctx, s.c, admin, groupFilter{})
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
