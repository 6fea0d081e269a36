package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/lageval"
)

// lagRow is one partition of one sample of lag. Unknown values are null;
// the rates are those since the previous sample (--watch), null at first.
type lagRow struct {
	Time      string   `json:"time"`
	Group     string   `json:"group"`
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Committed int64    `json:"committed"`
	LogEnd    *int64   `json:"log_end"`
	Lag       *int64   `json:"lag"`
	Consumed  *float64 `json:"consumed_per_sec"`
	Produced  *float64 `json:"produced_per_sec"`
	Status    string   `json:"status"`

	text string // Status for a table
}

// lagSample is one group at one time: one line of lag's JSON (NDJSON).
type lagSample struct {
	Group  string   `json:"group"`
	Time   string   `json:"time"`
	Total  *int64   `json:"total_lag"`
	Status string   `json:"status"`
	Needs  int      `json:"needs_samples,omitempty"`
	Error  string   `json:"error,omitempty"`
	Lag    []lagRow `json:"partitions"`
}

// lagPoint is what a rate is computed from.
type lagPoint struct {
	at        time.Time
	committed int64
	logEnd    int64
}

// lagKey names a partition of a group.
type lagKey struct {
	group string
	tp    consumergroup.TopicPartition
}

// runLag is lag: it reads the flags, connects, and prints a sample of the
// groups' lag; with --watch, one every --interval until interrupted,
// waiting out the losses of ZooKeeper (or Kafka).
func runLag(ctx context.Context, e *env, args []string) error {
	w, err := parseLag(e, args)
	if err != nil {
		return err
	}
	dctx, cancel := w.c.withTimeout(ctx)
	w.src, err = w.c.openSource(dctx)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		if w.src != nil {
			w.src.close()
		}
	}()
	for {
		if done, err := w.sample(ctx); done {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.every):
		}
	}
}

// lagWatch is one run of lag: its flags, and what it keeps from one sample
// to the next.
type lagWatch struct {
	e     *env
	c     *common
	pos   []string // the GROUP argument
	all   bool     // --all-groups
	watch bool
	every time.Duration // --interval
	where string        // the source, for messages

	src      groupSource            // nil: lost, to connect again
	prev     map[lagKey]lagPoint    // the previous sample's, for the rates
	trackers map[string]*lagTracker // per group: --watch evaluates a window (lagstatus.go)
	lost     bool                   // ZooKeeper (or Kafka) was lost: said so, not yet said it is back
	first    bool                   // no sample printed yet
}

// parseLag reads lag's flags and argument.
func parseLag(e *env, args []string) (*lagWatch, error) {
	fs, c := newFlags(e, "lag", "GROUP | --all-groups")
	bootstrapFlag(fs, c)
	watch := fs.Bool("watch", false, "refresh until interrupted; ZooKeeper or Kafka outages are reported and waited out")
	every := fs.Duration("interval", 2*time.Second, "refresh interval with --watch")
	all := fs.Bool("all-groups", false, "every group")
	pos, err := parse(fs, c, args)
	if err != nil {
		return nil, err
	}
	if err := checkGroupOrAll(fs, pos, *all); err != nil {
		return nil, err
	}
	if *every <= 0 {
		return nil, usageError{msg: "--interval must be positive", usage: usageText(fs)}
	}
	return &lagWatch{e: e, c: c, pos: pos, all: *all, watch: *watch, every: *every, where: c.sourceWhere(),
		prev: map[lagKey]lagPoint{}, trackers: map[string]*lagTracker{}, first: true}, nil
}

// sample reads and prints one sample of the groups' lag. It reports the
// source lost and back; done is whether lag ends, with err.
func (w *lagWatch) sample(ctx context.Context) (done bool, err error) {
	samples, errs, err := w.read(ctx)
	switch {
	case err == nil:
		if w.lost {
			fmt.Fprintf(w.e.stderr, "groupctl lag: %s %s is back\n", now(), w.where)
			w.lost = false
		}
	case ctx.Err() != nil:
		return true, nil // interrupted
	case errors.Is(err, consumergroup.ErrUnknownGroup), errors.As(err, new(usageError)):
		return true, err
	case !w.watch:
		if errors.Is(err, errUnreachable) {
			return true, err
		}
		return true, fmt.Errorf("%w: %s: %v", errUnreachable, w.where, err)
	default:
		if !w.lost {
			fmt.Fprintf(w.e.stderr, "groupctl lag: %s %s lost (%v): still watching, every %v\n", now(), w.where, err, w.every)
			w.lost = true
		}
		if w.src != nil {
			w.src.close()
			w.src = nil
		}
	}
	if err == nil {
		if !w.first && w.c.output == "table" {
			fmt.Fprintln(w.e.stdout)
		}
		w.first = false
		if err := printLag(w.e, w.c, samples); err != nil {
			return true, err
		}
		if !w.watch && len(errs) > 0 {
			return true, errors.Join(dedupe(errs)...)
		}
	}
	return !w.watch, nil
}

// read connects again if the source was lost, and reads the groups' lags
// (lagSamples).
func (w *lagWatch) read(ctx context.Context) ([]lagSample, []error, error) {
	if w.src == nil {
		dctx, cancel := w.c.withTimeout(ctx)
		src, err := w.c.openSource(dctx)
		cancel()
		if err != nil {
			return nil, nil, err
		}
		w.src = src
	}
	rctx, cancel := w.c.withTimeout(ctx)
	defer cancel()
	return lagSamples(rctx, w.src, w.pos, w.all, w.prev, w.trackers)
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// lagSamples reads the groups' lags; errs are the log ends' (lags
// unknown), err the source's (ZooKeeper, or Kafka's coordinator).
func lagSamples(ctx context.Context, src groupSource, pos []string, all bool, prev map[lagKey]lagPoint,
	trackers map[string]*lagTracker) ([]lagSample, []error, error) {
	groups := pos
	if all {
		var err error
		if groups, err = src.groups(ctx); err != nil {
			return nil, nil, err
		}
	}
	var out []lagSample
	var errs []error
	for _, g := range groups {
		d, err := src.describe(ctx, g)
		if d.GroupDescription == nil {
			return nil, nil, err
		}
		at := time.Now()
		tr := trackers[g]
		if tr == nil {
			tr = newLagTracker(lageval.DefaultSize, 0)
			trackers[g] = tr
		}
		times := d.CommitTimes // read with the offsets (ZooKeeper)
		if times == nil {
			times = src.commitTimes(ctx, g)
		}
		st := tr.observe(d.GroupDescription, times, at)
		s := lagSample{Group: g, Time: at.UTC().Format(time.RFC3339), Total: known(d.TotalLag), Status: st.Status, Needs: st.Needs, Lag: []lagRow{}}
		if d.kafkaErr != nil {
			s.Error = d.kafkaErr.Error()
			errs = append(errs, d.kafkaErr)
		}
		for _, p := range d.Partitions {
			r := lagRow{Time: s.Time, Group: g, Topic: p.Topic, Partition: p.Partition, Committed: p.Committed, LogEnd: known(p.LogEnd), Lag: known(p.Lag),
				Status: st.of(p.Topic, p.Partition), text: st.partText(p.Topic, p.Partition)}
			k := lagKey{g, consumergroup.TopicPartition{Topic: p.Topic, Partition: p.Partition}}
			if q, ok := prev[k]; ok {
				secs := at.Sub(q.at).Seconds()
				if secs > 0 && q.committed >= 0 && p.Committed >= 0 {
					v := float64(p.Committed-q.committed) / secs
					r.Consumed = &v
				}
				if secs > 0 && q.logEnd >= 0 && p.LogEnd >= 0 {
					v := float64(p.LogEnd-q.logEnd) / secs
					r.Produced = &v
				}
			}
			prev[k] = lagPoint{at, p.Committed, p.LogEnd}
			s.Lag = append(s.Lag, r)
		}
		out = append(out, s)
	}
	return out, errs, nil
}

// printLag prints one sample of every group: a table, or one compact JSON
// object a line per group.
func printLag(e *env, c *common, samples []lagSample) error {
	if c.output == "json" {
		for _, s := range samples {
			b, err := json.Marshal(s)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(e.stdout, "%s\n", b); err != nil {
				return err
			}
		}
		return nil
	}
	return newPrinter(e, c).print(nil, func(t *tableWriter) {
		t.row("TIME", "GROUP", "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "CONSUMED/S", "PRODUCED/S", "STATUS")
		for _, s := range samples {
			for _, r := range s.Lag {
				t.row(r.Time, r.Group, r.Topic, r.Partition, num(r.Committed), ptrText(r.LogEnd), ptrText(r.Lag), rate(r.Consumed), rate(r.Produced), r.text)
			}
		}
		for _, s := range samples {
			total := "unknown"
			if s.Total != nil {
				total = strconv.FormatInt(*s.Total, 10)
			}
			if len(samples) == 1 {
				t.line("TOTAL LAG %s  STATUS %s", total, lagReport{Status: s.Status, Needs: s.Needs}.text())
			} else {
				t.line("TOTAL LAG %s %s  STATUS %s", s.Group, total, lagReport{Status: s.Status, Needs: s.Needs}.text())
			}
		}
	})
}

func ptrText(n *int64) string {
	if n == nil {
		return "unknown"
	}
	return strconv.FormatInt(*n, 10)
}

func rate(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 1, 64)
}
