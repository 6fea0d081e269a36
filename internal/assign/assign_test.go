package assign

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var strategies = []Strategy{Range{}, RoundRobin{}, Sticky{}}

// randomInput returns a group of 1..maxMembers members over 1..3 topics of
// 0..maxParts partitions; with same, every member subscribes to every topic.
func randomInput(r *rand.Rand, maxMembers, maxParts int, same bool) Input {
	topics := []string{"a", "b", "c"}[:1+r.IntN(3)]
	in := Input{Partitions: map[string]int32{}}
	for _, t := range topics {
		in.Partitions[t] = int32(r.IntN(maxParts + 1))
	}
	for i := range 1 + r.IntN(maxMembers) {
		m := Member{ID: fmt.Sprintf("m%03d-%d", r.IntN(1000), i)}
		for _, t := range topics {
			if same || r.IntN(2) == 0 {
				m.Topics = append(m.Topics, t)
			}
		}
		if len(m.Topics) == 0 {
			m.Topics = []string{topics[0]}
		}
		in.Members = append(in.Members, m)
	}
	return in
}

// checkValid checks that every partition of every subscribed topic has
// exactly one owner, subscribed to it, and that every member has an entry.
func checkValid(t *testing.T, s Strategy, in Input, a Assignment) {
	t.Helper()
	subscribed := map[string]map[string]bool{}
	for _, m := range in.Members {
		if _, ok := a[m.ID]; !ok {
			t.Fatalf("%s: member %s has no entry", s.Name(), m.ID)
		}
		for _, tp := range m.Topics {
			if subscribed[tp] == nil {
				subscribed[tp] = map[string]bool{}
			}
			subscribed[tp][m.ID] = true
		}
	}
	owners := map[string]map[int32]int{}
	for id, topics := range a {
		for tp, ps := range topics {
			if !slices.IsSorted(ps) {
				t.Fatalf("%s: %s's partitions of %s are not sorted: %v", s.Name(), id, tp, ps)
			}
			for _, p := range ps {
				if !subscribed[tp][id] {
					t.Fatalf("%s: %s got %s/%d without subscribing", s.Name(), id, tp, p)
				}
				if p < 0 || p >= in.Partitions[tp] {
					t.Fatalf("%s: %s got %s/%d of %d partitions", s.Name(), id, tp, p, in.Partitions[tp])
				}
				if owners[tp] == nil {
					owners[tp] = map[int32]int{}
				}
				owners[tp][p]++
			}
		}
	}
	for tp, subs := range subscribed {
		if len(subs) == 0 {
			continue
		}
		for p := range in.Partitions[tp] {
			if owners[tp][p] != 1 {
				t.Fatalf("%s: %s/%d has %d owners", s.Name(), tp, p, owners[tp][p])
			}
		}
	}
}

func spread(in Input, a Assignment) int {
	lo, hi := -1, 0
	for _, m := range in.Members {
		c := a.Count(m.ID)
		if lo < 0 || c < lo {
			lo = c
		}
		hi = max(hi, c)
	}
	return hi - lo
}

// TestPropertyValid: every strategy gives each partition exactly one
// subscribed owner, for any subscriptions.
func TestPropertyValid(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		in := randomInput(r, 12, 40, false)
		for _, s := range strategies {
			checkValid(t, s, in, s.Assign(in))
		}
		in.Previous = Range{}.Assign(randomInput(r, 12, 40, false))
		checkValid(t, Sticky{}, in, Sticky{}.Assign(in))
	}
}

// TestPropertyBalanced: with the same subscription everywhere, every member
// is within one partition of every other, for every strategy.
func TestPropertyBalanced(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		in := randomInput(r, 20, 60, true)
		if r.IntN(2) == 0 {
			in.Previous = RoundRobin{}.Assign(randomInput(r, 20, 60, true))
		}
		for _, s := range strategies {
			a := s.Assign(in)
			checkValid(t, s, in, a)
			if d := spread(in, a); d > 1 {
				t.Fatalf("%s: spread %d > 1 for %d members, partitions %v: %v", s.Name(), d, len(in.Members), in.Partitions, a)
			}
		}
	}
}

// TestPropertyDeterministic: the order of members and topics in the input
// does not change the output.
func TestPropertyDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 500 {
		in := randomInput(r, 10, 30, false)
		in.Previous = Range{}.Assign(in)
		shuffled := in
		shuffled.Members = slices.Clone(in.Members)
		r.Shuffle(len(shuffled.Members), func(i, j int) {
			shuffled.Members[i], shuffled.Members[j] = shuffled.Members[j], shuffled.Members[i]
		})
		for i, m := range shuffled.Members {
			ts := slices.Clone(m.Topics)
			slices.Reverse(ts)
			shuffled.Members[i].Topics = ts
		}
		for _, s := range strategies {
			if a, b := s.Assign(in), s.Assign(shuffled); !reflect.DeepEqual(a, b) {
				t.Fatalf("%s: input order changed the output:\n%v\n%v", s.Name(), a, b)
			}
		}
	}
}

// minMoves is the least number of partitions that must change owner when
// going from prev to a balanced assignment of in (same subscription
// everywhere): what departed members held and new partitions are not moves;
// a surviving member can keep at most its share, and only total%M members
// can have the larger share.
func minMoves(in Input, prev Assignment) int {
	total := 0
	for _, c := range in.Partitions {
		total += int(c)
	}
	m := len(in.Members)
	var held []int
	for _, mem := range in.Members {
		n := 0
		for tp, ps := range prev[mem.ID] {
			for _, p := range ps {
				if p < in.Partitions[tp] {
					n++
				}
			}
		}
		held = append(held, n)
	}
	slices.Sort(held)
	slices.Reverse(held)
	moves := 0
	for i, h := range held {
		share := total / m
		if i < total%m {
			share++
		}
		moves += max(0, h-share)
	}
	return moves
}

// moved counts partitions that a member held in prev and holds no more,
// while that member is still in the group and the partition still exists.
func moved(in Input, prev, next Assignment) int {
	owners := next.Owners()
	n := 0
	for _, mem := range in.Members {
		for tp, ps := range prev[mem.ID] {
			for _, p := range ps {
				if p < in.Partitions[tp] && owners[tp][p] != mem.ID {
					n++
				}
			}
		}
	}
	return n
}

// TestPropertyStickyMinimal: sticky moves exactly the minimum when members
// join, leave, and partitions are added.
func TestPropertyStickyMinimal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 2000 {
		in := randomInput(r, 15, 50, true)
		prev := Sticky{}.Assign(in)
		// Change the group: drop some members, add some, add partitions.
		next := Input{Partitions: maps.Clone(in.Partitions), Previous: prev}
		topics := in.Members[0].Topics
		for _, m := range in.Members {
			if r.IntN(4) != 0 {
				next.Members = append(next.Members, m)
			}
		}
		for i := range r.IntN(4) {
			next.Members = append(next.Members, Member{ID: fmt.Sprintf("new%d", i), Topics: topics})
		}
		if len(next.Members) == 0 {
			next.Members = append(next.Members, Member{ID: "only", Topics: topics})
		}
		for tp := range next.Partitions {
			if r.IntN(3) == 0 {
				next.Partitions[tp] += int32(r.IntN(10))
			}
		}
		a := Sticky{}.Assign(next)
		checkValid(t, Sticky{}, next, a)
		if d := spread(next, a); d > 1 {
			t.Fatalf("sticky: spread %d", d)
		}
		if got, want := moved(next, prev, a), minMoves(next, prev); got != want {
			t.Fatalf("sticky moved %d partitions, the minimum is %d\nprev %v\nnext %v", got, want, prev, a)
		}
		// Nothing changed: nothing moves.
		again := Sticky{}.Assign(Input{Members: next.Members, Partitions: next.Partitions, Previous: a})
		if !reflect.DeepEqual(again, a) {
			t.Fatalf("sticky changed a stable assignment:\n%v\n%v", a, again)
		}
	}
}

func TestRangeContiguous(t *testing.T) {
	in := Input{
		Members:    []Member{{ID: "b", Topics: []string{"t", "u"}}, {ID: "a", Topics: []string{"t", "u"}}},
		Partitions: map[string]int32{"t": 3, "u": 3},
	}
	got := Range{}.Assign(in)
	want := Assignment{
		"a": {"t": {0, 1}, "u": {0}},
		"b": {"t": {2}, "u": {1, 2}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Range = %v, want %v (Kafka's range would give a 4 and b 2)", got, want)
	}
}

func TestByName(t *testing.T) {
	for _, s := range strategies {
		got, err := ByName(s.Name())
		if err != nil || got.Name() != s.Name() {
			t.Fatalf("ByName(%q) = %v, %v", s.Name(), got, err)
		}
	}
	if _, err := ByName("cooperative"); err == nil {
		t.Fatal("ByName of an unknown strategy: no error")
	}
}

func BenchmarkAssign(b *testing.B) {
	in := Input{Partitions: map[string]int32{"a": 5000, "b": 5000}}
	for i := range 1000 {
		in.Members = append(in.Members, Member{ID: fmt.Sprintf("member-%04d", i), Topics: []string{"a", "b"}})
	}
	prev := Range{}.Assign(in)
	in.Members = in.Members[1:] // one left
	in.Previous = prev
	for _, s := range strategies {
		b.Run(s.Name(), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				s.Assign(in)
			}
		})
	}
}
