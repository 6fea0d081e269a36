package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestDemoServe: demo --serve prints the web view's URL, whose API shows
// the demo's group, and keeps it up after the demo until Ctrl-C.
func TestDemoServe(t *testing.T) {
	if os.Getenv(testenv.EnvZooKeeper) != "" {
		t.Skip(testenv.EnvZooKeeper + " is set: the demo starts its own ZooKeeper, which may not be installed here")
	}
	t.Parallel()
	p := startTool(t, "demo", "demo", "--serve", "--messages", "2000", "--partitions", "4", "--members", "2", "--plain", "--duration", "45s")
	urlRe := regexp.MustCompile(`web view of the demo: (http://127\.0\.0\.1:\d+/)`)
	var url string
	p.waitOutput("the web view's URL", func(lines []outLine) bool {
		for _, l := range lines {
			if m := urlRe.FindStringSubmatch(l.text); m != nil {
				url = m[1]
				return true
			}
		}
		return false
	})
	var list struct {
		Groups []groupSummary `json:"groups"`
	}
	waitFor(t, waitTimeout, "the demo's group in the web view", func() error {
		if err := getJSON(t, url+"api/groups", &list); err != nil {
			return err
		}
		for _, g := range list.Groups {
			if g.Group == demoGroup && g.Members > 0 && g.Partitions >= 4 {
				return nil
			}
		}
		return fmt.Errorf("groups %+v", list.Groups)
	})
	p.waitOutput("the end of the demo", func(lines []outLine) bool {
		for _, l := range lines {
			if strings.Contains(l.text, "stays in the web view") {
				return true
			}
		}
		return false
	})
	if err := getJSON(t, url+"api/groups", &list); err != nil {
		t.Fatalf("the web view is gone after the demo: %v", err)
	}
	p.signal(syscall.SIGINT)
	if code := p.wait(waitTimeout); code != 0 {
		t.Fatalf("exit status %d after Ctrl-C\n%s", code, p.describe())
	}
}
