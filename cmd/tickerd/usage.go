package main

import (
	"flag"
	"fmt"
	"io"
)

// commands are the subcommands, in the order the help lists them, with the
// line it shows for each.
var commands = []struct{ name, synopsis, what string }{
	{"", "tickerd [flags]", "run the service"},
	{"sim", "tickerd sim [flags]", "run the simulated exchange on its own"},
	{"healthcheck", "tickerd healthcheck [-url URL]", "GET /healthz of a local instance; exit 0 on 200, else 1"},
	{"version", "tickerd version", "print the version (also -version)"},
	{"help", "tickerd help [COMMAND]", "print this help, or a command's (also -h)"},
}

// printUsage writes the top-level help: what tickerd is, its commands,
// the service's flags (fs), the environment, signals and exit statuses.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `tickerd is a live-quote fan-out service: it collects quotes from one quote
source on a cron pulse over one pipelined HTTP/1.1 connection and serves them
to a websocket API, a REST API, Prometheus metrics and a live dashboard.

Usage:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-32s %s\n", c.synopsis, c.what)
	}
	fmt.Fprint(w, "\nFlags of the service:\n")
	printFlags(w, fs)
	fmt.Fprint(w, `
Environment:
  TICKERD_CONFIG       the config file when -config is not given
  TICKERD_LISTEN       the listen address, over the config file's (-listen wins over both)
  TICKERD_NATS_URL     cluster.nats_url: run as one of several instances on NATS JetStream
  TICKERD_INSTANCE_ID  cluster.instance_id: this instance's unique name (default: the host name)
  TICKERD_ADMIN_LISTEN admin_listen: metrics, health checks and pprof on their own listener

Configuration:
  With neither -config nor TICKERD_CONFIG, tickerd reads ./config.yaml, and runs
  on built-in defaults (the embedded simulated exchange, listening on :8080)
  when there is no such file. A config file that is named but missing, or that
  does not validate, is an error naming the file, the line and the key.
  The config is reloaded on SIGHUP and when the file changes (see -config-poll):
  symbols, schedule and log.level apply at once; other keys need a restart.

Signals: SIGINT or SIGTERM stop the service gracefully; SIGHUP reloads the config.
Exit status: 0 on success (and for help), 1 on an error, 2 on a usage mistake.
Run 'tickerd help COMMAND' for the flags of sim and healthcheck.
`)
}

// printCommandUsage writes the help of one subcommand and its flags.
func printCommandUsage(w io.Writer, name string, fs *flag.FlagSet) {
	for _, c := range commands {
		if c.name == name {
			fmt.Fprintf(w, "Usage: %s\n\n%s.\n", c.synopsis, upperFirst(c.what))
		}
	}
	fmt.Fprint(w, "\nFlags:\n")
	printFlags(w, fs)
}

// printFlags writes fs's flags as flag.PrintDefaults does, to w.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
