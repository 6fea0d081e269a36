package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// errKafka: Kafka could not be reached or did not answer: lags are unknown.
var errKafka = errors.New("lag unknown")

// described is one group as describe and lag read it: kafkaErr says why
// its lags are unknown.
type described struct {
	*consumergroup.GroupDescription
	kafkaErr error
	status   lagReport // the lag status of one sample (lagstatus.go)
}

// describe reads a group, with Kafka's log end offsets. A group whose lags
// are unknown has kafkaErr set (it matches errKafka) and TotalLag -1. The
// error is the ZooKeeper side's.
func describe(ctx context.Context, c *common, z *zookeeper.Client, group string) (described, error) {
	var admin *kadm.Client
	cl, a, kerr := c.kafka(ctx, z)
	if kerr == nil {
		defer cl.Close()
		admin = a
	}
	d, err := consumergroup.DescribeGroup(ctx, z, admin, group)
	if d == nil {
		return described{}, err
	}
	out := described{GroupDescription: d}
	if d.TotalLag < 0 {
		cause := kerr
		if cause == nil {
			cause = err // the listing's error, joined with the others
		}
		if cause == nil {
			var unknown []string
			for _, p := range d.Partitions {
				if p.LogEnd < 0 {
					unknown = append(unknown, fmt.Sprintf("%s/%d", p.Topic, p.Partition))
				}
			}
			if len(unknown) > 8 {
				unknown = append(unknown[:8], "...")
			}
			cause = fmt.Errorf("no log end offset listed for %s (a deleted topic? see delete-offsets)", strings.Join(unknown, ", "))
		}
		if kerr != nil {
			out.kafkaErr = fmt.Errorf("%w: %v", errKafka, kerr)
		} else {
			out.kafkaErr = fmt.Errorf("%w: Kafka at %s: %v", errKafka, c.kafkaAddrs(), cause)
			err = nil // reported as kafkaErr
		}
	}
	return out, err
}

// evaluated is d with the lag status of one sample of it, for describe's
// output. (lag evaluates its samples itself, with the commit times: the
// sources leave it to the caller, which at 10,000 partitions is a few
// milliseconds saved.)
func (d described) evaluated() described {
	d.status = newLagTracker(lageval.DefaultSize, 0).observe(d.GroupDescription, nil, time.Now())
	return d
}

// checkGroupOrAll checks that a describe or lag names one GROUP or
// --all-groups.
func checkGroupOrAll(fs *flag.FlagSet, pos []string, all bool) error {
	if all && len(pos) > 0 {
		return usageError{msg: "give GROUP or --all-groups, not both", usage: usageText(fs)}
	}
	if !all {
		if _, err := groupArg(fs, pos); err != nil {
			return err
		}
	}
	return nil
}

// groupsArg returns the groups a describe or lag names: its GROUP, or
// with --all-groups every group of the source.
func groupsArg(ctx context.Context, fs *flag.FlagSet, src groupSource, pos []string, all bool) ([]string, error) {
	if !all {
		g, err := groupArg(fs, pos)
		if err != nil {
			return nil, err
		}
		return []string{g}, nil
	}
	return src.groups(ctx)
}

// describeJSON is describe's JSON: lags that are unknown are null.
type describeJSON struct {
	Group      string                            `json:"group"`
	Type       string                            `json:"type"`               // classic, consumer, share or zookeeper
	Kind       string                            `json:"kind"`               // zookeeper or kafka
	Protocol   string                            `json:"protocol,omitempty"` // kafka: its type
	KafkaState string                            `json:"coordinator_state,omitempty"`
	State      string                            `json:"state"`
	Generation int                               `json:"generation"`
	Strategy   string                            `json:"strategy,omitempty"`
	Members    []consumergroup.MemberDescription `json:"members"`
	Partitions []partitionJSON                   `json:"partitions"`
	TotalLag   *int64                            `json:"total_lag"`
	Status     string                            `json:"status"`
	Error      string                            `json:"error,omitempty"`
}

// partitionJSON is a partition of describe's JSON. A share group's has its
// share-partition start offset as committed and start_offset, the ids of
// the members it is assigned to, comma-separated, as owner, and the lag
// Kafka reports.
type partitionJSON struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Owner       string `json:"owner"`
	Committed   int64  `json:"committed"`
	StartOffset *int64 `json:"start_offset,omitempty"` // share groups: where Kafka delivers from (null: no share state yet)
	LogEnd      *int64 `json:"log_end"`
	Lag         *int64 `json:"lag"`
	Status      string `json:"status"`
}

// known is n, or nil when n is negative (unknown).
func known(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

func (d described) json() describeJSON {
	out := describeJSON{Group: d.Group, Type: typeZooKeeper, Kind: kindZooKeeper, State: d.State, Generation: d.Generation, Strategy: d.Strategy,
		Members: d.Members, Partitions: []partitionJSON{}, TotalLag: known(d.TotalLag), Status: d.status.Status}
	if d.Protocol != "" {
		out.Type, out.Kind, out.Protocol, out.KafkaState = d.Protocol, kindKafka, d.Protocol, d.CoordinatorState
	}
	for _, p := range d.Partitions {
		pj := partitionJSON{Topic: p.Topic, Partition: p.Partition, Owner: p.Owner, Committed: p.Committed, LogEnd: known(p.LogEnd),
			Lag: known(p.Lag), Status: d.status.of(p.Topic, p.Partition)}
		if d.Protocol == typeShare {
			pj.StartOffset = known(p.Committed)
		}
		out.Partitions = append(out.Partitions, pj)
	}
	if d.kafkaErr != nil {
		out.Error = d.kafkaErr.Error()
	}
	return out
}

func runDescribe(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "describe", "GROUP | --all-groups")
	bootstrapFlag(fs, c)
	all := fs.Bool("all-groups", false, "describe every group")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	if err := checkGroupOrAll(fs, pos, *all); err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	src, err := c.openSource(ctx)
	if err != nil {
		return err
	}
	defer src.close()
	groups, err := groupsArg(ctx, fs, src, pos, *all)
	if err != nil {
		return err
	}
	var ds []described
	var errs []error
	for _, g := range groups {
		d, err := src.describe(ctx, g)
		if d.GroupDescription == nil {
			return err
		}
		ds = append(ds, d.evaluated())
		if err != nil {
			errs = append(errs, err)
		}
		if d.kafkaErr != nil {
			errs = append(errs, d.kafkaErr)
		}
	}
	var v any
	if *all {
		js := []describeJSON{}
		for _, d := range ds {
			js = append(js, d.json())
		}
		v = struct {
			Groups []describeJSON `json:"groups"`
		}{js}
	} else {
		v = ds[0].json()
	}
	if err := newPrinter(e, c).print(v, func(t *tableWriter) {
		for i, d := range ds {
			if i > 0 {
				t.line("")
			}
			describeTable(t, d)
		}
	}); err != nil {
		return err
	}
	if len(errs) > 0 {
		return errors.Join(dedupe(errs)...)
	}
	return nil
}

func describeTable(t *tableWriter, d described) {
	if d.Protocol != "" {
		describeKafkaHead(t, d)
	} else {
		t.line("GROUP %s  STATE %s  GENERATION %d  STRATEGY %s  MEMBERS %d  TOTAL LAG %s  STATUS %s",
			d.Group, d.State, d.Generation, orDash(d.Strategy), len(d.Members), lagText(d.TotalLag), d.status.text())
		t.line("")
		t.row("MEMBER", "HOST", "STARTED", "TOPICS")
		for _, m := range d.Members {
			topics := strings.Join(m.Topics, ",")
			if m.Pattern != "" {
				topics = "pattern " + m.Pattern
			}
			t.row(m.ID, orDash(m.Host), m.Start.UTC().Format(time.RFC3339), orDash(topics))
		}
	}
	t.line("")
	if d.Protocol == typeShare {
		t.row("TOPIC", "PARTITION", "MEMBERS", "START-OFFSET", "LOG-END", "LAG", "STATUS")
	} else {
		t.row("TOPIC", "PARTITION", "OWNER", "COMMITTED", "LOG-END", "LAG", "STATUS")
	}
	for _, p := range d.Partitions {
		t.row(p.Topic, p.Partition, orDash(p.Owner), num(p.Committed), lagText(p.LogEnd), lagText(p.Lag), d.status.partText(p.Topic, p.Partition))
	}
}

// lagText is n, or "unknown".
func lagText(n int64) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}

// dedupe drops errors whose message an earlier one has (the same Kafka
// error of every group).
func dedupe(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, err := range errs {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	return out
}
