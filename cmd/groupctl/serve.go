package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// The web view's page, script and style, in the binary.
//
//go:embed web
var webFiles embed.FS

// serveOpts are serve's own flags.
type serveOpts struct {
	listen   string
	interval time.Duration
	window   int
	history  time.Duration
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs, c := newFlags(e, "serve", "")
	bootstrapFlag(fs, c)
	var o serveOpts
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the HTTP server")
	fs.DurationVar(&o.interval, "interval", 5*time.Second, "how often ZooKeeper and Kafka are polled")
	fs.IntVar(&o.window, "window", lageval.DefaultSize, "samples the lag evaluation looks at (docs/LAG.md)")
	fs.DurationVar(&o.history, "history", time.Hour, "how much lag history the charts keep")
	pos, err := parse(fs, c, args)
	if err != nil {
		return err
	}
	bad := func(msg string) error { return usageError{msg: msg, usage: usageText(fs)} }
	switch {
	case len(pos) != 0:
		return bad("serve takes no argument")
	case o.interval <= 0 || o.history <= 0:
		return bad("--interval and --history must be positive")
	case o.window < lageval.MinSamples:
		return bad(fmt.Sprintf("--window must be at least %d samples", lageval.MinSamples))
	}
	dctx, cancel := c.withTimeout(ctx)
	var s *server
	if c.onKafka() {
		cl, _, err := c.bootstrapClient(dctx)
		cancel()
		if err != nil {
			return err
		}
		defer cl.Close()
		s = newServer(c, nil, o)
		s.kafkaGroups = cl
	} else {
		z, err := c.dial(dctx)
		cancel()
		if err != nil {
			return err
		}
		defer z.Close()
		s = newServer(c, z, o)
	}
	url, wait, err := s.start(ctx, o.listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "groupctl serve: %s (polling every %v; Ctrl-C to stop)\n", url, o.interval)
	return wait()
}

// server is groupctl serve: a poller that samples every group, and the
// HTTP handlers that show what it saw.
type server struct {
	c *common
	z *zookeeper.Client
	o serveOpts

	mu         sync.Mutex // guards the fields below
	groups     map[string]*groupState
	polledAt   time.Time
	pollErr    string
	polls      int64
	pollErrors int64
	kcl        *kgo.Client // nil until Kafka's brokers are known
	admin      *kadm.Client

	// kafkaGroups, when set (--bootstrap-server), is the client of the
	// Kafka cluster whose coordinator's groups are served instead of
	// ZooKeeper's (z is nil then).
	kafkaGroups *kgo.Client
}

// groupState is what the poller knows of a group.
type groupState struct {
	desc    *consumergroup.GroupDescription
	report  lagReport
	tracker *lagTracker
	err     string // what went wrong at the last poll, "" if nothing
	at      time.Time
}

func newServer(c *common, z *zookeeper.Client, o serveOpts) *server {
	return &server{c: c, z: z, o: o, groups: make(map[string]*groupState)}
}

// start listens on addr, polls and serves until ctx ends. It returns the
// page's URL and a function that waits for the end (and the server's
// error).
func (s *server) start(ctx context.Context, addr string) (string, func() error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, usageError{msg: fmt.Sprintf("--listen %s: %v", addr, err)}
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.pollLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	wait := func() error {
		var err error
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		wg.Wait()
		s.mu.Lock()
		if s.kcl != nil {
			s.kcl.Close()
			s.kcl = nil
		}
		s.mu.Unlock()
		return err
	}
	return "http://" + ln.Addr().String() + "/", wait, nil
}

// pollLoop polls at once, then every interval, until ctx ends.
func (s *server) pollLoop(ctx context.Context) {
	t := time.NewTicker(s.o.interval)
	defer t.Stop()
	for {
		s.poll(ctx)
		select {
		case <-ctx.Done():
			// A client left by a poll that ctx cut short is closed by
			// start's wait.
			return
		case <-t.C:
		}
	}
}

// kafkaAdmin returns the admin client, creating it once the brokers are
// known; nil when they are not (describe then goes without log ends).
func (s *server) kafkaAdmin(ctx context.Context) *kadm.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.admin == nil {
		cl, admin, err := s.c.kafka(ctx, s.z)
		if err != nil {
			return nil
		}
		s.kcl, s.admin = cl, admin
	}
	return s.admin
}

// poll samples every group once.
func (s *server) poll(ctx context.Context) {
	pctx, cancel := s.c.withTimeout(ctx)
	defer cancel()
	now := time.Now()
	if s.kafkaGroups != nil {
		s.pollKafka(pctx, now)
		return
	}
	names, err := s.z.Groups(pctx)
	if err != nil {
		s.pollFailed(err, now)
		return
	}
	admin := s.kafkaAdmin(pctx)
	results := make(map[string]pollResult, len(names))
	for _, g := range names {
		d, err := consumergroup.DescribeGroup(pctx, s.z, admin, g)
		if errors.Is(err, consumergroup.ErrUnknownGroup) {
			continue // deleted meanwhile
		}
		if err == nil && admin == nil {
			err = errors.New("Kafka's brokers are unknown: no log end offsets")
		}
		times, terr := s.z.OffsetCommitTimes(pctx, g)
		results[g] = pollResult{d, times, errors.Join(err, terr)}
	}
	s.record(results, now)
}

// pollFailed records a poll that could not list the groups.
func (s *server) pollFailed(err error, now time.Time) {
	s.mu.Lock()
	s.polls++
	s.pollErrors++
	s.pollErr = err.Error()
	s.polledAt = now
	s.mu.Unlock()
}

// pollResult is one group at one poll.
type pollResult struct {
	desc  *consumergroup.GroupDescription
	times map[consumergroup.TopicPartition]time.Time
	err   error
}

// record keeps a poll's results.
func (s *server) record(results map[string]pollResult, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	s.polledAt = now
	s.pollErr = ""
	for g := range s.groups {
		if _, ok := results[g]; !ok {
			delete(s.groups, g)
		}
	}
	for g, r := range results {
		st := s.groups[g]
		if st == nil {
			st = &groupState{tracker: newLagTracker(s.o.window, s.o.history)}
			s.groups[g] = st
		}
		st.err, st.at = "", now
		if r.err != nil {
			st.err = r.err.Error()
			s.pollErrors++
		}
		if r.desc != nil {
			st.desc = r.desc
			st.report = st.tracker.observe(r.desc, r.times, now)
		}
	}
}

// handler routes the page, its assets, the JSON API and /metrics.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	web, _ := fs.Sub(webFiles, "web")
	files := http.FileServerFS(web)
	mux.Handle("GET /", files)
	mux.HandleFunc("GET /api/groups", s.apiGroups)
	mux.HandleFunc("GET /api/groups/{name}", s.apiGroup)
	mux.HandleFunc("GET /metrics", s.metrics)
	return mux
}

// groupSummary is one group in /api/groups.
type groupSummary struct {
	Group      string `json:"group"`
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

func (s *server) pollInfoLocked() pollInfo {
	return pollInfo{Time: s.polledAt, IntervalMS: s.o.interval.Milliseconds(), Polls: s.polls, Error: s.pollErr}
}

func (s *server) apiGroups(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := struct {
		Poll   pollInfo       `json:"poll"`
		Groups []groupSummary `json:"groups"`
	}{Poll: s.pollInfoLocked(), Groups: []groupSummary{}}
	for _, name := range s.sortedLocked() {
		st := s.groups[name]
		g := groupSummary{Group: name, Status: lageval.Unknown.String(), Error: st.err}
		if st.desc != nil {
			g.State, g.Members, g.Partitions, g.TotalLag = st.desc.State, len(st.desc.Members), len(st.desc.Partitions), st.desc.TotalLag
			g.Status = st.report.Status
		}
		out.Groups = append(out.Groups, g)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// groupDetail is /api/groups/{name}.
type groupDetail struct {
	Poll        pollInfo                                  `json:"poll"`
	Description *consumergroup.GroupDescription           `json:"description"`
	LagStatus   lagReport                                 `json:"lag_status"`
	History     []partHistory                             `json:"history"`
	Error       string                                    `json:"error,omitempty"`
	Partitions  []partitionView                           `json:"partitions"`
	Owners      map[string][]consumergroup.TopicPartition `json:"owners"`
}

// partitionView is a partition with its status, for the page's table.
type partitionView struct {
	consumergroup.PartitionDescription
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func (s *server) apiGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	st := s.groups[name]
	if st == nil || st.desc == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no group %q (yet): groups are read every %v", name, s.o.interval)})
		return
	}
	out := groupDetail{Poll: s.pollInfoLocked(), Description: st.desc, LagStatus: st.report, History: st.tracker.history(),
		Error: st.err, Partitions: []partitionView{}, Owners: map[string][]consumergroup.TopicPartition{}}
	for _, p := range st.desc.Partitions {
		v := partitionView{PartitionDescription: p, Status: lageval.Unknown.String()}
		for _, ps := range st.report.Partitions {
			if ps.Topic == p.Topic && ps.Partition == p.Partition {
				v.Status, v.Reason = ps.Status, ps.Reason
			}
		}
		out.Partitions = append(out.Partitions, v)
		if p.Owner != "" {
			out.Owners[p.Owner] = append(out.Owners[p.Owner], consumergroup.TopicPartition{Topic: p.Topic, Partition: p.Partition})
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *server) sortedLocked() []string {
	names := make([]string, 0, len(s.groups))
	for n := range s.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
