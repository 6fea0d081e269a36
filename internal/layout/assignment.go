package layout

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Assignment is the node a group's leader publishes its assignment in:
// /consumers/<group>/assignment. It is not part of Kafka's layout (Kafka's
// own consumers had no leader); tools that read the layout ignore it.
func (p Paths) Assignment(group string) string { return p.Group(group) + "/assignment" }

// Assignment is the JSON of the assignment node:
//
//	{"version":1,"generation":3,"strategy":"range","leader":"<id>",
//	 "partitions":{"orders":8},"assignment":{"<id>":{"orders":[0,1,2,3]}}}
//
// Every member of the generation has an entry in assignment, possibly
// empty.
type Assignment struct {
	Version    int                           `json:"version"`
	Generation int                           `json:"generation"`
	Strategy   string                        `json:"strategy"`
	Leader     string                        `json:"leader"`
	Partitions map[string]int32              `json:"partitions"`
	Members    map[string]map[string][]int32 `json:"assignment"`
}

// Encode returns the node's bytes (map keys sorted).
func (a Assignment) Encode() []byte {
	b, err := json.Marshal(a)
	if err != nil {
		panic("layout: marshal assignment: " + err.Error())
	}
	return b
}

// ParseAssignment parses an assignment node and checks it: a generation,
// partitions within the counts, no partition assigned twice.
func ParseAssignment(b []byte) (Assignment, error) {
	var a Assignment
	if err := strictUnmarshal(b, &a); err != nil {
		return Assignment{}, fmt.Errorf("%w: assignment: %v", ErrBadData, shortMessage(err.Error()))
	}
	if a.Version != 1 || a.Generation <= 0 {
		return Assignment{}, fmt.Errorf("%w: assignment: version %d, generation %d", ErrBadData, a.Version, a.Generation)
	}
	owners := map[string]map[int32]string{}
	ids := make([]string, 0, len(a.Members))
	for id := range a.Members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := checkSegment(id); err != nil {
			return Assignment{}, fmt.Errorf("%w: assignment: member %q: %v", ErrBadData, short(id), err)
		}
		for t, ps := range a.Members[id] {
			n, ok := a.Partitions[t]
			if !ok {
				return Assignment{}, fmt.Errorf("%w: assignment: topic %q has no partition count", ErrBadData, short(t))
			}
			if owners[t] == nil {
				owners[t] = map[int32]string{}
			}
			for _, p := range ps {
				if p < 0 || p >= n {
					return Assignment{}, fmt.Errorf("%w: assignment: %s/%d is outside its %d partitions", ErrBadData, short(t), p, n)
				}
				if prev, dup := owners[t][p]; dup {
					return Assignment{}, fmt.Errorf("%w: assignment: %s/%d assigned to %q and %q", ErrBadData, short(t), p, short(prev), short(id))
				}
				owners[t][p] = id
			}
		}
	}
	if a.Members == nil {
		a.Members = map[string]map[string][]int32{}
	}
	return a, nil
}
