package consumergroup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A share member's view of its coordinator: franz-go heartbeats the share
// group (ShareGroupHeartbeat) and retries on its own; the member watches
// the answers for Health and the listener. A coordinator that has not
// answered for shareSilentBeats heartbeats (at least shareSilentMin) is
// reported: Health says ReasonCoordinatorUnreachable and the listener gets
// a REBALANCE_ERROR matching ErrCoordinatorUnreachable. Delivery goes on:
// the records held are locked by the partitions' leaders, not by the
// coordinator, and acknowledgements go to the leaders.

// How long a silent share coordinator is tolerated: this many heartbeat
// intervals (as the member sees them: the broker's
// group.share.heartbeat.interval.ms, at least a second in franz-go), and at
// least shareSilentMin.
const (
	shareSilentBeats = 4
	shareSilentMin   = 2 * time.Second
)

// OnBrokerRead implements kgo.HookBrokerRead: the first heartbeat answered
// ends the join (Health: no longer joining).
func (sg *shareGroup) OnBrokerRead(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key != kmsg.ShareGroupHeartbeat.Int16() {
		return
	}
	<-sg.ready
	if err != nil {
		sg.g.obs.health.connection(false, "share group coordinator")
		return
	}
	now := time.Now().UnixNano()
	if prev := sg.heardAt.Swap(now); prev > 0 {
		sg.hbEvery.Store(now - prev)
	}
	sg.g.obs.health.connection(true, "")
	sg.silent.Store(false)
	sg.failing.Store(false)
	sg.joinOnce.Do(func() {
		sg.g.obs.joined()
		close(sg.joined)
	})
}

// OnGroupManageError implements kgo.HookGroupManageError: the share
// group's heartbeat failed (franz-go retries about every second); Health
// says so until the next answer, and the listener hears of it once until
// then.
func (sg *shareGroup) OnGroupManageError(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	<-sg.ready
	sg.lastErr.Store(err)
	sg.g.obs.health.update(map[ReasonKind]string{ReasonCoordinatorUnreachable: fmt.Sprintf("share group heartbeat failed (%v)", err)})
	if sg.failing.Swap(true) {
		return
	}
	sg.g.log.Warn("share group heartbeat failed; retrying", "err", err)
	sg.g.notify(&Notification{Type: REBALANCE_ERROR, Err: fmt.Errorf("share group %q: heartbeat: %w", sg.g.name, err)})
}

// watchSilence reports a coordinator silent for too long (see the top of
// the file), at now; the lock keeper calls it at each tick.
func (sg *shareGroup) watchSilence(now time.Time) {
	heard := sg.heardAt.Load()
	if heard == 0 {
		return // not joined yet: Health says joining
	}
	bound := max(shareSilentBeats*time.Duration(sg.hbEvery.Load()), shareSilentMin)
	silent := now.Sub(time.Unix(0, heard))
	if silent <= bound {
		return
	}
	what := fmt.Sprintf("share group coordinator silent for %v", silent.Round(time.Second))
	if sg.g.obs.health.update(map[ReasonKind]string{ReasonCoordinatorUnreachable: what}) && !sg.silent.Swap(true) {
		sg.g.log.Warn("share group: the coordinator does not answer the member's heartbeats", "silent", silent)
		sg.g.notify(&Notification{Type: REBALANCE_ERROR, Err: fmt.Errorf("%w: %s", ErrCoordinatorUnreachable, what)})
	}
}
