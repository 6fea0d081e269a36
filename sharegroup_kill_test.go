package consumergroup_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cg "github.com/consumergroup/consumergroup"
)

// envShareHelper, set, makes TestShareKilledHelper a member process of
// the killed-member scenario: it joins the group named by the variable
// ("brokers|group|topic"), prints "HOLD <value>" for the first message and
// holds it (and what it fetched with it) until it is killed.
const envShareHelper = "CONSUMERGROUP_SHARE_HELPER"

// TestShareKilledMember: a member process killed (SIGKILL) in the middle
// of a handler, holding a message and the rest of its fetch: another
// member receives all of them (the held one with DeliveryCount 2), none is
// lost; the only second deliveries are the held message's.
func TestShareKilledMember(t *testing.T) {
	forEachShareKind(t, func(t *testing.T, sc *shareCluster) {
		topic, group := sc.topic("killed", 2), sc.group("killed")
		values := sc.produceN(topic, 2, 40)
		cmd, v := startHelperMember(t, sc, group, topic)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL: no Close, no acknowledgement, no leave
			t.Fatal(err)
		}
		cmd.Wait()
		killedAt := time.Now()
		var back atomic.Int64 // nanoseconds from the kill to the held message's next delivery
		l := newShareLedger()
		l.delivered("killed", &cg.ConsumerEvent{Value: []byte(v), DeliveryCount: 1})
		ctx, cancel := context.WithCancel(testCtx(t))
		defer cancel()
		b := sc.join(group, []string{topic}, nil)
		done := consume(ctx, t, "b", b, l, func(ev *cg.ConsumerEvent) string {
			if string(ev.Value) == v {
				back.Store(int64(time.Since(killedAt)))
			}
			return "accept"
		})
		l.waitFinished(t, values)
		sc.waitSettled(group, topic, 2)
		cancel()
		<-done
		c, _ := b.ShareCounts()
		t.Logf("the killed member held %s, delivered again %v after the kill (lock %v: Kafka releases a dead member's records when its connection closes, or at the lock's end); b: %+v",
			v, time.Duration(back.Load()).Round(time.Millisecond), shareLock, c)
		if d := l.deliveries(v); len(d) != 2 || d[1].count < 2 {
			t.Errorf("the held message %s: deliveries %v, want a second one with count >= 2", v, d)
		}
		if d := l.duplicates(values); d != 1 {
			t.Errorf("%d duplicates, want 1 (the message in the killed member's hands)", d)
		}
		if c.Redelivered == 0 {
			t.Errorf("b saw no redelivery: %+v", c)
		}
	})
}

// startHelperMember starts the member process of TestShareKilledMember and
// returns it with the message it holds. It is killed when the test ends,
// if it still runs.
func startHelperMember(t *testing.T, sc *shareCluster, group, topic string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestShareKilledHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), envShareHelper+"="+strings.Join(sc.addrs, ",")+"|"+group+"|"+topic)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The helper holds its message until its stdin closes: killed
	// first, or when this process ends, so that it never outlives us.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	held := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "HOLD "); ok {
				held <- v
			}
		}
		close(held)
	}()
	var v string
	select {
	case v = <-held:
	case <-testCtx(t).Done():
		t.Fatal("the helper member never took a message")
	}
	return cmd, v
}

// TestShareKilledHelper is the member process of TestShareKilledMember
// (envShareHelper); without the variable it checks nothing and passes.
func TestShareKilledHelper(t *testing.T) {
	spec := os.Getenv(envShareHelper)
	if spec == "" {
		t.Skip("the member process of TestShareKilledMember")
	}
	parts := strings.Split(spec, "|")
	g, err := cg.JoinKafkaShareGroup(context.Background(), parts[1], []string{parts[2]}, strings.Split(parts[0], ","), shareConfig())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := g.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("HOLD %s\n", ev.Value)
	io.Copy(io.Discard, os.Stdin) // the handler hangs until SIGKILL (or the test process is gone)
	t.Fatal("the test process is gone")
}
