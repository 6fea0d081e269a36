package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/consumergroup/consumergroup"
)

// reset-offsets' flags: the topics and partitions in scope, the mode, times and durations, the offsets file.

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

// parseISODuration reads PnDTnHnMnS; beyond time.Duration's 292 years,
// it saturates.
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
		if v := f * float64(unit); v < float64(math.MaxInt64-d) {
			d += time.Duration(v)
		} else {
			return math.MaxInt64, nil
		}
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
