package consumergroup_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	cg "github.com/consumergroup/consumergroup"
)

// lossRecorder notes, at the moment a member reports its session lost
// (cg.Metrics.SessionLost: its ZooKeeper session, or Kafka's coordinator
// silent for two thirds of the session timeout or fencing it), the crash
// window that loss may deliver again: per partition, from the group's
// committed offset to the last message the member had processed, plus the
// one in its hands. On a loaded machine a member of a chaos scenario that
// was not meant to crash can lose its session too (a stall of the
// coordinator or of the member); its redeliveries are then a crash's, bounded
// by what it had not committed, and must not be counted as a graceful
// change's duplicates.
type lossRecorder struct {
	l       *ledger
	fetch   func(context.Context) (map[string]map[int32]int64, error)
	mu      sync.Mutex
	windows map[string][]lossWindow // member to its losses
}

// lossWindow is one loss: committed and processed offsets per partition.
type lossWindow struct {
	committed map[cg.TopicPartition]int64
	processed map[cg.TopicPartition]int64
}

// newLossRecorder reads committed offsets of group from the coordinator of
// c, through a client of its own made here (on the test's goroutine).
func newLossRecorder(t *testing.T, c *cluster, group string, l *ledger) *lossRecorder {
	t.Helper()
	r := &lossRecorder{l: l, windows: map[string][]lossWindow{}}
	if c.kafkaCoord() {
		adm := c.admin()
		r.fetch = func(ctx context.Context) (map[string]map[int32]int64, error) {
			resp, err := adm.FetchOffsets(ctx, group)
			if err != nil {
				return nil, err
			}
			out := map[string]map[int32]int64{}
			resp.Each(func(o kadm.OffsetResponse) {
				if o.Err == nil && o.At >= 0 {
					if out[o.Topic] == nil {
						out[o.Topic] = map[int32]int64{}
					}
					out[o.Topic][o.Partition] = o.At
				}
			})
			return out, nil
		}
	} else {
		z := dialZK(t, c.chroot, func(cfg *cg.ZKConfig) { cfg.Servers = c.servers })
		r.fetch = func(ctx context.Context) (map[string]map[int32]int64, error) { return z.Offsets(ctx, group) }
	}
	return r
}

// metrics returns the Metrics of member name: it records its losses.
func (r *lossRecorder) metrics(name string) cg.Metrics { return lossMetrics{r: r, name: name} }

type lossMetrics struct {
	cg.NopMetrics
	r    *lossRecorder
	name string
}

// SessionLost runs on the member's goroutine as the loss is reported,
// before the member can deliver anything again; it reads the committed
// offsets then (an upper bound of the member's last commits: a new owner
// commits only what it processed from them).
func (m lossMetrics) SessionLost(cg.SessionLossEvent) {
	r := m.r
	r.l.mu.Lock()
	processed := map[cg.TopicPartition]int64{}
	for tp, off := range r.l.perMember[m.name] {
		processed[tp] = off
	}
	r.l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all, err := r.fetch(ctx)
	if err != nil {
		return // no window: its redeliveries count as duplicates
	}
	committed := map[cg.TopicPartition]int64{}
	for t, ps := range all {
		for p, off := range ps {
			committed[cg.TopicPartition{Topic: t, Partition: p}] = off
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.windows[m.name] = append(r.windows[m.name], lossWindow{committed: committed, processed: processed})
}

// covers reports whether message seq, processed n times, is a redelivery
// of a loss: processed twice, first by a member that then lost its
// session, at an offset that member had processed (or had in hand) and not
// committed. l.mu is held.
func (r *lossRecorder) covers(seq, n int) bool {
	if n != 2 {
		return false
	}
	first := r.l.by[seq][0]
	loc := r.l.where[seq]
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.windows[first] {
		committed := w.committed[loc.tp] // none: from the log's start
		last, ok := w.processed[loc.tp]
		if !ok {
			last = committed // only the message in hand
		}
		if loc.off >= committed && loc.off <= last+1 {
			return true
		}
	}
	return false
}

// String names the members that lost their sessions, and how often.
func (r *lossRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, ws := range r.windows {
		out = append(out, fmt.Sprintf("%s×%d", name, len(ws)))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
