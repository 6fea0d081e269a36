package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/consumergroup/consumergroup/bench/env"
)

// scaleBound is the machine's CPU share from which a start is reported as
// bound by the machine.
const scaleBound = 0.9

// renderScale is part 3's section: one table of every cell, and one of
// ZooKeeper's requests for ours on ZooKeeper.
func renderScale(b *bench, syss []scaleKey, cells []*cellResult) string {
	var sb strings.Builder
	sb.WriteString("## 3. Scale: one group's start, joins and leaves at each size\n\n")
	traffic := "no traffic (nothing is produced)"
	if b.scale.traffic {
		traffic = fmt.Sprintf("a producer writing one message to every partition every %v (-traffic; convergence also waits for "+
			"each owner's first delivery since the event)", scaleTick)
	}
	fmt.Fprintf(&sb, "Every member in this process, each with its own coordinator connection (ZooKeeper session, or member of Kafka's "+
		"group coordinator) and franz-go client; one group on one topic; %s. Session timeout %v (ZooKeeper tick %v). "+
		"**start**: every member created at once (connecting included) until converged: every partition has exactly one owner "+
		"among the live members and each member holds its even share (⌊P/n⌋ or ⌈P/n⌉), by the members' own views "+
		"(`ClaimedPartitions`; franz-go's assigned/revoked/lost callbacks), polled every 5 ms; on ZooKeeper the owner nodes "+
		"(`/consumers/<group>/owners/<topic>/<p>`) are then read and must name the same members, or the polling goes on. "+
		"**join**: one more member created until converged again; **leave**: one member's `Close` until the others converged "+
		"(%d of each per cell, after a %v pause; p99 of so few samples is their maximum). Each convergence is bounded by "+
		"%v (-cell-timeout): a cell that does not converge says how far it got.\n\n",
		traffic, sessionTimeout, env.TickTime, b.scale.reps, scalePause, b.scale.timeout)
	var rows [][]string
	for _, c := range cells {
		rows = append(rows, c.row())
	}
	sb.WriteString(table([]string{"system", "members × partitions", "start", "join p50 / p99 ms", "leave p50 / p99 ms",
		"moved per join / leave (fewest possible)", "heap: MB; KB per member per 1,000 partitions", "CPU in the start: process / machine",
		"CPU ms per member (start)", "bound"}, rows))
	sb.WriteString(scaleZKTable(cells))
	fmt.Fprintf(&sb, "\n- *heap*: `HeapInuse` after two GCs once the start converged, less before the members were created: "+
		"the whole group's, then divided by the members and by the thousands of partitions (%s).\n"+
		"- *CPU*: this process's user and system time (`getrusage`) and the machine's busy time (`/proc/stat`, every "+
		"process: ZooKeeper's JVM, kfake's process, others' builds) during the start, as a share of the %d cores; "+
		"*machine-bound* when the machine was ≥ %.0f%% busy: the start then measures the cores, and *CPU ms per member* "+
		"(this process's CPU during the start over the members) is the figure that scales.\n",
		heapNote(b), runtime.NumCPU(), scaleBound*100)
	return sb.String()
}

// heapNote says whose heap the figure holds.
func heapNote(b *bench) string {
	if b.broker == "kfake" {
		return "kfake runs in this process: its share is in it; `-kafka kfake-proc` takes it out"
	}
	return "the members' own: the broker runs in another process"
}

// row is the cell's line of the main table.
func (c *cellResult) row() []string {
	row := []string{c.key.sys.name, fmt.Sprintf("%d × %d", c.members, c.partitions)}
	if c.failed != "" {
		return append(row, c.failed, "–", "–", "–", "–", "–", "–", "–")
	}
	bound := ""
	if c.cpuMachine >= scaleBound {
		bound = "machine-bound"
	}
	return append(row, secs(c.start), c.join.text(), c.leave.text(),
		fmt.Sprintf("%.0f / %.0f (%.0f / %.0f)", avg(c.join.moved), avg(c.leave.moved), avg(c.join.least), avg(c.leave.least)),
		fmt.Sprintf("%.0f; %.0f", float64(c.heap)/(1<<20), c.heapPerK/1024), fmt.Sprintf("%.0f%% / %.0f%%", c.cpuProc*100, c.cpuMachine*100),
		fmt.Sprintf("%.1f", float64(c.cpuPerMember)/float64(time.Millisecond)), bound)
}

// text is the p50 and p99 of the changes, and what failed.
func (st *changeStats) text() string {
	s := "–"
	if len(st.conv) > 0 {
		s = fmt.Sprintf("%s / %s", ms(percentile(st.conv, 50)), ms(percentile(st.conv, 99)))
	}
	if st.failed != "" {
		s += fmt.Sprintf(" (then one %s)", st.failed)
	}
	return s
}

// scaleZKTable is ZooKeeper's requests, for ours on ZooKeeper.
func scaleZKTable(cells []*cellResult) string {
	var rows [][]string
	for _, c := range cells {
		if !c.key.zk || c.failed != "" {
			continue
		}
		rows = append(rows, []string{fmt.Sprintf("%d × %d", c.members, c.partitions),
			fmt.Sprintf("%.0f, %.0f, %.2f / %.2f MB", c.zkStart.packets, c.zkStart.writes, c.zkStart.in/(1<<20), c.zkStart.out/(1<<20)),
			c.join.zkText(), c.leave.zkText(), fmt.Sprintf("%.0f", c.idle.packets), fmt.Sprintf("%d", c.lost)})
	}
	if len(rows) == 0 {
		return ""
	}
	return "\n### ZooKeeper's requests (ours on ZooKeeper)\n\n" +
		"From `mntr` before and after: requests are `zk_packets_received` (every request, pings included), writes " +
		"`zk_cnt_updatelatency` (transactions); bytes in / out are those ZooKeeper received and sent on its client " +
		"connections, by the kernel (`ss -ti`; mntr has no count of the bytes sent), " +
		"a connection closed meanwhile (the leaver's) not counted. Per change: the mean over the changes, " +
		"less the group's rate at rest (its pings, measured over a window after the start) over the change's time. " +
		"Sessions lost: ZooKeeper sessions members had to replace during the start (a member or ZooKeeper starved for " +
		"2/3 of the session).\n\n" +
		table([]string{"members × partitions", "start: requests, writes, bytes in / out", "per join: requests, writes, bytes in / out",
			"per leave: requests, writes, bytes in / out", "at rest: requests/s", "sessions lost in the start"}, rows)
}

// zkText is the mean of the changes' ZooKeeper counters.
func (st *changeStats) zkText() string {
	if len(st.zk) == 0 {
		return "–"
	}
	var p, w, in, out float64
	for _, d := range st.zk {
		p, w, in, out = p+d.packets, w+d.writes, in+d.in, out+d.out
	}
	n := float64(len(st.zk))
	return fmt.Sprintf("%.0f, %.0f, %.1f / %.1f KB", p/n, w/n, in/n/1024, out/n/1024)
}

// summary is the cell's progress line.
func (c *cellResult) summary() string {
	if c.failed != "" {
		return fmt.Sprintf("%s %d×%d: %s", c.key.key, c.members, c.partitions, c.failed)
	}
	return fmt.Sprintf("%s %d×%d: start %s (CPU %.0f%% process, %.0f%% machine), join %s ms, leave %s ms, heap %.1f KB/member/1k partitions",
		c.key.key, c.members, c.partitions, secs(c.start), c.cpuProc*100, c.cpuMachine*100, c.join.text(), c.leave.text(), c.heapPerK/1024)
}

// secs formats a duration in seconds, 2 decimals.
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// heapInUse returns HeapInuse after a full GC.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

func avg(xs []int) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0
	for _, x := range xs {
		s += x
	}
	return float64(s) / float64(len(xs))
}
