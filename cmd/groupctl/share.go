package main

// Share groups (KIP-932) of Kafka's coordinator: reset-offsets and
// delete-offsets act on their share-partition start offsets, through
// Kafka's share group APIs (list, describe, lag and serve read them through
// DescribeKafkaGroup; delete is Kafka's DeleteGroups, as for the others).

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/consumergroup/consumergroup"
)

// isShareGroup reports whether Kafka lists group as a share group.
func isShareGroup(ctx context.Context, c *common, admin *kadm.Client, group string) (bool, error) {
	typ, err := kafkaTypeOf(ctx, c, admin, group)
	return typ == typeShare, err
}

// kafkaTypeOf is the type of group as Kafka lists it ("" when it does not:
// no such group).
func kafkaTypeOf(ctx context.Context, c *common, admin *kadm.Client, group string) (string, error) {
	listed, err := admin.ListGroups(ctx)
	if l, ok := listed[group]; ok {
		if l.GroupType == "" {
			return typeClassic, nil
		}
		return l.GroupType, nil
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s: list groups: %v", errUnreachable, c.kafkaWhere(), err)
	}
	return "", nil
}

// shareModes are the reset-offsets modes of a share group, as
// kafka-share-groups.sh offers them.
const shareModes = "--to-earliest, --to-latest or --to-datetime"

// checkShare refuses the modes that do not apply to a share group.
func (p *resetPlan) checkShare() error {
	if m := p.mode; !m.earliest && !m.latest && m.toTime == "" {
		return p.bad(fmt.Sprintf("group %q is a share group: its start offsets are reset with %s, as kafka-share-groups.sh does", p.group, shareModes))
	}
	return nil
}

// checkType checks reset-offsets' --type: "" or share, with
// --bootstrap-server.
func (p *resetPlan) checkType(c *common, typ string) (share bool, err error) {
	switch {
	case typ == "":
		return false, nil
	case !strings.EqualFold(typ, typeShare):
		return false, p.bad(fmt.Sprintf("--type %q: reset-offsets takes --type share (a share group) or no --type (the group's own type; a consumer group for a new one)", typ))
	case !c.onKafka():
		return false, p.bad("--type share: share groups are Kafka's coordinator's: give --bootstrap-server")
	}
	return true, nil
}

// shareStore is a share group's start offsets in Kafka's coordinator:
// where its members are delivered records from. Kafka alters them only
// while the group has no member, and creates a share group that does not
// exist yet (reset-offsets --type share).
type shareStore struct {
	*kafkaStore
	listed bool // Kafka lists the group
}

func (s *shareStore) exists(context.Context, string) (bool, error) { return s.listed, nil }

// committed returns the start offsets of the partitions the group has
// share state for; a partition's error fails it, naming the partition.
func (s *shareStore) committed(ctx context.Context, group string) (map[string]map[int32]int64, error) {
	described, err := s.admin.DescribeShareGroupOffsets(ctx, group)
	d, ok := described[group]
	switch {
	case !ok && err != nil:
		return nil, fmt.Errorf("%s: describe the start offsets of share group %q: %w", s.where(), group, err)
	case !ok, errors.Is(d.Err, kerr.GroupIDNotFound):
		return map[string]map[int32]int64{}, nil
	case d.Err != nil:
		return nil, fmt.Errorf("%s: describe the start offsets of share group %q: %w", s.where(), group, d.Err)
	}
	out := map[string]map[int32]int64{}
	var errs []error
	for _, o := range d.Offsets.Sorted() {
		switch {
		case o.Err != nil:
			errs = append(errs, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
		case o.StartOffset >= 0:
			if out[o.Topic] == nil {
				out[o.Topic] = map[int32]int64{}
			}
			out[o.Topic][o.Partition] = o.StartOffset
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing planned: %s did not give the start offset of share group %q on %w", s.where(), group, errors.Join(errs...))
	}
	return out, nil
}

// reset alters the start offsets, refusing while the group has members (as
// Kafka does: NON_EMPTY_GROUP); a partition Kafka refuses is named.
func (s *shareStore) reset(ctx context.Context, group string, offsets map[consumergroup.TopicPartition]int64) error {
	n, err := s.members(ctx, group)
	if err != nil {
		return err
	}
	if n > 0 {
		return s.nonEmpty(group, n)
	}
	os := make(kadm.Offsets)
	for tp, off := range offsets {
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: off, LeaderEpoch: -1})
	}
	resps, err := s.admin.AlterShareGroupOffsets(ctx, group, os)
	if errors.Is(err, kerr.NonEmptyGroup) {
		return s.nonEmpty(group, -1)
	}
	if err != nil {
		return fmt.Errorf("%s: alter the start offsets of share group %q: %w", s.where(), group, err)
	}
	var failed []error
	for _, t := range slices.Sorted(maps.Keys(resps)) {
		for _, p := range slices.Sorted(maps.Keys(resps[t])) {
			if err := resps[t][p]; err != nil {
				failed = append(failed, fmt.Errorf("%s/%d: %w", t, p, err))
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s refused the start offsets of share group %q on %w (the other partitions were written)", s.where(), group, errors.Join(failed...))
	}
	return nil
}

// nonEmpty is the refusal of a reset of a share group with n members (-1:
// Kafka said it has some).
func (s *shareStore) nonEmpty(group string, n int) error {
	has := "has members"
	if n > 0 {
		has = fmt.Sprintf("has %d members", n)
	}
	return fmt.Errorf("%w: share group %q in %s %s, and Kafka alters a share group's start offsets only while it has none", consumergroup.ErrGroupActive, group, s.where(), has)
}

// members counts the share group's members.
func (s *shareStore) members(ctx context.Context, group string) (int, error) {
	described, err := s.admin.DescribeShareGroups(ctx, group)
	d, ok := described[group]
	switch {
	case !ok && err != nil:
		return 0, fmt.Errorf("%s: describe share group %q: %w", s.where(), group, err)
	case !ok, errors.Is(d.Err, kerr.GroupIDNotFound):
		return 0, nil
	case d.Err != nil:
		return 0, fmt.Errorf("%s: describe share group %q: %w", s.where(), group, d.Err)
	}
	return len(d.Members), nil
}

// deleteShareOffsets deletes the share state of topic of a share group:
// its start offset and the state of its records in flight; Kafka refuses
// while the group has members.
func deleteShareOffsets(ctx context.Context, c *common, admin *kadm.Client, group, topic string) error {
	resps, err := admin.DeleteShareGroupOffsets(ctx, group, topic)
	if err == nil {
		if err = resps.Error(); err == nil {
			if _, ok := resps[topic]; !ok {
				err = errors.New("no answer for it")
			}
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.NonEmptyGroup):
		return fmt.Errorf("%w: share group %q in %s has members (%v)", consumergroup.ErrGroupActive, group, c.kafkaWhere(), err)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("share group %q has no start offsets of topic %q in %s (%v)", group, topic, c.kafkaWhere(), err)
	}
	return fmt.Errorf("%s: delete the start offsets of topic %q of share group %q: %w", c.kafkaWhere(), topic, group, c.kafkaGroupErr(group, err))
}

// shareLagUnknown says which partitions of share group d have no lag, and
// why Kafka may not report one.
func shareLagUnknown(d *consumergroup.GroupDescription) error {
	var unknown []string
	for _, p := range d.Partitions {
		if p.Lag < 0 {
			unknown = append(unknown, fmt.Sprintf("%s/%d", p.Topic, p.Partition))
		}
	}
	if len(unknown) > 8 {
		unknown = append(unknown[:8], "...")
	}
	return fmt.Errorf("no lag reported by Kafka for %s of share group %q (no share state yet: no member has fetched from it; or a broker whose DescribeShareGroupOffsets is older than v1, KIP-1226, and reports none)",
		strings.Join(unknown, ", "), d.Group)
}
