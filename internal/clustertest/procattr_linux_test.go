//go:build cluster && linux

package clustertest

import "syscall"

// sysProcAttr makes the kernel SIGKILL a started process when the test
// process dies, so that a test binary killed by go test's -timeout (which
// runs no cleanup) leaves no nats-server or tickerd behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
