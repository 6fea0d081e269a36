package env

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kfakeChildEnv, set in a process's environment, makes RunKfakeChild run
// kfake instead of the program (see StartKafkaProcess).
const kfakeChildEnv = "BENCH_KFAKE_CHILD"

// kfakeChild is a child process running kfake: this program started again
// with kfakeChildEnv set.
type kfakeChild struct {
	cmd   *exec.Cmd
	stdin *os.File // closing it ends the child
	done  chan struct{}
}

// StartKafkaProcess is StartKafka with kfake in a child process (this
// program run again, see RunKfakeChild), so that the broker's work is not
// in the consumers' process: its allocations and its goroutines are
// apart, as with a real broker, while it still shares the machine's cores.
// The child dies with this process (SIGKILL on its death) or when Close
// closes its stdin.
func StartKafkaProcess(zkAddr string) (*Kafka, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("env: kfake process: %w", err)
	}
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), kfakeChildEnv+"=1", groupSessionEnv+"="+GroupSession.String())
	cmd.Stdin = stdinR
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c := &kfakeChild{cmd: cmd, stdin: stdinW, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the starting thread ends: keep it until
		// the child is reaped.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(c.done)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(c.done)
	}()
	err = <-started
	stdinR.Close()
	if err != nil {
		stdinW.Close()
		return nil, fmt.Errorf("env: starting kfake process: %w", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "kfake ") {
		c.stop()
		return nil, fmt.Errorf("env: kfake process did not report its addresses (%q): %v", line, err)
	}
	return register(&Kafka{child: c, addrs: strings.Fields(strings.TrimPrefix(line, "kfake "))}, zkAddr)
}

// stop ends the child: EOF on its stdin, then SIGKILL after 10 s.
func (c *kfakeChild) stop() {
	c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// RunKfakeChild runs kfake and reports true when this process was started
// by StartKafkaProcess: it prints "kfake ADDR..." on stdout and serves until
// its stdin closes. Otherwise it returns false at once. Call it first in
// main.
func RunKfakeChild() bool {
	if os.Getenv(kfakeChildEnv) == "" {
		return false
	}
	cluster, err := kfake.NewCluster(kfakeOpts()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake process:", err)
		os.Exit(1)
	}
	fmt.Printf("kfake %s\n", strings.Join(cluster.ListenAddrs(), " "))
	buf := make([]byte, 1)
	for {
		if _, err := os.Stdin.Read(buf); err != nil {
			break
		}
	}
	cluster.Close()
	return true
}
