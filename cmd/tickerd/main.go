// Command tickerd is a live-quote fan-out service: one pipelined HTTP/1.1
// connection to a quote source, cron-pulsed collectors per symbol, and a
// REST API, websocket API and live dashboard.
//
// Usage:
//
//	tickerd [-config FILE] [-listen ADDR] [-config-poll D]
//	                                run the service; the config is reloaded on
//	                                SIGHUP and when the file changes
//	tickerd -check-config FILE      validate a config file and exit
//	tickerd version                 print the version and exit (also -version)
//	tickerd help [COMMAND]          print the help and exit (also -h)
//	tickerd sim [-listen ADDR]      run the simulated exchange on its own
//	tickerd healthcheck [-url URL]  GET /healthz of a local instance; exit 0 or 1
//
// The config file is -config, else TICKERD_CONFIG, else ./config.yaml; with
// neither flag nor variable and no ./config.yaml, tickerd runs on the
// built-in defaults (config.Default) and logs so. TICKERD_LISTEN overrides
// the config's listen address, and -listen overrides both. The log format
// and level are the config's log section; log.level changes on reload.
//
// Exit status: 0 on success, 1 on an error, 2 on a usage mistake.
package main

import (
	"context"
	"errors"
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
		if errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "Run 'tickerd help' for usage.")
		}
		stop()
		os.Exit(exitCode(err))
	}
}
