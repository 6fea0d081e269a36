package consumergroup_test

import (
	"testing"

	cg "github.com/consumergroup/consumergroup"
)

// TestLeaveReleasesInOneMulti: a member leaving (Close) releases the
// partitions of both its topics in one ZooKeeper transaction: both
// owners/<topic> parents last changed in the same zxid, after which no
// owner node is left.
func TestLeaveReleasesInOneMulti(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 4, "u": 4})
	z := dialZK(t, c.chroot)
	g, err := cg.NewConsumerGroupTopics(testCtx(t), newClient(t, c), z, "g", []string{"t", "u"}, nil, groupConfig())
	if err != nil {
		t.Fatal(err)
	}
	m := &testMember{name: "a", group: g}
	waitHeld(t, m, 8)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	raw := rawZK(t)
	var pzxid []int64
	for _, topic := range []string{"t", "u"} {
		p := c.chroot + "/consumers/g/owners/" + topic
		children, st, err := raw.Children(p)
		if err != nil || len(children) != 0 {
			t.Fatalf("owner nodes of %s left after Close: %v, %v", topic, children, err)
		}
		pzxid = append(pzxid, st.Pzxid)
	}
	if pzxid[0] != pzxid[1] {
		t.Fatalf("owners/t last changed in zxid %#x, owners/u in %#x: the leave released them one by one", pzxid[0], pzxid[1])
	}
}
