//go:build !unix

package main

import (
	"errors"
	"time"
)

// errNotSupported is returned where this platform lacks what the tool asks.
var errNotSupported = errors.New("tickload: not supported on this platform")

// selfCPU returns 0: the tool's own CPU is reported on unix only.
func selfCPU() time.Duration { return 0 }

// raiseNofile changes nothing and returns want: there is no RLIMIT_NOFILE.
func raiseNofile(want uint64) (uint64, error) { return want, nil }

// setRecvBuf fails: -slow clients need unix.
func setRecvBuf(uintptr, int) error { return errNotSupported }
