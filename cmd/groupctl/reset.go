package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/consumergroup/consumergroup"
)

// topicScopes is a repeatable --topic: "T" (every partition) or
// "T:0,1,2" (those partitions), as kafka-consumer-groups.sh takes it.
type topicScopes struct {
	order []string
	parts map[string][]int32 // nil: every partition
}

func (s *topicScopes) String() string { return strings.Join(s.order, " ") }

func (s *topicScopes) Set(v string) error {
	for _, one := range strings.Fields(strings.ReplaceAll(v, ";", " ")) {
		topic, list, scoped := strings.Cut(one, ":")
		if topic == "" {
			return fmt.Errorf("%q names no topic", one)
		}
		if s.parts == nil {
			s.parts = map[string][]int32{}
		}
		if _, ok := s.parts[topic]; !ok {
			s.order = append(s.order, topic)
			s.parts[topic] = nil
		}
		if !scoped {
			continue
		}
		ps, err := parsePartitions(list)
		if err != nil {
			return fmt.Errorf("%q: %v", one, err)
		}
		s.parts[topic] = append(s.parts[topic], ps...)
	}
	return nil
}

func parsePartitions(list string) ([]int32, error) {
	var out []int32
	for _, f := range strings.Split(list, ",") {
		p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("%q is not a partition number", f)
		}
		out = append(out, int32(p))
	}
	return out, nil
}

// resetMode is how reset-offsets computes the new offsets.
type resetMode struct {
	earliest, latest, current bool
	toOffset, toTime, shift   string
	duration, fromFile        string
}

func (m *resetMode) flags(fs *flag.FlagSet) {
	fs.BoolVar(&m.earliest, "to-earliest", false, "to the oldest message in the log")
	fs.BoolVar(&m.latest, "to-latest", false, "to the end of the log")
	fs.BoolVar(&m.current, "to-current", false, "to the committed offset (the log end where nothing is committed)")
	fs.StringVar(&m.toOffset, "to-offset", "", "to offset N (bounded by the log)")
	fs.StringVar(&m.toTime, "to-datetime", "", "to the first message at or after TIME (RFC 3339, or Unix milliseconds)")
	fs.StringVar(&m.duration, "by-duration", "", "to the first message at or after now minus DURATION (ISO 8601: PnDTnHnMnS, e.g. PT1H30M)")
	fs.StringVar(&m.shift, "shift-by", "", "by N (negative: back), from the committed offset (bounded by the log)")
	fs.StringVar(&m.fromFile, "from-file", "", "to the offsets of a CSV file of topic,partition,offset lines (as --export writes)")
}

func (m *resetMode) count() int {
	n := 0
	for _, set := range []bool{m.earliest, m.latest, m.current, m.toOffset != "", m.toTime != "", m.duration != "", m.shift != "", m.fromFile != ""} {
		if set {
			n++
		}
	}
	return n
}

var durationRE = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseISODuration reads PnDTnHnMnS.
func parseISODuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, fmt.Errorf("--by-duration %q is not PnDTnHnMnS (e.g. P1D, PT1H30M, PT0.5S)", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+1] == "" {
			continue
		}
		f, err := strconv.ParseFloat(m[i+1], 64)
		if err != nil {
			return 0, fmt.Errorf("--by-duration %q: %v", s, err)
		}
		d += time.Duration(f * float64(unit))
	}
	return d, nil
}

// readOffsetsFile reads topic,partition,offset lines (a group,topic,
// partition,offset file of several groups: the lines of group).
func readOffsetsFile(r io.Reader, name, group string) (map[consumergroup.TopicPartition]int64, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	out := map[consumergroup.TopicPartition]int64{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--from-file %s: %v", name, err)
		}
		if len(rec) == 4 {
			if rec[0] != group {
				continue
			}
			rec = rec[1:]
		}
		if len(rec) != 3 {
			return nil, fmt.Errorf("--from-file %s line %d: want topic,partition,offset, got %d fields", name, line, len(rec))
		}
		p, err1 := strconv.ParseInt(rec[1], 10, 32)
		off, err2 := strconv.ParseInt(rec[2], 10, 64)
		if rec[0] == "" || err1 != nil || err2 != nil || p < 0 || off < 0 {
			return nil, fmt.Errorf("--from-file %s line %d: %q is not topic,partition,offset", name, line, strings.Join(rec, ","))
		}
		out[consumergroup.TopicPartition{Topic: rec[0], Partition: int32(p)}] = off
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--from-file %s: no offsets in it", name)
	}
	return out, nil
}

type change struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Old       int64  `json:"old"`
	New       int64  `json:"new"`
}

func runReset(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "reset-offsets", "GROUP (--topic T[:P,P...] ... | --all-topics) (--to-earliest|--to-latest|--to-current|--to-offset N|--to-datetime TIME|--by-duration PnDTnHnMnS|--shift-by N|--from-file CSV) [--execute] [--export]")
	var scopes topicScopes
	bootstrapFlag(fs, c)
	fs.Var(&scopes, "topic", "a topic, or TOPIC:0,1,2 for some of its partitions; repeat for several")
	allTopics := fs.Bool("all-topics", false, "every topic the group has offsets for")
	var mode resetMode
	mode.flags(fs)
	partsFlag := fs.String("partitions", "", "comma-separated partitions of every --topic (default: all)")
	execute := fs.Bool("execute", false, "write the new offsets (default: a dry run)")
	export := fs.Bool("export", false, "print the new offsets as CSV (topic,partition,offset), for --from-file")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	group, err := groupArg(fs, pos)
	if err != nil {
		return err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	if mode.count() != 1 {
		return bad("give exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --to-datetime, --by-duration, --shift-by, --from-file")
	}
	if len(scopes.order) == 0 && !*allTopics && mode.fromFile == "" {
		return bad("--topic or --all-topics is required")
	}
	if len(scopes.order) > 0 && *allTopics {
		return bad("give --topic or --all-topics, not both")
	}
	var n int64
	if mode.toOffset != "" {
		if n, err = strconv.ParseInt(mode.toOffset, 10, 64); err != nil || n < 0 {
			return bad(fmt.Sprintf("--to-offset %q is not a non-negative integer", mode.toOffset))
		}
	}
	if mode.shift != "" {
		if n, err = strconv.ParseInt(mode.shift, 10, 64); err != nil {
			return bad(fmt.Sprintf("--shift-by %q is not an integer", mode.shift))
		}
	}
	var at time.Time
	switch {
	case mode.toTime != "":
		if at, err = parseTime(mode.toTime); err != nil {
			return bad(err.Error())
		}
	case mode.duration != "":
		d, err := parseISODuration(mode.duration)
		if err != nil {
			return bad(err.Error())
		}
		at = time.Now().Add(-d)
	}
	var only []int32
	if *partsFlag != "" {
		if only, err = parsePartitions(*partsFlag); err != nil {
			return bad("--partitions: " + err.Error())
		}
	}
	var fromFile map[consumergroup.TopicPartition]int64
	if mode.fromFile != "" {
		f, err := os.Open(mode.fromFile)
		if err != nil {
			return bad(fmt.Sprintf("--from-file: %v", err))
		}
		fromFile, err = readOffsetsFile(f, mode.fromFile, group)
		f.Close()
		if err != nil {
			return bad(err.Error())
		}
		if len(scopes.order) == 0 && !*allTopics {
			for tp := range fromFile {
				scopes.Set(tp.Topic + ":" + strconv.Itoa(int(tp.Partition)))
			}
			slices.Sort(scopes.order)
		}
	}

	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	st, err := c.openOffsetStore(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	var notes []string
	exists, err := st.exists(ctx, group)
	if err != nil {
		return err
	}
	if !exists {
		if *execute {
			notes = append(notes, fmt.Sprintf("group %q does not exist in %s: --execute creates it", group, st.where()))
		} else {
			notes = append(notes, fmt.Sprintf("group %q does not exist in %s: --execute would create it", group, st.where()))
		}
	}
	committed, err := st.committed(ctx, group)
	if committed == nil {
		return err
	}
	if *allTopics {
		for t := range committed {
			scopes.Set(t)
		}
		slices.Sort(scopes.order)
		if len(scopes.order) == 0 {
			return fmt.Errorf("--all-topics: group %q has no offsets in %s", group, st.where())
		}
	}
	admin, err := st.kafka(ctx)
	if err != nil {
		return err
	}
	topics := scopes.order
	starts, err := admin.ListStartOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := admin.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("topics %s: %w", strings.Join(topics, ","), err)
	}
	var times kadm.ListedOffsets
	if !at.IsZero() {
		if times, err = admin.ListOffsetsAfterMilli(ctx, at.UnixMilli(), topics...); err != nil {
			return fmt.Errorf("list offsets after %v: %w", at, err)
		}
	}
	out := struct {
		Group    string   `json:"group"`
		Executed bool     `json:"executed"`
		Changes  []change `json:"changes"`
		Notes    []string `json:"notes,omitempty"`
	}{Group: group, Changes: []change{}}
	offsets := map[consumergroup.TopicPartition]int64{}
	var missing []string
	for _, topic := range topics {
		want := scopes.parts[topic]
		if want == nil {
			want = only
		}
		for _, p := range want {
			if _, ok := ends.Lookup(topic, p); !ok {
				missing = append(missing, fmt.Sprintf("%s:%d", topic, p))
			}
		}
		for p := int32(0); ; p++ {
			end, ok := ends.Lookup(topic, p)
			if !ok {
				break
			}
			if len(want) > 0 && !slices.Contains(want, p) {
				continue
			}
			start, _ := starts.Lookup(topic, p)
			tp := consumergroup.TopicPartition{Topic: topic, Partition: p}
			old, had := committed[topic][p]
			if !had {
				old = -1
			}
			var next int64
			what := ""
			switch {
			case mode.earliest:
				next = start.Offset
			case mode.latest:
				next = end.Offset
			case mode.current:
				next = end.Offset
				if had {
					next = old
				}
			case mode.toOffset != "":
				next, what = n, "--to-offset "+mode.toOffset
			case fromFile != nil:
				v, ok := fromFile[tp]
				if !ok {
					continue
				}
				next, what = v, "--from-file's offset "+strconv.FormatInt(v, 10)
			case !at.IsZero():
				next = end.Offset
				if o, ok := times.Lookup(topic, p); ok && o.Err == nil && o.Offset >= 0 {
					next = o.Offset
				}
			default:
				base := old
				if !had {
					base = start.Offset
				}
				next, what = base+n, fmt.Sprintf("--shift-by %d from %d", n, base)
			}
			bounded := min(max(next, start.Offset), end.Offset)
			if bounded != next && what != "" {
				edge := "log end"
				if next < start.Offset {
					edge = "log start"
				}
				notes = append(notes, fmt.Sprintf("%s/%d: %s is %d, outside the log (%d..%d): clamped to the %s, %d",
					topic, p, what, next, start.Offset, end.Offset, edge, bounded))
			}
			offsets[tp] = bounded
			out.Changes = append(out.Changes, change{topic, p, old, bounded})
		}
	}
	if len(missing) > 0 {
		return bad(fmt.Sprintf("no such partition: %s", strings.Join(missing, ", ")))
	}
	out.Notes = notes
	for _, note := range notes {
		fmt.Fprintf(e.stderr, "groupctl reset-offsets: note: %s\n", note)
	}
	if *execute {
		if err := st.reset(ctx, group, offsets); err != nil {
			if errors.Is(err, consumergroup.ErrGroupActive) {
				return fmt.Errorf("refused, nothing changed: %w (stop its consumers first)", err)
			}
			return err
		}
		out.Executed = true
	}
	if *export {
		w := csv.NewWriter(e.stdout)
		for _, ch := range out.Changes {
			w.Write([]string{ch.Topic, strconv.Itoa(int(ch.Partition)), strconv.FormatInt(ch.New, 10)})
		}
		w.Flush()
		return w.Error()
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
