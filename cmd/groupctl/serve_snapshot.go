package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
)

// snapshot is what one poll saw: immutable once published (server.snap),
// so that handlers read it with no lock. Its answers are rendered once, by
// the first request that asks, and shared by the later ones.
type snapshot struct {
	poll       pollInfo
	pollErrors int64
	names      []string              // the groups, sorted
	data       map[string]*groupSnap // shared with the next snapshot when a poll fails
	groups     map[string]*servedGroup
	list       cached // /api/groups
	metrics    cached // /metrics
}

// servedGroup is a group of a snapshot, with its answer.
type servedGroup struct {
	*groupSnap
	detail cached // /api/groups/{name}
}

// cached is an answer rendered once, and gzipped once when a client
// accepts it (/metrics of 10,000 partitions: 3 MB, 120 KB gzipped, in 5 ms).
type cached struct {
	once, gzOnce sync.Once
	b, gz        []byte
}

func (c *cached) get(render func() []byte) []byte {
	c.once.Do(func() { c.b = render() })
	return c.b
}

func (c *cached) gzipped(render func() []byte) []byte {
	c.gzOnce.Do(func() {
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed) // a valid level
		w.Write(c.get(render))                          // a bytes.Buffer does not fail
		w.Close()
		c.gz = b.Bytes()
	})
	return c.gz
}

func newSnapshot(poll pollInfo, pollErrors int64, data map[string]*groupSnap) *snapshot {
	s := &snapshot{poll: poll, pollErrors: pollErrors, data: data, groups: make(map[string]*servedGroup, len(data))}
	for name, g := range data {
		s.names = append(s.names, name)
		s.groups[name] = &servedGroup{groupSnap: g}
	}
	slices.Sort(s.names)
	return s
}

// groupSnap is what a poll saw of a group, summarised for the answers.
// Nothing in it is modified once made: the description and report are
// the poll's own, the histories copies of the tracker's.
type groupSnap struct {
	name         string
	desc         *consumergroup.GroupDescription // nil until the group was read once
	report       lagReport
	err          string
	history      []partHistory
	topicHistory []topicHistory
	topics       []topicSummary
	owned        map[string]int // partitions per member
}

// topicSummary is a topic of a group: what a person reads of 10,000
// partitions.
type topicSummary struct {
	Topic      string         `json:"topic"`
	Partitions int            `json:"partitions"`
	First      int            `json:"first"`     // the index of its first partition in the group's
	TotalLag   int64          `json:"total_lag"` // -1 when a partition's is unknown
	Statuses   map[string]int `json:"statuses"`  // partitions per lag status
}

// newGroupSnap summarises st; the poller calls it once per poll. It is
// linear in the group's partitions.
func newGroupSnap(name string, st *groupState) *groupSnap {
	g := &groupSnap{name: name, desc: st.desc, report: st.report, err: st.err, history: st.tracker.history(),
		topicHistory: st.tracker.topicHistory(), topics: []topicSummary{}, owned: map[string]int{}}
	if g.desc == nil {
		return g
	}
	if !slices.IsSortedFunc(g.desc.Partitions, comparePartitions) {
		d := *g.desc
		d.Partitions = slices.Clone(d.Partitions)
		slices.SortFunc(d.Partitions, comparePartitions)
		g.desc = &d
	}
	for i, p := range g.desc.Partitions {
		if len(g.topics) == 0 || g.topics[len(g.topics)-1].Topic != p.Topic {
			g.topics = append(g.topics, topicSummary{Topic: p.Topic, First: i, Statuses: map[string]int{}})
		}
		t := &g.topics[len(g.topics)-1]
		t.Partitions++
		switch {
		case p.Lag < 0 || p.LogEnd < 0 || t.TotalLag < 0:
			t.TotalLag = -1
		default:
			t.TotalLag += p.Lag
		}
		t.Statuses[g.report.of(p.Topic, p.Partition)]++
		for _, m := range owners(g.desc, p) {
			g.owned[m]++
		}
	}
	return g
}

// owners are the members p is assigned to: its owner; in a share group,
// every member the partition is assigned to (PartitionDescription.Owner
// lists them, comma-separated).
func owners(d *consumergroup.GroupDescription, p consumergroup.PartitionDescription) []string {
	switch {
	case p.Owner == "":
		return nil
	case d.Protocol == typeShare:
		return strings.Split(p.Owner, ",")
	}
	return []string{p.Owner}
}

// groupType is the type of a group as list shows it: its protocol on
// Kafka's coordinator (classic, consumer, share), else zookeeper.
func groupType(d *consumergroup.GroupDescription) string {
	if d.Protocol != "" {
		return d.Protocol
	}
	return typeZooKeeper
}

func comparePartitions(a, b consumergroup.PartitionDescription) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// groupSummary is one group in /api/groups.
type groupSummary struct {
	Group      string `json:"group"`
	Type       string `json:"type,omitempty"` // classic, consumer, share or zookeeper; "" until the group was read once
	State      string `json:"state"`
	Members    int    `json:"members"`
	Partitions int    `json:"partitions"`
	TotalLag   int64  `json:"total_lag"`
	Status     string `json:"status"`
	Error      string `json:"error,omitempty"`
}

// pollInfo is the poller's state, in every answer of the API.
type pollInfo struct {
	Time       time.Time `json:"time"`
	IntervalMS int64     `json:"interval_ms"`
	Polls      int64     `json:"polls"`
	Error      string    `json:"error,omitempty"`
}

// renderList renders /api/groups.
func (s *snapshot) renderList() []byte {
	out := struct {
		Poll   pollInfo       `json:"poll"`
		Groups []groupSummary `json:"groups"`
	}{Poll: s.poll, Groups: make([]groupSummary, 0, len(s.names))}
	for _, name := range s.names {
		st := s.groups[name]
		g := groupSummary{Group: name, Status: lageval.Unknown.String(), Error: st.err}
		if st.desc != nil {
			g.Type, g.State, g.Members, g.Partitions, g.TotalLag = groupType(st.desc), st.desc.State, len(st.desc.Members), len(st.desc.Partitions), st.desc.TotalLag
			g.Status = st.report.Status
		}
		out.Groups = append(out.Groups, g)
	}
	return marshal(out)
}

// groupDetail is /api/groups/{name}.
type groupDetail struct {
	Poll         pollInfo                                  `json:"poll"`
	Description  *consumergroup.GroupDescription           `json:"description"`
	LagStatus    lagReport                                 `json:"lag_status"`
	History      []partHistory                             `json:"history"`       // a line per partition, up to chartPartitions
	TopicHistory []topicHistory                            `json:"topic_history"` // a line per topic
	Error        string                                    `json:"error,omitempty"`
	Topics       []topicSummary                            `json:"topics"`
	Owned        map[string]int                            `json:"owned"` // partitions per member
	Page         *pageInfo                                 `json:"page,omitempty"`
	Partitions   []partitionView                           `json:"partitions"`
	Owners       map[string][]consumergroup.TopicPartition `json:"owners"`
}

// pageInfo is the part of the partitions a paged answer holds:
// partitions[offset:offset+limit] of the group's (of topic's, when given),
// of total.
type pageInfo struct {
	Topic  string `json:"topic,omitempty"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
	Total  int    `json:"total"`

	start int // the index of the page's first partition in the group's
}

// maxPageLimit bounds a page's partitions.
const maxPageLimit = 1000

// partitionView is a partition with its status, for the page's table.
type partitionView struct {
	consumergroup.PartitionDescription
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// renderDetail renders the group (page's partitions of it, when page is
// not nil): linear in the partitions rendered, plus the topics and
// members.
func (s *snapshot) renderDetail(g *servedGroup, page *pageInfo) []byte {
	parts := g.desc.Partitions
	desc, report := g.desc, g.report
	if page != nil {
		parts = parts[page.start : page.start+page.Limit]
		d := *g.desc
		d.Partitions = parts
		desc = &d
		report = lagReport{Status: g.report.Status, Partitions: make([]partStatus, 0, len(parts))}
	}
	out := groupDetail{Poll: s.poll, Description: desc, History: g.history, TopicHistory: g.topicHistory,
		Error: g.err, Topics: g.topics, Owned: g.owned, Page: page, Partitions: make([]partitionView, 0, len(parts)),
		Owners: map[string][]consumergroup.TopicPartition{}}
	for _, p := range parts {
		v := partitionView{PartitionDescription: p, Status: lageval.Unknown.String()}
		if ps, ok := g.report.find(p.Topic, p.Partition); ok {
			v.Status, v.Reason = ps.Status, ps.Reason
			if page != nil {
				report.Partitions = append(report.Partitions, ps)
			}
		}
		out.Partitions = append(out.Partitions, v)
		for _, m := range owners(g.desc, p) {
			out.Owners[m] = append(out.Owners[m], consumergroup.TopicPartition{Topic: p.Topic, Partition: p.Partition})
		}
	}
	out.LagStatus = report
	return marshal(out)
}

// parsePage reads a request's paging: ?offset=N&limit=N&topic=T; nil when
// it has none (the whole group).
func parsePage(r *http.Request, g *groupSnap) (*pageInfo, error) {
	q := r.URL.Query()
	if !q.Has("offset") && !q.Has("limit") && !q.Has("topic") {
		return nil, nil
	}
	p := &pageInfo{Limit: 100, Total: len(g.desc.Partitions)}
	first := 0
	if t := q.Get("topic"); t != "" {
		i := slices.IndexFunc(g.topics, func(ts topicSummary) bool { return ts.Topic == t })
		if i < 0 {
			return nil, fmt.Errorf("no topic %q in group %q", t, g.name)
		}
		p.Topic, first, p.Total = t, g.topics[i].First, g.topics[i].Partitions
	}
	for _, f := range []struct {
		name string
		v    *int
		max  int
	}{{"offset", &p.Offset, p.Total}, {"limit", &p.Limit, maxPageLimit}} {
		if !q.Has(f.name) {
			continue
		}
		n, err := strconv.Atoi(q.Get(f.name))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s must be a number, 0 or more", f.name)
		}
		*f.v = min(n, f.max)
	}
	p.Limit = min(p.Limit, p.Total-p.Offset)
	p.start = first + p.Offset
	return p, nil
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return append(b, '\n')
}
