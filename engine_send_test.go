package consumergroup

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestSendAfterEndWithFullChannel: the pump's context ends (Close) while
// the application is not reading Stream, and the end's signal (changed
// closed and replaced) comes before the pump's next send: the send returns
// instead of waiting for good on the replaced channel, which nothing would
// close (Close waited for the pump forever).
func TestSendAfterEndWithFullChannel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newPump(ctx, nil, slog.New(slog.DiscardHandler), nil, newObserver("test", nil))
	tp := TopicPartition{Topic: "t", Partition: 0}
	ps := &pstate{tp: tp}
	p.parts[tp] = ps
	stop := context.AfterFunc(ctx, p.signalChange) // as run does
	defer stop()
	recs := benchRecords(2, 10)
	p.ch.stream <- &ConsumerEvent{} // full: nobody reads

	p.mu.Lock()
	old := p.changed
	p.mu.Unlock()
	cancel()
	select {
	case <-old: // signalChange ran: changed is a new channel
	case <-time.After(10 * time.Second):
		t.Fatal("the end of the context did not close changed")
	}

	done := make(chan bool, 1)
	go func() { done <- p.send(ctx, unit{ps: ps, end: recs[0].Offset + 1, ev: toEvent(recs[0])}) }()
	select {
	case sent := <-done:
		if sent {
			t.Fatal("send after the end reported the message sent")
		}
	case <-time.After(10 * time.Second):
		<-p.ch.stream // let it go, so that the goroutine ends
		<-done
		t.Fatal("send after the end blocked on a full channel (Close would wait for the pump forever)")
	}
}
