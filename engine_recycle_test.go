package consumergroup

import "testing"

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
