package main

// list's filters, --type and --state, as kafka-consumer-groups.sh --list
// and kafka-share-groups.sh --list take them.

import (
	"fmt"
	"slices"
	"strings"
)

// Types of group, as list shows them (TYPE) and --type takes them: Kafka's
// group types (ListGroups, KIP-1043), and zookeeper for a group in
// ZooKeeper.
const (
	typeClassic   = "classic"
	typeConsumer  = "consumer"
	typeShare     = "share"
	typeZooKeeper = kindZooKeeper
)

// groupTypes are the values --type takes.
var groupTypes = []string{typeClassic, typeConsumer, typeShare, typeZooKeeper}

// groupStates are the values --state takes, lowercase: the states of
// Kafka's coordinator (its GroupState: those of classic, consumer and share
// groups) and of ZooKeeper groups (rebalancing; stable and empty are both's).
var groupStates = []string{"stable", "empty", "preparingrebalance", "completingrebalance", "assigning", "reconciling",
	"dead", "notready", "unknown", "rebalancing"}

// groupFilter is list's --type and --state: the groups it keeps. Its zero
// value keeps every group.
type groupFilter struct {
	types  []string // nil: every type
	states []string // lowercase; nil: every state
}

// parseGroupFilter reads --type and --state, comma-separated lists; a
// value that is not a type or a state is an error naming the valid ones.
func parseGroupFilter(types, states string) (groupFilter, error) {
	var f groupFilter
	var err error
	if f.types, err = parseChoices("--type", types, groupTypes, "types"); err != nil {
		return f, err
	}
	f.states, err = parseChoices("--state", states, groupStates, "states")
	return f, err
}

// parseChoices splits the value of flag name into choices of valid, case
// insensitively; nil for "".
func parseChoices(name, value string, valid []string, what string) ([]string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var out []string
	for _, v := range strings.Split(value, ",") {
		v = strings.ToLower(strings.TrimSpace(v))
		if !slices.Contains(valid, v) {
			return nil, fmt.Errorf("%s %q: %q is not one of the %s %s (comma-separated, any case)", name, value, v, what, strings.Join(valid, ", "))
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// keeps reports whether f keeps a group of type typ in state (Kafka's
// name, or a ZooKeeper group's), comparing case insensitively.
func (f groupFilter) keeps(typ, state string) bool {
	return (f.types == nil || slices.Contains(f.types, typ)) &&
		(f.states == nil || slices.Contains(f.states, strings.ToLower(state)))
}

// wantsZooKeeper and wantsKafka report whether f keeps some type of group
// of that source.
func (f groupFilter) wantsZooKeeper() bool {
	return f.types == nil || slices.Contains(f.types, typeZooKeeper)
}

func (f groupFilter) wantsKafka() bool {
	return f.types == nil || slices.ContainsFunc(f.types, func(t string) bool { return t != typeZooKeeper })
}

// active reports whether f filters anything out.
func (f groupFilter) active() bool { return f.types != nil || f.states != nil }

// checkSources refuses types that the sources the flags select do not
// hold: share without --bootstrap-server, zookeeper with only
// --bootstrap-server.
func (f groupFilter) checkSources(c *common) error {
	for _, t := range f.types {
		switch {
		case t == typeZooKeeper && c.onKafka():
			return fmt.Errorf("--type zookeeper: ZooKeeper's groups need --zookeeper (give both --zookeeper and --bootstrap-server to list both)")
		case t != typeZooKeeper && c.bootstrap == "":
			return fmt.Errorf("--type %s: the groups of Kafka's coordinator need --bootstrap-server", t)
		}
	}
	return nil
}
