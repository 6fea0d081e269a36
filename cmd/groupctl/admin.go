package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// runList is list: it lists the groups in ZooKeeper, or in Kafka's
// coordinator with --bootstrap-server (both when both are given), those
// that --type and --state keep, and prints them sorted by name with their
// type and state.
func runList(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "list", "")
	bootstrapFlag(fs, c)
	c.both = true
	types := fs.String("type", "", "only groups of these types, comma-separated: "+strings.Join(groupTypes, ", "))
	states := fs.String("state", "", "only groups in these states, comma-separated, any case: "+strings.Join(groupStates, ", "))
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{msg: "list takes no argument", usage: usageText(fs)}
	}
	f, err := parseGroupFilter(*types, *states)
	if err == nil {
		err = f.checkSources(c)
	}
	if err != nil {
		return usageError{msg: err.Error(), usage: usageText(fs)}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	out := listOutput{Groups: []listEntry{}}
	if !c.onKafka() && f.wantsZooKeeper() {
		groups, err := listZooKeeperGroups(ctx, e, c, f)
		if err != nil {
			return err
		}
		out.Groups = append(out.Groups, groups...)
	}
	if c.bootstrap != "" && f.wantsKafka() {
		groups, err := listKafkaGroups(ctx, e, c, f)
		if err != nil {
			return err
		}
		out.Groups = append(out.Groups, groups...)
		slices.SortStableFunc(out.Groups, func(a, b listEntry) int { return strings.Compare(a.Group, b.Group) })
	}
	return out.print(newPrinter(e, c))
}

// listOutput is what list prints.
type listOutput struct {
	Groups []listEntry `json:"groups"`
}

// listEntry is one group that list prints.
type listEntry struct {
	Group    string `json:"group"`
	Type     string `json:"type"`               // classic, consumer, share or zookeeper
	Kind     string `json:"kind"`               // zookeeper or kafka
	Protocol string `json:"protocol,omitempty"` // kafka: its type
	State    string `json:"state,omitempty"`    // zookeeper: stable, rebalancing or empty; kafka: its coordinator's name
	Members  int    `json:"members"`
}

// listZooKeeperGroups lists the groups in ZooKeeper and counts their
// members; none at all gets a hint (emptyHint).
func listZooKeeperGroups(ctx context.Context, e *env, c *common, f groupFilter) ([]listEntry, error) {
	z, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	groups, err := z.Groups(ctx)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		if err := c.emptyHint(ctx, e, z); err != nil {
			return nil, err
		}
	}
	var out []listEntry
	for _, g := range groups {
		ids, err := z.Members(ctx, g)
		if err != nil {
			return nil, err
		}
		state, err := zkGroupState(ctx, z, g, ids)
		if err != nil {
			return nil, err
		}
		if f.keeps(typeZooKeeper, state) {
			out = append(out, listEntry{Group: g, Type: typeZooKeeper, Kind: kindZooKeeper, State: state, Members: len(ids)})
		}
	}
	return out, nil
}

// zkGroupState is the state of a ZooKeeper group of members ids, as
// DescribeGroup computes it but from the assignment node alone (and its
// parts): empty without members; stable when an assignment is published
// and names every member; rebalancing otherwise. DescribeGroup also reads
// every partition's owner node and calls a group whose owners differ from
// the assignment rebalancing; list leaves that out, one read a group rather
// than one a partition, so during a hand-over list may say stable a moment
// before describe does.
func zkGroupState(ctx context.Context, z *zookeeper.Client, group string, ids []string) (string, error) {
	if len(ids) == 0 {
		return consumergroup.StateEmpty, nil
	}
	a, err := z.Assignment(ctx, group)
	if err != nil {
		return "", err
	}
	if a.Generation <= 0 {
		return consumergroup.StateRebalancing, nil
	}
	for _, id := range ids {
		if _, ok := a.Members[id]; !ok {
			return consumergroup.StateRebalancing, nil
		}
	}
	return consumergroup.StateStable, nil
}

// listKafkaGroups lists the consumer and share groups of Kafka's
// coordinator (--bootstrap-server) that f keeps; none at all gets a note.
func listKafkaGroups(ctx context.Context, e *env, c *common, f groupFilter) ([]listEntry, error) {
	cl, admin, err := c.bootstrapClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	gs, err := kafkaGroups(ctx, c, admin, f)
	if err != nil {
		return nil, err
	}
	switch {
	case len(gs) == 0 && f.active():
		fmt.Fprintf(e.stderr, "groupctl list: no groups of Kafka's coordinator match --type and --state in %s\n", c.kafkaWhere())
	case len(gs) == 0:
		fmt.Fprintf(e.stderr, "groupctl list: no consumer groups in %s\n", c.kafkaWhere())
	}
	var out []listEntry
	for _, g := range gs {
		out = append(out, listEntry{g.Group, g.Protocol, kindKafka, g.Protocol, g.State, g.Members})
	}
	return out, nil
}

// print prints the groups with their types and states.
func (out listOutput) print(pr printer) error {
	return pr.print(out, func(t *tableWriter) {
		t.row("GROUP", "TYPE", "MEMBERS", "STATE")
		for _, g := range out.Groups {
			t.row(g.Group, g.Type, g.Members, orDash(g.State))
		}
	})
}

// emptyHint explains an empty list: a ZooKeeper (or chroot) where neither
// consumers nor Kafka brokers are registered is most likely the wrong one,
// and an error; brokers without groups only get a note.
func (c *common) emptyHint(ctx context.Context, e *env, z *zookeeper.Client) error {
	_, chroot, _ := c.servers()
	where := "ZooKeeper at " + c.zookeeper
	if chroot != "" && !strings.HasSuffix(c.zookeeper, chroot) {
		where += " (chroot " + chroot + ")"
	}
	hasConsumers, err := z.Exists(ctx, "/consumers")
	if err != nil {
		return err
	}
	brokers, _ := z.Brokers(ctx)
	switch {
	case !hasConsumers && len(brokers) == 0:
		return fmt.Errorf("no consumer groups and no Kafka brokers under %s: nothing of Kafka's is there (wrong --chroot?)", where)
	case len(brokers) == 0:
		fmt.Fprintf(e.stderr, "groupctl list: no consumer groups under %s, and no Kafka brokers registered there either\n", where)
	default:
		fmt.Fprintf(e.stderr, "groupctl list: no consumer groups under %s (%d Kafka brokers registered)\n", where, len(brokers))
	}
	return nil
}

// openGroup parses the flags and the GROUP argument and connects to
// ZooKeeper; the context ends after --timeout. Close the ZK and cancel.
func openGroup(ctx context.Context, fs *flag.FlagSet, c *common, args []string) (context.Context, context.CancelFunc, *zookeeper.Client, string, error) {
	pos, err := parse(fs, c, args)
	if err != nil {
		return nil, nil, nil, "", err
	}
	group, err := groupArg(fs, pos)
	if err != nil {
		return nil, nil, nil, "", err
	}
	ctx, cancel := c.withTimeout(ctx)
	z, err := c.dial(ctx)
	if err != nil {
		cancel()
		return nil, nil, nil, "", err
	}
	return ctx, cancel, z, group, nil
}

func runDelete(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "delete", "GROUP")
	bootstrapFlag(fs, c)
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	group, err := groupArg(fs, pos)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if c.onKafka() {
		err = deleteKafkaGroup(ctx, c, group)
	} else {
		z, derr := c.dial(ctx)
		if derr != nil {
			return derr
		}
		defer z.Close()
		err = z.DeleteGroup(ctx, group)
	}
	if errors.Is(err, consumergroup.ErrGroupActive) {
		return fmt.Errorf("refused, nothing changed: %w (stop its consumers first: groupctl describe %s lists them)", err, group)
	}
	if err != nil {
		return err
	}
	out := struct {
		Group   string `json:"group"`
		Deleted bool   `json:"deleted"`
	}{group, true}
	return newPrinter(e, c).print(out, func(t *tableWriter) { t.line("deleted group %s", group) })
}

func runDeleteOffsets(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "delete-offsets", "GROUP --topic T [--topic T...]")
	var scopes topicScopes
	fs.Var(&scopes, "topic", "a topic whose offsets to delete; repeat for several")
	bootstrapFlag(fs, c)
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	group, err := groupArg(fs, pos)
	if err != nil {
		return err
	}
	if len(scopes.order) == 0 {
		return usageError{msg: "--topic is required", usage: usageText(fs)}
	}
	for _, t := range scopes.order {
		if scopes.parts[t] != nil {
			return usageError{msg: fmt.Sprintf("--topic %s: delete-offsets deletes a whole topic's offsets (no partitions)", t), usage: usageText(fs)}
		}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	deleteOffsets := func(topic string) error { return deleteKafkaOffsets(ctx, c, group, topic) }
	if !c.onKafka() {
		z, err := c.dial(ctx)
		if err != nil {
			return err
		}
		defer z.Close()
		deleteOffsets = func(topic string) error { return z.DeleteOffsets(ctx, group, topic) }
	}
	out := struct {
		Group   string   `json:"group"`
		Deleted []string `json:"deleted_topics"`
	}{Group: group, Deleted: []string{}}
	for _, t := range scopes.order {
		if err := deleteOffsets(t); err != nil {
			if errors.Is(err, consumergroup.ErrGroupActive) {
				return fmt.Errorf("refused, nothing changed for %s: %w (stop its consumers of %s first)", t, err, t)
			}
			return err
		}
		out.Deleted = append(out.Deleted, t)
	}
	return newPrinter(e, c).print(out, func(t *tableWriter) {
		for _, topic := range out.Deleted {
			t.line("deleted the offsets of topic %s in group %s", topic, group)
		}
	})
}

// parseTime reads RFC 3339 or Unix milliseconds.
// parseTime reads the value s of the time flag name (--to-datetime,
// --from-time): RFC 3339, or Unix milliseconds. Times before Unix time 0
// are refused (beforeEpoch): no message is stamped before it, and Kafka
// reads negative times as requests of its own (-1 the log end, -2 the
// start).
func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if ms, errMs := strconv.ParseInt(s, 10, 64); errMs == nil {
		t, err = time.UnixMilli(ms), nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is neither RFC 3339 (2026-01-02T15:04:05Z) nor Unix milliseconds", name, s)
	}
	if t.Before(time.UnixMilli(0)) {
		return time.Time{}, beforeEpoch(name, s)
	}
	return t, nil
}

// beforeEpoch refuses the value s of the time flag name (--by-duration:
// the time it reaches back to) before Unix time 0, naming the flag that
// reads the oldest message instead.
func beforeEpoch(name, s string) error {
	oldest := "--to-earliest"
	what := "is"
	switch name {
	case "--from-time":
		oldest = "--from-offset 0"
	case "--by-duration":
		what = "ago is"
	}
	return fmt.Errorf("%s %q %s before 1970-01-01T00:00:00Z (Unix time 0), where Kafka's timestamps begin: for the oldest message, give %s", name, s, what, oldest)
}

func num(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
