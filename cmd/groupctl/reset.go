package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/consumergroup/consumergroup"
)

var durationRE = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

type change struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Old       int64  `json:"old"`
	New       int64  `json:"new"`
}

// runReset is reset-offsets: it reads the command line into a plan, reads
// the group's offsets and its topics' logs, computes the new offsets,
// writes them with --execute, and prints them.
func runReset(ctx context.Context, e *env, args []string) error {
	p, c, err := parseReset(e, args)
	if err != nil {
		return err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	st, err := c.openOffsetStore(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	if st, err = p.forShareGroup(ctx, c, st); err != nil {
		return err
	}
	out, err := p.compute(ctx, st)
	if err != nil {
		return err
	}
	for _, note := range out.Notes {
		fmt.Fprintf(e.stderr, "groupctl reset-offsets: note: %s\n", note)
	}
	if !p.execute {
		if out.Warnings, err = p.liveWarning(ctx, st); err != nil {
			return err
		}
	}
	for _, w := range out.Warnings {
		fmt.Fprintf(e.stderr, "groupctl reset-offsets: warning: %s\n", w)
	}
	if p.execute {
		if err := p.write(ctx, st, out.Changes); err != nil {
			return err
		}
		out.Executed = true
	}
	if p.export {
		return exportChanges(e.stdout, out.Changes)
	}
	return out.print(newPrinter(e, c))
}

// forShareGroup is st, or the store of the share group's start offsets
// when the group is a share group of Kafka's coordinator, or is to be one
// (--type share), whose modes it checks (share.go).
func (p *resetPlan) forShareGroup(ctx context.Context, c *common, st offsetStore) (offsetStore, error) {
	ks, ok := st.(*kafkaStore)
	if !ok {
		return st, nil
	}
	typ, err := kafkaTypeOf(ctx, c, ks.admin, p.group)
	switch {
	case err != nil:
		return nil, err
	case p.share && typ != "" && typ != typeShare:
		return nil, p.bad(fmt.Sprintf("--type share: group %q is a %s group in %s, not a share group", p.group, typ, ks.where()))
	case typ != typeShare && !p.share:
		return st, nil
	}
	if err := p.checkShare(); err != nil {
		return nil, err
	}
	return &shareStore{kafkaStore: ks, listed: typ != ""}, nil
}

// resetPlan is a checked reset-offsets command line: the group, the
// partitions in scope, how their new offsets are computed, and what is done
// with them.
type resetPlan struct {
	fs        *flag.FlagSet // for the usage text of usage errors
	group     string
	scopes    topicScopes // --topic; then --from-file's or --all-topics' topics
	allTopics bool
	mode      resetMode
	only      []int32   // --partitions: those of every --topic that names none
	n         int64     // --to-offset's offset, or --shift-by's distance
	at        time.Time // --to-datetime, or now minus --by-duration; zero: neither
	fromFile  map[consumergroup.TopicPartition]int64
	execute   bool // write the new offsets
	export    bool // print them as CSV
	share     bool // --type share: a share group, created if need be (share.go)
}

// parseReset reads reset-offsets' flags and argument into a plan, checks
// them, and reads --from-file.
func parseReset(e *env, args []string) (*resetPlan, *common, error) {
	fs, c := newFlags(e, "reset-offsets", "GROUP (--topic T[:P,P...] ... | --all-topics) (--to-earliest|--to-latest|--to-current|--to-offset N|--to-datetime TIME|--by-duration PnDTnHnMnS|--shift-by N|--from-file CSV) [--execute] [--export]")
	p := &resetPlan{fs: fs}
	bootstrapFlag(fs, c)
	fs.Var(&p.scopes, "topic", "a topic, or TOPIC:0,1,2 for some of its partitions; repeat for several")
	fs.BoolVar(&p.allTopics, "all-topics", false, "every topic the group has offsets for")
	p.mode.flags(fs)
	partitions := fs.String("partitions", "", "comma-separated partitions of every --topic (default: all)")
	fs.BoolVar(&p.execute, "execute", false, "write the new offsets (default: a dry run)")
	fs.BoolVar(&p.export, "export", false, "print the new offsets as CSV (topic,partition,offset), for --from-file")
	groupType := fs.String("type", "", "share: the group is a share group (KIP-932; --execute creates it if need be); default: a share group if Kafka lists it as one, else a consumer group")
	pos, err := parse(fs, c, args)
	if err != nil {
		return nil, nil, err
	}
	if p.share, err = p.checkType(c, *groupType); err != nil {
		return nil, nil, err
	}
	if p.group, err = groupArg(fs, pos); err != nil {
		return nil, nil, err
	}
	if err := p.check(*partitions); err != nil {
		return nil, nil, err
	}
	if err := p.readFromFile(); err != nil {
		return nil, nil, err
	}
	return p, c, nil
}

// bad is a usage error: the command line is wrong.
func (p *resetPlan) bad(msg string) error { return usageError{msg: msg, usage: usageText(p.fs)} }

// check checks the flags together (exactly one mode; --topic or
// --all-topics, unless --from-file gives the partitions) and parses the
// values of --to-offset, --shift-by, --to-datetime, --by-duration and
// partitions (--partitions).
func (p *resetPlan) check(partitions string) error {
	m := &p.mode
	if m.count() != 1 {
		return p.bad("give exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --to-datetime, --by-duration, --shift-by, --from-file")
	}
	if len(p.scopes.order) == 0 && !p.allTopics && m.fromFile == "" {
		return p.bad("--topic or --all-topics is required")
	}
	if len(p.scopes.order) > 0 && p.allTopics {
		return p.bad("give --topic or --all-topics, not both")
	}
	var err error
	if m.toOffset != "" {
		if p.n, err = strconv.ParseInt(m.toOffset, 10, 64); err != nil || p.n < 0 {
			return p.bad(fmt.Sprintf("--to-offset %q is not a non-negative integer", m.toOffset))
		}
	}
	if m.shift != "" {
		if p.n, err = strconv.ParseInt(m.shift, 10, 64); err != nil {
			return p.bad(fmt.Sprintf("--shift-by %q is not an integer", m.shift))
		}
	}
	switch {
	case m.toTime != "":
		if p.at, err = parseTime("--to-datetime", m.toTime); err != nil {
			return p.bad(err.Error())
		}
	case m.duration != "":
		d, err := parseISODuration(m.duration)
		if err != nil {
			return p.bad(err.Error())
		}
		if p.at = time.Now().Add(-d); p.at.Before(time.UnixMilli(0)) {
			return p.bad(beforeEpoch("--by-duration", m.duration).Error())
		}
	}
	if partitions != "" {
		if p.only, err = parsePartitions(partitions); err != nil {
			return p.bad("--partitions: " + err.Error())
		}
	}
	return nil
}

// readFromFile reads --from-file's offsets of the group; without --topic
// and --all-topics, the file's partitions are the scope.
func (p *resetPlan) readFromFile() error {
	if p.mode.fromFile == "" {
		return nil
	}
	f, err := os.Open(p.mode.fromFile)
	if err != nil {
		return p.bad(fmt.Sprintf("--from-file: %v", err))
	}
	p.fromFile, err = readOffsetsFile(f, p.mode.fromFile, p.group)
	f.Close()
	if err != nil {
		return p.bad(err.Error())
	}
	if len(p.scopes.order) == 0 && !p.allTopics {
		for tp := range p.fromFile {
			p.scopes.Set(tp.Topic + ":" + strconv.Itoa(int(tp.Partition)))
		}
		slices.Sort(p.scopes.order)
	}
	return nil
}

// resetOutput is what reset-offsets prints: the changes (the new offsets),
// and notes of what the user may not expect.
type resetOutput struct {
	Group    string   `json:"group"`
	Executed bool     `json:"executed"`
	Changes  []change `json:"changes"`
	Notes    []string `json:"notes,omitempty"`
	Warnings []string `json:"warnings,omitempty"` // a dry run's: --execute would be refused
}

// compute reads the group's committed offsets and its topics' logs from
// st, and computes the new offset of every partition in scope.
func (p *resetPlan) compute(ctx context.Context, st offsetStore) (*resetOutput, error) {
	notes, err := p.groupNotes(ctx, st)
	if err != nil {
		return nil, err
	}
	committed, err := st.committed(ctx, p.group)
	if committed == nil {
		return nil, err
	}
	if p.allTopics {
		if err := p.scopeAllTopics(committed, st); err != nil {
			return nil, err
		}
	}
	admin, err := st.kafka(ctx)
	if err != nil {
		return nil, err
	}
	logs, err := p.listLogs(ctx, admin)
	if err != nil {
		return nil, err
	}
	changes, clamped, err := p.changes(committed, logs)
	if err != nil {
		return nil, err
	}
	return &resetOutput{Group: p.group, Changes: changes, Notes: append(notes, clamped...)}, nil
}

// changes computes the new offset of every partition in scope (those of
// every --topic, or of --partitions), bounded by its log; notes are of the
// offsets the user gave that the log bounded. A partition in scope that a
// topic does not have is a usage error; one whose offset at --to-datetime
// (--by-duration) the broker did not give fails the plan, naming it.
func (p *resetPlan) changes(committed map[string]map[int32]int64, logs resetLogs) (changes []change, notes []string, err error) {
	changes = []change{}
	var missing []string
	var unlisted []error
	for _, topic := range p.scopes.order {
		want := p.scopes.parts[topic]
		if want == nil {
			want = p.only
		}
		missing = append(missing, logs.missing(topic, want)...)
		for part := int32(0); ; part++ {
			end, ok := logs.ends.Lookup(topic, part)
			if !ok {
				break
			}
			if len(want) > 0 && !slices.Contains(want, part) {
				continue
			}
			start, _ := logs.starts.Lookup(topic, part)
			rp := resetPartition{TopicPartition: consumergroup.TopicPartition{Topic: topic, Partition: part}, start: start.Offset, end: end.Offset}
			rp.old, rp.had = committed[topic][part]
			if !rp.had {
				rp.old = -1
			}
			if err := logs.timeErr(rp.TopicPartition, p.at); err != nil {
				unlisted = append(unlisted, err)
				continue
			}
			next, what, ok := p.target(rp, logs.times)
			if !ok {
				continue
			}
			bounded, note := rp.bound(next, what)
			if note != "" {
				notes = append(notes, note)
			}
			changes = append(changes, change{topic, part, rp.old, bounded})
		}
	}
	if len(missing) > 0 {
		return nil, nil, p.bad(fmt.Sprintf("no such partition: %s", strings.Join(missing, ", ")))
	}
	if len(unlisted) > 0 {
		return nil, nil, fmt.Errorf("nothing planned: the broker gave no offset at or after %s of %w", p.at.UTC().Format(time.RFC3339Nano), errors.Join(unlisted...))
	}
	return changes, notes, nil
}

// groupNotes notes a group that does not exist yet (--execute creates it).
func (p *resetPlan) groupNotes(ctx context.Context, st offsetStore) ([]string, error) {
	exists, err := st.exists(ctx, p.group)
	if err != nil || exists {
		return nil, err
	}
	if p.execute {
		return []string{fmt.Sprintf("group %q does not exist in %s: --execute creates it", p.group, st.where())}, nil
	}
	return []string{fmt.Sprintf("group %q does not exist in %s: --execute would create it", p.group, st.where())}, nil
}

// scopeAllTopics puts every topic the group has offsets for in scope
// (--all-topics).
func (p *resetPlan) scopeAllTopics(committed map[string]map[int32]int64, st offsetStore) error {
	for t := range committed {
		p.scopes.Set(t)
	}
	slices.Sort(p.scopes.order)
	if len(p.scopes.order) == 0 {
		return fmt.Errorf("--all-topics: group %q has no offsets in %s", p.group, st.where())
	}
	return nil
}

// resetLogs are the offsets of the logs of the topics in scope.
type resetLogs struct {
	starts, ends kadm.ListedOffsets
	times        kadm.ListedOffsets // the first at or after resetPlan.at; nil without it
}

// listLogs lists the start and end offsets of the topics in scope, and,
// with --to-datetime or --by-duration, their first offsets at or after
// that time.
func (p *resetPlan) listLogs(ctx context.Context, admin *kadm.Client) (resetLogs, error) {
	var logs resetLogs
	var err error
	topics := p.scopes.order
	if logs.starts, err = admin.ListStartOffsets(ctx, topics...); err != nil {
		return logs, fmt.Errorf("list start offsets: %w", err)
	}
	if logs.ends, err = admin.ListEndOffsets(ctx, topics...); err != nil {
		return logs, fmt.Errorf("list end offsets: %w", err)
	}
	if err := logs.ends.Error(); err != nil {
		return logs, fmt.Errorf("topics %s: %w", strings.Join(topics, ","), err)
	}
	if !p.at.IsZero() {
		if logs.times, err = admin.ListOffsetsAfterMilli(ctx, p.at.UnixMilli(), topics...); err != nil {
			return logs, fmt.Errorf("list offsets after %v: %w", p.at, err)
		}
	}
	return logs, nil
}

// timeErr says why the broker gave no offset of tp at or after at (the
// zero time: none was asked for). No offset there with no error is not one:
// nothing is stamped at or after at, and the log end is the offset.
func (l resetLogs) timeErr(tp consumergroup.TopicPartition, at time.Time) error {
	if at.IsZero() {
		return nil
	}
	o, ok := l.times.Lookup(tp.Topic, tp.Partition)
	switch {
	case !ok:
		return fmt.Errorf("%s/%d: the broker did not answer", tp.Topic, tp.Partition)
	case o.Err != nil:
		return fmt.Errorf("%s/%d: %w", tp.Topic, tp.Partition, o.Err)
	}
	return nil
}

// missing names the partitions of want that topic does not have, as
// TOPIC:PARTITION.
func (l resetLogs) missing(topic string, want []int32) []string {
	var out []string
	for _, p := range want {
		if _, ok := l.ends.Lookup(topic, p); !ok {
			out = append(out, fmt.Sprintf("%s:%d", topic, p))
		}
	}
	return out
}

// resetPartition is a partition in scope: its committed offset and its
// log's bounds.
type resetPartition struct {
	consumergroup.TopicPartition
	old        int64 // the committed offset; -1: none
	had        bool  // the group has committed an offset
	start, end int64 // the log's start and end offsets
}

// target returns rp's new offset by the mode, before the log bounds it;
// what names the offset the user gave (--to-offset, --from-file, --shift-by),
// for the note when the log bounds it. ok is false when rp keeps its
// offset: --from-file does not list it.
func (p *resetPlan) target(rp resetPartition, times kadm.ListedOffsets) (next int64, what string, ok bool) {
	switch {
	case p.mode.earliest:
		return rp.start, "", true
	case p.mode.latest:
		return rp.end, "", true
	case p.mode.current:
		if rp.had {
			return rp.old, "", true
		}
		return rp.end, "", true
	case p.mode.toOffset != "":
		return p.n, "--to-offset " + p.mode.toOffset, true
	case p.fromFile != nil:
		v, ok := p.fromFile[rp.TopicPartition]
		if !ok {
			return 0, "", false
		}
		return v, "--from-file's offset " + strconv.FormatInt(v, 10), true
	case !p.at.IsZero():
		// changes checked the broker's answer (resetLogs.timeErr).
		if o, _ := times.Lookup(rp.Topic, rp.Partition); o.Offset >= 0 {
			return o.Offset, "", true
		}
		return rp.end, "", true // nothing stamped at or after p.at
	default:
		base := rp.old
		if !rp.had {
			base = rp.start
		}
		return addSaturating(base, p.n), fmt.Sprintf("--shift-by %d from %d", p.n, base), true
	}
}

// addSaturating returns a+b, or the int64 bound it would overflow past: a
// shift far beyond the log end is beyond it, not wrapped round before its
// start.
func addSaturating(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// bound bounds next by rp's log, with a note when it was an offset the user
// gave (what, as target returns it) and the log bounded it.
func (rp resetPartition) bound(next int64, what string) (bounded int64, note string) {
	bounded = min(max(next, rp.start), rp.end)
	if bounded == next || what == "" {
		return bounded, ""
	}
	edge := "log end"
	if next < rp.start {
		edge = "log start"
	}
	return bounded, fmt.Sprintf("%s/%d: %s is %d, outside the log (%d..%d): clamped to the %s, %d",
		rp.Topic, rp.Partition, what, next, rp.start, rp.end, edge, bounded)
}

// liveWarning warns, on a dry run, that the group has live members, so that
// --execute will be refused (write) until they stop.
func (p *resetPlan) liveWarning(ctx context.Context, st offsetStore) ([]string, error) {
	n, err := st.members(ctx, p.group)
	if err != nil || n == 0 {
		return nil, err
	}
	word := "members"
	if n == 1 {
		word = "member"
	}
	return []string{fmt.Sprintf("group %q in %s has %d live %s: --execute will be refused until its consumers stop (groupctl describe lists them)", p.group, st.where(), n, word)}, nil
}

// write writes the new offsets (--execute); st refuses while the group has
// members.
func (p *resetPlan) write(ctx context.Context, st offsetStore, changes []change) error {
	offsets := make(map[consumergroup.TopicPartition]int64, len(changes))
	for _, ch := range changes {
		offsets[consumergroup.TopicPartition{Topic: ch.Topic, Partition: ch.Partition}] = ch.New
	}
	if err := st.reset(ctx, p.group, offsets); err != nil {
		if errors.Is(err, consumergroup.ErrGroupActive) {
			return fmt.Errorf("refused, nothing changed: %w (stop its consumers first: groupctl describe lists them)", err)
		}
		return err
	}
	return nil
}

// exportChanges writes the new offsets as topic,partition,offset lines
// (--export), as --from-file reads them.
func exportChanges(w io.Writer, changes []change) error {
	cw := csv.NewWriter(w)
	for _, ch := range changes {
		cw.Write([]string{ch.Topic, strconv.Itoa(int(ch.Partition)), strconv.FormatInt(ch.New, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// print prints the changes, and whether they were written.
func (out *resetOutput) print(pr printer) error {
	return pr.print(out, func(t *tableWriter) {
		t.row("TOPIC", "PARTITION", "OLD", "NEW")
		for _, ch := range out.Changes {
			t.row(ch.Topic, ch.Partition, num(ch.Old), ch.New)
		}
		if out.Executed {
			t.line("written: %d offsets of group %s", len(out.Changes), out.Group)
		} else {
			t.line("dry run: nothing written (add --execute)")
		}
	})
}
