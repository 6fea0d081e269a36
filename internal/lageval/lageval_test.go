package lageval

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// series builds samples one second apart from offsets and lags; commits[i]
// is the second of sample i's commit time (-1: unknown).
func series(offsets, lags, commits []int64) []Sample {
	out := make([]Sample, len(offsets))
	for i := range offsets {
		out[i] = Sample{At: t0.Add(time.Duration(i) * time.Second), Offset: offsets[i], Lag: lags[i]}
		if commits != nil && commits[i] >= 0 {
			out[i].CommitAt = t0.Add(time.Duration(commits[i]) * time.Second)
		}
	}
	return out
}

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples []Sample
		size    int
		want    Status
	}{
		{"no sample", nil, 5, Unknown},
		{"newest lag unknown", series([]int64{1, 2}, []int64{0, -1}, nil), 5, Unknown},
		{"idle at the log end", series([]int64{7}, []int64{0}, []int64{-1}), 5, OK},
		{"idle at the log end, full window", series([]int64{7, 7, 7, 7, 7}, []int64{0, 0, 0, 0, 0}, []int64{0, 0, 0, 0, 0}), 5, OK},
		{"one sample behind", series([]int64{7}, []int64{3}, nil), 5, Unknown},
		{"two samples behind", series([]int64{7, 8}, []int64{3, 3}, nil), 5, Unknown},
		{"lag zero once in the window", series([]int64{1, 5, 9, 9}, []int64{4, 0, 2, 6}, nil), 5, OK},
		{"lag zero fell out of the window", series([]int64{1, 5, 9, 9, 9}, []int64{0, 4, 2, 6, 8}, nil), 3, Stall},
		{"rewind", series([]int64{10, 20, 15, 30}, []int64{5, 5, 5, 1}, nil), 5, Rewind},
		{"rewind beats stop", series([]int64{10, 5, 5, 5, 5}, []int64{5, 5, 5, 5, 5}, []int64{0, 1, 1, 1, 1}), 5, Rewind},
		{"stop: no commit in a full window", series([]int64{9, 9, 9, 9, 9}, []int64{1, 2, 3, 4, 5}, []int64{0, 0, 0, 0, 0}), 5, Stop},
		{"stall, not yet stop: no commit for three samples of a window of 10 while messages arrive",
			series([]int64{1, 2, 3, 3, 3, 3}, []int64{4, 4, 4, 5, 6, 7}, []int64{0, 1, 2, 2, 2, 2}), 10, Stall},
		{"not stopped: commits keep coming", series([]int64{1, 2, 3, 4, 5}, []int64{9, 8, 7, 6, 5}, []int64{0, 1, 2, 3, 4}), 5, OK},
		{"stall before the window is full", series([]int64{9, 9, 9}, []int64{1, 2, 3}, []int64{0, 0, 0}), 5, Stall},
		{"stall: the same offset committed again", series([]int64{9, 9, 9, 9}, []int64{1, 1, 2, 2}, []int64{0, 1, 2, 3}), 5, Stall},
		{"stall without commit times", series([]int64{9, 9, 9, 9, 9}, []int64{1, 1, 2, 2, 3}, nil), 5, Stall},
		{"warn: advancing, lag never shrinks", series([]int64{1, 2, 3, 4}, []int64{5, 5, 6, 7}, []int64{0, 1, 2, 3}), 4, Warn},
		{"no warn before the window is full", series([]int64{1, 2, 3, 4}, []int64{5, 5, 6, 7}, []int64{0, 1, 2, 3}), 5, OK},
		{"idle: a message in hand (Stream), full window", series([]int64{9, 9, 9, 9, 9}, []int64{1, 1, 1, 1, 1}, []int64{0, 0, 0, 0, 0}), 5, OK},
		{"idle: a backlog nobody adds to", series([]int64{9, 9, 9, 9, 9}, []int64{50, 50, 50, 50, 50}, nil), 5, OK},
		{"messages just arrived after an idle time", series([]int64{9, 9, 9, 9, 9}, []int64{1, 1, 1, 1, 2}, []int64{0, 0, 0, 0, 0}), 5, OK},
		{"messages waited for three samples after an idle time", series([]int64{9, 9, 9, 9, 9}, []int64{1, 1, 1, 2, 3}, []int64{0, 0, 0, 0, 0}), 5, Stall},
		{"the idle message committed when the next arrives", series([]int64{9, 9, 9, 10, 11}, []int64{1, 1, 1, 1, 1}, []int64{0, 0, 0, 3, 4}), 5, OK},
		{"ok: advancing, lag shrinks once", series([]int64{1, 2, 3, 4}, []int64{5, 6, 4, 7}, []int64{0, 1, 2, 3}), 5, OK},
		{"unknown lags skipped", series([]int64{1, 1, 2, 3, 4}, []int64{5, -1, 5, 6, 7}, nil), 4, Warn},
		{"window size defaults", series([]int64{9, 9, 9}, []int64{1, 2, 3}, nil), 0, Stall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Evaluate(tc.samples, tc.size)
			if r.Status != tc.want {
				t.Fatalf("status %v (%s), want %v", r.Status, r.Reason, tc.want)
			}
			if r.Reason == "" {
				t.Fatal("no reason")
			}
		})
	}
}

// TestEvaluateRebalance: a rebalance in progress is not judged, and a new
// owner's time starts when it got the partition.
func TestEvaluateRebalance(t *testing.T) {
	moving := series([]int64{9, 9, 9, 9, 9, 9}, []int64{1, 2, 3, 4, 5, 6}, nil)
	if r := Evaluate(moving, 10); r.Status != Stall {
		t.Fatalf("stuck, one owner: %v (%s)", r.Status, r.Reason)
	}
	rebalancing := append([]Sample(nil), moving...)
	rebalancing[5].Rebalancing = true
	if r := Evaluate(rebalancing, 10); r.Status != OK {
		t.Fatalf("rebalancing: %v (%s)", r.Status, r.Reason)
	}
	handed := append([]Sample(nil), moving...)
	for i := range handed {
		handed[i].Owner = "a"
		if i >= 4 {
			handed[i].Owner = "b"
		}
	}
	if r := Evaluate(handed, 10); r.Status != OK {
		t.Fatalf("a new owner for two samples: %v (%s)", r.Status, r.Reason)
	}
	handed = append(handed, Sample{At: t0.Add(6 * time.Second), Offset: 9, Lag: 7, Owner: "b"})
	if r := Evaluate(handed, 10); r.Status != Stall {
		t.Fatalf("a new owner stuck for three samples: %v (%s)", r.Status, r.Reason)
	}
	after := append([]Sample(nil), moving...)
	after[2].Rebalancing = true
	if r := Evaluate(after, 10); r.Status != Stall {
		t.Fatalf("three samples stuck after a rebalance: %v (%s)", r.Status, r.Reason)
	}
	after[3].Rebalancing = true
	if r := Evaluate(after, 10); r.Status != OK {
		t.Fatalf("two samples after a rebalance: %v (%s)", r.Status, r.Reason)
	}
}

// TestEvaluateFrozen: a consumer that freezes while messages keep coming
// is STALL at the MinSamples-th sample after its last commit, and STOP once
// a whole window passed without a commit.
func TestEvaluateFrozen(t *testing.T) {
	var s []Sample
	for i := range 20 {
		off, commit := int64(i), int64(i)
		if i >= 5 {
			off, commit = 5, 5 // frozen after sample 5
		}
		s = append(s, Sample{At: t0.Add(time.Duration(i) * time.Second), Offset: off, Lag: int64(i) + 3 - off, CommitAt: t0.Add(time.Duration(commit) * time.Second)})
		r := Evaluate(s, 10)
		want := OK
		switch {
		case i < MinSamples-1:
			want = Unknown
		case i >= 5+9:
			want = Stop
		case i >= 5+MinSamples-1:
			want = Stall
		}
		if r.Status != want {
			t.Fatalf("sample %d: %v (%s), want %v", i, r.Status, r.Reason, want)
		}
	}
}

func TestEvaluateResult(t *testing.T) {
	r := Evaluate(series([]int64{1, 2, 3, 4}, []int64{5, 5, 6, 7}, nil), 8)
	if r.Lag != 7 || r.Complete != 0.5 {
		t.Fatalf("lag %d complete %v, want 7 and 0.5", r.Lag, r.Complete)
	}
	if r := Evaluate(series([]int64{7}, []int64{3}, nil), 8); r.Status != Unknown || r.Needs != MinSamples {
		t.Fatalf("one sample: %v needs %d", r.Status, r.Needs)
	}
	if r := Evaluate(series([]int64{1}, []int64{-1}, nil), 8); r.Lag != -1 {
		t.Fatalf("unknown lag reported as %d", r.Lag)
	}
}

func TestGroupStatus(t *testing.T) {
	for _, tc := range []struct {
		in   []Status
		want Status
	}{
		{nil, Unknown},
		{[]Status{Unknown, Unknown}, Unknown},
		{[]Status{OK, Unknown}, Unknown},
		{[]Status{Unknown, Warn}, Warn},
		{[]Status{OK, OK}, OK},
		{[]Status{OK, Warn, Unknown}, Warn},
		{[]Status{Warn, Stall}, Err},
		{[]Status{Stop}, Err},
		{[]Status{OK, Rewind}, Err},
	} {
		if got := GroupStatus(tc.in); got != tc.want {
			t.Errorf("GroupStatus(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestStatusNames(t *testing.T) {
	want := []string{"UNKNOWN", "OK", "WARN", "ERR", "STOP", "STALL", "REWIND"}
	for i, w := range want {
		if got := Status(i).String(); got != w {
			t.Errorf("Status(%d) = %q, want %q", i, got, w)
		}
		if b, _ := Status(i).MarshalText(); string(b) != w {
			t.Errorf("MarshalText(%d) = %q", i, b)
		}
	}
	if got := Status(42).String(); got != "Status(42)" {
		t.Errorf("Status(42) = %q", got)
	}
}

// TestEvaluateFrozenAfterCatchingUp: a consumer that had caught up (lag 0)
// and then stopped while messages kept arriving is STALL once they waited
// MinSamples samples, although the window still holds the zero: before,
// rule 1 said OK until the zero left the window (a full window, 50 s at
// serve's defaults).
func TestEvaluateFrozenAfterCatchingUp(t *testing.T) {
	var s []Sample
	for i := range 12 {
		end := int64(i)
		off := min(end, 5) // caught up to 5, then frozen
		s = append(s, Sample{At: t0.Add(time.Duration(i) * time.Second), Offset: off, Lag: end - off, CommitAt: t0.Add(time.Duration(off) * time.Second)})
		r := Evaluate(s, 10)
		want := OK // caught up, or messages waited fewer than MinSamples samples
		if i >= 5+MinSamples-1 {
			want = Stall
		}
		if r.Status != want {
			t.Fatalf("sample %d: %v (%s), want %v", i, r.Status, r.Reason, want)
		}
	}
}
