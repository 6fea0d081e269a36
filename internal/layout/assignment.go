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

// MemberAssignment is the node of one member's part of the assignment in
// version 2: /consumers/<group>/assignment/<id>.
func (p Paths) MemberAssignment(group, id string) string {
	return p.Assignment(group) + "/" + id
}

// Assignment is the JSON of the assignment node. Version 1 holds every
// member's part:
//
//	{"version":1,"generation":3,"strategy":"range","leader":"<id>",
//	 "partitions":{"orders":8},"assignment":{"<id>":{"orders":[0,1,2,3]}}}
//
// (every member of the generation has an entry in assignment, possibly
// empty). Version 2 holds no part (Members is nil): each member's is in a
// child node of its own (MemberAssignment), so that a member reads only its
// part, and only when it changed.
type Assignment struct {
	Version    int                           `json:"version"`
	Generation int                           `json:"generation"`
	Strategy   string                        `json:"strategy"`
	Leader     string                        `json:"leader"`
	Partitions map[string]int32              `json:"partitions"`
	Members    map[string]map[string][]int32 `json:"assignment,omitempty"`
}

// MemberAssignment is the JSON of a member's node under a version 2
// assignment node:
//
//	{"version":2,"generation":3,"strategy":"range","leader":"<id>",
//	 "assignment":{"orders":[0,1]}}
//
// Generation is the one that last changed the member's part: a part that
// stays is not written again.
type MemberAssignment struct {
	Version    int                `json:"version"`
	Generation int                `json:"generation"`
	Strategy   string             `json:"strategy"`
	Leader     string             `json:"leader"`
	Topics     map[string][]int32 `json:"assignment"`
}

// Encode returns the node's bytes (map keys sorted).
func (a MemberAssignment) Encode() []byte {
	b, err := json.Marshal(a)
	if err != nil {
		panic("layout: marshal member assignment: " + err.Error())
	}
	return b
}

// ParseMemberAssignment parses a member's assignment node and checks it:
// version 2, a generation, no negative or repeated partition.
func ParseMemberAssignment(b []byte) (MemberAssignment, error) {
	var a MemberAssignment
	if err := strictUnmarshal(b, &a); err != nil {
		return MemberAssignment{}, fmt.Errorf("%w: member assignment: %v", ErrBadData, shortMessage(err.Error()))
	}
	if a.Version != 2 || a.Generation <= 0 {
		return MemberAssignment{}, fmt.Errorf("%w: member assignment: version %d, generation %d", ErrBadData, a.Version, a.Generation)
	}
	for t, ps := range a.Topics {
		seen := make(map[int32]bool, len(ps))
		for _, p := range ps {
			if p < 0 || seen[p] {
				return MemberAssignment{}, fmt.Errorf("%w: member assignment: %s/%d negative or repeated", ErrBadData, short(t), p)
			}
			seen[p] = true
		}
	}
	if a.Topics == nil {
		a.Topics = map[string][]int32{}
	}
	return a, nil
}

// Encode returns the node's bytes (map keys sorted).
func (a Assignment) Encode() []byte {
	b, err := json.Marshal(a)
	if err != nil {
		panic("layout: marshal assignment: " + err.Error())
	}
	return b
}

// ParseAssignment parses an assignment node and checks it: version 1 or
// 2, a generation, partitions within the counts, no partition assigned
// twice; no member's part in version 2.
func ParseAssignment(b []byte) (Assignment, error) {
	var a Assignment
	if err := strictUnmarshal(b, &a); err != nil {
		return Assignment{}, fmt.Errorf("%w: assignment: %v", ErrBadData, shortMessage(err.Error()))
	}
	if (a.Version != 1 && a.Version != 2) || a.Generation <= 0 {
		return Assignment{}, fmt.Errorf("%w: assignment: version %d, generation %d", ErrBadData, a.Version, a.Generation)
	}
	if a.Version == 2 && a.Members != nil {
		return Assignment{}, fmt.Errorf("%w: assignment: version 2 holds no member's part", ErrBadData)
	}
	if err := a.CheckMembers(); err != nil {
		return Assignment{}, err
	}
	if a.Members == nil {
		a.Members = map[string]map[string][]int32{}
	}
	return a, nil
}

// CheckMembers checks the members' parts: ids that are path segments,
// partitions within the counts, no partition assigned twice.
func (a Assignment) CheckMembers() error {
	owners := map[string]map[int32]string{}
	ids := make([]string, 0, len(a.Members))
	for id := range a.Members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := checkSegment(id); err != nil {
			return fmt.Errorf("%w: assignment: member %q: %v", ErrBadData, short(id), err)
		}
		for t, ps := range a.Members[id] {
			n, ok := a.Partitions[t]
			if !ok {
				return fmt.Errorf("%w: assignment: topic %q has no partition count", ErrBadData, short(t))
			}
			if owners[t] == nil {
				owners[t] = map[int32]string{}
			}
			for _, p := range ps {
				if p < 0 || p >= n {
					return fmt.Errorf("%w: assignment: %s/%d is outside its %d partitions", ErrBadData, short(t), p, n)
				}
				if prev, dup := owners[t][p]; dup {
					return fmt.Errorf("%w: assignment: %s/%d assigned to %q and %q", ErrBadData, short(t), p, short(prev), short(id))
				}
				owners[t][p] = id
			}
		}
	}
	return nil
}
