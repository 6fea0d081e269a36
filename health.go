package consumergroup

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrCoordinatorUnreachable is reported (REBALANCE_ERROR) when the member
// loses its connection to the group's coordinator (ZooKeeper): it keeps its
// partitions while its session may still live, and Health says why it is
// not healthy until the connection is back.
var ErrCoordinatorUnreachable = errors.New("consumergroup: coordinator unreachable")

// ErrKafkaUnreachable is reported (REBALANCE_ERROR, once until Kafka
// answers again) when a ZooKeeper member cannot list the offsets of
// partitions it claimed (Kafka's brokers refuse connections, do not answer,
// or answer with an error for them). The member keeps its claims and asks
// again, backing off from 250 ms to 5 s; Health says ReasonKafkaUnreachable
// until Kafka answers. A partition the assignment moves away meanwhile is
// released as usual, and Close releases the rest.
var ErrKafkaUnreachable = errors.New("consumergroup: Kafka unreachable")

// ReasonKind says why a member is not healthy.
type ReasonKind int

// Reasons of Health, in the order Health lists them.
const (
	// ReasonClosed: Close was called.
	ReasonClosed ReasonKind = iota + 1
	// ReasonCoordinatorUnreachable: the connection to the coordinator
	// (ZooKeeper) is lost; the client is reconnecting.
	ReasonCoordinatorUnreachable
	// ReasonSessionLost: the coordination session ended; the member
	// stopped every partition and is joining again.
	ReasonSessionLost
	// ReasonJoining: the member has not registered in the group yet.
	ReasonJoining
	// ReasonRebalancing: a rebalance is in progress: the member waits for
	// partitions to be handed over to it, or hands its own over.
	ReasonRebalancing
	// ReasonNoPartitions: the member holds no partition (the group may
	// have more members than partitions).
	ReasonNoPartitions
	// ReasonKafkaUnreachable (ZooKeeper coordination): the member claimed
	// partitions but cannot read their offsets from Kafka (see
	// ErrKafkaUnreachable); it keeps them and delivers nothing of them until
	// Kafka answers. Listed after ReasonCoordinatorUnreachable, before
	// ReasonSessionLost. A readiness check that accepts ReasonNoPartitions
	// and ReasonRebalancing does not accept this one: such a member is not
	// ready although it may hold no partition yet.
	ReasonKafkaUnreachable
)

// reasonOrder is the order Health lists the reasons in, the worst first
// (kinds are numbered in the order they were added).
var reasonOrder = map[ReasonKind]int{
	ReasonClosed:                 0,
	ReasonCoordinatorUnreachable: 1,
	ReasonKafkaUnreachable:       2,
	ReasonSessionLost:            3,
	ReasonJoining:                4,
	ReasonRebalancing:            5,
	ReasonNoPartitions:           6,
}

var reasonNames = map[ReasonKind]string{
	ReasonClosed:                 "closed",
	ReasonCoordinatorUnreachable: "coordinator unreachable",
	ReasonSessionLost:            "session lost",
	ReasonJoining:                "joining",
	ReasonRebalancing:            "rebalancing",
	ReasonNoPartitions:           "no partitions",
	ReasonKafkaUnreachable:       "Kafka unreachable",
}

// String returns the kind's name, e.g. "session lost".
func (k ReasonKind) String() string {
	if s, ok := reasonNames[k]; ok {
		return s
	}
	return fmt.Sprintf("ReasonKind(%d)", int(k))
}

// HealthReason is one reason why a member is not healthy.
type HealthReason struct {
	Kind  ReasonKind
	Text  string    // what happened, e.g. "ZooKeeper connection lost, reconnecting"
	Since time.Time // when it began
}

// Health is a member's health: healthy when nothing stands in the way of
// consuming its share of the group.
type Health struct {
	Healthy bool
	Reasons []HealthReason // empty when Healthy; the worst first
	Since   time.Time      // when Healthy took its current value
}

// HealthyExcept reports whether the only reasons, if any, are of kinds:
// a readiness probe may accept ReasonNoPartitions (an idle member of a
// group with more members than partitions) and ReasonRebalancing.
func (h Health) HealthyExcept(kinds ...ReasonKind) bool {
	for _, r := range h.Reasons {
		if !slices.Contains(kinds, r.Kind) {
			return false
		}
	}
	return true
}

// String summarizes h: "healthy", or the reasons.
func (h Health) String() string {
	if h.Healthy {
		return "healthy"
	}
	s := "unhealthy:"
	for i, r := range h.Reasons {
		if i > 0 {
			s += ";"
		}
		s += " " + r.Kind.String() + " (" + r.Text + ")"
	}
	return s
}

// Health returns the member's health now.
func (g *ConsumerGroup) Health() Health { return g.obs.health.get() }

// HealthChanged returns a channel that is closed at the next change of the
// member's health (a reason appears or goes): read Health again then, and
// call HealthChanged again for the change after.
func (g *ConsumerGroup) HealthChanged() <-chan struct{} { return g.obs.health.changes() }

// healthState is a member's health, kept by its observer.
type healthState struct {
	mu      sync.Mutex
	reasons map[ReasonKind]HealthReason
	since   time.Time     // when healthy-or-not last changed
	changed chan struct{} // closed and replaced at every change
}

func (h *healthState) init() {
	now := time.Now()
	h.reasons = map[ReasonKind]HealthReason{
		ReasonJoining:      {ReasonJoining, "registering in the group", now},
		ReasonNoPartitions: {ReasonNoPartitions, "holds no partition", now},
	}
	h.since = now
	h.changed = make(chan struct{})
}

func (h *healthState) get() Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Health{Healthy: len(h.reasons) == 0, Since: h.since}
	for _, r := range h.reasons {
		out.Reasons = append(out.Reasons, r)
	}
	slices.SortFunc(out.Reasons, func(a, b HealthReason) int { return reasonOrder[a.Kind] - reasonOrder[b.Kind] })
	return out
}

func (h *healthState) changes() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// update applies set (kinds to add, with their texts) and clear, and
// reports whether anything changed. Once closed, nothing changes.
func (h *healthState) update(set map[ReasonKind]string, clear ...ReasonKind) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, closed := h.reasons[ReasonClosed]; closed {
		return false
	}
	was := len(h.reasons) == 0
	changed := false
	for _, k := range clear {
		if _, ok := h.reasons[k]; ok {
			delete(h.reasons, k)
			changed = true
		}
	}
	now := time.Now()
	for k, text := range set {
		if r, ok := h.reasons[k]; !ok || r.Text != text {
			since := now
			if ok {
				since = r.Since
			}
			h.reasons[k] = HealthReason{k, text, since}
			changed = true
		}
	}
	if !changed {
		return false
	}
	if was != (len(h.reasons) == 0) {
		h.since = now
	}
	close(h.changed)
	h.changed = make(chan struct{})
	return true
}

func (h *healthState) setNoPartitions(none bool) {
	if none {
		h.update(map[ReasonKind]string{ReasonNoPartitions: "holds no partition"})
	} else {
		h.update(nil, ReasonNoPartitions)
	}
}

func (h *healthState) setRebalancing(on bool) {
	if on {
		h.update(map[ReasonKind]string{ReasonRebalancing: "waiting for partitions to be handed over"})
	} else {
		h.update(nil, ReasonRebalancing)
	}
}

func (h *healthState) sessionLost(err error) {
	h.update(map[ReasonKind]string{ReasonSessionLost: fmt.Sprintf("session lost, rejoining (%v)", err)}, ReasonRebalancing, ReasonJoining)
}

// connection records whether the coordinator can be reached; it reports
// whether it just became unreachable.
func (h *healthState) connection(ok bool, what string) bool {
	if ok {
		h.update(nil, ReasonCoordinatorUnreachable)
		return false
	}
	return h.update(map[ReasonKind]string{ReasonCoordinatorUnreachable: what + " connection lost, reconnecting"})
}

// kafka records whether Kafka answers the member's offset listings (text:
// what failed).
func (h *healthState) kafka(ok bool, text string) {
	if ok {
		h.update(nil, ReasonKafkaUnreachable)
		return
	}
	h.update(map[ReasonKind]string{ReasonKafkaUnreachable: text})
}

func (h *healthState) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, closed := h.reasons[ReasonClosed]; closed {
		return
	}
	now := time.Now()
	if len(h.reasons) == 0 {
		h.since = now
	}
	h.reasons = map[ReasonKind]HealthReason{ReasonClosed: {ReasonClosed, "the member left the group", now}}
	close(h.changed)
	h.changed = make(chan struct{})
}

func isSessionLoss(err error) bool { return errors.Is(err, ErrSessionExpired) }

// joined records the member's registration under id.
func (o *observer) joined() {
	o.health.update(nil, ReasonJoining, ReasonSessionLost)
}

// watch follows the connection of a ZooKeeper member's ZK: the health's
// reason, and a REBALANCE_ERROR notification (through notify) when it is
// lost.
func (o *observer) watch(z *ZK, notify func(*Notification)) {
	o.unwatch = z.WatchConnection(func(ok bool) {
		if o.health.connection(ok, "ZooKeeper") {
			notify(&Notification{Type: REBALANCE_ERROR, Err: fmt.Errorf("%w: ZooKeeper connection lost, reconnecting", ErrCoordinatorUnreachable)})
		}
	})
}

// closed records Close, and tells Metrics.
func (o *observer) closed() {
	if o.unwatch != nil {
		o.unwatch()
	}
	o.health.close()
	if o.m != nil {
		o.m.Closed(ClosedEvent{Group: o.group})
	}
}
