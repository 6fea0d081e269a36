package consumergroup_test

import (
	"testing"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// Without Kafka the lag is unknown: -1, never 0.
func TestDescribeGroupUnknownLag(t *testing.T) {
	z := dialZK(t, testenv.Chroot(t))
	t.Cleanup(func() { z.DeleteAll(testCtx(t), "/") })
	if err := z.Commit(testCtx(t), "g", "t", 0, 5); err != nil {
		t.Fatal(err)
	}
	d, err := cg.DescribeGroup(testCtx(t), z, nil, "g")
	if err != nil {
		t.Fatal(err)
	}
	if d.TotalLag != -1 || len(d.Partitions) != 1 || d.Partitions[0].Lag != -1 || d.Partitions[0].Committed != 5 {
		t.Errorf("total lag %d, partitions %+v: want -1 (unknown) without Kafka", d.TotalLag, d.Partitions)
	}
}
