package consumergroup

import (
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Recycling of fetched records. franz-go decodes each record batch into a
// slab of kgo.Record (about 170 bytes a record); the engine copies what
// the application gets into its own events (ConsumerEvent: 128 bytes) and
// never hands the records out. Without recycling, every message cost both
// allocations, and the garbage collector's work grows with the bytes
// allocated: at 12-byte messages it was the largest cost of every delivery
// mode. The clients the group builds itself (JoinConsumerGroup, Kafka's
// coordinator) take records from recordsPool (kgo.WithPools), and the
// engine recycles each record once its event is filled (recycle), which
// puts the slab back into the pool when its last record is recycled: the
// next batch is decoded into it.
//
// What the events keep (Key, Value, the headers' keys and values) points
// into the fetch's buffers, not into the record, so an application may
// keep an event for good. A record is recycled only when nothing of the
// engine reads it any more, and only with a client whose pools are ours
// alone (recyclesRecords): a pool of the application's for decompressed
// bytes would be handed back buffers that events still point into.

// recordsPool is the record pool of the clients the group builds.
var recordsPool = new(recordPool)

// recordPool is a kgo.PoolRecords: slabs by capacity, in powers of two.
type recordPool struct {
	classes [recordClasses]sync.Pool // of *[]kgo.Record, cap 1<<class
}

// recordClasses bounds the slabs pooled: up to 1<<23 records.
const recordClasses = 24

// GetRecords returns a slab of n records (kgo.PoolRecords).
func (rp *recordPool) GetRecords(n int) []kgo.Record {
	k := bits.Len(uint(max(n, 1) - 1)) // 1<<k >= n
	if k >= recordClasses {
		return make([]kgo.Record, n)
	}
	if v, _ := rp.classes[k].Get().(*[]kgo.Record); v != nil {
		return (*v)[:n]
	}
	return make([]kgo.Record, n, 1<<k)
}

// PutRecords takes back a slab whose records were all recycled (zeroed by
// kgo.Record.Recycle) (kgo.PoolRecords).
func (rp *recordPool) PutRecords(rs []kgo.Record) {
	c := cap(rs)
	if c == 0 {
		return
	}
	k := bits.Len(uint(c)) - 1 // 1<<k <= c
	if k >= recordClasses {
		return
	}
	rs = rs[:0]
	rp.classes[k].Put(&rs)
}

// recyclesRecords reports whether the records cl fetches may be recycled
// once the engine has copied them: its pools are recordsPool alone.
func recyclesRecords(cl *kgo.Client) bool {
	if cl == nil {
		return false
	}
	ps, _ := cl.OptValue(kgo.WithPools).([]kgo.Pool)
	return len(ps) == 1 && ps[0] == kgo.Pool(recordsPool)
}

// recycle gives records back to franz-go's pool when the client's records
// are recycled (pump.recycle). They must not be read after.
func (p *pump) recycleRecords(records []*kgo.Record) {
	if !p.recycle {
		return
	}
	for _, r := range records {
		r.Recycle()
	}
}
