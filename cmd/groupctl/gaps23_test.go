package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestListStateZooKeeper: list shows the state of a ZooKeeper group as
// describe does: stable with its members holding the assignment, empty
// without members.
func TestListStateZooKeeper(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]int32{"orders": 2})
	c.join("idle", []string{"orders"}, false).close(t)
	c.join("busy", []string{"orders"}, false)
	waitFor(t, waitTimeout, "busy stable", func() error {
		if d, _ := c.describe("busy"); d.State != "stable" {
			return fmt.Errorf("describe says %q", d.State)
		}
		return nil
	})
	var l struct {
		Groups []struct {
			Group string `json:"group"`
			State string `json:"state"`
		} `json:"groups"`
	}
	c.tool("list", "--output", "json").want(t, 0).decode(t, &l)
	got := map[string]string{}
	for _, g := range l.Groups {
		got[g.Group] = g.State
	}
	if got["busy"] != "stable" || got["idle"] != "empty" {
		t.Errorf("list states %v, want busy stable, idle empty", got)
	}
	rows := checkTable(t, tableLines(t, c.tool("list").want(t, 0)), "GROUP", "TYPE", "MEMBERS", "STATE")
	if fmt.Sprint(rows) != "[[busy zookeeper 1 stable] [idle zookeeper 0 empty]]" {
		t.Errorf("list table rows %v", rows)
	}
}

// TestBothSourcesOneWording: every command that takes --bootstrap-server
// and reads one source refuses --zookeeper with it in the same words,
// which say what to do.
func TestBothSourcesOneWording(t *testing.T) {
	t.Parallel()
	both := []string{"--zookeeper", "127.0.0.1:1", "--bootstrap-server", "127.0.0.1:1"}
	for _, args := range [][]string{
		{"describe", "g"}, {"describe", "--all-groups"}, {"lag", "g"}, {"lag", "--all-groups"},
		{"reset-offsets", "g", "--topic", "t", "--to-earliest"}, {"delete", "g"},
		{"delete-offsets", "g", "--topic", "t"}, {"serve"}, {"consume", "--group", "g", "--topic", "t"},
		{"produce", "--topic", "t"},
	} {
		r := runTool(t, append(args, both...)...).want(t, exitUsage)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if want := "groupctl " + args[0] + ": " + bothSourcesMsg; first != want {
			t.Errorf("%v: %q, want %q", args, first, want)
		}
	}
}

// TestResetDryRunWarnsLive: a dry run on a group with members warns that
// --execute will be refused, on stderr and in the JSON.
func TestResetDryRunWarnsLive(t *testing.T) {
	t.Parallel()
	c := newCluster(t, map[string]int32{"orders": 1})
	c.join("rl", []string{"orders"}, false)
	waitFor(t, waitTimeout, "rl's member", func() error {
		if d, _ := c.describe("rl"); len(d.Members) != 1 {
			return fmt.Errorf("%d members", len(d.Members))
		}
		return nil
	})
	const warn = "--execute will be refused until its consumers stop"
	c.tool("reset-offsets", "rl", "--topic", "orders", "--to-earliest").want(t, 0).wantStderr(t, "warning:", warn, "has 1 live member")
	var out struct {
		Warnings []string `json:"warnings"`
	}
	c.tool("reset-offsets", "rl", "--topic", "orders", "--to-earliest", "--output", "json").want(t, 0).decode(t, &out)
	if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], warn) {
		t.Errorf("JSON warnings %q", out.Warnings)
	}
	// Without members, no warning.
	if r := c.tool("reset-offsets", "nomembers", "--topic", "orders", "--to-earliest").want(t, 0); strings.Contains(r.stderr, "warning") {
		t.Errorf("a warning without members:\n%v", r)
	}
}
