// Package lageval judges a consumer group's progress as Burrow does,
// without thresholds, from a sliding window of samples of each partition's
// committed offset and lag, but so that a healthy group is never an error:
// an idle partition is OK, a rebalance is not judged, and a partition is
// stuck only when messages waited and its committed offset did not move.
// The rules, and where they differ from Burrow's, are in docs/LAG.md.
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
	Stop                  // no commit for a whole window while messages arrived
	Stall                 // the committed offset does not move while messages arrive
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
	// End is the log end offset; 0 means Offset+Lag (what it is when
	// both are known).
	End int64
	// Owner is the member that held the partition ("" when none or
	// unknown); Rebalancing is set while the group rebalanced. A stuck
	// partition is judged only from the samples since the last one taken
	// during a rebalance or under another owner: the new owner's time
	// starts when it got the partition.
	Owner       string
	Rebalancing bool
}

// end is the sample's log end offset.
func (s Sample) end() int64 {
	if s.End > 0 {
		return s.End
	}
	return s.Offset + s.Lag
}

// MinSamples is how many samples a partition with a lag needs before it
// is judged (fewer: UNKNOWN, "needs N samples"); a stuck partition is one
// whose committed offset stayed put for MinSamples samples while messages
// waited.
const MinSamples = 3

// DefaultSize is the number of samples in the default window.
const DefaultSize = 10

// Result is the evaluation of one partition.
type Result struct {
	Status   Status
	Lag      int64   // the newest sample's lag, -1 when unknown
	Complete float64 // how full the window is, 0..1
	Reason   string  // the rule that decided, in words
	// Needs is, when the status is UNKNOWN for too few samples, how many
	// the window must hold (MinSamples); 0 otherwise.
	Needs int
}

// Evaluate judges a partition from its samples, oldest first; only the
// last size are used (size <= 0 means DefaultSize). Samples with an
// unknown lag are skipped, but if the newest one's lag is unknown so is
// the status. The rules, in order, are docs/LAG.md's.
func Evaluate(samples []Sample, size int) Result {
	if size <= 0 {
		size = DefaultSize
	}
	if len(samples) == 0 {
		return Result{Status: Unknown, Lag: -1, Reason: "no sample", Needs: MinSamples}
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

	waited := waitedSamples(w)
	stuck := len(waited) >= MinSamples && waited[0].end() < newest.end()
	// Rule 1: a lag of zero anywhere in the window is OK: the consumer
	// caught up during it (an idle group at the log end is OK). But for a
	// consumer stuck since (rules 5 and 6): one that stopped after
	// catching up is stuck once messages waited MinSamples samples, whatever
	// the window held before.
	if !stuck {
		for _, s := range w {
			if s.Lag == 0 {
				return judge(OK, "the lag was zero in the window")
			}
		}
	}
	// Rule 2: a rebalance in progress is not an error.
	if newest.Rebalancing {
		return judge(OK, "the group is rebalancing: judged again once it is over")
	}
	if len(w) < MinSamples {
		r.Needs = MinSamples
		return judge(Unknown, fmt.Sprintf("needs %d samples, has %d", MinSamples, len(w)))
	}
	// Rule 3: the committed offset went back.
	for i := 1; i < len(w); i++ {
		if w[i].Offset < w[i-1].Offset {
			return judge(Rewind, fmt.Sprintf("the committed offset went back from %d to %d", w[i-1].Offset, w[i].Offset))
		}
	}
	// Rule 4: nothing arrived: idle, whatever the lag (a message delivered
	// and not yet committed, or a backlog nobody adds to).
	if w[0].end() == newest.end() {
		return judge(OK, fmt.Sprintf("idle: the log end stayed at %d during the window (lag %d)", newest.end(), newest.Lag))
	}
	// Rules 5 and 6: stuck.
	if stuck {
		span := newest.At.Sub(waited[0].At).Round(time.Millisecond)
		first, last := waited[0].CommitAt, newest.CommitAt
		if len(waited) == size && !first.IsZero() && last.Equal(first) {
			return judge(Stop, fmt.Sprintf("no commit for %v (the whole window) while the log end moved from %d to %d",
				newest.At.Sub(last).Round(time.Millisecond), waited[0].end(), newest.end()))
		}
		return judge(Stall, fmt.Sprintf("the committed offset stayed at %d for %v (%d samples) while the log end moved from %d to %d",
			newest.Offset, span, len(waited), waited[0].end(), newest.end()))
	}
	if len(waited) >= 2 && waited[0].end() < newest.end() {
		return judge(OK, fmt.Sprintf("messages arrived %v ago and are not committed yet: stuck if still so at %d samples",
			newest.At.Sub(waited[0].At).Round(time.Millisecond), MinSamples))
	}
	// Rule 7: a full window where the offsets move but the lag grew and
	// never shrank: the consumer is slower than the producers.
	if len(w) == size && newest.Lag > w[0].Lag {
		shrank := false
		for i := 1; i < len(w); i++ {
			if w[i].Lag < w[i-1].Lag {
				shrank = true
				break
			}
		}
		if !shrank {
			return judge(Warn, fmt.Sprintf("the lag grew from %d to %d and never shrank during the window", w[0].Lag, newest.Lag))
		}
	}
	return judge(OK, "the consumer progresses")
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

// waitedSamples returns the samples of w that messages waited over
// uncommitted: those since the current owner got the partition (after the
// last rebalance seen) whose committed offset is the newest's, from the
// last one before the log end moved.
func waitedSamples(w []Sample) []Sample {
	newest := w[len(w)-1]
	from := 0
	for i := len(w) - 1; i >= 0; i-- {
		if w[i].Rebalancing || w[i].Owner != newest.Owner {
			from = i + 1
			break
		}
	}
	for from < len(w)-1 && w[from].Offset != newest.Offset {
		from++
	}
	for from < len(w)-1 && w[from+1].end() == w[from].end() {
		from++ // the log end did not move yet: nothing waited
	}
	return w[from:]
}
