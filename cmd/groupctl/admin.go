package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
)

func runList(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "list", "")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError{msg: "list takes no argument", usage: usageText(fs)}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	z, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer z.Close()
	groups, err := z.Groups(ctx)
	if err != nil {
		return err
	}
	type entry struct {
		Group   string `json:"group"`
		Members int    `json:"members"`
	}
	out := struct {
		Groups []entry `json:"groups"`
	}{Groups: []entry{}}
	for _, g := range groups {
		ids, _, err := z.Consumers(ctx, g)
		if err != nil {
			return err
		}
		out.Groups = append(out.Groups, entry{g, len(ids)})
	}
	return newPrinter(e, c).print(out, func(t *tableWriter) {
		t.row("GROUP", "MEMBERS")
		for _, g := range out.Groups {
			t.row(g.Group, g.Members)
		}
	})
}

// openGroup parses the flags and the GROUP argument and connects to
// ZooKeeper; the context ends after --timeout. Close the ZK and cancel.
func openGroup(ctx context.Context, fs *flag.FlagSet, c *common, args []string) (context.Context, context.CancelFunc, *consumergroup.ZK, string, error) {
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

// describe reads a group, with Kafka's log end offsets when Kafka can be
// reached.
func describe(ctx context.Context, c *common, z *consumergroup.ZK, group string) (*consumergroup.GroupDescription, error) {
	var admin *kadm.Client
	if cl, a, err := c.kafka(ctx, z); err == nil {
		defer cl.Close()
		admin = a
	}
	d, err := consumergroup.DescribeGroup(ctx, z, admin, group)
	if errors.Is(err, consumergroup.ErrUnknownGroup) {
		return nil, err
	}
	return d, err
}

func runDescribe(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "describe", "GROUP")
	ctx, cancel, z, group, err := openGroup(ctx, fs, c, args)
	if err != nil {
		return err
	}
	defer cancel()
	defer z.Close()
	d, derr := describe(ctx, c, z, group)
	if d == nil {
		return derr
	}
	st := newLagTracker(lageval.DefaultSize, 0).observe(d, nil, time.Now()) // lagstatus.go
	if err := newPrinter(e, c).print(withLagStatus{d, st}, func(t *tableWriter) {
		t.line("GROUP %s  STATE %s  GENERATION %d  STRATEGY %s  MEMBERS %d  TOTAL LAG %d  STATUS %s",
			d.Group, d.State, d.Generation, orDash(d.Strategy), len(d.Members), d.TotalLag, st.Status)
		t.line("")
		t.row("MEMBER", "HOST", "STARTED", "TOPICS")
		for _, m := range d.Members {
			t.row(m.ID, orDash(m.Host), m.Start.UTC().Format(time.RFC3339), orDash(strings.Join(m.Topics, ",")))
		}
		t.line("")
		t.row("TOPIC", "PARTITION", "OWNER", "COMMITTED", "LOG-END", "LAG", "STATUS")
		for _, p := range d.Partitions {
			t.row(p.Topic, p.Partition, orDash(p.Owner), num(p.Committed), num(p.LogEnd), num(p.Lag), st.of(p.Topic, p.Partition))
		}
	}); err != nil {
		return err
	}
	return derr
}

func runLag(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "lag", "GROUP")
	watch := fs.Bool("watch", false, "refresh until interrupted")
	every := fs.Duration("interval", 2*time.Second, "refresh interval with --watch")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	group, err := groupArg(fs, pos)
	if err != nil {
		return err
	}
	if *every <= 0 {
		return usageError{msg: "--interval must be positive", usage: usageText(fs)}
	}
	dctx, cancel := c.withTimeout(ctx)
	z, err := c.dial(dctx)
	cancel()
	if err != nil {
		return err
	}
	defer z.Close()
	type lagRow struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Committed int64  `json:"committed"`
		LogEnd    int64  `json:"log_end"`
		Lag       int64  `json:"lag"`
		Status    string `json:"status"`
	}
	tracker := newLagTracker(lageval.DefaultSize, 0) // lagstatus.go: --watch evaluates a window
	for {
		rctx, cancel := c.withTimeout(ctx)
		d, derr := describe(rctx, c, z, group)
		cancel()
		if d == nil {
			return derr
		}
		st := tracker.observe(d, commitTimes(ctx, c, z, group), time.Now())
		out := struct {
			Group  string   `json:"group"`
			Time   string   `json:"time"`
			Total  int64    `json:"total_lag"`
			Status string   `json:"status"`
			Lag    []lagRow `json:"partitions"`
		}{Group: group, Time: time.Now().UTC().Format(time.RFC3339), Total: d.TotalLag, Status: st.Status, Lag: []lagRow{}}
		for _, p := range d.Partitions {
			out.Lag = append(out.Lag, lagRow{p.Topic, p.Partition, p.Committed, p.LogEnd, p.Lag, st.of(p.Topic, p.Partition)})
		}
		if err := newPrinter(e, c).print(out, func(t *tableWriter) {
			t.row("TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "STATUS")
			for _, p := range out.Lag {
				t.row(p.Topic, p.Partition, num(p.Committed), num(p.LogEnd), num(p.Lag), p.Status)
			}
			t.line("TOTAL LAG %d  STATUS %s", out.Total, out.Status)
		}); err != nil {
			return err
		}
		if !*watch {
			return derr
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*every):
		}
		if c.output == "table" {
			fmt.Fprintln(e.stdout)
		}
	}
}

func runDelete(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "delete", "GROUP")
	ctx, cancel, z, group, err := openGroup(ctx, fs, c, args)
	if err != nil {
		return err
	}
	defer cancel()
	defer z.Close()
	if err := z.DeleteGroup(ctx, group); err != nil {
		return err
	}
	out := struct {
		Group   string `json:"group"`
		Deleted bool   `json:"deleted"`
	}{group, true}
	return newPrinter(e, c).print(out, func(t *tableWriter) { t.line("deleted group %s", group) })
}

func runReset(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "reset-offsets", "GROUP --topic T (--to-earliest|--to-latest|--to-offset N|--to-datetime TIME|--shift-by N) [--partitions LIST] [--execute]")
	topic := fs.String("topic", "", "the topic (required)")
	earliest := fs.Bool("to-earliest", false, "to the oldest message in the log")
	latest := fs.Bool("to-latest", false, "to the end of the log")
	toOffset := fs.String("to-offset", "", "to offset N (bounded by the log)")
	toTime := fs.String("to-datetime", "", "to the first message at or after TIME (RFC 3339, or Unix milliseconds)")
	shift := fs.String("shift-by", "", "by N (negative: back), from the committed offset (bounded by the log)")
	partsFlag := fs.String("partitions", "", "comma-separated partitions (default: all)")
	execute := fs.Bool("execute", false, "write the new offsets (default: a dry run)")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	group, err := groupArg(fs, pos)
	if err != nil {
		return err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	if *topic == "" {
		return bad("--topic is required")
	}
	modes := 0
	for _, set := range []bool{*earliest, *latest, *toOffset != "", *toTime != "", *shift != ""} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return bad("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by")
	}
	var n int64
	if *toOffset != "" {
		if n, err = strconv.ParseInt(*toOffset, 10, 64); err != nil || n < 0 {
			return bad(fmt.Sprintf("--to-offset %q is not a non-negative integer", *toOffset))
		}
	}
	if *shift != "" {
		if n, err = strconv.ParseInt(*shift, 10, 64); err != nil {
			return bad(fmt.Sprintf("--shift-by %q is not an integer", *shift))
		}
	}
	var at time.Time
	if *toTime != "" {
		if at, err = parseTime(*toTime); err != nil {
			return bad(err.Error())
		}
	}
	var only []int32
	if *partsFlag != "" {
		for _, s := range strings.Split(*partsFlag, ",") {
			p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
			if err != nil || p < 0 {
				return bad(fmt.Sprintf("--partitions: %q is not a partition number", s))
			}
			only = append(only, int32(p))
		}
	}

	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	z, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer z.Close()
	cl, admin, err := c.kafka(ctx, z)
	if err != nil {
		return err
	}
	defer cl.Close()
	starts, err := admin.ListStartOffsets(ctx, *topic)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := admin.ListEndOffsets(ctx, *topic)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("topic %q: %w", *topic, err)
	}
	var times kadm.ListedOffsets
	if *toTime != "" {
		if times, err = admin.ListOffsetsAfterMilli(ctx, at.UnixMilli(), *topic); err != nil {
			return fmt.Errorf("list offsets after %v: %w", at, err)
		}
	}
	committed, err := z.Offsets(ctx, group)
	if committed == nil {
		return err
	}
	type change struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Old       int64  `json:"old"`
		New       int64  `json:"new"`
	}
	out := struct {
		Group    string   `json:"group"`
		Executed bool     `json:"executed"`
		Changes  []change `json:"changes"`
	}{Group: group, Changes: []change{}}
	offsets := map[consumergroup.TopicPartition]int64{}
	var missing []string
	for p := int32(0); ; p++ {
		end, ok := ends.Lookup(*topic, p)
		if !ok {
			break
		}
		if len(only) > 0 && !contains(only, p) {
			continue
		}
		start, _ := starts.Lookup(*topic, p)
		old, had := committed[*topic][p]
		if !had {
			old = -1
		}
		var next int64
		switch {
		case *earliest:
			next = start.Offset
		case *latest:
			next = end.Offset
		case *toOffset != "":
			next = n
		case *toTime != "":
			next = end.Offset
			if o, ok := times.Lookup(*topic, p); ok && o.Err == nil && o.Offset >= 0 {
				next = o.Offset
			}
		default:
			base := old
			if !had {
				base = start.Offset
			}
			next = base + n
		}
		next = min(max(next, start.Offset), end.Offset)
		offsets[consumergroup.TopicPartition{Topic: *topic, Partition: p}] = next
		out.Changes = append(out.Changes, change{*topic, p, old, next})
	}
	for _, p := range only {
		if _, ok := ends.Lookup(*topic, p); !ok {
			missing = append(missing, strconv.Itoa(int(p)))
		}
	}
	if len(missing) > 0 {
		return bad(fmt.Sprintf("topic %q has no partition %s", *topic, strings.Join(missing, ",")))
	}
	if *execute {
		if err := z.ResetOffsets(ctx, group, offsets); err != nil {
			if errors.Is(err, consumergroup.ErrGroupActive) {
				return fmt.Errorf("refused, nothing changed: %w (stop its consumers first)", err)
			}
			return err
		}
		out.Executed = true
	}
	return newPrinter(e, c).print(out, func(t *tableWriter) {
		t.row("TOPIC", "PARTITION", "OLD", "NEW")
		for _, ch := range out.Changes {
			t.row(ch.Topic, ch.Partition, num(ch.Old), ch.New)
		}
		if out.Executed {
			t.line("written: %d offsets of group %s", len(out.Changes), group)
		} else {
			t.line("dry run: nothing written (add --execute)")
		}
	})
}

// parseTime reads RFC 3339 or Unix milliseconds.
func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--to-datetime %q is neither RFC 3339 (2026-01-02T15:04:05Z) nor Unix milliseconds", s)
	}
	return t, nil
}

func contains(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
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
