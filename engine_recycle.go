package consumergroup

import (
	"math/bits"
	"runtime"
	"sync"
	"time"

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
//
// A sync.Pool drops what it holds at every other collection, and at
// small messages the collector runs about as often as a fetch arrives:
// the slabs recycled while the application processed a poll were mostly
// gone when the next fetch was decoded. The slabs put back in the last
// keepAge, up to keepRecords records, are kept apart (kept), out of the
// collector's reach; older ones go to the sync.Pools at the next
// collection, so an idle group gives them back to the runtime as before.
type recordPool struct {
	classes [recordClasses]sync.Pool // of *[]kgo.Record, cap at least classSize

	mu      sync.Mutex
	kept    [recordClasses][]keptSlab // by class, the newest last
	keptN   int                       // records of the slabs in kept
	armed   bool                      // a collection will age kept (ageKept)
	keptMin int64                     // the oldest slab's put time, when keptN > 0
}

// keptSlab is a slab in recordPool.kept, put back at at (nanoseconds of
// the monotonic clock, keptClock).
type keptSlab struct {
	rs *[]kgo.Record
	at int64
}

// keepRecords bounds the records kept out of the sync.Pools: 2^19, 80 MB
// of records, the slabs of about one fetch of 16 partitions of
// 12-byte messages (franz-go's default of 1 MB a partition).
const keepRecords = 1 << 19

// keepAge is how long a slab stays in kept at least: a poll's slabs are
// taken again by a fetch or two later.
const keepAge = time.Second

// keptEpoch is keptClock's origin.
var keptEpoch = time.Now()

// keptClock is the monotonic clock in nanoseconds.
func keptClock() int64 { return int64(time.Since(keptEpoch)) }

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
	end := min(i+recordProbe, recordClasses)
	if v := rp.takeKept(i, end); v != nil {
		return (*v)[:n]
	}
	for j := i; j < end; j++ {
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
	if !rp.keep(i, &rs) {
		rp.classes[i].Put(&rs)
	}
}

// takeKept returns the newest kept slab of the classes [i, end), nil if
// none.
func (rp *recordPool) takeKept(i, end int) *[]kgo.Record {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.keptN == 0 {
		return nil
	}
	for j := i; j < end; j++ {
		if k := len(rp.kept[j]); k > 0 {
			v := rp.kept[j][k-1].rs
			rp.kept[j][k-1] = keptSlab{}
			rp.kept[j] = rp.kept[j][:k-1]
			rp.keptN -= cap(*v)
			return v
		}
	}
	return nil
}

// keep adds the slab rs of class i to kept, and reports whether it did
// (not when kept is full).
func (rp *recordPool) keep(i int, rs *[]kgo.Record) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.keptN+cap(*rs) > keepRecords {
		return false
	}
	now := keptClock()
	if rp.keptN == 0 {
		rp.keptMin = now
	}
	rp.kept[i] = append(rp.kept[i], keptSlab{rs: rs, at: now})
	rp.keptN += cap(*rs)
	if !rp.armed {
		rp.armed = true
		armAging(rp)
	}
	return true
}

// gcSentinel is an object nothing keeps: its cleanup runs after the
// collection that found it unreachable.
type gcSentinel struct{ _ [16]byte } // not a tiny object: one of its own

// armAging runs rp.ageKept after the next collection.
func armAging(rp *recordPool) {
	runtime.AddCleanup(new(gcSentinel), func(rp *recordPool) { rp.ageKept() }, rp)
}

// ageKept, after a collection, moves the slabs kept for keepAge or more to
// the sync.Pools (which drop them within two collections), and arms itself
// again while any slab is kept.
func (rp *recordPool) ageKept() {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	now := keptClock()
	if rp.keptN > 0 && now-rp.keptMin >= int64(keepAge) {
		oldest := now
		for i := range rp.kept {
			ks := rp.kept[i][:0]
			for _, k := range rp.kept[i] {
				if now-k.at >= int64(keepAge) {
					rp.keptN -= cap(*k.rs)
					rp.classes[i].Put(k.rs)
					continue
				}
				oldest = min(oldest, k.at)
				ks = append(ks, k)
			}
			clear(rp.kept[i][len(ks):])
			rp.kept[i] = ks
		}
		rp.keptMin = oldest
	}
	if rp.keptN == 0 {
		rp.armed = false
		return
	}
	armAging(rp)
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
