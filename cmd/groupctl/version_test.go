package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// groupctl --version reads the build's own information: the main module's
// version and, when the build was stamped, the VCS revision, its time and
// whether the tree had changes.
func TestVersionString(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/consumergroup/consumergroup", Version: "v0.1.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123abcd4567890123abcd4567890123abcd4567"},
			{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"stamped", stamped, true,
			"groupctl v0.1.0 (github.com/consumergroup/consumergroup; revision 0123abcd4567, 2026-12-01T10:00:00Z, modified; go1.26.8)"},
		{"devel", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/consumergroup/consumergroup", Version: "(devel)"}}, true,
			"groupctl (devel) (github.com/consumergroup/consumergroup; no VCS revision stamped; go1.26.8)"},
		{"none", nil, false, "groupctl (unknown version: built without module information)"},
	} {
		if got := versionString(tc.info, tc.ok); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// The binary answers --version (and `version`) with exit 0 and one line.
func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		r := runTool(t, arg).want(t, exitOK)
		if !strings.HasPrefix(r.stdout, "groupctl ") || !strings.Contains(r.stdout, "github.com/consumergroup/consumergroup") ||
			strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("groupctl %s printed %q", arg, r.stdout)
		}
	}
}
