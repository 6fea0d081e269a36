package zookeeper_test

import (
	"errors"
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/zookeeper"
)

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
	if err := z.DeleteOffsets(testCtx(t), "nosuch", "a"); !errors.Is(err, zookeeper.ErrUnknownGroup) {
		t.Errorf("unknown group: %v", err)
	}
	register(t, z, "g", "a")
	if err := z.DeleteOffsets(testCtx(t), "g", "a"); !errors.Is(err, zookeeper.ErrGroupActive) {
		t.Errorf("topic a has a consumer: %v, want ErrGroupActive", err)
	}
	if err := z.DeleteOffsets(testCtx(t), "g", "b"); err != nil {
		t.Fatal(err)
	}
	if err := z.DeleteOffsets(testCtx(t), "g", "b"); !errors.Is(err, zookeeper.ErrNoNode) {
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
