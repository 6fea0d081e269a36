package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/consumergroup/consumergroup/internal/assign"
)

// The ZooKeeper coordinator, on Kafka's layout. A rebalance, read in order:
//
//   - zkgroup_member.go: a registration's loop; a watch fires (ids, the
//     assignment node, a topic), the leader computes and publishes the
//     assignment (lead), every member applies the published one (apply);
//   - zkgroup_handoff.go: giving partitions up (the engine's hand-off, one
//     fenced commit, one release), the periodic commit, leaving, a lost
//     session;
//   - zkgroup_claim.go: the claim policy (free partitions in one multi, a
//     watch for each of the others) and taking claimed partitions over
//     (their committed offsets, then the engine delivers them).
//
// Everything above runs on the group's run goroutine, but the claimers
// (one goroutine a partition still owned by another member).

// zkCoordinator coordinates the group through ZooKeeper: members register
// under ids/, the first one computes the assignment and publishes it, each
// member claims its partitions (owner nodes, ephemeral) and hands over
// what moved away: revoked through the engine, committed in one fenced
// write, released. It owns the ZooKeeper client, the strategy and the dual
// commit; it reaches the engine only through eng.
type zkCoordinator struct {
	g        *ConsumerGroup // identity, config, notifications, observer, goroutines
	eng      deliverer      // the engine, through the seam
	zk       *ZK
	ownZK    bool // JoinConsumerGroup dialed it: closed with the group
	strategy assign.Strategy
	dual     *dualCommitter // DualCommit's copies to Kafka; nil without
}

// newZKGroup starts a member coordinated through ZooKeeper, once the group
// is known not to have moved to Kafka's coordinator and its topics exist.
// own: the group closes z and client (JoinConsumerGroup's).
func newZKGroup(ctx context.Context, client *kgo.Client, z *ZK, name string, topics []string, listener chan<- *Notification, cfg ConsumerGroupConfig, own bool) (*ConsumerGroup, error) {
	g := newMember(client, name, topics, listener, cfg)
	strategy := cfg.Strategy
	if strategy == "" {
		strategy = StrategyRange // ZooKeeper's default
	}
	c := &zkCoordinator{g: g, zk: z, ownZK: own}
	c.strategy, _ = assign.ByName(strategy) // checked by Validate
	if !cfg.IgnoreMigration {
		if err := checkMigration(ctx, z, name); err != nil {
			return nil, err
		}
	}
	// The topics must exist: in ZooKeeper or in Kafka.
	if err := c.topicsExist(ctx, g.topics); err != nil {
		return nil, err
	}
	g.ownCl = own
	g.startEngine(directPositioner{client})
	c.eng = g.deliverer()
	c.eng.setLease(z.LeaseExpiry)
	g.obs.watch(z, g.notify)
	if cfg.DualCommit {
		c.dual = newDualCommitter(g)
		g.goFunc(c.dual.run)
	}
	g.run(c)
	return g, nil
}

// run is the member's life: register, follow the group until the session
// ends or Close, register again under a new id after a session loss.
func (c *zkCoordinator) run(ctx context.Context) {
	g := c.g
	for ctx.Err() == nil {
		sess, err := c.zk.Session(ctx)
		if err != nil {
			return // closed
		}
		err = c.member(ctx, sess)
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return
		}
		g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
		if !errors.Is(err, ErrSessionExpired) {
			// Not a session loss: wait a little before trying again.
			select {
			case <-time.After(memberRetry):
			case <-ctx.Done():
			}
		}
	}
}

// commit is a manual commit (ConsumerGroup.CommitOffset), fenced by the
// member's current registration.
func (c *zkCoordinator) commit(ctx context.Context, offsets map[TopicPartition]int64) error {
	id, _ := c.g.member.get()
	if id == "" {
		return &PathError{Op: "commit", Err: ErrNotOwner, Cause: errors.New("the member has no session")}
	}
	if err := c.zk.CommitOffsets(ctx, c.g.name, id, offsets); err != nil {
		return err
	}
	c.dual.add(offsets)
	return nil
}

func (c *zkCoordinator) offset(ctx context.Context, tp TopicPartition) (int64, error) {
	return c.zk.Offset(ctx, c.g.name, tp.Topic, tp.Partition)
}

func (c *zkCoordinator) committed(ctx context.Context) (map[string]map[int32]int64, error) {
	return c.zk.Offsets(ctx, c.g.name)
}

func (c *zkCoordinator) close() {
	if c.ownZK {
		c.zk.Close()
	}
}

// kafkaCounts reads partition counts from Kafka's metadata; unknown topics
// are absent from the map.
func (c *zkCoordinator) kafkaCounts(ctx context.Context, topics []string) (map[string]int32, error) {
	details, err := c.g.admin.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("consumergroup: read partition counts from Kafka: %w", err)
	}
	out := make(map[string]int32, len(topics))
	for _, t := range topics {
		d, ok := details[t]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			continue
		}
		if d.Err != nil {
			return nil, fmt.Errorf("consumergroup: metadata of topic %q: %w", t, d.Err)
		}
		out[t] = int32(len(d.Partitions))
	}
	return out, nil
}

// topicsExist checks that topics exist: registered in ZooKeeper (an
// existence check: every member joining a topic of 10,000 partitions
// parsed its 110 KB assignment here, 14% of the CPU of a 500-member start
// in bench -only scale; the leader reads the counts it assigns), else
// known to Kafka.
func (c *zkCoordinator) topicsExist(ctx context.Context, topics []string) error {
	var fromKafka []string
	for _, t := range topics {
		if ok, err := c.zk.TopicExists(ctx, t); err != nil || !ok {
			fromKafka = append(fromKafka, t)
		}
	}
	if len(fromKafka) == 0 {
		return nil
	}
	kc, err := c.kafkaCounts(ctx, fromKafka)
	if err != nil {
		return err
	}
	for _, t := range fromKafka {
		if _, ok := kc[t]; !ok {
			return fmt.Errorf("%w: %q exists neither in ZooKeeper nor in Kafka", ErrUnknownTopic, t)
		}
	}
	return nil
}
