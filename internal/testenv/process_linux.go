package testenv

import "syscall"

// procAttr puts a server in a process group of its own (stopped as a
// group) and has Linux kill it when the thread that started it ends, so
// that a test binary that dies without stopping it leaves nothing running.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
