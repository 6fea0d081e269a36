package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// scaleConfig is what the scale part runs: a grid of sizes, on some
// systems. Without -members and -partitions, the run's one size (sizes).
type scaleConfig struct {
	members    []int
	partitions []int32
	systems    []string      // keys of scaleSystemKeys; empty: the default ones
	reps       int           // joins and leaves measured per cell; 0: the run's size
	traffic    bool          // a producer writes to every partition during the part
	timeout    time.Duration // bounds each convergence (the start, each join and leave)
	grid       bool          // -members or -partitions given: the curve
	herd       bool          // -systems herd: franz-go's direct consumer's take-overs of a leave (scale_herd.go)
}

// scaleFlagSet registers the scale part's flags; parse checks them once
// flag.Parse has run.
type scaleFlagSet struct {
	members, partitions, systems *string
	reps                         *int
	traffic                      *bool
	timeout                      *time.Duration
}

func scaleFlags() scaleFlagSet {
	return scaleFlagSet{
		members:    flag.String("members", "", "scale: the group sizes, comma-separated (e.g. 10,50,100,200,500; default 50)"),
		partitions: flag.String("partitions", "", "scale: the topic sizes, comma-separated (e.g. 1000,10000; default 1000): a grid with -members"),
		systems:    flag.String("systems", "", "scale: the coordinators, comma-separated: zk, classic, 848, bare (franz-go's own group consumer, classic and KIP-848), bare-classic, bare-848, herd (franz-go's direct consumer doing the take-overs of a ZooKeeper leave alone: the reference for zk) (default zk,classic,848)"),
		reps:       flag.Int("reps", 0, "scale: joins and leaves measured per cell (default 5 with -members or -partitions, else 3, -short 1)"),
		traffic:    flag.Bool("traffic", false, "scale: a producer writes one message to every partition every 50 ms, and convergence waits for each owner's first delivery"),
		timeout:    flag.Duration("cell-timeout", 2*time.Minute, "scale: bound of each convergence (the start, each join, each leave); a cell that does not converge is reported as such"),
	}
}

func (f scaleFlagSet) parse() (scaleConfig, error) {
	c := scaleConfig{reps: *f.reps, traffic: *f.traffic, timeout: *f.timeout, grid: *f.members != "" || *f.partitions != ""}
	var err error
	if c.members, err = positiveList[int]("members", *f.members); err != nil {
		return c, err
	}
	if c.partitions, err = positiveList[int32]("partitions", *f.partitions); err != nil {
		return c, err
	}
	if c.reps == 0 && c.grid {
		c.reps = 5
	}
	if c.reps < 0 || c.timeout <= 0 {
		return c, fmt.Errorf("-reps and -cell-timeout: want positive values")
	}
	for _, s := range strings.Split(*f.systems, ",") {
		switch s {
		case "":
		case "bare":
			c.systems = append(c.systems, "bare-classic", "bare-848")
		case "herd":
			c.herd = true
		default:
			if !slices.ContainsFunc(scaleSystemKeys, func(k scaleKey) bool { return k.key == s }) {
				return c, fmt.Errorf("-systems %q: want zk, classic, 848, bare, bare-classic, bare-848 or herd", s)
			}
			c.systems = append(c.systems, s)
		}
	}
	return c, nil
}

// positiveList parses a comma-separated list of positive numbers ("" is
// none).
func positiveList[T int | int32](name, s string) ([]T, error) {
	var out []T
	if s == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-%s %q: want positive numbers, comma-separated", name, s)
		}
		out = append(out, T(n))
	}
	return out, nil
}
