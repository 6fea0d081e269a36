package consumergroup

import (
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Recycling of fetched records. franz-go decodes each record batch into a
// slab of kgo.Record (160 bytes a record); the engine copies what
// the application gets into its own events (ConsumerEvent: 160 bytes) and
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

// recordPool is a kgo.PoolRecords: slabs by capacity, in classes eight
// to a power of two (8, 9, ..., 15, 16, 18, ..., 30, 32, 36, ...), so that
// a slab is at most an eighth larger than asked for: the slabs of records
// handed out as they are (PollRecords) are never recycled, and cost their
// capacity.
type recordPool struct {
	classes [recordClasses]sync.Pool // of *[]kgo.Record, cap at least classSize
}

// recordClasses bounds the slabs pooled: up to 15<<19 records.
const recordClasses = 8 * 20

// recordProbe is how many classes GetRecords looks in, from the smallest
// that fits: nine, so that a slab up to twice (and an eighth) the size
// asked for serves. A larger slab costs nothing more when it is recycled
// (it goes back to its own class); handed out by PollRecords, it is kept
// by the application at most twice as long as needed.
const recordProbe = 9

// classSize is the capacity of class i.
func classSize(i int) int { return (8 + i%8) << (i / 8) }

// classUp is the smallest class of capacity n or more.
func classUp(n int) int {
	if n <= 8 {
		return 0
	}
	k := bits.Len(uint(n-1)) - 4 // (n-1)>>k is in [8, 15]
	j := (n-1)>>k - 8 + 1
	return k*8 + j // j == 8 is the next power of two: (k+1)*8
}

// classDown is the largest class of capacity c or less; -1 below 8.
func classDown(c int) int {
	if c < 8 {
		return -1
	}
	k := bits.Len(uint(c)) - 4
	return k*8 + c>>k - 8
}

// GetRecords returns a slab of n records (kgo.PoolRecords).
func (rp *recordPool) GetRecords(n int) []kgo.Record {
	i := classUp(n)
	if i >= recordClasses {
		return make([]kgo.Record, n)
	}
	// A producer's batches vary in size, so a fetch rarely asks for the
	// classes the previous fetch gave back: looking in the classes above,
	// up to twice the size, found 73% of the slabs at 100-byte messages
	// (bench, Poll) against 22% in the class asked for alone.
	for j := i; j < min(i+recordProbe, recordClasses); j++ {
		if v, _ := rp.classes[j].Get().(*[]kgo.Record); v != nil {
			return (*v)[:n]
		}
	}
	return make([]kgo.Record, n, classSize(i))
}

// PutRecords takes back a slab whose records were all recycled (zeroed by
// kgo.Record.Recycle) (kgo.PoolRecords).
func (rp *recordPool) PutRecords(rs []kgo.Record) {
	i := classDown(cap(rs))
	if i < 0 || i >= recordClasses {
		return
	}
	rs = rs[:0]
	rp.classes[i].Put(&rs)
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
