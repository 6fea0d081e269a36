//go:build unix && !linux

package testenv

import "syscall"

// procAttr puts a server in a process group of its own (stopped as a
// group). Outside Linux there is no parent-death signal: a process that
// dies without stopping its servers (a kill -9, a test timeout) leaves them
// running; Close, and the demo on SIGINT and SIGTERM, stop them otherwise.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
