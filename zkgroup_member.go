package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/consumergroup/consumergroup/internal/zk"
	"github.com/consumergroup/consumergroup/zookeeper"
)

// watch kinds, forwarded to member.events.
type watchEvent struct {
	kind  int // evIDs, evAssignment, evOwn, evTopic, evTopics
	topic string
}

const (
	evIDs        = iota // the members (the leader), or the member registered right before this one
	evAssignment        // the assignment node
	evOwn               // this member's part of the assignment
	evTopic             // a topic's partition count
	evTopics            // the topics that exist (the leader, for patterns)
)

// claimResult is what a claimer reports: tp is claimed.
type claimResult struct {
	tp   TopicPartition
	free time.Time // when the claimer saw tp without an owner
}

// member is the state of one registration (one session, one consumer id).
// Only the run goroutine touches it.
type member struct {
	c       *zkCoordinator
	ctx     context.Context // ends with the registration
	id      string
	events  chan watchEvent
	claimed chan claimResult

	ids     []string                // registered members, sorted: all of them while leading
	leading bool                    // this member's id sorts first: it computes and publishes
	subs    map[string]subscription // member id to its subscription (cache)
	assign  zookeeper.Assignment    // published: the node's header (and every part in version 1)
	version int32                   // of the assignment node, -1 when absent
	corrupt bool                    // the assignment node could not be read: the leader rewrites it
	own     zookeeper.MemberAssignment
	ownRead bool                 // own was read (version 2: this member's part)
	full    zookeeper.Assignment // every part, as the leader last published or read it
	fullAt  int32                // the node's version full is of; -2 when none
	topicsW map[string]bool      // topics with an armed partition-count watch
	filled  map[string]int32     // the leader's: topics whose offset nodes it found all there, at this count
	meta    bool                 // some count comes from Kafka metadata: poll
	noState map[string]bool      // topics without partition state nodes in ZooKeeper (zkgroup_bounds.go)

	// The leader's, while some member subscribes by pattern (zkgroup_topics.go).
	topicNames    []string         // every topic that exists, sorted
	topicsRead    bool             // topicNames is current
	topicsWatched bool             // a watch on /brokers/topics is armed (until evTopics)
	topicsMeta    bool             // topicNames comes from Kafka's metadata: read again every MetadataInterval
	metaCounts    map[string]int32 // with topicsMeta: the partition counts read with the names
	mismatchSeen  string           // the subscription mismatch reported last
	foreignSeen   string           // a pattern member's: the topics it does not match, reported last

	// What the loop does next (loop, read, rebalance, wait).
	readIDs, readAssign, readOwn bool             // a watch fired: read again
	dirty                        bool             // lead and apply again
	retry                        <-chan time.Time // a step failed: everything again then

	held      map[TopicPartition]bool
	claiming  map[TopicPartition]context.CancelFunc
	claimers  sync.WaitGroup                   // the claiming goroutines
	claimDone map[TopicPartition]chan struct{} // closed when the last claimer of the partition ended
	batch     claimBatch                       // the claimers' claims, sent together (claimBatched)
	committed map[TopicPartition]int64
	mismatch  int // generation whose strategy mismatch was reported

	// Claimed partitions whose offsets Kafka could not list: kept, and
	// taken over once Kafka answers (zkgroup_kafkawait.go).
	kafkaWait    map[TopicPartition]bool
	kafkaRetry   <-chan time.Time // when to ask Kafka again
	kafkaBackoff time.Duration    // the wait before kafkaRetry; 0 when Kafka answers

	// The rebalance in progress, for notifications.
	rebalancing bool
	gotNow      []TopicPartition
	gaveNow     []TopicPartition
}

// member registers under a new consumer id and follows the group until the
// session ends (ErrSessionExpired) or Close (nil, after leaving).
func (c *zkCoordinator) member(ctx context.Context, sess *Session) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Stop delivering before the session's end is known (Done): a message
	// queued in Stream's channel would still reach the application while
	// the run goroutine wakes up to drop the partitions.
	c.eng.sessionStarted()
	unhook, live := sess.BeforeEnd(c.eng.sessionLost)
	defer unhook()
	if !live {
		return sess.Err()
	}
	id, err := c.register(ctx, cancel, sess)
	if id == "" {
		return err // nil: closed meanwhile
	}
	c.g.log.Info("joined", "id", id, "subscription", c.g.sub.String())
	c.g.member.setID(id)
	c.g.obs.joined()
	m := &member{
		c: c, ctx: ctx, id: id,
		events:    make(chan watchEvent, 64),
		claimed:   make(chan claimResult, 64),
		subs:      make(map[string]subscription),
		topicsW:   make(map[string]bool),
		filled:    make(map[string]int32),
		held:      make(map[TopicPartition]bool),
		claiming:  make(map[TopicPartition]context.CancelFunc),
		committed: make(map[TopicPartition]int64),
		version:   -1,
		fullAt:    -2,
	}
	return m.end(sess, m.loop(sess))
}

// register registers the member under a new consumer id in sess; ctx is
// the registration's, ended by cancel with the session. It returns "" and
// nil when Close came meanwhile (after deregistering).
//
// The registration's create is not canceled by Close: sent and then
// abandoned, it would leave the node behind in a session that outlives the
// group when the ZK is the caller's (a member assigned partitions it never
// consumes). A create that was not answered within a session timeout, or
// whose connection dropped, may still have been applied: it is sent again
// under the same id (RegisterConsumer takes this session's own node as
// registered) until it is answered or the session ends, never under a new
// id, which would leave the first one behind as a ghost member that the
// leader gives partitions nobody takes (issue 19: 500 members starting at
// once on a busy ZooKeeper).
func (c *zkCoordinator) register(ctx context.Context, cancel context.CancelFunc, sess *Session) (string, error) {
	g := c.g
	g.goFunc(func() { // end the registration's context with the session
		select {
		case <-sess.Done():
			cancel()
		case <-ctx.Done():
		}
	})
	id, err := NewConsumerID(g.name)
	if err != nil {
		return "", err
	}
	if err := c.zk.RegisterGroup(ctx, g.name); err != nil {
		return "", err
	}
	err = c.registerAs(sess, id)
	if g.ctx.Err() != nil {
		if err == nil {
			lctx, lcancel := context.WithTimeout(context.Background(), g.cfg.ZookeeperTimeout)
			defer lcancel()
			if err := c.zk.DeregisterConsumer(lctx, g.name, id); err != nil {
				g.log.Warn("deregistering", "err", err)
			}
		}
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return id, nil
}

// registerAs creates id's registration in sess, sending it again while its
// answer is unknown (see register): a session timeout per attempt, until
// the session ends. Close does not cut an attempt short (register then
// deregisters what it created) but ends the retries.
func (c *zkCoordinator) registerAs(sess *Session, id string) error {
	g := c.g
	for attempt := 1; ; attempt++ {
		rctx, rcancel := context.WithTimeout(context.Background(), g.cfg.ZookeeperTimeout)
		answered := make(chan struct{})
		g.goFunc(func() {
			select {
			case <-sess.Done():
				rcancel()
			case <-answered:
			}
		})
		var err error
		if g.sub.byPattern() {
			err = c.zk.RegisterConsumerPattern(rctx, g.name, id, g.cfg.TopicPattern)
		} else {
			err = c.zk.RegisterConsumer(rctx, g.name, id, g.topics...)
		}
		close(answered)
		rcancel()
		unknown := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrConnectionLoss)
		if err == nil || !unknown || sess.Err() != nil || g.ctx.Err() != nil {
			return err
		}
		g.log.Debug("registration not answered: sending it again under the same id", "id", id, "attempt", attempt, "err", err)
	}
}

// end ends the registration after its loop returned err: a session gone
// stops delivering at once; Close leaves gracefully (nil); any other end
// stops delivering and lets run register again.
func (m *member) end(sess *Session, err error) error {
	if sess.Err() != nil {
		m.drop() // first: stop delivering at once
		m.cancelClaims()
		return err
	}
	orphans := append(m.cancelClaims(), m.waiting()...)
	m.c.g.obs.health.kafka(true, "") // the next registration finds out again
	if m.c.g.ctx.Err() != nil {
		m.leave(orphans)
		return nil
	}
	m.drop()
	return err
}

// loop reacts to watches, claims, commit ticks and the session's end,
// until the session ends (its error) or Close (nil).
func (m *member) loop(sess *Session) error {
	cfg := m.c.g.cfg
	commit := time.NewTicker(cfg.CommitInterval)
	defer commit.Stop()
	metaTick := time.NewTicker(cfg.MetadataInterval)
	defer metaTick.Stop()
	m.readIDs, m.readAssign, m.readOwn, m.dirty = true, true, true, true
	for {
		if err := m.read(); err != nil {
			return err
		}
		again, err := m.rebalance()
		if err != nil {
			return err
		}
		if again {
			continue
		}
		if done, err := m.wait(sess, commit.C, metaTick.C); done {
			return err
		}
	}
}

// read reads what a watch said changed: the registered members, the
// published assignment.
func (m *member) read() error {
	c, g := m.c, m.c.g
	if m.readIDs {
		if err := m.readMembers(); err != nil {
			if e := m.failed(err); e != nil {
				return e
			}
		} else {
			m.readIDs, m.dirty = false, true
		}
	}
	if m.readAssign {
		a, v, w, err := c.zk.ReadAssignmentHeader(m.ctx, g.name)
		switch {
		case errors.Is(err, ErrBadData):
			// The leader overwrites it; until then keep what we have.
			g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
			m.forward(w, watchEvent{kind: evAssignment})
			m.version, m.corrupt, m.readAssign, m.dirty = v, true, false, true
		case err != nil:
			if e := m.failed(err); e != nil {
				return e
			}
		default:
			m.forward(w, watchEvent{kind: evAssignment})
			m.assign, m.version, m.corrupt, m.readAssign, m.dirty = a, v, false, false, true
			m.followMatched()
			// A version 2 node read for the first time: this member's
			// part too (later, its own watch says when it changed).
			m.readOwn = m.readOwn || (a.Version == 2 && !m.ownRead)
		}
	}
	if m.readOwn {
		return m.readPart()
	}
	return nil
}

// readPart reads this member's part of a version 2 assignment, and
// watches it.
func (m *member) readPart() error {
	c, g := m.c, m.c.g
	own, w, err := c.zk.ReadMemberAssignment(m.ctx, g.name, m.id)
	switch {
	case errors.Is(err, ErrBadData):
		// Keep what we have until the leader writes it again.
		g.notify(&Notification{Type: REBALANCE_ERROR, Err: err})
		m.forward(w, watchEvent{kind: evOwn})
	case err != nil:
		return m.failed(err)
	default:
		m.forward(w, watchEvent{kind: evOwn})
		m.own = own
	}
	m.ownRead, m.readOwn, m.dirty = true, false, true
	return nil
}

// readMembers reads the registered members. The leader (the member whose
// id sorts first) follows every join and leave (a watch on ids/); any
// other member follows only the member registered right before it, whose
// leave may make it the leader: a join or a leave wakes the leader and at
// most one other member, not every member of the group.
func (m *member) readMembers() error {
	c, g := m.c, m.c.g
	for {
		var ids []string
		var w <-chan zk.Event
		var err error
		if m.leading {
			ids, w, err = c.zk.Consumers(m.ctx, g.name)
		} else {
			ids, err = c.zk.Members(m.ctx, g.name)
		}
		if err != nil {
			return err
		}
		m.ids = ids
		first := len(ids) > 0 && ids[0] == m.id
		if first && !m.leading {
			m.leading = true // read again, watched
			continue
		}
		m.leading = first
		i := sort.SearchStrings(ids, m.id)
		if first || i == 0 {
			// Leading, or not registered (its session is ending):
			// follow every change.
			if w == nil {
				m.leading = first
				if ids, w, err = c.zk.Consumers(m.ctx, g.name); err != nil {
					return err
				}
				m.ids = ids
			}
			m.forward(w, watchEvent{kind: evIDs})
			return nil
		}
		ok, pw, err := c.zk.WatchConsumer(m.ctx, g.name, ids[i-1])
		if err != nil {
			return err
		}
		if ok {
			m.forward(pw, watchEvent{kind: evIDs})
			return nil
		}
		// Gone meanwhile: read again.
	}
}

// rebalance leads (when this member's id sorts first) and applies the
// published assignment, once the members and the assignment are read.
// again: the assignment changed under the leader's write: read it first.
func (m *member) rebalance() (again bool, err error) {
	if !m.dirty || m.readIDs || m.readAssign || m.readOwn {
		return false, nil
	}
	m.dirty = false
	if m.leading {
		err := m.lead()
		if errors.Is(err, zookeeper.ErrAssignmentConflict) {
			m.readAssign = true
			return true, nil
		}
		if err != nil {
			if e := m.failed(err); e != nil {
				return false, e
			}
			m.dirty = true
		}
	}
	if err := m.apply(); err != nil {
		if e := m.failed(err); e != nil {
			return false, e
		}
		m.dirty = true
	}
	return false, nil
}

// wait waits for the next thing to do: a watch, claimed partitions, a
// commit tick, Kafka metadata's tick, a retry. done: the registration is
// over, by the session's end (its error) or Close (nil).
func (m *member) wait(sess *Session, commit, meta <-chan time.Time) (done bool, err error) {
	select {
	case ev := <-m.events:
		switch ev.kind {
		case evIDs:
			m.readIDs = true
		case evAssignment:
			m.readAssign = true
		case evOwn:
			m.readOwn = true
		case evTopic:
			delete(m.topicsW, ev.topic)
			// Deleted, maybe: the list of topics too (patterns).
			m.topicsRead, m.dirty = false, true
		case evTopics:
			m.topicsRead, m.topicsWatched, m.dirty = false, false, true
		}
	case r := <-m.claimed:
		if err := m.started(m.drainClaimed(r)); err != nil {
			if e := m.failed(err); e != nil {
				return true, e
			}
			m.dirty = true
		}
	case <-commit:
		if err := m.commit(m.ctx); err != nil {
			if e := m.failed(err); e != nil {
				return true, e
			}
		}
	case <-meta:
		m.dirty = m.dirty || m.meta || m.topicsMeta // counts or topics only Kafka knows: read them again
		m.topicsRead = m.topicsRead && !m.topicsMeta
	case <-m.kafkaRetry:
		if err := m.retryKafka(); err != nil {
			if e := m.failed(err); e != nil {
				return true, e
			}
			m.dirty = true
		}
	case <-m.retry:
		m.retry = nil
		m.readIDs, m.readAssign, m.readOwn, m.dirty = true, true, true, true
	case <-sess.Done():
		return true, sess.Err()
	case <-m.c.g.ctx.Done():
		return true, nil
	}
	return false, nil
}

// drainClaimed returns r and every claim result already queued behind it:
// they are taken over together.
func (m *member) drainClaimed(r claimResult) []claimResult {
	batch := []claimResult{r}
	for {
		select {
		case r := <-m.claimed:
			batch = append(batch, r)
		default:
			return batch
		}
	}
}

// failed handles an error of one step: nil when the member goes on (it was
// reported, and everything is read again after memberRetry), the error
// when the registration is over.
func (m *member) failed(err error) error {
	if e := m.fail(err); e != nil {
		return e
	}
	m.retry = time.After(memberRetry)
	return nil
}

// fail turns an error of one step into the loop's: nil when the member
// should go on (it was reported), the error when the registration is over.
func (m *member) fail(err error) error {
	switch {
	case m.ctx.Err() != nil, errors.Is(err, ErrSessionExpired), errors.Is(err, ErrNotRegistered), errors.Is(err, ErrClosed):
		if m.c.g.ctx.Err() != nil {
			return context.Canceled
		}
		return fmt.Errorf("%w (%v)", ErrSessionExpired, err)
	}
	m.c.g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: err})
	return nil
}

// forward sends ev to m.events when watch w fires.
func (m *member) forward(w <-chan zk.Event, ev watchEvent) {
	if w == nil {
		return
	}
	ctx, events := m.ctx, m.events
	m.c.g.goFunc(func() {
		select {
		case <-w:
			select {
			case events <- ev:
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	})
}

// apply moves the member toward the published assignment: it gives up what
// moved away (stop, drain, commit, release) and starts claiming what moved
// to it. Partitions that stay are not touched.
func (m *member) apply() error {
	c, g := m.c, m.c.g
	if m.assign.Generation == 0 {
		return nil // nothing published yet
	}
	if m.assign.Strategy != c.strategy.Name() && m.mismatch != m.assign.Generation {
		m.mismatch = m.assign.Generation
		g.notify(&Notification{Type: REBALANCE_ERROR, Generation: m.assign.Generation, Err: fmt.Errorf(
			"%w: the leader %s uses %q, this member %q", ErrStrategyMismatch, m.assign.Leader, m.assign.Strategy, c.strategy.Name())})
	}
	mine := m.mine()
	var give []TopicPartition
	for tp := range m.held {
		if !mine[tp] {
			give = append(give, tp)
		}
	}
	for tp, cancel := range m.claiming {
		if !mine[tp] {
			cancel()
			delete(m.claiming, tp)
		}
	}
	err := m.releaseWaiting(mine)
	var take []TopicPartition
	for tp := range mine {
		if !m.held[tp] && m.claiming[tp] == nil && !m.kafkaWait[tp] {
			take = append(take, tp)
		}
	}
	if len(give) == 0 && len(take) == 0 {
		m.maybeDone()
		return err
	}
	if !m.rebalancing {
		m.rebalancing = true
		g.notify(&Notification{Type: REBALANCE_START, Generation: m.assign.Generation})
	}
	sortPartitions(give)
	sortPartitions(take)
	// A hand-off under way completes even if Close comes meanwhile: Close
	// only cancels m.ctx; the session's end still stops it (fenced).
	hctx, cancel := context.WithTimeout(context.WithoutCancel(m.ctx), 2*g.cfg.HandoffTimeout+g.cfg.ZookeeperTimeout)
	err = errors.Join(err, m.giveUp(hctx, give, false))
	cancel()
	if serr := m.claimFree(take); serr != nil {
		err = errors.Join(err, serr)
	}
	m.maybeDone()
	return err
}

// mine returns the partitions the published assignment gives this member:
// its part (version 2), or its entry in the node (version 1).
func (m *member) mine() map[TopicPartition]bool {
	part := m.own.Topics
	if m.assign.Version == 1 {
		part = m.assign.Members[m.id]
	}
	out := make(map[TopicPartition]bool)
	for t, ps := range part {
		for _, p := range ps {
			out[TopicPartition{Topic: t, Partition: p}] = true
		}
	}
	return out
}

// maybeDone sends REBALANCE_OK once nothing is being claimed.
func (m *member) maybeDone() {
	if !m.rebalancing || len(m.claiming) > 0 || len(m.kafkaWait) > 0 {
		return
	}
	m.rebalancing = false
	sortPartitions(m.gotNow)
	sortPartitions(m.gaveNow)
	m.c.g.notify(&Notification{Type: REBALANCE_OK, Generation: m.assign.Generation, Claimed: m.gotNow, Released: m.gaveNow})
	m.gotNow, m.gaveNow = nil, nil
}
