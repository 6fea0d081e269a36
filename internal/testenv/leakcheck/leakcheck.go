// Package leakcheck ends a test binary: after the tests it stops the
// servers they shared, then fails the binary if goroutines are left
// running. It is kept apart from testenv so that programs using testenv's
// servers (groupctl's demo) do not link goleak.
//
//	func TestMain(m *testing.M) { leakcheck.Main(m, testenv.StopShared) }
package leakcheck

import (
	"fmt"
	"os"
	"time"

	"go.uber.org/goleak"
)

// M is what Main needs of a *testing.M.
type M interface{ Run() int }

// Timeout bounds how long Main waits for goroutines to end after the tests
// before it reports them as leaked.
const Timeout = 5 * time.Second

// Main runs the tests, then each of stops (testenv.StopShared), then fails
// the binary if goroutines are left running, printing them; it exits.
func Main(m M, stops ...func() error) {
	code := m.Run()
	for _, stop := range stops {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if err := find(); err != nil {
		fmt.Fprintf(os.Stderr, "leakcheck: goroutines leaked by the tests:\n%v\n", err)
		code = 1
	}
	os.Exit(code)
}

// find retries goleak.Find until no goroutine is left or Timeout passes:
// goroutines that are being stopped (a closed kgo client's connection
// readers, go-zookeeper's loops) end a moment after the Close that stops
// them returns. No goroutine is ignored: everything the tests start,
// directly or through kgo, kfake, go-zookeeper or testenv, must end.
// goleak's defaults already skip the testing package's own goroutines and
// the runtime's.
func find() error {
	deadline := time.Now().Add(Timeout)
	for {
		err := goleak.Find()
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}
