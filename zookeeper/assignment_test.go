package zookeeper_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// TestPublishAssignmentParts: version 2 writes each member's part in a node
// of its own, and a later publication writes only the parts that changed
// (an unchanged part's node is not touched: its member is not woken),
// creates those of new members and deletes those of members left out; a
// publication against a stale version writes nothing.
func TestPublishAssignmentParts(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	counts := map[string]int32{"t": 4, "u": 1}
	first := zookeeper.Assignment{Generation: 1, Strategy: "range", Leader: "a", Partitions: counts, Members: map[string]map[string][]int32{
		"a": {"t": {0, 1}}, "b": {"t": {2, 3}}, "c": {"u": {0}},
	}}
	v, err := z.PublishAssignment(ctx, "g", first, zookeeper.Assignment{}, -1)
	if err != nil || v != 0 {
		t.Fatalf("first publication: version %d, %v; want 0, nil", v, err)
	}
	got, gv, _, err := z.ReadAssignment(ctx, "g")
	if err != nil || gv != 0 || got.Version != 2 || !reflect.DeepEqual(got.Members, first.Members) {
		t.Fatalf("read back: %+v at %d, %v; want version 2 with %v at 0", got, gv, err, first.Members)
	}
	head := get(t, raw, chroot+"/consumers/g/assignment")
	if want := `{"version":2,"generation":1,"strategy":"range","leader":"a","partitions":{"t":4,"u":1}}`; head != want {
		t.Fatalf("assignment node %s, want %s", head, want)
	}
	partA, wA, err := z.ReadMemberAssignment(ctx, "g", "a")
	if err != nil || partA.Generation != 1 || !reflect.DeepEqual(partA.Topics, first.Members["a"]) {
		t.Fatalf("a's part: %+v, %v", partA, err)
	}
	_, statB, err := raw.Get(chroot + "/consumers/g/assignment/b")
	if err != nil {
		t.Fatal(err)
	}

	second := zookeeper.Assignment{Generation: 2, Strategy: "range", Leader: "a", Partitions: counts, Members: map[string]map[string][]int32{
		"a": {"t": {0}}, "b": {"t": {2, 3}}, "d": {"t": {1}, "u": {0}},
	}}
	if v, err = z.PublishAssignment(ctx, "g", second, got, gv); err != nil || v != 1 {
		t.Fatalf("second publication: version %d, %v; want 1, nil", v, err)
	}
	waitEvent(t, wA, "a's part changed")
	_, statB2, err := raw.Get(chroot + "/consumers/g/assignment/b")
	if err != nil || statB2.Mzxid != statB.Mzxid {
		t.Fatalf("b's part, unchanged, was written again (mzxid %d, was %d; %v)", statB2.Mzxid, statB.Mzxid, err)
	}
	if ok, _, err := raw.Exists(chroot + "/consumers/g/assignment/c"); err != nil || ok {
		t.Fatalf("c's part, left out, still there (%v)", err)
	}
	got, gv, _, err = z.ReadAssignment(ctx, "g")
	if err != nil || gv != 1 || got.Generation != 2 || !reflect.DeepEqual(got.Members, second.Members) {
		t.Fatalf("read back: %+v at %d, %v; want %v at 1", got, gv, err, second.Members)
	}

	stale := second
	stale.Generation = 3
	if _, err := z.PublishAssignment(ctx, "g", stale, first, 0); !errors.Is(err, zookeeper.ErrAssignmentConflict) {
		t.Fatalf("publication at a stale version: %v, want ErrAssignmentConflict", err)
	}
	if a, err := z.Assignment(ctx, "g"); err != nil || a.Generation != 2 {
		t.Fatalf("after the refused publication: generation %d, %v; want 2", a.Generation, err)
	}
}

// TestAssignmentVersion1 reads a version 1 node, every part inside, and a
// leader's publication over it writes version 2 with every part.
func TestAssignmentVersion1(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	put(t, raw, chroot+"/consumers/g/assignment",
		`{"version":1,"generation":7,"strategy":"range","leader":"a","partitions":{"t":2},"assignment":{"a":{"t":[0]},"b":{"t":[1]}}}`)
	head, v, _, err := z.ReadAssignmentHeader(ctx, "g")
	want := map[string]map[string][]int32{"a": {"t": {0}}, "b": {"t": {1}}}
	if err != nil || head.Version != 1 || head.Generation != 7 || !reflect.DeepEqual(head.Members, want) {
		t.Fatalf("version 1 header: %+v, %v; want its parts %v", head, err, want)
	}
	next := head
	next.Generation, next.Members = 8, maps.Clone(want)
	if _, err := z.PublishAssignment(ctx, "g", next, head, v); err != nil {
		t.Fatal(err)
	}
	got, err := z.Assignment(ctx, "g")
	if err != nil || got.Version != 2 || got.Generation != 8 || !reflect.DeepEqual(got.Members, want) {
		t.Fatalf("after the publication: %+v, %v; want version 2 with every part", got, err)
	}
	if _, _, err := z.ReadMemberAssignment(ctx, "g", "b"); err != nil {
		t.Fatal(err)
	}
}

// TestAssignmentBadPart: a member's part that does not follow the layout,
// or that assigns a partition another part assigns, is ErrBadData for a
// whole read, and for the member reading its own.
func TestAssignmentBadPart(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot)
	raw := rawZK(t)
	ctx := testCtx(t)
	a := zookeeper.Assignment{Generation: 1, Strategy: "range", Leader: "a", Partitions: map[string]int32{"t": 2},
		Members: map[string]map[string][]int32{"a": {"t": {0}}, "b": {"t": {1}}}}
	if _, err := z.PublishAssignment(ctx, "g", a, zookeeper.Assignment{}, -1); err != nil {
		t.Fatal(err)
	}
	put(t, raw, chroot+"/consumers/g/assignment/b", `{"version":2,"generation":1,"strategy":"range","leader":"a","assignment":{"t":[0]}}`)
	if _, err := z.Assignment(ctx, "g"); !errors.Is(err, zookeeper.ErrBadData) {
		t.Fatalf("two parts assigning t/0: %v, want ErrBadData", err)
	}
	put(t, raw, chroot+"/consumers/g/assignment/b", `{"version":2,`)
	if _, _, err := z.ReadMemberAssignment(ctx, "g", "b"); !errors.Is(err, zookeeper.ErrBadData) {
		t.Fatalf("truncated part: %v, want ErrBadData", err)
	}
	if _, err := z.PublishAssignment(ctx, "g", a, zookeeper.Assignment{}, 0); err != nil {
		t.Fatalf("rewriting every part: %v", err)
	}
	if got, err := z.Assignment(ctx, "g"); err != nil || !reflect.DeepEqual(got.Members, a.Members) {
		t.Fatalf("after rewriting: %+v, %v", got, err)
	}
}

// TestPublishAssignmentChunked: an assignment whose parts do not fit in one
// request (Config.MaxRequestBytes) is published in several, read back
// whole; a publication at a stale version writes nothing.
func TestPublishAssignmentChunked(t *testing.T) {
	chroot := testenv.Chroot(t)
	z := dialZK(t, chroot, func(c *zookeeper.Config) { c.MaxRequestBytes = 4 << 10 })
	raw := rawZK(t)
	ctx := testCtx(t)
	const members, parts = 200, 1000
	a := zookeeper.Assignment{Generation: 1, Strategy: "range", Leader: "m000", Partitions: map[string]int32{"t": parts},
		Members: map[string]map[string][]int32{}}
	for m := range members {
		var ps []int32
		for p := m; p < parts; p += members {
			ps = append(ps, int32(p))
		}
		a.Members[fmt.Sprintf("m%03d", m)] = map[string][]int32{"t": ps}
	}
	v, err := z.PublishAssignment(ctx, "g", a, zookeeper.Assignment{}, -1)
	if err != nil || v != 0 {
		t.Fatalf("chunked publication: version %d, %v", v, err)
	}
	got, err := z.Assignment(ctx, "g")
	if err != nil || !reflect.DeepEqual(got.Members, a.Members) {
		t.Fatalf("read back %d members, %v; want %d", len(got.Members), err, members)
	}
	_, st, err := raw.Get(chroot + "/consumers/g/assignment")
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 0 || st.NumChildren != members {
		t.Fatalf("assignment node at version %d with %d parts, want 0 and %d", st.Version, st.NumChildren, members)
	}
	b := a
	b.Generation = 2
	if _, err := z.PublishAssignment(ctx, "g", b, a, 5); !errors.Is(err, zookeeper.ErrAssignmentConflict) {
		t.Fatalf("at a stale version: %v, want ErrAssignmentConflict", err)
	}
}
