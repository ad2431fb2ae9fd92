// Command ticksoak is a soak test for tickerd against a hostile quote
// source: it serves a nasdaq-shaped upstream on loopback that turns, one
// phase after another, into each of the faults tickerd must survive
// (a hung, trickled or 1xx-flooded answer for one symbol, stray answers,
// a garbage status line, a huge body, an answer for the wrong symbol,
// Connection: close on every answer, connection resets), starts a tickerd
// binary polling it, and records what the service does about it.
//
// Usage:
//
//	go build -o /tmp/tickerd ./cmd/tickerd
//	go run ./cmd/ticksoak -tickerd /tmp/tickerd [-phase 20s] [-rounds 1] [-symbols 20] [-json]
//
// For each phase it reports the fraction of samples (every 250ms, from
// GET /api/quotes) in which the healthy symbols were fresh (not stale,
// collected within two pulses), the victim symbol's state, and the
// service's goroutines, resident memory and open descriptors (from
// /metrics). It ends with a healthy phase, then stops tickerd with
// SIGTERM and reports the exit status and how long the stop took. It
// exits 1 when tickerd panics, exits non-zero, grows (goroutines, RSS,
// descriptors) beyond a margin over the run, or stops answering.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ticksoak:", err)
		stop()
		os.Exit(1)
	}
}
