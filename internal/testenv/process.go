package testenv

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
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
// The process gets SIGKILL if this test binary dies without stopping it
// (a panic, a test timeout, a kill): Linux sends Pdeathsig when the thread
// that started the process ends, so the reaper starts it from an OS thread
// it keeps locked until the process is reaped.
func startProcess(cmd *exec.Cmd, out io.Writer) (*process, error) {
	tail := newTailBuffer(32 << 10)
	var w io.Writer = tail
	if out != nil {
		w = io.MultiWriter(tail, out)
	}
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
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

// errorf returns an error whose message starts with the package name.
func errorf(format string, args ...any) error {
	return fmt.Errorf("testenv: "+format, args...)
}
