package consumergroup

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFillEventsHeaders: every event gets its own record's fields and
// headers, and the headers shared by one allocation do not overlap: an
// append to one event's headers leaves the next event's alone.
func TestFillEventsHeaders(t *testing.T) {
	now := time.Now()
	records := []*kgo.Record{
		{Topic: "t", Partition: 3, Offset: 10, Key: []byte("k0"), Value: []byte("v0"), Timestamp: now,
			Headers: []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}},
		{Topic: "t", Partition: 3, Offset: 11, Value: []byte("v1")},
		{Topic: "t", Partition: 3, Offset: 12, Value: []byte("v2"), Headers: []kgo.RecordHeader{{Key: "c", Value: []byte("3")}}},
	}
	evs := make([]ConsumerEvent, len(records))
	fillEvents(evs, records, false)
	for i, r := range records {
		ev := evs[i]
		if ev.Topic != r.Topic || ev.Partition != r.Partition || ev.Offset != r.Offset || string(ev.Key) != string(r.Key) ||
			string(ev.Value) != string(r.Value) || !ev.Timestamp.Equal(r.Timestamp) {
			t.Fatalf("event %d = %+v, want the fields of record %+v", i, ev, r)
		}
		if len(ev.Headers) != len(r.Headers) {
			t.Fatalf("event %d has %d headers, want %d", i, len(ev.Headers), len(r.Headers))
		}
		for j, h := range r.Headers {
			if ev.Headers[j].Key != h.Key || string(ev.Headers[j].Value) != string(h.Value) {
				t.Fatalf("event %d header %d = %+v, want %+v", i, j, ev.Headers[j], h)
			}
		}
	}
	if evs[1].Headers != nil {
		t.Fatalf("event 1 has headers %v, its record none", evs[1].Headers)
	}
	evs[0].Headers = append(evs[0].Headers, Header{Key: "x"})
	if evs[2].Headers[0].Key != "c" {
		t.Fatalf("appending to event 0's headers changed event 2's: %+v", evs[2].Headers)
	}
}
