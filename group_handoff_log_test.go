package consumergroup_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// logRecorder is a slog.Handler that keeps every record, for tests that
// read what the group logged.
type logRecorder struct {
	mu      sync.Mutex
	records []string // "LEVEL msg key=value ..."
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, b.String())
	return nil
}

func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// find returns the first record that starts with level and msg and
// contains every one of attrs.
func (r *logRecorder) find(level slog.Level, msg string, attrs ...string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if !strings.HasPrefix(rec, level.String()+" "+msg) {
			continue
		}
		ok := true
		for _, a := range attrs {
			ok = ok && strings.Contains(rec, a)
		}
		if ok {
			return rec, true
		}
	}
	return "", false
}

// TestHandoffWaitsLogged: a hand-off says what it waits for. a holds
// partition 1's message until b waits for it, and 1.2 s more (then
// marks it done) while b joins and gets partition 1 (range:
// the first member gets partition 0): a logs at debug that the hand-off
// waits for the message in hand, and at info (a wait over a second) that
// it was processed, with the partition and the wait; b logs at info that
// it waited for the previous owner's release of partition 1, and the read
// of the committed offset.
func TestHandoffWaitsLogged(t *testing.T) {
	const topic = "t"
	c := startCluster(t, map[string]int32{topic: 2})
	c.mode = modeDone      // the message counts as processed when the work ends
	c.produce(topic, 2, 2) // 0@0, 1@0
	logA, logB := &logRecorder{}, &logRecorder{}
	holding := make(chan struct{})
	var once sync.Once
	handle := func(m *testMember, ev *cg.ConsumerEvent) {
		if m.name == "a" && ev.Partition == 1 {
			once.Do(func() {
				close(holding)
				// The slow work the hand-off waits for: until b waits
				// for the release, and 1.2 s more.
				for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); {
					if _, ok := logB.find(slog.LevelDebug, "hand-off waits for the previous owner's release"); ok {
						break
					}
					time.Sleep(10 * time.Millisecond) // polling b's log
				}
				time.Sleep(1200 * time.Millisecond)
			})
		}
	}
	cfgA, cfgB := groupConfig(), groupConfig()
	cfgA.HandoffTimeout, cfgB.HandoffTimeout = 5*time.Second, 5*time.Second
	cfgA.Logger, cfgB.Logger = slog.New(logA), slog.New(logB)
	a := c.join("a", "g", []string{topic}, cfgA, false, handle)
	waitClosed(t, holding, "a holding partition 1's message")
	b := c.join("b", "g", []string{topic}, cfgB, false, handle)
	ok := waitNotification(t, b, cg.REBALANCE_OK, "b's first rebalance")
	if len(ok.Claimed) != 1 || ok.Claimed[0].Partition != 1 {
		t.Fatalf("b claimed %v, want partition 1", ok.Claimed)
	}
	a.close(t)
	b.close(t)
	p1 := "partition={" + topic + " 1}"
	for _, want := range []struct {
		log   *logRecorder
		who   string
		level slog.Level
		msg   string
		attrs []string
	}{
		{logA, "a", slog.LevelDebug, "hand-off waits for the message in hand", []string{p1, "offset=0"}},
		{logA, "a", slog.LevelInfo, "hand-off: the message in hand was processed", []string{p1, "waited="}},
		{logA, "a", slog.LevelDebug, "hand-off: committed and released", []string{"waited="}},
		{logB, "b", slog.LevelDebug, "hand-off waits for the previous owner's release", []string{p1}},
		{logB, "b", slog.LevelInfo, "hand-off: the previous owner released", []string{p1, "waited="}},
		{logB, "b", slog.LevelDebug, "hand-off: read the committed offsets", []string{"waited="}},
	} {
		rec, found := want.log.find(want.level, want.msg, want.attrs...)
		if !found {
			want.log.mu.Lock()
			t.Errorf("%s did not log %s %q with %v; it logged:\n%s", want.who, want.level, want.msg, want.attrs, strings.Join(want.log.records, "\n"))
			want.log.mu.Unlock()
			continue
		}
		t.Logf("%s: %s", want.who, rec)
	}
}
