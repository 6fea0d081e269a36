package consumergroup_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// misuseBound bounds a call that must return at once: a guard against
// hanging, not a speed test.
const misuseBound = 5 * time.Second

// returnsWithin runs f and fails the test if it does not return within
// misuseBound.
func returnsWithin(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(misuseBound):
		t.Fatalf("%s did not return within %v", what, misuseBound)
	}
}

// isClosed reports whether ch is a closed channel (false if a receive
// would block or gets a value).
func isClosed[T any](ch <-chan T) bool {
	if ch == nil {
		return false
	}
	select {
	case _, ok := <-ch:
		return !ok
	default:
		return false
	}
}

// TestBadInputAfterClose is the regression test of a hang: Stream or
// Batches called for the first time after Close started the delivery
// goroutine, which drained the closed channels for good under its lock,
// and every later Stream, Batches or Checkout call blocked. After Close,
// Stream and Batches return a closed channel (nil for the mode not
// chosen) and Checkout returns ErrClosed, at once.
func TestBadInputAfterClose(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 1})
	z := dialZK(t, c.chroot)
	for i, first := range []string{"Stream", "Batches", "Checkout"} {
		t.Run(first, func(t *testing.T) {
			g, err := cg.NewConsumerGroup(newClient(t, c), z, fmt.Sprintf("g%d", i), "t", nil, groupConfig())
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			var stream <-chan *cg.ConsumerEvent
			var batches <-chan *cg.EventBatch
			var checkout error
			call := func(what string) {
				t.Helper()
				returnsWithin(t, what+" after Close", func() {
					switch what {
					case "Stream":
						stream = g.Stream()
					case "Batches":
						batches = g.Batches()
					case "Checkout":
						checkout = g.Checkout(func(*cg.PartitionConsumer) error { return nil })
					}
				})
			}
			call(first)
			for _, what := range []string{"Stream", "Batches", "Checkout", "Stream", "Batches", "Checkout"} {
				call(what)
			}
			if !errors.Is(checkout, cg.ErrClosed) {
				t.Errorf("Checkout after Close = %v, want ErrClosed", checkout)
			}
			switch first {
			case "Batches":
				if !isClosed(batches) || stream != nil {
					t.Errorf("after Close, Batches first: Batches closed %v, Stream %v; want a closed channel and nil", isClosed(batches), stream)
				}
			default: // Checkout after Close chooses no mode: Stream is the first
				if !isClosed(stream) || batches != nil {
					t.Errorf("after Close, %s first: Stream closed %v, Batches %v; want a closed channel and nil", first, isClosed(stream), batches)
				}
			}
		})
	}
}

// TestBadInputCheckoutNil: Checkout(nil) is refused with ErrInvalidArgument
// naming the callback (it panicked with a partition to hand out), and it
// chooses no delivery mode.
func TestBadInputCheckoutNil(t *testing.T) {
	c := startCluster(t, map[string]int32{"t": 1})
	c.produce("t", 1, 10)
	events := make(chan *cg.Notification, 100)
	g, err := cg.NewConsumerGroup(newClient(t, c), dialZK(t, c.chroot), "g", "t", events, groupConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	deadline := time.After(testTimeout)
	for len(g.ClaimedPartitions()) == 0 {
		select {
		case <-events:
		case <-deadline:
			t.Fatal("the member claimed nothing")
		}
	}
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return g.Checkout(nil)
	}()
	if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "callback") {
		t.Fatalf("Checkout(nil) = %v, want ErrInvalidArgument naming the callback", err)
	}
	if g.Stream() == nil {
		t.Fatal("the refused Checkout(nil) chose the Checkout mode: Stream returns nil")
	}
}
