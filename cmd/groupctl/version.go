package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// printVersion writes what `groupctl --version` prints: the build's own
// account of itself (debug.ReadBuildInfo), nothing stamped by hand.
func printVersion(w io.Writer) {
	info, ok := debug.ReadBuildInfo()
	fmt.Fprintln(w, versionString(info, ok))
}

// versionString is `groupctl --version`'s line from a build's information:
//
//	groupctl v0.1.0 (github.com/consumergroup/consumergroup; revision 0123abcd4567, 2026-12-01T10:00:00Z, modified; go1.26.8)
//
// The version is the main module's: the tag it was installed at (`go install
// .../cmd/groupctl@v0.1.0`), a pseudo-version (v0.1.1-0.2026...-0123abcd4567,
// "+dirty" with local changes) when built in a clone with VCS stamping, or
// "(devel)" when built without it (-buildvcs=false, no git). The revision,
// its time and "modified" (uncommitted changes) come from the VCS stamp when
// there is one.
func versionString(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "groupctl (unknown version: built without module information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	var revision, when string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	details := info.Main.Path
	if details == "" {
		details = "github.com/consumergroup/consumergroup"
	}
	if revision != "" {
		if len(revision) > 12 {
			revision = revision[:12]
		}
		details += "; revision " + revision
		if when != "" {
			details += ", " + when
		}
		if modified {
			details += ", modified"
		}
	} else {
		details += "; no VCS revision stamped"
	}
	if info.GoVersion != "" {
		details += "; " + info.GoVersion
	}
	return fmt.Sprintf("groupctl %s (%s)", version, details)
}
