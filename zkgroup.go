package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/consumergroup/consumergroup/internal/assign"
	"github.com/consumergroup/consumergroup/internal/layout"
)

// zkCoordinator coordinates the group through ZooKeeper, on Kafka's layout:
// members register under ids/, the first one computes the assignment and
// publishes it, each member claims its partitions (owner nodes, ephemeral)
// and hands over what moved away: revoked through the engine, committed in
// one fenced write, released. Its member loop (run, member, loop) and
// hand-off (zkgroup_handoff.go) run on the group's run goroutine.
type zkCoordinator struct{ g *ConsumerGroup }

func (c *zkCoordinator) run(ctx context.Context) { c.g.run() }

func (c *zkCoordinator) commit(ctx context.Context, offsets map[TopicPartition]int64) error {
	g := c.g
	g.mu.Lock()
	id := g.id
	g.mu.Unlock()
	if id == "" {
		return &PathError{Op: "commit", Err: ErrNotOwner, Cause: errors.New("the member has no session")}
	}
	if err := g.zk.CommitOffsets(ctx, g.name, id, offsets); err != nil {
		return err
	}
	g.dual.add(offsets)
	return nil
}

func (c *zkCoordinator) offset(ctx context.Context, tp TopicPartition) (int64, error) {
	return c.g.zk.Offset(ctx, c.g.name, tp.Topic, tp.Partition)
}

func (c *zkCoordinator) committed(ctx context.Context) (map[string]map[int32]int64, error) {
	return c.g.zk.Offsets(ctx, c.g.name)
}

func (c *zkCoordinator) close() {
	if c.g.ownZK {
		c.g.zk.Close()
	}
}

// run is the member's life: register, follow the group until the session
// ends or Close, register again under a new id after a session loss.
func (g *ConsumerGroup) run() {
	for g.ctx.Err() == nil {
		sess, err := g.zk.Session(g.ctx)
		if err != nil {
			return // closed
		}
		err = g.member(sess)
		if g.ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrClosed) {
			return
		}
		g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
		if !errors.Is(err, ErrSessionExpired) {
			// Not a session loss: wait a little before trying again.
			select {
			case <-time.After(memberRetry):
			case <-g.ctx.Done():
			}
		}
	}
}

// watch kinds, forwarded to member.events.
type watchEvent struct {
	kind  int // evIDs, evAssignment, evTopic
	topic string
}

const (
	evIDs = iota
	evAssignment
	evTopic
)

// claimResult is what a claimer reports: tp is claimed.
type claimResult struct {
	tp   TopicPartition
	free time.Time // when the claimer saw tp without an owner
}

// member is the state of one registration (one session, one consumer id).
// Only the run goroutine touches it.
type member struct {
	g       *ConsumerGroup
	ctx     context.Context // ends with the registration
	id      string
	events  chan watchEvent
	claimed chan claimResult

	ids     []string            // registered members, sorted
	subs    map[string][]string // member id to its topics (cache)
	assign  layout.Assignment   // published
	version int32               // of the assignment node, -1 when absent
	corrupt bool                // the assignment node could not be read: the leader rewrites it
	topicsW map[string]bool     // topics with an armed partition-count watch
	meta    bool                // some count comes from Kafka metadata: poll

	held      map[TopicPartition]bool
	claiming  map[TopicPartition]context.CancelFunc
	claimers  sync.WaitGroup                   // the claiming goroutines
	claimDone map[TopicPartition]chan struct{} // closed when the last claimer of the partition ended
	committed map[TopicPartition]int64
	mismatch  int // generation whose strategy mismatch was reported

	// The rebalance in progress, for notifications.
	rebalancing bool
	gotNow      []TopicPartition
	gaveNow     []TopicPartition
}

// member registers under a new consumer id and follows the group until the
// session ends (ErrSessionExpired) or Close (nil, after leaving).
func (g *ConsumerGroup) member(sess *Session) error {
	ctx, cancel := context.WithCancel(g.ctx)
	defer cancel()
	// Stop delivering before the session's end is known (Done): a message
	// queued in Stream's channel would still reach the application while
	// the run goroutine wakes up to drop the partitions.
	g.deliverer().sessionStarted()
	unhook, live := sess.beforeEnd(g.deliverer().sessionLost)
	defer unhook()
	if !live {
		return sess.Err()
	}
	// The registration's create is not canceled by Close: sent and then
	// abandoned, it would leave the node behind in a session that outlives
	// the group when the ZK is the caller's (a member assigned partitions
	// it never consumes). It waits for the answer until the session ends
	// (the node goes with it) or a session timeout passes, and a group
	// closed meanwhile deregisters.
	rctx, rcancel := context.WithTimeout(context.Background(), g.cfg.ZookeeperTimeout)
	defer rcancel()
	g.wg.Add(1)
	go func() { // end the registration's context with the session
		defer g.wg.Done()
		select {
		case <-sess.Done():
			cancel()
			rcancel()
		case <-ctx.Done():
			select {
			case <-sess.Done():
				rcancel()
			case <-rctx.Done():
			}
		}
	}()

	id, err := NewConsumerID(g.name)
	if err != nil {
		return err
	}
	if err := g.zk.RegisterGroup(ctx, g.name); err != nil {
		return err
	}
	err = g.zk.RegisterConsumer(rctx, g.name, id, g.topics...)
	rcancel()
	if g.ctx.Err() != nil {
		if err == nil {
			lctx, lcancel := context.WithTimeout(context.Background(), g.cfg.ZookeeperTimeout)
			defer lcancel()
			if err := g.zk.DeregisterConsumer(lctx, g.name, id); err != nil {
				g.log.Warn("deregistering", "err", err)
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	g.log.Info("joined", "id", id, "topics", g.topics)
	g.mu.Lock()
	g.id = id
	g.mu.Unlock()
	g.obs.joined()

	m := &member{
		g: g, ctx: ctx, id: id,
		events:    make(chan watchEvent, 64),
		claimed:   make(chan claimResult, 64),
		subs:      make(map[string][]string),
		topicsW:   make(map[string]bool),
		held:      make(map[TopicPartition]bool),
		claiming:  make(map[TopicPartition]context.CancelFunc),
		committed: make(map[TopicPartition]int64),
		version:   -1,
	}
	err = m.loop(sess)
	if sess.Err() != nil {
		m.drop() // first: stop delivering at once
		m.cancelClaims()
		return err
	}
	orphans := m.cancelClaims()
	if g.ctx.Err() != nil {
		m.leave(orphans)
		return nil
	}
	m.drop()
	return err
}

// loop reacts to watches, claims, commit ticks and the session's end.
func (m *member) loop(sess *Session) error {
	g := m.g
	commit := time.NewTicker(g.cfg.CommitInterval)
	defer commit.Stop()
	metaTick := time.NewTicker(g.cfg.MetadataInterval)
	defer metaTick.Stop()

	readIDs, readAssign := true, true
	dirty := true // lead and apply again
	var retry <-chan time.Time
	failed := func(err error) error {
		if e := m.fail(err); e != nil {
			return e
		}
		retry = time.After(memberRetry)
		return nil
	}
	for {
		if readIDs {
			ids, w, err := g.zk.Consumers(m.ctx, g.name)
			if err != nil {
				if e := failed(err); e != nil {
					return e
				}
			} else {
				m.forward(w, watchEvent{kind: evIDs})
				m.ids = ids
				readIDs = false
				dirty = true
			}
		}
		if readAssign {
			a, v, w, err := g.zk.readAssignment(m.ctx, g.name)
			switch {
			case errors.Is(err, ErrBadData):
				// The leader overwrites it; until then keep what we have.
				g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
				m.forward(w, watchEvent{kind: evAssignment})
				m.version, m.corrupt, readAssign, dirty = v, true, false, true
			case err != nil:
				if e := failed(err); e != nil {
					return e
				}
			default:
				m.forward(w, watchEvent{kind: evAssignment})
				m.assign, m.version, m.corrupt, readAssign, dirty = a, v, false, false, true
			}
		}
		if dirty && !readIDs && !readAssign {
			dirty = false
			if len(m.ids) > 0 && m.ids[0] == m.id {
				err := m.lead()
				if errors.Is(err, errConflict) {
					readAssign = true
					continue
				}
				if err != nil {
					if e := failed(err); e != nil {
						return e
					}
					dirty = true
				}
			}
			if err := m.apply(); err != nil {
				if e := failed(err); e != nil {
					return e
				}
				dirty = true
			}
		}

		select {
		case ev := <-m.events:
			switch ev.kind {
			case evIDs:
				readIDs = true
			case evAssignment:
				readAssign = true
			case evTopic:
				delete(m.topicsW, ev.topic)
				dirty = true
			}
		case r := <-m.claimed:
			batch := []claimResult{r}
			for more := true; more; {
				select {
				case r := <-m.claimed:
					batch = append(batch, r)
				default:
					more = false
				}
			}
			if err := m.started(batch); err != nil {
				if e := failed(err); e != nil {
					return e
				}
				dirty = true
			}
		case <-commit.C:
			if err := m.commit(m.ctx); err != nil {
				if e := failed(err); e != nil {
					return e
				}
			}
		case <-metaTick.C:
			dirty = dirty || m.meta // counts only Kafka knows: read them again
		case <-retry:
			retry = nil
			readIDs, readAssign, dirty = true, true, true
		case <-sess.Done():
			return sess.Err()
		case <-g.ctx.Done():
			return nil
		}
	}
}

// fail turns an error of one step into the loop's: nil when the member
// should go on (it was reported), the error when the registration is over.
func (m *member) fail(err error) error {
	switch {
	case m.ctx.Err() != nil, errors.Is(err, ErrSessionExpired), errors.Is(err, ErrNotRegistered), errors.Is(err, ErrClosed):
		if m.g.ctx.Err() != nil {
			return context.Canceled
		}
		return fmt.Errorf("%w (%v)", ErrSessionExpired, err)
	}
	m.g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: err})
	return nil
}

// forward sends ev to m.events when watch w fires.
func (m *member) forward(w <-chan zk.Event, ev watchEvent) {
	if w == nil {
		return
	}
	ctx, events := m.ctx, m.events
	m.g.wg.Add(1)
	go func() {
		defer m.g.wg.Done()
		select {
		case <-w:
			select {
			case events <- ev:
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()
}

// lead computes the assignment and publishes it when it differs from the
// published one.
func (m *member) lead() error {
	g := m.g
	var members []assign.Member
	topics := map[string]bool{}
	for _, id := range m.ids {
		ts, ok := m.subs[id]
		if !ok {
			r, err := g.zk.Registration(m.ctx, g.name, id)
			switch {
			case errors.Is(err, ErrNoNode):
				continue // left meanwhile: the ids watch fires
			case errors.Is(err, ErrBadData):
				g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
				continue // a registration we cannot read gets nothing
			case err != nil:
				return err
			}
			ts = r.Topics
			m.subs[id] = ts
		}
		members = append(members, assign.Member{ID: id, Topics: ts})
		for _, t := range ts {
			topics[t] = true
		}
	}
	for id := range m.subs {
		if !slices.Contains(m.ids, id) {
			delete(m.subs, id)
		}
	}
	counts, err := m.counts(slices.Sorted(maps.Keys(topics)))
	if err != nil {
		return err
	}
	desired := g.strategy.Assign(assign.Input{Members: members, Partitions: counts, Previous: assign.Assignment(m.assign.Members)})
	if m.version >= 0 && !m.corrupt && m.assign.Strategy == g.strategy.Name() && maps.Equal(m.assign.Partitions, counts) &&
		reflect.DeepEqual(map[string]map[string][]int32(desired), m.assign.Members) {
		return nil
	}
	next := layout.Assignment{
		Version:    1,
		Generation: m.assign.Generation + 1,
		Strategy:   g.strategy.Name(),
		Leader:     m.id,
		Partitions: counts,
		Members:    desired,
	}
	if err := g.zk.publishAssignment(m.ctx, g.name, next, m.version); err != nil {
		return err
	}
	g.log.Info("published assignment", "generation", next.Generation, "members", len(members), "partitions", counts)
	return nil
}

// counts returns the partition counts of topics: from ZooKeeper, watched,
// where Kafka's brokers register them; from Kafka's metadata otherwise.
// Unknown topics are reported and left out.
func (m *member) counts(topics []string) (map[string]int32, error) {
	g := m.g
	counts := make(map[string]int32, len(topics))
	var fromKafka []string
	for _, t := range topics {
		n, w, err := g.zk.Partitions(m.ctx, t)
		switch {
		case err == nil:
			counts[t] = n
			if !m.topicsW[t] {
				m.topicsW[t] = true
				m.forward(w, watchEvent{kind: evTopic, topic: t})
			}
		case errors.Is(err, ErrNoNode):
			fromKafka = append(fromKafka, t)
		case errors.Is(err, ErrBadData):
			g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
			fromKafka = append(fromKafka, t)
		default:
			return nil, err
		}
	}
	m.meta = len(fromKafka) > 0
	if len(fromKafka) > 0 {
		kc, err := g.kafkaCounts(m.ctx, fromKafka)
		if err != nil {
			return nil, err
		}
		for _, t := range fromKafka {
			if n, ok := kc[t]; ok {
				counts[t] = n
			} else {
				g.notify(&Notification{Type: REBALANCE_ERROR, Err: fmt.Errorf("%w: %q", ErrUnknownTopic, t)})
			}
		}
	}
	return counts, nil
}

// kafkaCounts reads partition counts from Kafka's metadata; unknown topics
// are absent from the map.
func (g *ConsumerGroup) kafkaCounts(ctx context.Context, topics []string) (map[string]int32, error) {
	details, err := g.admin.ListTopics(ctx, topics...)
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

// partitionCounts checks that the group's topics exist and returns their
// counts.
func (g *ConsumerGroup) partitionCounts(ctx context.Context, topics []string) (map[string]int32, error) {
	if topics == nil {
		topics = g.topics
	}
	counts := make(map[string]int32, len(topics))
	var fromKafka []string
	for _, t := range topics {
		n, _, err := g.zk.Partitions(ctx, t)
		if err != nil {
			fromKafka = append(fromKafka, t)
			continue
		}
		counts[t] = n
	}
	if len(fromKafka) > 0 {
		kc, err := g.kafkaCounts(ctx, fromKafka)
		if err != nil {
			return nil, err
		}
		for _, t := range fromKafka {
			n, ok := kc[t]
			if !ok {
				return nil, fmt.Errorf("%w: %q exists neither in ZooKeeper nor in Kafka", ErrUnknownTopic, t)
			}
			counts[t] = n
		}
	}
	return counts, nil
}
