package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lockedBuffer is run's output, read by the test while run writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The README's first program, on an in-process Kafka (franz-go's kfake):
// it prints every message, and returns nil once its context ends (what a
// signal does), having committed: a second run starts after them.
func TestQuickstart(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "invoices"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	produce := func(from, to int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("invoices"))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := from; i < to; i++ {
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: fmt.Appendf(nil, "invoice %d", i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	consume := func(want []string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out lockedBuffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, brokers, "invoices", &out) }()
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(out.String(), "\n") < len(want) {
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s run printed %q, want %d lines", out.String(), len(want))
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel() // as SIGINT does
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run returned %v after its context ended, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("run did not return within 30 s of its context's end")
		}
		for _, w := range want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("run printed %q, without %q", out.String(), w)
			}
		}
		if n := strings.Count(out.String(), "\n"); n != len(want) {
			t.Errorf("run printed %d lines, want %d (nothing twice):\n%s", n, len(want), out.String())
		}
	}
	produce(0, 4)
	consume([]string{": invoice 0\n", ": invoice 1\n", ": invoice 2\n", ": invoice 3\n"})
	produce(4, 6)
	consume([]string{": invoice 4\n", ": invoice 5\n"})
}
