package consumergroup

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// The seam between the delivery engine (engine*.go, deliver_*.go: what is
// held and processed, the hand-over to Stream, Batches, Next/Poll and
// Checkout) and the two coordinators that decide what this member holds:
// ZooKeeper on Kafka's layout (zkgroup*.go) and Kafka's own group
// coordinator through franz-go's group consumer (kafkagroup*.go). The
// engine knows no coordinator; a coordinator reaches the engine only
// through deliverer (ConsumerGroup.deliverer).

// coordinator is one member's membership of the group.
type coordinator interface {
	// run is the member's life in the group, on a goroutine of the
	// group's: join, follow the group's rebalances (calling the
	// deliverer), commit what was processed every CommitInterval. When
	// ctx ends (Close) it leaves gracefully (closing: the unit in hand
	// counts as processed, the last commit, the partitions released) and
	// returns.
	run(ctx context.Context)
	// commit writes offsets (the next offset to consume) of partitions
	// this member holds. It is fenced: when the member does not hold one
	// of them any more (another member may own it), it fails with an
	// error matching ErrNotOwner and writes nothing of it.
	commit(ctx context.Context, offsets map[TopicPartition]int64) error
	// offset returns the committed offset of tp; ErrNoNode when none.
	offset(ctx context.Context, tp TopicPartition) (int64, error)
	// committed returns the group's committed offsets, per topic and
	// partition. A partial result may come with an error.
	committed(ctx context.Context) (map[string]map[int32]int64, error)
	// close releases what the coordinator owns, after run has returned.
	close()
}

// deliverer is the engine as a coordinator drives it, and all of it a
// coordinator reaches (ConsumerGroup.deliverer). Its guarantees, which
// both coordinators build on, in the shape of franz-go's
// OnPartitionsAssigned/Revoked/Lost:
//
//   - A coordinator calls it from one goroutine at a time: never two calls
//     at once, but for sessionLost (below).
//   - assigned starts delivering partitions from the given offsets (or,
//     at offsetUnknown, from the first record fetched: a group consumer
//     that franz-go positions at the committed offset).
//   - revoked stops delivering tps: when it returns, no record of theirs is
//     queued for the application, none is delivered any more, and the unit
//     the application held of theirs was processed, or wait ran out (late:
//     that unit is not counted, the offsets stop before it). The offsets it
//     returns are what the coordinator commits before letting go.
//   - closing is revoked for Close: it does not wait; the unit in hand
//     counts as processed.
//   - lost stops delivering tps at once, without waiting: another member
//     may own them already; nothing is committed for them.
//   - processed returns the processed offsets of every partition held, for
//     the periodic commit.
//   - sessionStarted and sessionLost bracket a coordination session (a
//     ZooKeeper session: the owner nodes of what it claimed are its
//     ephemeral nodes). sessionLost is lost for every partition held, and
//     from then on assigned starts nothing until the next sessionStarted:
//     a claim that completed in the ended session is not delivered. It may
//     run concurrently with the other calls, on the goroutine that ends the
//     session and under that goroutine's locks (ZK.mu): it takes only the
//     engine's lock and waits only for the engine's own goroutine and the
//     application's calls, which take no coordinator's lock (see pump.mu).
//     Once it returns, nothing of the session's partitions reaches the
//     application.
//   - setLease, called once before the group runs, gives the coordinator's
//     lease: until when its session is known alive (zero: not). Nothing is
//     handed to the application past it (engine_lease.go).
type deliverer interface {
	assigned(starts map[TopicPartition]int64)
	revoked(tps []TopicPartition, wait time.Duration) (processed map[TopicPartition]int64, late *inHand)
	closing(tps []TopicPartition) map[TopicPartition]int64
	lost(tps []TopicPartition)
	processed() map[TopicPartition]int64
	sessionStarted()
	sessionLost()
	setLease(until func() time.Time)
}

// deliverer returns the engine as coordinators drive it: the seam, and
// the only way a coordinator reaches the engine (the application's calls,
// Close and CommitOffset use g.eng itself).
func (g *ConsumerGroup) deliverer() deliverer { return g.eng }

// offsetUnknown starts a partition at the first record fetched (see
// deliverer.assigned).
const offsetUnknown int64 = -1

// The engine implements the seam: the pump's seam methods follow. Each
// applies the engine's rule (engine_processed.go) to a coordinator's call.
var _ deliverer = (*pump)(nil)

func (p *pump) assigned(starts map[TopicPartition]int64) {
	tps := make([]TopicPartition, 0, len(starts))
	for tp := range starts {
		tps = append(tps, tp)
	}
	sortPartitions(tps)
	p.add(tps, starts)
}

func (p *pump) revoked(tps []TopicPartition, wait time.Duration) (map[TopicPartition]int64, *inHand) {
	states := p.stop(tps)
	held := p.holding(states)
	if held == nil {
		return p.waitProcessed(states, wait, false)
	}
	p.log.Debug("hand-off waits for the message in hand", "partition", held.tp, "offset", held.offset, "timeout", wait)
	start := time.Now()
	processed, late := p.waitProcessed(states, wait, false)
	if late == nil {
		logWait(p.log, "hand-off: the message in hand was processed", time.Since(start), "partition", held.tp, "offset", held.offset)
	}
	return processed, late
}

func (p *pump) closing(tps []TopicPartition) map[TopicPartition]int64 {
	processed, _ := p.waitProcessed(p.stop(tps), 0, true)
	return processed
}

func (p *pump) lost(tps []TopicPartition) { p.stop(tps) }

func (p *pump) processed() map[TopicPartition]int64 { return p.processedOffsets() }

// sessionStarted starts a new session's holding: assigned starts
// partitions again.
func (p *pump) sessionStarted() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unbound = false
}

// sessionLost stops every partition held, at once: the session they were
// claimed in has ended, another member may own them already. It runs before
// the session's Done is closed (see Session.BeforeEnd), so that the unit
// queued in the output channel is taken back before anyone can know the
// session is over: nothing is delivered after that. Partitions claimed
// meanwhile are not added (until sessionStarted).
func (p *pump) sessionLost() {
	p.mu.Lock()
	p.unbound = true
	tps := slices.Collect(maps.Keys(p.parts))
	p.mu.Unlock()
	p.stop(tps)
}

// slowWait is how long a wait of a hand-off may take before it is logged
// at info level rather than debug (see logWait).
const slowWait = time.Second

// logWait logs what a hand-off waited for (the message in hand, the
// previous owner's release, an offset read, a commit) and how long: at
// debug level, at info when it took longer than slowWait, so that a slow
// rebalance says why without a debug logger. args name the partitions.
func logWait(log *slog.Logger, msg string, waited time.Duration, args ...any) {
	level := slog.LevelDebug
	if waited > slowWait {
		level = slog.LevelInfo
	}
	log.Log(context.Background(), level, msg, append(args, "waited", waited)...)
}

// handOff gives tps up through the engine, measured (Metrics): it waits,
// at most HandoffTimeout, for the unit in the application's hands if it is
// of tps, logs the wait, and announces a timeout (HANDOFF_TIMEOUT). When
// closing (Close), it does not wait: the unit in hand counts as processed.
// It returns the offsets to commit before the partitions go. Both
// coordinators hand partitions over through it.
func (g *ConsumerGroup) handOff(eng deliverer, tps []TopicPartition, generation int, closing bool) map[TopicPartition]int64 {
	t0 := g.obs.handoff()
	if closing {
		processed := eng.closing(tps)
		g.obs.handedOff(tps, t0, 0)
		return processed
	}
	timeout := g.cfg.HandoffTimeout
	start := time.Now()
	processed, late := eng.revoked(tps, timeout)
	waited := time.Since(start)
	if late != nil {
		g.log.Warn("hand-off timed out with a message in hand: committed before it and handed over; its next owner delivers it again",
			"partition", late.tp, "offset", late.offset, "waited", waited)
		g.notify(&Notification{Type: HANDOFF_TIMEOUT, Generation: generation,
			Topic: late.tp.Topic, Partition: late.tp.Partition, Offset: late.offset})
	}
	g.obs.handedOff(tps, t0, timeout)
	return processed
}

// partitionList is a list of partitions as logs show it: sorted, each
// topic's partitions as ranges ("orders[0-99 120]"), cut after a few
// hundred characters with the count of what was left out, so that a
// member of 10,000 partitions logs a line, not a page. It is formatted
// only when the line is logged.
type partitionList []TopicPartition

// logLimit is about how long a partitionList's text grows before it is cut.
const logLimit = 300

// LogValue implements slog.LogValuer.
func (l partitionList) LogValue() slog.Value {
	tps := slices.Clone(l)
	sortPartitions(tps)
	var b strings.Builder
	for i := 0; i < len(tps); {
		t, j := tps[i].Topic, i
		for j+1 < len(tps) && tps[j+1].Topic == t && tps[j+1].Partition == tps[j].Partition+1 {
			j++
		}
		switch {
		case b.Len() > logLimit:
			fmt.Fprintf(&b, " ...] (%d partitions in all)", len(tps))
			return slog.StringValue(b.String())
		case i == 0:
			b.WriteString(t + "[")
		case tps[i-1].Topic != t:
			b.WriteString("] " + t + "[")
		default:
			b.WriteByte(' ')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", tps[i].Partition, tps[j].Partition)
		} else {
			fmt.Fprintf(&b, "%d", tps[i].Partition)
		}
		i = j + 1
	}
	if b.Len() > 0 {
		b.WriteByte(']')
	}
	return slog.StringValue(b.String())
}
