package main

import (
	"fmt"
	"slices"
	"time"
)

// The demo's summary: what was lost (nothing), delivered twice, and what each rebalance cost.

// demoSummary is the demo's result.
type demoSummary struct {
	Produced, Processed, Lost    int
	Duplicates, FromCrash        int
	Unexplained, MembersAtTheEnd int
	CrashWindow                  int64
	Interrupted                  bool
	Rebalances                   []rebalance
	Elapsed                      time.Duration
}

func (d *demo) summary() demoSummary {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := demoSummary{Produced: d.produced, Processed: d.distinct, Rebalances: d.rebal, Elapsed: time.Since(d.start)}
	for seq := range d.produced {
		n := d.count[seq]
		if n == 0 {
			s.Lost++
			continue
		}
		if n == 1 {
			continue
		}
		s.Duplicates += n - 1
		l := d.where[seq]
		if c := d.crash; c != nil && d.firstBy[seq] == c.member && l.off >= c.committed[l.tp] && l.off <= c.processed[l.tp] {
			s.FromCrash += n - 1
		} else {
			s.Unexplained += n - 1
		}
	}
	if c := d.crash; c != nil {
		for tp, p := range c.processed {
			if p >= c.committed[tp] {
				s.CrashWindow += p - c.committed[tp] + 1
			}
		}
	}
	for _, m := range d.members {
		if m.state == "active" {
			s.MembersAtTheEnd++
		}
	}
	return s
}

func (d *demo) printSummary(s demoSummary) {
	w := d.e.stdout
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Summary")
	fmt.Fprintf(w, "  produced             %d\n", s.Produced)
	fmt.Fprintf(w, "  processed (distinct) %d\n", s.Processed)
	if s.Interrupted {
		fmt.Fprintf(w, "  not yet processed    %d (interrupted before the end: not lost, still in Kafka)\n", s.Lost)
	} else {
		fmt.Fprintf(w, "  lost                 %d\n", s.Lost)
	}
	fmt.Fprintf(w, "  duplicates           %d (from the crash: %d, inside its uncommitted window of %d; unexplained: %d)\n", s.Duplicates, s.FromCrash, s.CrashWindow, s.Unexplained)
	fmt.Fprintln(w, "  rebalances (from the change until every partition is owned, and each moved one delivered by its new owner):")
	rb := slices.Clone(s.Rebalances)
	for _, r := range rb {
		fmt.Fprintf(w, "    %-28s %v\n", r.what, r.took.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  elapsed              %v\n", s.Elapsed.Round(time.Millisecond))
	if s.Interrupted {
		fmt.Fprintln(w, "  result               interrupted")
	} else if s.Lost == 0 {
		fmt.Fprintln(w, "  result               nothing lost")
	} else {
		fmt.Fprintf(w, "  result               %d MESSAGES LOST\n", s.Lost)
	}
}
