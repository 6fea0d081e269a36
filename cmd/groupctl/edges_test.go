package main

// Regression tests of issue 20: the edges of reset-offsets, consume,
// migrate and the table printer.

import (
	"testing"
)

// Issue 20.10: --shift-by the largest int64 overflowed and planned the log
// start; it saturates and plans the log end, the smallest plans the start.
func TestResetShiftBySaturates(t *testing.T) {
	t.Parallel()
	const topic = "shift"
	c := newCluster(t, map[string]int32{topic: 1})
	c.produce(topic, 0, "a", "b", "c")
	c.tool("reset-offsets", "sg", "--topic", topic, "--to-offset", "1", "--execute").want(t, 0)
	for _, tc := range []struct {
		by   string
		want int64
		note string
	}{
		{"9223372036854775807", 3, "shift/0: --shift-by 9223372036854775807 from 1 is 9223372036854775807, outside the log (0..3): clamped to the log end, 3"},
		{"-9223372036854775808", 0, "shift/0: --shift-by -9223372036854775808 from 1 is -9223372036854775807, outside the log (0..3): clamped to the log start, 0"},
	} {
		var ro resetOut
		r := c.tool("reset-offsets", "sg", "--topic", topic, "--shift-by", tc.by, "--output", "json").want(t, 0).wantStderr(t, tc.note)
		r.decode(t, &ro)
		if len(ro.Changes) != 1 || ro.Changes[0].Old != 1 || ro.Changes[0].New != tc.want {
			t.Errorf("--shift-by %s: %+v, want 1 -> %d\n%v", tc.by, ro.Changes, tc.want, r)
		}
	}
}
