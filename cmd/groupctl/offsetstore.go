package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// offsetStore is where reset-offsets reads and writes a group's committed
// offsets: ZooKeeper, or Kafka's coordinator.
type offsetStore interface {
	// exists reports whether the group exists.
	exists(ctx context.Context, group string) (bool, error)
	// committed returns the group's committed offsets (nil with an error
	// when they cannot be read).
	committed(ctx context.Context, group string) (map[string]map[int32]int64, error)
	// kafka returns the admin client of the group's topics.
	kafka(ctx context.Context) (*kadm.Client, error)
	// reset writes offsets, refusing with ErrGroupActive while the group
	// has members.
	reset(ctx context.Context, group string, offsets map[consumergroup.TopicPartition]int64) error
	// members counts the group's live members (0 for no such group).
	members(ctx context.Context, group string) (int, error)
	// where names the store for messages.
	where() string
	close()
}

// openOffsetStore connects to the store the flags name.
func (c *common) openOffsetStore(ctx context.Context) (offsetStore, error) {
	if c.onKafka() {
		cl, admin, err := c.bootstrapClient(ctx)
		if err != nil {
			return nil, err
		}
		return &kafkaStore{c: c, cl: cl, admin: admin}, nil
	}
	z, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &zkStore{c: c, z: z}, nil
}

// zkStore is a group's offsets in ZooKeeper.
type zkStore struct {
	c  *common
	z  *zookeeper.Client
	cl *kgo.Client
}

func (s *zkStore) exists(ctx context.Context, group string) (bool, error) {
	groups, err := s.z.Groups(ctx)
	return slices.Contains(groups, group), err
}

func (s *zkStore) committed(ctx context.Context, group string) (map[string]map[int32]int64, error) {
	return s.z.Offsets(ctx, group)
}

func (s *zkStore) kafka(ctx context.Context) (*kadm.Client, error) {
	cl, admin, err := s.c.kafka(ctx, s.z)
	if err != nil {
		return nil, err
	}
	s.cl = cl
	return admin, nil
}

func (s *zkStore) reset(ctx context.Context, group string, offsets map[consumergroup.TopicPartition]int64) error {
	return s.z.ResetOffsets(ctx, group, offsets)
}

func (s *zkStore) members(ctx context.Context, group string) (int, error) {
	ids, err := s.z.Members(ctx, group)
	return len(ids), err
}

func (s *zkStore) where() string { return "ZooKeeper at " + s.c.zookeeper }

func (s *zkStore) close() {
	if s.cl != nil {
		s.cl.Close()
	}
	s.z.Close()
}

// kafkaStore is a group's offsets in Kafka's coordinator
// (__consumer_offsets).
type kafkaStore struct {
	c     *common
	cl    *kgo.Client
	admin *kadm.Client
}

func (s *kafkaStore) exists(ctx context.Context, group string) (bool, error) {
	listed, err := s.admin.ListGroups(ctx)
	if _, ok := listed[group]; ok {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: %s: list groups: %v", errUnreachable, s.where(), err)
	}
	return false, nil
}

func (s *kafkaStore) committed(ctx context.Context, group string) (map[string]map[int32]int64, error) {
	fetched, err := s.admin.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[string]map[int32]int64{}, nil // none yet: --execute creates the group
	}
	if err != nil {
		return nil, fmt.Errorf("%s: fetch the offsets of group %q: %w", s.where(), group, s.c.kafkaGroupErr(group, err))
	}
	out := map[string]map[int32]int64{}
	var errs []error
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s: offset of %s/%d in group %q: %w", s.where(), o.Topic, o.Partition, group, o.Err))
			return
		}
		if o.At < 0 {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out, errors.Join(errs...)
}

func (s *kafkaStore) kafka(context.Context) (*kadm.Client, error) { return s.admin, nil }

// reset refuses while the group has members, as kafka-consumer-groups.sh
// does; the coordinator itself also refuses a commit without a member id
// to a group that has members (a member that joins between the check and
// the write).
func (s *kafkaStore) reset(ctx context.Context, group string, offsets map[consumergroup.TopicPartition]int64) error {
	d, err := consumergroup.DescribeKafkaGroup(ctx, s.cl, group)
	switch {
	case errors.Is(err, consumergroup.ErrUnknownGroup): // --execute creates it
	case d == nil:
		return fmt.Errorf("%s: %w", s.where(), err)
	case len(d.Members) > 0:
		ids := make([]string, len(d.Members))
		for i, m := range d.Members {
			ids[i] = m.ID
		}
		return fmt.Errorf("%w: group %q in %s is %s with %d members: %v", consumergroup.ErrGroupActive, group, s.where(), d.CoordinatorState, len(ids), ids)
	}
	os := make(kadm.Offsets)
	for tp, off := range offsets {
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: off, LeaderEpoch: -1})
	}
	if err := s.admin.CommitAllOffsets(ctx, group, os); err != nil {
		return s.c.kafkaGroupErr(group, err)
	}
	return nil
}

func (s *kafkaStore) members(ctx context.Context, group string) (int, error) {
	d, err := consumergroup.DescribeKafkaGroup(ctx, s.cl, group)
	switch {
	case errors.Is(err, consumergroup.ErrUnknownGroup):
		return 0, nil
	case d == nil:
		return 0, fmt.Errorf("%s: %w", s.where(), err)
	}
	return len(d.Members), nil
}

func (s *kafkaStore) where() string { return s.c.kafkaWhere() }
func (s *kafkaStore) close()        { s.cl.Close() }
