// Package lageval judges a consumer group's progress the way Burrow does:
// without thresholds, from a sliding window of samples of each partition's
// committed offset and lag. The rules are documented in docs/LAG.md.
//
// It is pure: the caller samples (groupctl polls ZooKeeper and Kafka) and
// the package only evaluates; the newest sample's time stands for "now".
package lageval

import (
	"fmt"
	"time"
)

// Status is the evaluation of a partition or a group.
type Status int

// Statuses, from the best to the worst. A group's status is OK, WARN, ERR
// or UNKNOWN; STOP, STALL and REWIND are a partition's (they make its
// group ERR).
const (
	Unknown Status = iota // no lag known, or too few samples to judge a lag
	OK                    // the consumer keeps up, or catches up
	Warn                  // the offsets advance but the lag never shrinks: too slow
	Err                   // a group with a partition stopped, stalled or rewound
	Stop                  // the consumer stopped committing while behind
	Stall                 // the committed offset does not move while behind
	Rewind                // the committed offset went back
)

var names = [...]string{"UNKNOWN", "OK", "WARN", "ERR", "STOP", "STALL", "REWIND"}

// String returns the status' name, as Burrow spells it: "OK", "STALL"...
func (s Status) String() string {
	if s >= 0 && int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText writes the name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Severity orders statuses for alerting: UNKNOWN and OK 0, WARN 1, ERR and
// the partition errors 2.
func (s Status) Severity() int {
	switch s {
	case Warn:
		return 1
	case Err, Stop, Stall, Rewind:
		return 2
	}
	return 0
}

// Sample is one observation of a partition.
type Sample struct {
	At       time.Time // when it was taken
	Offset   int64     // the committed offset: the next one to consume
	Lag      int64     // log end minus Offset; negative when unknown
	CommitAt time.Time // when Offset was last written; zero when unknown
}

// MinSamples is how many samples with a known lag the window must hold
// before a lagging partition is judged (fewer: UNKNOWN).
const MinSamples = 3

// DefaultSize is the number of samples in the default window.
const DefaultSize = 10

// Result is the evaluation of one partition.
type Result struct {
	Status   Status
	Lag      int64   // the newest sample's lag, -1 when unknown
	Complete float64 // how full the window is, 0..1
	Reason   string  // the rule that decided, in words
}

// Evaluate judges a partition from its samples, oldest first; only the
// last size are used (size <= 0 means DefaultSize). Samples with an
// unknown lag are skipped, but if the newest one's lag is unknown so is
// the status.
func Evaluate(samples []Sample, size int) Result {
	if size <= 0 {
		size = DefaultSize
	}
	if len(samples) == 0 {
		return Result{Status: Unknown, Lag: -1, Reason: "no sample"}
	}
	if newest := samples[len(samples)-1]; newest.Lag < 0 {
		return Result{Status: Unknown, Lag: -1, Reason: "lag unknown"}
	}
	var w []Sample
	for i := len(samples) - 1; i >= 0 && len(w) < size; i-- {
		if samples[i].Lag >= 0 {
			w = append(w, samples[i])
		}
	}
	for i, j := 0, len(w)-1; i < j; i, j = i+1, j-1 {
		w[i], w[j] = w[j], w[i]
	}
	newest := w[len(w)-1]
	r := Result{Lag: newest.Lag, Complete: float64(len(w)) / float64(size)}
	judge := func(s Status, reason string) Result {
		r.Status, r.Reason = s, reason
		return r
	}

	// Rule 1: a lag of zero anywhere in the window is OK: the consumer
	// caught up during it (an idle group at the log end is OK).
	for _, s := range w {
		if s.Lag == 0 {
			return judge(OK, "the lag was zero in the window")
		}
	}
	if len(w) < MinSamples {
		return judge(Unknown, fmt.Sprintf("behind, %d of the %d samples needed to judge", len(w), MinSamples))
	}
	// Rule 2: the committed offset went back.
	for i := 1; i < len(w); i++ {
		if w[i].Offset < w[i-1].Offset {
			return judge(Rewind, fmt.Sprintf("the committed offset went back from %d to %d", w[i-1].Offset, w[i].Offset))
		}
	}
	// Rule 3: the consumer stopped committing.
	if stopped, why := stoppedCommitting(w, len(w) == size); stopped {
		return judge(Stop, why)
	}
	// Rule 4: the committed offset does not move.
	if w[0].Offset == newest.Offset {
		return judge(Stall, fmt.Sprintf("the committed offset stayed at %d with a lag during the window", newest.Offset))
	}
	// Rule 5: the offsets move but the lag never shrinks.
	shrank := false
	for i := 1; i < len(w); i++ {
		if w[i].Lag < w[i-1].Lag {
			shrank = true
			break
		}
	}
	if !shrank {
		return judge(Warn, "the lag never shrank during the window")
	}
	return judge(OK, "the consumer progresses")
}

// stoppedCommitting applies rule 3 to a window with commit times. With at
// least two commits in the window, as Burrow: the time since the last
// commit exceeds the time between the window's first and last commits.
// With one commit only (nothing committed while sampled): once the window
// is full.
func stoppedCommitting(w []Sample, full bool) (bool, string) {
	first, last := w[0].CommitAt, w[len(w)-1].CommitAt
	if first.IsZero() || last.IsZero() {
		return false, ""
	}
	now := w[len(w)-1].At
	if last.Equal(first) {
		if full {
			return true, fmt.Sprintf("no commit during the window; the last one %v before the newest sample", now.Sub(last).Round(time.Millisecond))
		}
		return false, ""
	}
	if since, between := now.Sub(last), last.Sub(first); since > between {
		return true, fmt.Sprintf("no commit for %v, longer than the %v the window's commits spanned", since.Round(time.Millisecond), between.Round(time.Millisecond))
	}
	return false, ""
}

// GroupStatus is a group's status from its partitions': ERR if one is
// STOP, STALL, REWIND or ERR; else WARN if one is WARN; else UNKNOWN if one
// is UNKNOWN (or there is none); else OK.
func GroupStatus(partitions []Status) Status {
	out := OK
	if len(partitions) == 0 {
		out = Unknown
	}
	for _, s := range partitions {
		switch {
		case s.Severity() == 2:
			return Err
		case s == Warn:
			out = Warn
		case s == Unknown && out == OK:
			out = Unknown
		}
	}
	return out
}
