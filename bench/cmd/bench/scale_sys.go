package main

import (
	"os"
	"os/exec"
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
	in, out float64 // bytes ZooKeeper received and sent on its client connections
	dur     time.Duration
}

// zkSnap is ZooKeeper's counters at one moment: mntr's, and the bytes of
// each client connection in both directions, the kernel's (from ss: mntr
// counts no bytes sent).
type zkSnap struct {
	mntr  map[string]string
	socks map[string][2]float64 // client address: bytes received, bytes sent by ZooKeeper
}

// zkDiff is z1 - z0; zero when either is missing. A connection closed
// between the two (a leaving member's) is not counted.
func zkDiff(z0, z1 zkSnap, dur time.Duration) zkDelta {
	if z0.mntr == nil || z1.mntr == nil {
		return zkDelta{}
	}
	d := func(key string) float64 {
		a, _ := strconv.ParseFloat(z0.mntr[key], 64)
		c, _ := strconv.ParseFloat(z1.mntr[key], 64)
		return c - a
	}
	out := zkDelta{packets: d("zk_packets_received"), writes: d("zk_cnt_updatelatency"), dur: dur}
	for k, v := range z1.socks {
		out.in += v[0] - z0.socks[k][0]
		out.out += v[1] - z0.socks[k][1]
	}
	return out
}

// net is d less what the group sends at rest (rate, per second) over d's
// time: the requests the change made.
func (d zkDelta) net(rate zkDelta) zkDelta {
	s := d.dur.Seconds()
	return zkDelta{packets: max(0, d.packets-rate.packets*s), writes: max(0, d.writes-rate.writes*s),
		in: max(0, d.in-rate.in*s), out: max(0, d.out-rate.out*s), dur: d.dur}
}

// mntr returns ZooKeeper's counters for ours on ZooKeeper (empty
// otherwise, or when ZooKeeper does not answer).
func (s *scaleGroup) mntr() zkSnap {
	if !s.k.zk {
		return zkSnap{}
	}
	m, err := s.b.zk.Mntr()
	if err != nil {
		s.b.logf("scale: mntr: %v", err)
		return zkSnap{}
	}
	return zkSnap{mntr: m, socks: sockBytes(s.b.zk.Addr())}
}

// sockBytes returns the bytes received and sent by the server at addr on
// each of its established TCP connections, by the peer's address (ss -ti;
// nil when ss fails).
func sockBytes(addr string) map[string][2]float64 {
	_, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("ss", "-tinH", "state", "established", "( sport = :"+port+" )").Output()
	if err != nil {
		return nil
	}
	socks := map[string][2]float64{}
	peer := ""
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) >= 4 && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			peer = f[3]
			continue
		}
		var v [2]float64
		for _, kv := range f {
			if n, ok := strings.CutPrefix(kv, "bytes_received:"); ok {
				v[0], _ = strconv.ParseFloat(n, 64)
			} else if n, ok := strings.CutPrefix(kv, "bytes_sent:"); ok {
				v[1], _ = strconv.ParseFloat(n, 64)
			}
		}
		if peer != "" {
			socks[peer] = v
			peer = ""
		}
	}
	return socks
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
	s.idle = zkDelta{packets: d.packets / sec, writes: d.writes / sec, in: d.in / sec, out: d.out / sec, dur: time.Second}
	return s.idle
}
