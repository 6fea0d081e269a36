package consumergroup_test

import (
	"testing"

	cg "github.com/consumergroup/consumergroup"
)

func TestPartitionLag(t *testing.T) {
	for _, c := range []struct {
		name                        string
		committed, start, end, want int64
	}{
		{"committed", 40, 10, 100, 60},
		{"nothing committed: the whole log from its start", -1, 10, 100, 90},
		{"nothing committed, start unknown: from 0", -1, -1, 100, 100},
		{"committed below the log start", 5, 10, 100, 90},
		{"committed past the end (truncated log)", 120, 10, 100, 0},
		{"caught up", 100, 10, 100, 0},
		{"end unknown", 40, 10, -1, -1},
		{"empty log", -1, 0, 0, 0},
	} {
		if got := cg.PartitionLag(c.committed, c.start, c.end); got != c.want {
			t.Errorf("%s: PartitionLag(%d, %d, %d) = %d, want %d", c.name, c.committed, c.start, c.end, got, c.want)
		}
	}
}
