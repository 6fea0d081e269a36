package testenv

import (
	"regexp"
	"testing"
)

func TestChroot(t *testing.T) {
	legal := regexp.MustCompile(`^/t/[A-Za-z0-9._-]+-[0-9]+$`)
	a, b := Chroot(t), Chroot(t)
	if a == b {
		t.Errorf("two chroots of one test are both %q", a)
	}
	for _, name := range []string{"plain", "with space/and slash", "ünïcode: *?", ".."} {
		t.Run(name, func(t *testing.T) {
			c := Chroot(t)
			if !legal.MatchString(c) {
				t.Errorf("Chroot = %q, not a legal znode path of the form /t/<name>-<n>", c)
			}
		})
	}
}

func TestZooKeeperAddrsShared(t *testing.T) {
	first, second := ZooKeeperAddrs(t), ZooKeeperAddrs(t)
	if len(first) == 0 || len(first) != len(second) || first[0] != second[0] {
		t.Fatalf("ZooKeeperAddrs = %v then %v, want the same non-empty list", first, second)
	}
	z := SharedZooKeeper()
	if z == nil {
		t.Skip("an external ZooKeeper is used: " + EnvZooKeeper)
	}
	if z.Addr() != first[0] {
		t.Errorf("SharedZooKeeper().Addr() = %s, ZooKeeperAddrs = %v", z.Addr(), first)
	}
}
