//go:build unix

package main

import (
	"os"
	"syscall"
)

// terminate asks p to stop as Kubernetes and Docker do: SIGTERM.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
