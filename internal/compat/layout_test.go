package compat

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
)

// The group's nodes, read as Burrow's kafka_zk module and Kafka's own
// ZooKeeper-era tools read them (the table in docs/USAGE.md, "The zookeeper
// package"): checked here against the bytes, not through the library's
// parsers.
var (
	// registration is /consumers/<group>/ids/<id>, field for field as
	// Kafka's own consumer wrote it; the timestamp a string of Unix ms.
	registration = regexp.MustCompile(`^\{"version":1,"subscription":\{"` + topic + `":1\},"pattern":"static","timestamp":"([0-9]{13})"\}$`)
	// consumerID is Kafka's <group>_<hostname>-<start unix ms>-<8 hex>.
	consumerID = regexp.MustCompile(`^` + group + `_.+-[0-9]{13}-[0-9a-f]{8}$`)
)

func (r *run) path(rel string) string { return r.e.chroot + "/consumers/" + group + rel }

// layoutMatches returns nil when the ids nodes are exactly the members',
// ephemeral registrations in Kafka's format, and each partition's owner
// node (ephemeral) names its holder; with no member, when neither ids nor
// owners has a child left.
func (r *run) layoutMatches(members []*member, holder map[int32]*member) error {
	ids, err := r.children(r.path("/ids"))
	if err != nil {
		return err
	}
	var want []string
	for _, m := range members {
		want = append(want, m.g.ID())
	}
	slices.Sort(want)
	slices.Sort(ids)
	if !slices.Equal(ids, want) {
		return fmt.Errorf("ids %v, want %v", ids, want)
	}
	for _, id := range ids {
		if err := r.checkRegistration(id); err != nil {
			return err
		}
	}
	owners, err := r.children(r.path("/owners/" + topic))
	if err != nil {
		return err
	}
	if len(members) == 0 {
		if len(owners) > 0 {
			return fmt.Errorf("owner nodes left after every member left: %v", owners)
		}
		return nil
	}
	for p := range int32(partitions) {
		data, stat, err := r.conn.Get(r.path(fmt.Sprintf("/owners/%s/%d", topic, p)))
		if err != nil {
			return fmt.Errorf("owner of partition %d: %w", p, err)
		}
		if string(data) != holder[p].g.ID() || stat.EphemeralOwner == 0 {
			return fmt.Errorf("owner of partition %d: %q (ephemeral owner %#x), want %q, ephemeral", p, data, stat.EphemeralOwner, holder[p].g.ID())
		}
	}
	return nil
}

// children lists a node's children; a node not there has none.
func (r *run) children(p string) ([]string, error) {
	c, _, err := r.conn.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("children of %s: %w", p, err)
	}
	return c, nil
}

// checkRegistration checks one ids node: the id's format, the bytes, a
// plausible start time, an ephemeral node.
func (r *run) checkRegistration(id string) error {
	if !consumerID.MatchString(id) {
		return fmt.Errorf("consumer id %q is not <group>_<host>-<unix ms>-<8 hex>", id)
	}
	p := r.path("/ids/" + id)
	data, stat, err := r.conn.Get(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	m := registration.FindSubmatch(data)
	if m == nil {
		return fmt.Errorf("%s holds %s, not Kafka's registration of topic %s", p, data, topic)
	}
	ms, _ := strconv.ParseInt(string(m[1]), 10, 64)
	if age := time.Since(time.UnixMilli(ms)); age < -time.Minute || age > time.Hour {
		return fmt.Errorf("%s: timestamp %s is %v from now", p, m[1], age)
	}
	if stat.EphemeralOwner == 0 {
		return fmt.Errorf("%s is not ephemeral", p)
	}
	return nil
}

// offsetsMatch returns nil when every partition's offsets node is
// persistent and holds the log end as a plain decimal (the next offset to
// consume: everything produced is processed).
func (r *run) offsetsMatch() error {
	for p := range int32(partitions) {
		path := r.path(fmt.Sprintf("/offsets/%s/%d", topic, p))
		data, stat, err := r.conn.Get(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if want := strconv.FormatInt(r.produced[p], 10); string(data) != want {
			return fmt.Errorf("%s holds %q, want %q", path, data, want)
		}
		if stat.EphemeralOwner != 0 {
			return fmt.Errorf("%s is ephemeral", path)
		}
	}
	return nil
}
