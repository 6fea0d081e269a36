package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// groupSource is where describe and lag read groups: ZooKeeper, or Kafka's
// coordinator.
type groupSource interface {
	// groups lists the groups.
	groups(ctx context.Context) ([]string, error)
	// describe reads a group with its lags (see describe), not evaluated
	// (described.evaluated).
	describe(ctx context.Context, group string) (described, error)
	// commitTimes says when the group's offsets were committed, nil when
	// unknown.
	commitTimes(ctx context.Context, group string) map[consumergroup.TopicPartition]time.Time
	// where names the source for messages: "ZooKeeper at ...".
	where() string
	close()
}

// openSource connects to the source the flags name.
func (c *common) openSource(ctx context.Context) (groupSource, error) {
	if c.onKafka() {
		cl, admin, err := c.bootstrapClient(ctx)
		if err != nil {
			return nil, err
		}
		return &kafkaSource{c: c, cl: cl, admin: admin}, nil
	}
	z, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &zkSource{c: c, z: z}, nil
}

// zkSource reads the groups in ZooKeeper.
type zkSource struct {
	c *common
	z *zookeeper.Client
}

func (s *zkSource) groups(ctx context.Context) ([]string, error) { return s.z.Groups(ctx) }
func (s *zkSource) describe(ctx context.Context, g string) (described, error) {
	return describe(ctx, s.c, s.z, g)
}
func (s *zkSource) commitTimes(ctx context.Context, g string) map[consumergroup.TopicPartition]time.Time {
	return commitTimes(ctx, s.c, s.z, g)
}
func (s *zkSource) where() string { return "ZooKeeper at " + s.c.zookeeper }
func (s *zkSource) close()        { s.z.Close() }

// kafkaSource reads the groups of Kafka's coordinator.
type kafkaSource struct {
	c     *common
	cl    *kgo.Client
	admin *kadm.Client
}

func (s *kafkaSource) groups(ctx context.Context) ([]string, error) {
	gs, err := kafkaGroups(ctx, s.c, s.admin, groupFilter{})
	if err != nil {
		return nil, err
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Group
	}
	return names, nil
}

func (s *kafkaSource) describe(ctx context.Context, g string) (described, error) {
	d, err := consumergroup.DescribeKafkaGroup(ctx, s.cl, g)
	if d == nil {
		if !errors.Is(err, consumergroup.ErrUnknownGroup) && !errors.Is(err, consumergroup.ErrInvalidArgument) {
			err = fmt.Errorf("%w: %s: %v", errUnreachable, s.where(), err)
		} else if errors.Is(err, consumergroup.ErrUnknownGroup) {
			err = fmt.Errorf("%w: %q in %s", consumergroup.ErrUnknownGroup, g, s.where())
		}
		return described{}, err
	}
	out := described{GroupDescription: d}
	if d.TotalLag < 0 {
		cause := err
		if cause == nil {
			cause = errors.New("no log end offset listed (a deleted topic?)")
			if d.Protocol == typeShare {
				cause = shareLagUnknown(d)
			}
		}
		out.kafkaErr = fmt.Errorf("%w: %s: %v", errKafka, s.where(), cause)
		err = nil
	}
	return out, err
}

func (s *kafkaSource) commitTimes(context.Context, string) map[consumergroup.TopicPartition]time.Time {
	return nil // Kafka does not say when an offset was committed
}
func (s *kafkaSource) where() string { return s.c.kafkaWhere() }
func (s *kafkaSource) close()        { s.cl.Close() }
