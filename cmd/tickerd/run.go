package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"time"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/httpx"
	"github.com/tickerd/tickerd/internal/service"
	"github.com/tickerd/tickerd/internal/sim"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// run is tickerd without the process: arguments, environment and output
// are passed in so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "sim":
			return runSim(ctx, args[1:], stdout, stderr)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], getenv, stdout)
		case "help":
			return runHelp(args[1:], getenv, stdout)
		case "version":
			if len(args) > 1 {
				return fmt.Errorf("%w: version takes no arguments, got %q", errUsage, args[1])
			}
			fmt.Fprintln(stdout, "tickerd", version)
			return nil
		}
	}
	fs, o := serviceFlags(getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return nil
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if o.version {
		fmt.Fprintln(stdout, "tickerd", version)
		return nil
	}
	if o.check != "" {
		if _, err := config.Load(o.check); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok\n", o.check)
		return nil
	}
	path, named := o.config, true
	if path == "" {
		path = getenv("TICKERD_CONFIG")
	}
	if path == "" {
		path, named = defaultConfigPath, false
	}
	// load reads the config with the environment's and -listen's
	// overrides (config.ApplyEnv); a default path
	// with no file behind it means the built-in defaults.
	load := func() (cfg *config.Config, builtIn bool, err error) {
		cfg, err = config.Load(path)
		if err != nil {
			if named || !errors.Is(err, iofs.ErrNotExist) {
				return nil, false, err
			}
			cfg, builtIn = config.Default(), true
		}
		if err := config.ApplyEnv(cfg, getenv); err != nil {
			return nil, false, err
		}
		if o.listen != "" {
			cfg.Listen = o.listen
		}
		return cfg, builtIn, nil
	}
	cfg, builtIn, err := load()
	if err != nil {
		return err
	}
	log, level := newLogger(stderr, cfg.Log)
	if builtIn {
		log.Info("no config file: running with built-in defaults", "path", path)
	}
	// Listen first: a Service that is built is stopped only by Run.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	svc, err := service.New(cfg, &service.Options{Logger: log, Version: version})
	if err != nil {
		ln.Close()
		return err
	}
	rctx, stopReload := context.WithCancel(ctx)
	reloaded := make(chan struct{})
	w := &watcher{path: path, every: o.poll, load: load, svc: svc, log: log, level: level, running: cfg.Log}
	// Exits when rctx ends: after Run returns, below.
	go func() {
		defer close(reloaded)
		w.watch(rctx)
	}()
	err = svc.Run(ctx, ln)
	stopReload()
	<-reloaded
	return err
}

// defaultConfigPath is the config file read when neither -config nor
// TICKERD_CONFIG names one; without it tickerd runs on config.Default.
const defaultConfigPath = "config.yaml"

// serviceOptions are the service's command-line flags.
type serviceOptions struct {
	config  string        // -config; empty: TICKERD_CONFIG, else defaultConfigPath
	check   string        // -check-config
	version bool          // -version
	poll    time.Duration // -config-poll
	listen  string        // -listen; empty: TICKERD_LISTEN, else the config's
}

// serviceFlags returns the flag set of the service (tickerd with no
// subcommand), which reports errors to its caller and prints nothing.
func serviceFlags(getenv func(string) string) (*flag.FlagSet, *serviceOptions) {
	fs := newFlagSet("tickerd")
	o := new(serviceOptions)
	fs.StringVar(&o.config, "config", "", "config `file` (default $TICKERD_CONFIG, else ./config.yaml, else built-in defaults)")
	fs.StringVar(&o.check, "check-config", "", "validate this config `file` and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.DurationVar(&o.poll, "config-poll", configPollInterval, "how often to check the config file for changes (0: only on SIGHUP)")
	fs.StringVar(&o.listen, "listen", "", "listen `address` (host:port), over $TICKERD_LISTEN and the config's listen")
	return fs, o
}

// newFlagSet returns a flag set that prints nothing: run returns its
// errors, which main prints once, and prints the help on -h itself.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// runHelp prints the help of the service, or of the command args names.
func runHelp(args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 {
		return fmt.Errorf("%w: help takes at most one command, got %q", errUsage, args)
	}
	if len(args) == 0 {
		fs, _ := serviceFlags(getenv)
		printUsage(stdout, fs)
		return nil
	}
	switch args[0] {
	case "sim":
		fs, _ := simFlags()
		printCommandUsage(stdout, "sim", fs)
	case "healthcheck":
		fs, _ := healthcheckFlags(getenv)
		printCommandUsage(stdout, "healthcheck", fs)
	case "version", "help":
		printCommandUsage(stdout, args[0], newFlagSet(args[0]))
	default:
		return fmt.Errorf("%w: no command %q (commands: sim, healthcheck, version, help)", errUsage, args[0])
	}
	return nil
}

// runSim serves the simulated exchange on its own, for another tickerd
// (source kind nasdaq, url http://ADDR) or a load tool.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, so := simFlags()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(stdout, "sim", fs)
			return nil
		}
		return fmt.Errorf("%w: sim: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: sim: unexpected argument %q", errUsage, fs.Arg(0))
	}
	ln, err := net.Listen("tcp", so.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv := &httpx.Server{Handler: sim.New(&so.sim), Logger: log}
	log.Info("simulated exchange running", "listen", ln.Addr().String())
	done := make(chan error, 1)
	// Exits when srv is shut down below.
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), service.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-done; !errors.Is(err, httpx.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// simOptions are the sim subcommand's flags.
type simOptions struct {
	listen string
	sim    sim.Options
}

// simFlags returns the sim subcommand's flag set, which prints nothing.
func simFlags() (*flag.FlagSet, *simOptions) {
	fs := newFlagSet("tickerd sim")
	o := new(simOptions)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8081", "`address` to serve on")
	fs.Int64Var(&o.sim.Seed, "seed", 0, "random walk seed (0: time-based)")
	fs.DurationVar(&o.sim.Latency, "latency", 0, "added latency per response")
	fs.Float64Var(&o.sim.ErrorRate, "error-rate", 0, "fraction of responses that are upstream errors")
	fs.IntVar(&o.sim.CloseEvery, "close-every", 0, "close the connection after every N responses")
	return fs, o
}

// runHealthcheck GETs /healthz of the local instance: the container's
// HEALTHCHECK, which has no shell or curl.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs, url := healthcheckFlags(getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(stdout, "healthcheck", fs)
			return nil
		}
		return fmt.Errorf("%w: healthcheck: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: healthcheck: unexpected argument %q", errUsage, fs.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := healthClient(*url).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s: status %d", *url, resp.StatusCode)
	}
	return nil
}

// healthcheckFlags returns the healthcheck subcommand's flag set, which
// prints nothing, and its -url. The default URL's port is the admin
// listener's, where /healthz is when there is one: TICKERD_ADMIN_LISTEN's,
// else the config file's admin_listen (TICKERD_CONFIG, else
// ./config.yaml); else TICKERD_LISTEN's, else the file's listen, else
// 8080.
func healthcheckFlags(getenv func(string) string) (*flag.FlagSet, *string) {
	fs := newFlagSet("tickerd healthcheck")
	listen := getenv("TICKERD_LISTEN")
	path := getenv("TICKERD_CONFIG")
	if path == "" {
		path = defaultConfigPath
	}
	scheme := "http"
	if cfg, err := config.Load(path); err == nil {
		switch {
		case cfg.AdminListen != "":
			listen = cfg.AdminListen
		case listen == "":
			listen = cfg.Listen
		}
		if cfg.AdminListen == "" && cfg.TLS.Enabled() {
			scheme = "https" // /healthz is on the main listener, which speaks TLS
		}
	}
	if admin := getenv(config.EnvAdminListen); admin != "" {
		listen, scheme = admin, "http"
	}
	port := "8080"
	if _, p, err := net.SplitHostPort(listen); err == nil {
		port = p
	}
	return fs, fs.String("url", scheme+"://127.0.0.1:"+port+"/healthz", "health endpoint `URL`")
}

// healthClient is the healthcheck's client: for https on loopback it does
// not verify the certificate, which names the service's public host, not
// 127.0.0.1; the check is of this machine's own process.
func healthClient(u string) *http.Client {
	pu, err := neturl.Parse(u)
	if err != nil || pu.Scheme != "https" {
		return http.DefaultClient
	}
	if ip := net.ParseIP(pu.Hostname()); ip == nil || !ip.IsLoopback() {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback: our own process
}
