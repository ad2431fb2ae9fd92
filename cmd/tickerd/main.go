// Command tickerd is a live-quote fan-out service: one pipelined HTTP/1.1
// connection to a quote source, cron-pulsed collectors per symbol, and a
// REST API, websocket API and live dashboard.
//
// Usage:
//
//	tickerd [-config PATH] [-config-poll D]
//	                                run the service (default ./config.yaml); the config
//	                                is reloaded on SIGHUP and when the file changes
//	tickerd -check-config PATH      validate a config file and exit
//	tickerd -version                print the version and exit
//	tickerd sim [-listen ADDR]      run the simulated exchange on its own
//	tickerd healthcheck [-url URL]  GET /healthz of a local instance; exit 0 or 1
//
// Environment: TICKERD_CONFIG overrides the default config path and
// TICKERD_LISTEN the config's listen address.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A SIGHUP that arrives before the config watcher runs would kill the
	// process (its default action): ignore it until then. The watcher's
	// signal.Notify undoes this.
	signal.Ignore(syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tickerd:", err)
		stop()
		os.Exit(exitCode(err))
	}
}
