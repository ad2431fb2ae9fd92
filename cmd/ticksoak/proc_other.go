//go:build !unix

package main

import "os"

// terminate stops p. Without SIGTERM (Windows) it is killed, so the exit
// status says nothing about a clean stop there.
func terminate(p *os.Process) error { return p.Kill() }
