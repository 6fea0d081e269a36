package consumergroup_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
	"github.com/consumergroup/consumergroup/internal/testenv"
)

// TestKafkaJoinRefused: a refusal the broker gives at the first join
// (INVALID_SESSION_TIMEOUT for a SessionTimeout outside the broker's
// group.min/max.session.timeout.ms) is JoinKafkaConsumerGroup's error; the
// join used to return nil and the member stayed "joining" forever.
func TestKafkaJoinRefused(t *testing.T) {
	c := startClusterSetup(t, setup{coord: coordClassic, kind: testenv.KindKfake}, map[string]int32{"t": 1})
	cfg := cg.NewConsumerGroupConfig()
	cfg.SessionTimeout = time.Hour // kfake's group.max.session.timeout.ms is 5 min, Kafka's 30 min
	start := time.Now()
	g, err := cg.JoinKafkaConsumerGroup(testCtx(t), "g", []string{"t"}, c.kafka.Addrs(), cfg)
	if g != nil {
		t.Logf("health: %v", g.Health())
		g.Close()
	}
	if !errors.Is(err, cg.ErrInvalidArgument) || !strings.Contains(err.Error(), "INVALID_SESSION_TIMEOUT") || !strings.Contains(err.Error(), "SessionTimeout") {
		t.Fatalf("JoinKafkaConsumerGroup with SessionTimeout = 1h: %v, want the broker's INVALID_SESSION_TIMEOUT", err)
	}
	if g != nil {
		t.Fatal("returned a group with the error")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
	t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// silentBroker listens and accepts connections, and never answers.
func silentBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestKafkaJoinSilentBroker: a broker that accepts connections and never
// answers fails JoinKafkaConsumerGroup within JoinTimeout (it used to take
// 40 s with context.Background()), or within ctx, whichever ends first;
// the error says which.
func TestKafkaJoinSilentBroker(t *testing.T) {
	addr := silentBroker(t)
	if d := cg.NewConsumerGroupConfig().JoinTimeout; d != cg.DefaultJoinTimeout || d <= 0 {
		t.Fatalf("default JoinTimeout = %v, want DefaultJoinTimeout (%v)", d, cg.DefaultJoinTimeout)
	}
	for _, tc := range []struct {
		name    string
		join    time.Duration
		ctx     time.Duration
		bound   time.Duration
		mention string
	}{
		{"JoinTimeout", 2 * time.Second, 0, 2 * time.Second, "JoinTimeout"},
		{"ctx", time.Minute, time.Second, time.Second, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cg.NewConsumerGroupConfig()
			cfg.JoinTimeout = tc.join
			ctx := context.Background()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			start := time.Now()
			g, err := cg.JoinKafkaConsumerGroup(ctx, "g", []string{"t"}, []string{addr}, cfg)
			took := time.Since(start)
			if g != nil {
				g.Close()
				t.Fatal("joined a broker that never answers")
			}
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("err = %v, want one matching context.DeadlineExceeded that says %q", err, tc.mention)
			}
			if took > tc.bound+3*time.Second {
				t.Fatalf("returned after %v, want about %v", took, tc.bound)
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		})
	}
}
