package consumergroup

import (
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecordPoolClasses: a slab asked for holds what was asked, at most an
// eighth more.
func TestRecordPoolClasses(t *testing.T) {
	for n := 1; n < 200_000; n++ {
		u := classUp(n)
		if classSize(u) < n || (u > 0 && classSize(u-1) >= n) {
			t.Fatalf("classUp(%d) = class %d of %d", n, u, classSize(u))
		}
		if n > 8 && classSize(u) > n+n/8 {
			t.Fatalf("classUp(%d): %d, more than an eighth above", n, classSize(u))
		}
		if n >= 8 {
			d := classDown(n)
			if classSize(d) > n || classSize(d+1) <= n {
				t.Fatalf("classDown(%d) = class %d of %d", n, d, classSize(d))
			}
		}
	}
	var rp recordPool
	rs := rp.GetRecords(1000)
	if len(rs) != 1000 || cap(rs) != classSize(classUp(1000)) {
		t.Fatalf("GetRecords(1000): len %d cap %d", len(rs), cap(rs))
	}
	rp.PutRecords(rs) // sync.Pool may drop it (always may under -race): not checked
	if again := rp.GetRecords(1000); len(again) != 1000 || cap(again) < 1000 {
		t.Fatalf("GetRecords(1000) after a put: len %d cap %d", len(again), cap(again))
	}
}

// TestRecordPoolLargerClass: a slab given back serves a later request up
// to twice smaller (a producer's batches vary in size: the exact class
// alone was mostly empty).
func TestRecordPoolLargerClass(t *testing.T) {
	var rp recordPool
	reused := 0
	for range 20 {
		rs := rp.GetRecords(3840)
		first := &rs[0]
		rp.PutRecords(rs)
		// sync.Pool drops a put now and then (a quarter of them under
		// -race, all of them at a collection): reuse is counted, not
		// required every time.
		again := rp.GetRecords(2000)
		if len(again) != 2000 || cap(again) < 2000 {
			t.Fatalf("GetRecords(2000): len %d cap %d", len(again), cap(again))
		}
		if &again[0] == first {
			reused++
		}
		rp.PutRecords(again)
		_ = rp.GetRecords(3840) // empty the pool for the next round
	}
	if reused == 0 {
		t.Fatal("a slab of 3840 records never served a request of 2000")
	}
	rp.PutRecords(make([]kgo.Record, 3840))
	if rs := rp.GetRecords(1000); cap(rs) > 2*1000+1000/8 {
		t.Fatalf("GetRecords(1000): cap %d, more than twice and an eighth", cap(rs))
	}
}

// TestRecordPoolKept: a slab put back is kept through collections (a
// sync.Pool drops it at the second), and after keepAge a collection hands
// it to the sync.Pools: an idle process gets its memory back.
func TestRecordPoolKept(t *testing.T) {
	var rp recordPool
	rs := rp.GetRecords(1000)
	first := &rs[0]
	rp.PutRecords(rs)
	runtime.GC()
	runtime.GC()
	again := rp.GetRecords(1000)
	if &again[0] != first {
		t.Fatal("a slab put back did not survive two collections")
	}
	rp.PutRecords(again)
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		rp.mu.Lock()
		n, armed := rp.keptN, rp.armed
		rp.mu.Unlock()
		if n == 0 && !armed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after keepAge and collections, %d records still kept (armed %v)", n, armed)
		}
		time.Sleep(50 * time.Millisecond) // collections paced while keepAge runs out
	}
}
