package consumergroup_test

import (
	"errors"
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

func TestDeleteOffsets(t *testing.T) {
	z := dialZK(t, testenv.Chroot(t))
	t.Cleanup(func() { z.DeleteAll(testCtx(t), "/") })
	for _, topic := range []string{"a", "b"} {
		for p := range int32(2) {
			if err := z.Commit(testCtx(t), "g", topic, p, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := z.DeleteOffsets(testCtx(t), "nosuch", "a"); !errors.Is(err, cg.ErrUnknownGroup) {
		t.Errorf("unknown group: %v", err)
	}
	register(t, z, "g", "a")
	if err := z.DeleteOffsets(testCtx(t), "g", "a"); !errors.Is(err, cg.ErrGroupActive) {
		t.Errorf("topic a has a consumer: %v, want ErrGroupActive", err)
	}
	if err := z.DeleteOffsets(testCtx(t), "g", "b"); err != nil {
		t.Fatal(err)
	}
	if err := z.DeleteOffsets(testCtx(t), "g", "b"); !errors.Is(err, cg.ErrNoNode) {
		t.Errorf("deleted twice: %v, want ErrNoNode", err)
	}
	offsets, err := z.Offsets(testCtx(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(offsets["a"]) != 2 || len(offsets["b"]) != 0 {
		t.Errorf("offsets %v: want a's two, none of b", offsets)
	}
}
