package consumergroup_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"

	cg "github.com/consumergroup/consumergroup"
)

// idleMember registers a member of group that never claims anything: the
// leader (the real member, whose id sorts first) gives it part of the
// topic, whose offset nodes only the real member can then create.
func idleMember(t *testing.T, z *cg.ZK, group string, topics ...string) string {
	t.Helper()
	id := group + "_zzzz-idle-member"
	if err := z.RegisterGroup(testCtx(t), group); err != nil {
		t.Fatal(err)
	}
	if err := z.RegisterConsumer(testCtx(t), group, id, topics...); err != nil {
		t.Fatal(err)
	}
	return id
}

// offsetsWatcher records every list of a topic's offset nodes that a
// ZooKeeper watch lets a tool (Burrow) see, from before the group starts.
type offsetsWatcher struct {
	mu    sync.Mutex
	seen  [][]string
	stop  chan struct{}
	ended chan struct{}
}

func watchOffsets(t *testing.T, node string) *offsetsWatcher {
	t.Helper()
	conn := rawZK(t)
	w := &offsetsWatcher{stop: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(w.ended)
		for {
			names, _, ch, err := conn.ChildrenW(node)
			if errors.Is(err, zk.ErrNoNode) {
				var ok bool
				ok, _, ch, err = conn.ExistsW(node)
				if ok {
					continue
				}
			} else if err == nil {
				slices.SortFunc(names, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
				w.mu.Lock()
				w.seen = append(w.seen, names)
				w.mu.Unlock()
			}
			if err != nil {
				return
			}
			select {
			case <-ch:
			case <-w.stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(w.stop); conn.Close(); <-w.ended })
	return w
}

func (w *offsetsWatcher) lists() [][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}

// TestOffsetNodesAppearTogether: when a member first writes the initial
// offsets of its partitions, the offset nodes of every partition of the
// topic (the other members' too) appear at once, in partition order, so
// that a tool enumerating them (Burrow reads partitions 0..n-1 by their
// count, once) never sees half of them. Nodes that exist keep their value.
func TestOffsetNodesAppearTogether(t *testing.T) {
	const topic, parts, group = "orders", 8, "together"
	c := startCluster(t, map[string]int32{topic: parts})
	c.produce(topic, parts, 80)
	z := dialZK(t, c.chroot)
	idle := idleMember(t, z, group, topic)
	w := watchOffsets(t, c.chroot+"/consumers/"+group+"/offsets/"+topic)

	l := newLedger()
	m := c.join("a", group, []string{topic}, groupConfig(), false, l.handle)
	var mine []int32
	deadline := time.Now().Add(testTimeout)
	for {
		owners, err := z.Owners(testCtx(t), group, topic)
		offsets, oerr := z.Offsets(testCtx(t), group)
		mine = mine[:0]
		for p, id := range owners {
			if id == m.group.ID() {
				mine = append(mine, p)
			}
		}
		done := err == nil && oerr == nil && len(mine) > 0 && len(mine) < parts
		for _, p := range mine {
			if _, ok := offsets[topic][p]; !ok {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member a did not claim and start part of %s (owners %v, %v; offsets %v, %v)", topic, owners, err, offsets, oerr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	all := make([]string, parts)
	for p := range all {
		all[p] = strconv.Itoa(p)
	}
	for i, names := range w.lists() {
		if len(names) != 0 && !slices.Equal(names, all) {
			t.Errorf("list %d of the offset nodes a watcher saw: %v, want all of %v at once (member a owns %v, %s the rest)", i, names, all, mine, idle)
		}
	}
	offsets, err := z.Offsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < parts; p++ {
		if _, ok := offsets[topic][p]; !ok {
			t.Errorf("no offset node for %s/%d: %v", topic, p, offsets)
		}
	}
	if t.Failed() {
		t.Logf("watcher saw %v", w.lists())
	}
	m.close(t)
}

// TestOffsetNodesKeepExisting: nodes that exist before the member starts
// keep their value; the missing ones are created with InitialOffset's.
func TestOffsetNodesKeepExisting(t *testing.T) {
	const topic, parts, group = "orders", 6, "keep"
	c := startCluster(t, map[string]int32{topic: parts})
	c.produce(topic, parts, 60)
	z := dialZK(t, c.chroot)
	idleMember(t, z, group, topic)
	for _, p := range []int32{0, parts - 1} {
		if err := z.Commit(testCtx(t), group, topic, p, 3); err != nil {
			t.Fatal(err)
		}
	}
	l := newLedger()
	m := c.join("a", group, []string{topic}, groupConfig(), false, l.handle)
	var offsets map[string]map[int32]int64
	deadline := time.Now().Add(testTimeout)
	for len(offsets[topic]) < parts {
		if time.Now().After(deadline) {
			t.Fatalf("offset nodes of %s: %v, want %d", topic, offsets, parts)
		}
		time.Sleep(20 * time.Millisecond)
		offsets, _ = z.Offsets(testCtx(t), group)
	}
	owners, err := z.Owners(testCtx(t), group, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < parts; p++ {
		if owners[p] == m.group.ID() {
			continue // its owner may have committed since
		}
		want := int64(0) // InitialOffset: the oldest
		if p == 0 || p == parts-1 {
			want = 3
		}
		if got := offsets[topic][p]; got != want {
			t.Errorf("%s/%d (not the member's): offset %d, want %d", topic, p, got, want)
		}
	}
	if t.Failed() {
		t.Log(fmt.Sprint("owners ", owners))
	}
	m.close(t)
}
