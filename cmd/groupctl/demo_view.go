package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/consumergroup/consumergroup"
)

// startView starts the live view (a terminal) or the periodic status line
// (plain output).
func (d *demo) startView() {
	d.viewStop, d.viewDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(d.viewDone)
		every := 250 * time.Millisecond
		if d.o.plain {
			every = time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		prev, prevAt := 0, time.Now()
		for {
			select {
			case <-d.viewStop:
				return
			case now := <-t.C:
				d.mu.Lock()
				done := d.distinct
				d.mu.Unlock()
				rate := float64(done-prev) / now.Sub(prevAt).Seconds()
				prev, prevAt = done, now
				if d.o.plain {
					d.statusLine(rate)
				} else {
					d.draw(rate)
				}
			}
		}
	}()
}

func (d *demo) stopView() {
	if d.viewStop != nil {
		close(d.viewStop)
		<-d.viewDone
		d.viewStop = nil
	}
}

// names maps consumer ids to member names.
func (d *demo) names() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]string{}
	for _, m := range d.members {
		if id := m.group.ID(); id != "" {
			out[id] = m.name
		}
	}
	return out
}

func (d *demo) statusLine(rate float64) {
	d.mu.Lock()
	var ms []string
	for _, m := range d.members {
		if m.state == "active" {
			ms = append(ms, fmt.Sprintf("%s:%d", m.name, len(m.group.ClaimedPartitions())))
		}
	}
	line := fmt.Sprintf("[%6.2fs] %-26s produced %d, processed %d (%.0f/s); members (partitions) %s",
		time.Since(d.start).Seconds(), d.phase, d.produced, d.distinct, rate, strings.Join(ms, " "))
	d.mu.Unlock()
	fmt.Fprintln(d.progress, line)
}

// draw redraws the whole screen.
func (d *demo) draw(rate float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	desc, _ := consumergroup.DescribeGroup(ctx, d.watcher, d.admin, demoGroup)
	cancel()
	names := d.names()
	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	d.mu.Lock()
	fmt.Fprintf(&b, "consumergroup demo — %s — %.1fs\n", d.phase, time.Since(d.start).Seconds())
	fmt.Fprintf(&b, "ZooKeeper %s   (groupctl describe %s --zookeeper %s)\n", d.zkAddr, demoGroup, d.zkAddr)
	which := "not the library's defaults"
	if d.o.libraryDefaults {
		which = "the library's defaults"
	}
	fmt.Fprintf(&b, "settings: session %v, commit every %v, hand-off timeout %v, %s (%s)\n\n",
		d.settings.session, d.settings.commit, d.settings.handoff, d.settings.strategy, which)
	fmt.Fprintf(&b, "produced  %s %d/%d\n", progressBar(d.produced, d.o.messages, 40), d.produced, d.o.messages)
	fmt.Fprintf(&b, "processed %s %d/%d  %.0f msg/s\n\n", progressBar(d.distinct, max(d.produced, 1), 40), d.distinct, d.produced, rate)
	fmt.Fprintf(&b, "%-7s %-9s %-10s %s\n", "MEMBER", "STATE", "PROCESSED", "PARTITIONS")
	for _, m := range d.members {
		var ps []string
		if m.state == "active" {
			for _, tp := range m.group.ClaimedPartitions() {
				ps = append(ps, fmt.Sprint(tp.Partition))
			}
		}
		fmt.Fprintf(&b, "%-7s %-9s %-10d %s\n", m.name, m.state, m.processed, strings.Join(ps, ","))
	}
	events := d.events[max(0, len(d.events)-8):]
	d.mu.Unlock()
	if desc != nil {
		fmt.Fprintf(&b, "\ngroup %s: %s, generation %d, total lag %s\n", desc.Group, desc.State, desc.Generation, lagText(desc.TotalLag))
		fmt.Fprintf(&b, "%-5s %-6s %-10s %-10s %s\n", "PART", "OWNER", "COMMITTED", "LOG-END", "LAG")
		for _, p := range desc.Partitions {
			owner := names[p.Owner]
			if owner == "" {
				owner = "-"
			}
			fmt.Fprintf(&b, "%-5d %-6s %-10s %-10s %s\n", p.Partition, owner, num(p.Committed), num(p.LogEnd), num(p.Lag))
		}
	}
	b.WriteString("\n")
	for _, e := range events {
		b.WriteString(e + "\n")
	}
	fmt.Fprint(d.e.stdout, b.String())
}

// progressBar draws done/total in width cells.
func progressBar(done, total, width int) string {
	if total <= 0 {
		total = 1
	}
	n := min(width, done*width/total)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
