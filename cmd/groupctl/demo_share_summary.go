package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/consumergroup/consumergroup"
)

// shareSummary is what the share demo found: every message produced was
// processed or rejected (lost: neither), and why each redelivery and each
// message processed twice happened.
type shareSummary struct {
	Produced    int `json:"produced"`
	Processed   int `json:"processed"` // distinct messages accepted
	Rejected    int `json:"rejected"`  // poison messages, rejected at their third delivery
	Lost        int `json:"lost"`
	Duplicates  int `json:"duplicates"` // messages processed twice or more
	DupCrash    int `json:"duplicates_from_crash"`
	DupOther    int `json:"duplicates_unexplained"`
	Redelivered int `json:"redeliveries"` // deliveries with a count above 1
	// Why: released by the handler (poison), the crashed member's, handed
	// to no application before (fetched by a member that left or
	// crashed), or none of these.
	RePoison     int                  `json:"redeliveries_poison"`
	ReCrash      int                  `json:"redeliveries_from_crash"`
	ReUnseen     int                  `json:"redeliveries_fetched_not_handed_out"`
	ReOther      int                  `json:"redeliveries_unexplained"`
	Members      []shareMemberSummary `json:"members"`
	ElapsedSecs  float64              `json:"elapsed_seconds"`
	Result       string               `json:"result"`
	Interruption string               `json:"interrupted,omitempty"`
}

// shareMemberSummary is one member's part.
type shareMemberSummary struct {
	Name      string                    `json:"name"`
	State     string                    `json:"state"`
	Processed int                       `json:"processed"`
	Counts    consumergroup.ShareCounts `json:"counts"`
}

// finish closes the members, prints the summary of the run that ended
// with err, and returns err, or an error of exit status 1 when messages
// were lost or a redelivery is unexplained.
func (d *shareDemo) finish(_ context.Context, err error) error {
	d.mu.Lock()
	members := slices.Clone(d.members)
	d.mu.Unlock()
	for _, m := range members {
		m.close() // waits for a crashed member's close too: its counts
	}
	s := d.summary(members)
	if err != nil {
		s.Interruption = err.Error()
		s.Result = "interrupted"
	}
	if d.o.output == "json" {
		enc := json.NewEncoder(d.e.stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(s); jerr != nil {
			return jerr
		}
	} else {
		d.printSummary(s)
	}
	switch {
	case err != nil:
		return err
	case s.Lost > 0:
		return codeError{fmt.Errorf("%d messages lost", s.Lost), exitError}
	case s.DupOther > 0 || s.ReOther > 0:
		return codeError{fmt.Errorf("%d duplicates and %d redeliveries unexplained", s.DupOther, s.ReOther), exitError}
	}
	return nil
}

func (d *shareDemo) summary(members []*shareDemoMember) shareSummary {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := shareSummary{Produced: d.produced, Processed: len(d.processed), Rejected: len(d.rejected), Result: "nothing lost"}
	for seq := range d.produced {
		if len(d.processed[seq]) == 0 && !d.rejected[seq] {
			s.Lost++
		}
		if by := d.processed[seq]; len(by) > 1 {
			s.Duplicates++
			if by[0] == d.crashed {
				s.DupCrash++
			} else {
				s.DupOther++
				d.unexplained = append(d.unexplained, fmt.Sprintf("message %d processed by %v; its deliveries %v", seq, by, d.deliveries[seq]))
			}
		}
		d.explainRedeliveries(seq, &s)
	}
	if s.Lost > 0 {
		s.Result = fmt.Sprintf("%d messages lost", s.Lost)
	}
	for _, m := range members {
		s.Members = append(s.Members, shareMemberSummary{m.name, m.state, m.processed, m.counts})
	}
	s.ElapsedSecs = time.Since(d.start).Seconds()
	return s
}

// explainRedeliveries counts message seq's deliveries with a count above 1
// by their cause: the delivery before it (count - 1) released by the
// handler (a poison message), the crashed member's, or never handed to an
// application (fetched by a member that then left, whose Close released
// it, or crashed).
func (d *shareDemo) explainRedeliveries(seq int, s *shareSummary) {
	ds := d.deliveries[seq]
	for i, dl := range ds {
		if dl.count <= 1 {
			continue
		}
		s.Redelivered++
		switch {
		case i == 0 || ds[i-1].count != dl.count-1:
			s.ReUnseen++
		case seq%poisonEvery == poisonEvery-1 && ds[i-1].count < poisonTries:
			s.RePoison++
		case ds[i-1].member == d.crashed:
			s.ReCrash++
		default:
			s.ReOther++
			d.unexplained = append(d.unexplained, fmt.Sprintf("message %d delivered again: its deliveries %v, processed by %v", seq, ds, d.processed[seq]))
		}
	}
}

func (d *shareDemo) printSummary(s shareSummary) {
	w := d.e.stdout
	fmt.Fprintf(w, "\nSummary (%.1f s): %s\n", s.ElapsedSecs, s.Result)
	if s.Interruption != "" {
		fmt.Fprintf(w, "  interrupted: %s\n", s.Interruption)
	}
	fmt.Fprintf(w, "  produced %d; processed %d; rejected %d (poison, each delivered %d times); lost %d\n",
		s.Produced, s.Processed, s.Rejected, poisonTries, s.Lost)
	fmt.Fprintf(w, "  processed twice: %d (%d from the crash: processed by %s, whose acknowledgements were lost with it; %d unexplained)\n",
		s.Duplicates, s.DupCrash, orNone(d.crashed), s.DupOther)
	fmt.Fprintf(w, "  redeliveries: %d = %d poison retries (released by the handler) + %d from the crash + %d fetched but never handed out (released at a graceful Close, or lost with the crash) + %d unexplained\n",
		s.Redelivered, s.RePoison, s.ReCrash, s.ReUnseen, s.ReOther)
	fmt.Fprintf(w, "  %-6s %-8s %9s %9s %9s %9s %9s %9s %9s %10s\n", "MEMBER", "STATE", "PROCESSED", "ACQUIRED", "ACCEPTED", "RELEASED", "REJECTED", "RENEWED", "EXPIRED", "ACK-ERRORS")
	for i, u := range d.unexplained {
		if i == 10 {
			fmt.Fprintf(w, "  ... and %d more unexplained\n", len(d.unexplained)-i)
			break
		}
		fmt.Fprintf(w, "  unexplained: %s\n", u)
	}
	for _, m := range s.Members {
		c := m.Counts
		fmt.Fprintf(w, "  %-6s %-8s %9d %9d %9d %9d %9d %9d %9d %10d\n", m.Name, m.State, m.Processed, c.Acquired, c.Accepted, c.Released, c.Rejected, c.Renewed, c.Expired, c.AckErrors)
	}
}

func orNone(s string) string {
	if s == "" {
		return "no member"
	}
	return s
}
