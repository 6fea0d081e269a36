// Package layout is the ZooKeeper layout that Kafka's ZooKeeper-era brokers
// and consumers agreed on: the paths, and the bytes stored at each of them.
//
// It writes exactly what Kafka writes, so that monitoring tools that read the
// layout (Burrow, offset checkers, cluster managers) understand our groups,
// and it parses what Kafka brokers write. Every parser returns an error for
// data it cannot understand and never panics: the data comes from a shared
// store that anyone can write to.
package layout

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Roots of the two halves of the layout, relative to the chroot.
const (
	ConsumersPath = "/consumers"
	BrokerIDsPath = "/brokers/ids"
	TopicsPath    = "/brokers/topics"
)

// ErrInvalidName is returned for a group, topic or consumer id that cannot be
// part of a znode path.
var ErrInvalidName = errors.New("invalid name")

// ErrInvalidChroot is returned for a chroot that is not an absolute znode path.
var ErrInvalidChroot = errors.New("invalid chroot")

// Paths builds the paths of the layout under a chroot. The zero value builds
// them at the root. Build one with NewPaths, which checks the chroot.
type Paths struct {
	chroot string // "" or "/a/b": absolute, no trailing slash
}

// NewPaths returns Paths under chroot. A chroot is empty (the root) or an
// absolute path such as "/kafka"; trailing slashes are removed, so that
// "/kafka/" and "/kafka" name the same place and "/" means the root.
func NewPaths(chroot string) (Paths, error) {
	c, err := NormalizeChroot(chroot)
	if err != nil {
		return Paths{}, err
	}
	return Paths{chroot: c}, nil
}

// NormalizeChroot checks chroot and removes its trailing slashes.
func NormalizeChroot(chroot string) (string, error) {
	c := strings.TrimRight(chroot, "/")
	if c == "" {
		return "", nil
	}
	if c[0] != '/' {
		return "", fmt.Errorf("%w %q: must start with '/'", ErrInvalidChroot, chroot)
	}
	for _, seg := range strings.Split(c[1:], "/") {
		if err := checkSegment(seg); err != nil {
			return "", fmt.Errorf("%w %q: %v", ErrInvalidChroot, chroot, err)
		}
	}
	return c, nil
}

// Chroot returns the chroot, "" for the root.
func (p Paths) Chroot() string { return p.chroot }

// Abs returns the absolute znode path of rel, a path relative to the chroot
// that starts with '/'.
func (p Paths) Abs(rel string) string {
	if rel == "/" && p.chroot != "" {
		return p.chroot
	}
	return p.chroot + rel
}

// Rel returns abs without the chroot, and false when abs is not under it.
func (p Paths) Rel(abs string) (string, bool) {
	if p.chroot == "" {
		return abs, strings.HasPrefix(abs, "/")
	}
	if abs == p.chroot {
		return "/", true
	}
	if strings.HasPrefix(abs, p.chroot+"/") {
		return abs[len(p.chroot):], true
	}
	return "", false
}

// Consumers is /consumers: one child per group.
func (p Paths) Consumers() string { return p.chroot + ConsumersPath }

// Group is /consumers/<group>.
func (p Paths) Group(group string) string { return p.Consumers() + "/" + group }

// IDs is /consumers/<group>/ids: one ephemeral child per member.
func (p Paths) IDs(group string) string { return p.Group(group) + "/ids" }

// ID is /consumers/<group>/ids/<consumerID>.
func (p Paths) ID(group, id string) string { return p.IDs(group) + "/" + id }

// Owners is /consumers/<group>/owners.
func (p Paths) Owners(group string) string { return p.Group(group) + "/owners" }

// OwnersTopic is /consumers/<group>/owners/<topic>.
func (p Paths) OwnersTopic(group, topic string) string { return p.Owners(group) + "/" + topic }

// Owner is /consumers/<group>/owners/<topic>/<partition>.
func (p Paths) Owner(group, topic string, partition int32) string {
	return p.OwnersTopic(group, topic) + "/" + strconv.FormatInt(int64(partition), 10)
}

// Offsets is /consumers/<group>/offsets.
func (p Paths) Offsets(group string) string { return p.Group(group) + "/offsets" }

// OffsetsTopic is /consumers/<group>/offsets/<topic>.
func (p Paths) OffsetsTopic(group, topic string) string { return p.Offsets(group) + "/" + topic }

// Offset is /consumers/<group>/offsets/<topic>/<partition>.
func (p Paths) Offset(group, topic string, partition int32) string {
	return p.OffsetsTopic(group, topic) + "/" + strconv.FormatInt(int64(partition), 10)
}

// BrokerIDs is /brokers/ids: one ephemeral child per live broker.
func (p Paths) BrokerIDs() string { return p.chroot + BrokerIDsPath }

// BrokerID is /brokers/ids/<id>.
func (p Paths) BrokerID(id int32) string {
	return p.BrokerIDs() + "/" + strconv.FormatInt(int64(id), 10)
}

// Topics is /brokers/topics.
func (p Paths) Topics() string { return p.chroot + TopicsPath }

// Topic is /brokers/topics/<topic>: the topic's replica assignment.
func (p Paths) Topic(topic string) string { return p.Topics() + "/" + topic }

// PartitionState is /brokers/topics/<topic>/partitions/<partition>/state.
func (p Paths) PartitionState(topic string, partition int32) string {
	return p.Topic(topic) + "/partitions/" + strconv.FormatInt(int64(partition), 10) + "/state"
}

// CheckName checks that a group, topic or consumer id can be one segment of
// a znode path; what names it in an error.
func CheckName(what, name string) error {
	if err := checkSegment(name); err != nil {
		return fmt.Errorf("%w: %s %q: %v", ErrInvalidName, what, name, err)
	}
	return nil
}

// checkSegment applies ZooKeeper's path rules (the server's
// PathUtils.validatePath) to one segment: not empty, not "." or "..", no
// '/', and none of the characters the server refuses, which it checks on
// Java's UTF-16: U+0000, U+0001..U+001F, U+007F..U+009F, U+D800..U+F8FF,
// U+FFF0..U+FFFF, and so every character outside the Basic Multilingual
// Plane (above U+FFFF: a surrogate pair in UTF-16). Bytes that are not
// UTF-8 reach the server as U+FFFD, refused too. The error names the
// character, e.g. U+1F642.
func checkSegment(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..":
		return errors.New(`"." and ".." are not allowed`)
	case strings.Contains(s, "/"):
		return errors.New("contains '/'")
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	}
	for i, r := range s {
		if r > 0xFFFF {
			return fmt.Errorf("character %U at byte %d is outside the Basic Multilingual Plane: ZooKeeper refuses it in a znode name", r, i)
		}
		if zkRefuses(r) {
			return fmt.Errorf("character %U at byte %d is not allowed in a znode name", r, i)
		}
	}
	return nil
}

// zkRefuses reports whether ZooKeeper refuses r (of the BMP) in a path.
func zkRefuses(r rune) bool {
	return r <= 0x1F || (r >= 0x7F && r <= 0x9F) || (r >= 0xD800 && r <= 0xF8FF) || (r >= 0xFFF0 && r <= 0xFFFF)
}

// ParsePartition parses a partition znode name ("0", "17").
func ParsePartition(name string) (int32, error) {
	return parseID("partition", name)
}

// ParseBrokerID parses a broker znode name under /brokers/ids.
func ParseBrokerID(name string) (int32, error) {
	return parseID("broker id", name)
}

func parseID(what, name string) (int32, error) {
	n, err := strconv.ParseInt(name, 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != name {
		return 0, fmt.Errorf("%s %q is not a non-negative decimal integer", what, short(name))
	}
	return int32(n), nil
}
