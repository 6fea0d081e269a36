package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/consumergroup/consumergroup/internal/lageval"
)

// promWriter writes Prometheus' text exposition format (version 0.0.4):
// each family's HELP and TYPE lines, then its samples. groupctl writes it
// itself so that the module does not depend on Prometheus' client; the e2e
// module checks it with Prometheus' own parser.
type promWriter struct {
	w   *bufio.Writer
	err error
	num [32]byte // a sample's value, formatted
}

// family starts a metric family.
func (p *promWriter) family(name, typ, help string) {
	p.printf("# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// sample writes one sample; labels are name, value pairs.
func (p *promWriter) sample(name string, value float64, labels ...string) {
	if p.err != nil {
		return
	}
	b := p.w
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			labelEscaper.WriteString(b, labels[i+1])
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.Write(strconv.AppendFloat(p.num[:0], value, 'g', -1, 64))
	_, p.err = b.WriteString("\n")
}

func (p *promWriter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// labelEscaper escapes a label value: backslash, double quote and line
// feed.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// statusHelp documents the numeric status codes.
var statusHelp = func() string {
	var parts []string
	for s := lageval.Unknown; s <= lageval.Rewind; s++ {
		parts = append(parts, fmt.Sprintf("%d=%s", int(s), s))
	}
	return strings.Join(parts, " ")
}()

// metrics serves every group's lag and status in Prometheus' text format,
// rendered once per snapshot (and gzipped once, for the scrapers that
// accept it: Prometheus does).
func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	snap := s.snap.Load()
	writeCached(w, r, "text/plain; version=0.0.4; charset=utf-8", &snap.metrics, func() []byte {
		var b bytes.Buffer
		snap.writeMetrics(&b) // a bytes.Buffer does not fail
		return b.Bytes()
	})
}

// writeMetrics writes the snapshot's metrics: linear in the partitions.
func (s *snapshot) writeMetrics(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	p := &promWriter{w: bw}
	names := s.names

	p.family("groupctl_polls_total", "counter", "Polls of ZooKeeper and Kafka by groupctl serve.")
	p.sample("groupctl_polls_total", float64(s.poll.Polls))
	p.family("groupctl_poll_errors_total", "counter", "Group reads that failed (ZooKeeper or Kafka unreachable, bad data).")
	p.sample("groupctl_poll_errors_total", float64(s.pollErrors))
	p.family("groupctl_last_poll_timestamp_seconds", "gauge", "When groupctl serve last polled.")
	if !s.poll.Time.IsZero() {
		p.sample("groupctl_last_poll_timestamp_seconds", float64(s.poll.Time.UnixMilli())/1000)
	}

	type perGroup struct {
		name, typ, help string
		value           func(st *groupSnap) (float64, bool)
	}
	for _, f := range []perGroup{
		{"groupctl_group_members", "gauge", "Registered members of the group.",
			func(st *groupSnap) (float64, bool) { return float64(len(st.desc.Members)), true }},
		{"groupctl_group_lag", "gauge", "The group's total lag: the sum of its partitions' known lags.",
			func(st *groupSnap) (float64, bool) { return float64(st.desc.TotalLag), true }},
		{"groupctl_group_status", "gauge", "The group's lag status (docs/LAG.md): " + statusHelp + ".",
			func(st *groupSnap) (float64, bool) { return float64(statusCode(st.report.Status)), true }},
	} {
		p.family(f.name, f.typ, f.help)
		for _, g := range names {
			if st := s.groups[g]; st.desc != nil {
				if v, ok := f.value(st.groupSnap); ok {
					p.sample(f.name, v, "group", g)
				}
			}
		}
	}

	p.family("groupctl_group_info", "gauge", "Always 1: the group's type (classic, consumer, share or zookeeper). A share group's committed offset is its share-partition start offset, its lag the one Kafka reports.")
	for _, g := range names {
		if st := s.groups[g]; st.desc != nil {
			p.sample("groupctl_group_info", 1, "group", g, "type", groupType(st.desc))
		}
	}

	type perPart struct {
		name, help string
		value      func(v partitionView) (float64, bool)
	}
	for _, f := range []perPart{
		{"groupctl_partition_committed_offset", "The group's committed offset: the next one to consume (a share group's: its share-partition start offset).",
			func(v partitionView) (float64, bool) { return float64(v.Committed), v.Committed >= 0 }},
		{"groupctl_partition_log_end_offset", "The partition's log end offset.",
			func(v partitionView) (float64, bool) { return float64(v.LogEnd), v.LogEnd >= 0 }},
		{"groupctl_partition_lag", "Log end minus committed offset (a share group's: the lag Kafka reports, records not yet acknowledged); absent when unknown.",
			func(v partitionView) (float64, bool) { return float64(v.Lag), v.Lag >= 0 && v.LogEnd >= 0 }},
		{"groupctl_partition_status", "The partition's lag status (docs/LAG.md): " + statusHelp + ".",
			func(v partitionView) (float64, bool) { return float64(statusCode(v.Status)), true }},
	} {
		p.family(f.name, "gauge", f.help)
		for _, g := range names {
			st := s.groups[g]
			if st.desc == nil {
				continue
			}
			for _, pd := range st.desc.Partitions {
				v := partitionView{PartitionDescription: pd, Status: st.report.of(pd.Topic, pd.Partition)}
				if x, ok := f.value(v); ok {
					p.sample(f.name, x, "group", g, "topic", pd.Topic, "partition", strconv.Itoa(int(pd.Partition)))
				}
			}
		}
	}
	if p.err == nil {
		p.err = bw.Flush()
	}
	return p.err
}

// statusCode is the numeric code of a status name.
func statusCode(name string) int {
	for s := lageval.Unknown; s <= lageval.Rewind; s++ {
		if s.String() == name {
			return int(s)
		}
	}
	return int(lageval.Unknown)
}
