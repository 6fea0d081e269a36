package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is this process's CPU time and the machine's, at one moment.
type cpuSample struct {
	at          time.Time
	proc        time.Duration // this process: user and system (getrusage)
	busy, total uint64        // the machine: /proc/stat's first line, in ticks
}

func cpuNow() cpuSample {
	s := cpuSample{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.proc = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return s
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		s.total += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	return s
}

// procShare is this process's CPU since s0 as a share of all cores.
func (s cpuSample) procShare(s0 cpuSample) float64 {
	wall := s.at.Sub(s0.at)
	if wall <= 0 {
		return 0
	}
	return float64(s.proc-s0.proc) / float64(wall) / cores()
}

// machineShare is the machine's busy time since s0 as a share of all cores.
func (s cpuSample) machineShare(s0 cpuSample) float64 {
	if s.total <= s0.total {
		return 0
	}
	return float64(s.busy-s0.busy) / float64(s.total-s0.total)
}

// zkDelta is the change of ZooKeeper's counters over some time (or per
// second, for the idle rate).
type zkDelta struct {
	packets float64 // zk_packets_received: every request, pings included
	writes  float64 // zk_cnt_updatelatency: transactions
	bytes   float64 // zk_bytes_received_count
	dur     time.Duration
}

// zkDiff is m1 - m0; zero when either is missing.
func zkDiff(m0, m1 map[string]string, dur time.Duration) zkDelta {
	if m0 == nil || m1 == nil {
		return zkDelta{}
	}
	d := func(key string) float64 {
		a, _ := strconv.ParseFloat(m0[key], 64)
		c, _ := strconv.ParseFloat(m1[key], 64)
		return c - a
	}
	return zkDelta{packets: d("zk_packets_received"), writes: d("zk_cnt_updatelatency"), bytes: d("zk_bytes_received_count"), dur: dur}
}

// net is d less what the group sends at rest (rate, per second) over d's
// time: the requests the change made.
func (d zkDelta) net(rate zkDelta) zkDelta {
	s := d.dur.Seconds()
	return zkDelta{packets: max(0, d.packets-rate.packets*s), writes: max(0, d.writes-rate.writes*s), bytes: max(0, d.bytes-rate.bytes*s), dur: d.dur}
}

// mntr returns ZooKeeper's counters for ours on ZooKeeper (nil otherwise,
// or when ZooKeeper does not answer).
func (s *scaleGroup) mntr() map[string]string {
	if !s.k.zk {
		return nil
	}
	m, err := s.b.zk.Mntr()
	if err != nil {
		s.b.logf("scale: mntr: %v", err)
		return nil
	}
	return m
}

// idleRate measures ZooKeeper's counters per second with the group at rest
// (its pings), after a second of calm, over window.
func (s *scaleGroup) idleRate(window time.Duration) zkDelta {
	time.Sleep(time.Second)
	m0 := s.mntr()
	t0 := time.Now()
	time.Sleep(window)
	d := zkDiff(m0, s.mntr(), time.Since(t0))
	sec := d.dur.Seconds()
	s.idle = zkDelta{packets: d.packets / sec, writes: d.writes / sec, bytes: d.bytes / sec, dur: time.Second}
	return s.idle
}
