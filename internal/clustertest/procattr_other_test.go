//go:build cluster && unix && !linux

package clustertest

import "syscall"

// sysProcAttr: no parent-death signal outside Linux; the test's cleanup
// kills what it started.
func sysProcAttr() *syscall.SysProcAttr { return nil }
