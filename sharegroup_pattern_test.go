package consumergroup_test

import (
	"regexp"
	"slices"
	"testing"

	cg "github.com/consumergroup/consumergroup"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestSharePatternTopicsChanged: a share group subscribed by TopicPattern
// announces the topics matching it (TOPICS_CHANGED), consumes a matching
// topic created after the join, and announces a deleted one removed, as a
// member on Kafka's coordinator does.
func TestSharePatternTopicsChanged(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		first := sc.topic("pat-a", 1)
		events := make(chan *cg.Notification, 64)
		cfg := shareConfig()
		cfg.TopicPattern = "pat-[ab]" + regexp.QuoteMeta(first[len("pat-a"):])
		cfg.Notifications = events
		g := sc.join(sc.group("pat"), nil, cfg)
		waitTopicsChanged(t, events, first, true)
		later := sc.topic("pat-b", 1)
		waitTopicsChanged(t, events, later, true)
		sc.produce(later, 0, "late")
		ev, err := g.Next(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Topic != later || string(ev.Value) != "late" {
			t.Fatalf("got %s %q, want %s's message", ev.Topic, ev.Value, later)
		}
		if err := g.MarkDone(ev); err != nil {
			t.Fatal(err)
		}
		if _, err := kadm.NewClient(sc.admin).DeleteTopics(testCtx(t), first); err != nil {
			t.Fatal(err)
		}
		waitTopicsChanged(t, events, first, false)
	})
}

// waitTopicsChanged waits for a TOPICS_CHANGED naming topic added (or
// removed).
func waitTopicsChanged(t *testing.T, events <-chan *cg.Notification, topic string, added bool) {
	t.Helper()
	for {
		n := waitShareNotification(t, events, cg.TOPICS_CHANGED)
		if added && slices.Contains(n.TopicsAdded, topic) || !added && slices.Contains(n.TopicsRemoved, topic) {
			return
		}
	}
}
