package testenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
	// killWait is how long we wait for a process to be reaped after
	// SIGKILL; it only runs out if the kernel cannot kill the process.
	killWait = 10 * time.Second
	// outputWaitDelay bounds how long cmd.Wait keeps copying output
	// after the process exited, should a descendant hold the pipe open.
	outputWaitDelay = 2 * time.Second
)

// process is one started command, in its own process group, reaped by
// exactly one goroutine whose lifetime is bounded by the process's.
type process struct {
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed by the reaper once cmd.Wait has returned
	err  error         // cmd.Wait's result; written by the reaper, read after done
}

// startProcess starts cmd in a new process group, with its output going to
// out (and also returned by the process's tail), and starts its reaper.
//
// On Linux the process gets SIGKILL if this test binary dies without
// stopping it (a panic, a test timeout, a kill): Linux sends Pdeathsig when
// the thread that started the process ends, so the reaper starts it from an
// OS thread it keeps locked until the process is reaped (procAttr).
func startProcess(cmd *exec.Cmd, out io.Writer) (*process, error) {
	tail := newTailBuffer(32 << 10)
	var w io.Writer = tail
	if out != nil {
		w = io.MultiWriter(tail, out)
	}
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = procAttr()
	cmd.WaitDelay = outputWaitDelay
	p := &process{cmd: cmd, out: tail, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with this goroutine, after the
		// process is reaped, or at once if it did not start.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("testenv: starting %s: %w", cmd.Path, err)
	}
	return p, nil
}

// exited reports whether the process has exited and been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signalGroup sends sig to the process's whole group. Once the leader has
// been reaped its id may be reused, so we send nothing then.
func (p *process) signalGroup(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("testenv: sending %v to process group %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

// wait waits up to d for the process to be reaped.
func (p *process) wait(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
		return false
	}
}

// stop sends SIGTERM to the group and waits up to grace, then kills it.
func (p *process) stop(grace time.Duration) error {
	if err := p.signalGroup(syscall.SIGTERM); err != nil {
		return errors.Join(err, p.kill())
	}
	if p.wait(grace) {
		return nil
	}
	return p.kill()
}

// kill sends SIGKILL to the group and waits for the process to be reaped.
func (p *process) kill() error {
	if err := p.signalGroup(syscall.SIGKILL); err != nil {
		return err
	}
	if !p.wait(killWait) {
		return fmt.Errorf("testenv: process %d not reaped %v after SIGKILL", p.cmd.Process.Pid, killWait)
	}
	return nil
}

// exitError describes how the process ended, for errors about a server
// that exited on its own.
func (p *process) exitError() error {
	if p.err == nil {
		return errors.New("exited with status 0")
	}
	return p.err
}

// server is what ZooKeeper and Apache share: the process of a server that
// is stopped, killed and started again on the same ports and data, under a
// lock held across each start and stop.
type server struct {
	label  string     // names the server in errors, such as "zookeeper 127.0.0.1:port"
	dir    string     // temporary: its configuration and data; removed by Close
	mu     sync.Mutex // guards proc and closed; held across start and stop
	proc   *process   // the server process; nil before the first start
	closed bool
}

// Stop stops the server gracefully: SIGTERM to its process group, then
// SIGKILL if it has not exited within 10 s. It returns once the process is
// reaped. Stopping a stopped server does nothing.
func (s *server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

// stopLocked is Stop with s.mu held.
func (s *server) stopLocked() error {
	if s.proc == nil {
		return nil
	}
	if err := s.proc.stop(stopGrace); err != nil {
		return fmt.Errorf("%w (%s)", err, s.label)
	}
	return nil
}

// Kill kills the server at once (SIGKILL to its process group), as a
// crash would, and returns once the process is reaped.
func (s *server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	if err := s.proc.kill(); err != nil {
		return fmt.Errorf("%w (%s)", err, s.label)
	}
	return nil
}

// waitReadyLocked polls the server with probe every poll until probe
// returns nil, the process exits, or deadline passes (timeout after the
// start, for the error); on failure it kills the server. s.mu is held.
func (s *server) waitReadyLocked(deadline time.Time, timeout, poll time.Duration, probe func() error) error {
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	var last error
	for {
		if last = probe(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-s.proc.done:
			err := errorf("%s exited before serving: %v\n%s", s.label, s.proc.exitError(), s.proc.out.describe())
			return s.portTaken(err)
		case <-ticker.C:
		}
	}
	killErr := s.proc.kill()
	err := errorf("%s not serving after %v: last probe: %v\n%s", s.label, timeout, last, s.proc.out.describe())
	return s.portTaken(errors.Join(err, killErr))
}

// closeLocked stops the server if it runs and removes its data, once;
// s.mu is held.
func (s *server) closeLocked() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.stopLocked()
	if rmErr := os.RemoveAll(s.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("testenv: removing %s's data: %w", s.label, rmErr))
	}
	return err
}

// errPortTaken marks a start that failed because another process bound one
// of the server's ports between our check and the server's bind.
var errPortTaken = errors.New("testenv: a port was taken by another process")

// portTaken wraps err with errPortTaken when the server's output reports a
// failed bind.
func (s *server) portTaken(err error) error {
	if strings.Contains(s.proc.out.lastLines(200), "Address already in use") {
		return fmt.Errorf("%w: %w", errPortTaken, err)
	}
	return err
}

// errorf returns an error whose message starts with the package name.
func errorf(format string, args ...any) error {
	return fmt.Errorf("testenv: "+format, args...)
}
