package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
			return runSim(ctx, args[1:], stderr)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], getenv, stderr)
		}
	}
	fs := flag.NewFlagSet("tickerd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultConfig := "config.yaml"
	if p := getenv("TICKERD_CONFIG"); p != "" {
		defaultConfig = p
	}
	configPath := fs.String("config", defaultConfig, "config file (env TICKERD_CONFIG)")
	checkPath := fs.String("check-config", "", "validate this config file and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	poll := fs.Duration("config-poll", configPollInterval, "how often to check the config file for changes (0: only on SIGHUP)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *showVersion {
		fmt.Fprintln(stdout, "tickerd", version)
		return nil
	}
	if *checkPath != "" {
		if _, err := config.Load(*checkPath); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok\n", *checkPath)
		return nil
	}
	load := func() (*config.Config, error) {
		cfg, err := config.Load(*configPath)
		if err != nil {
			return nil, err
		}
		if l := getenv("TICKERD_LISTEN"); l != "" {
			cfg.Listen = l
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	// Listen first: a Service that is built is stopped only by Run.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	svc, err := service.New(cfg, &service.Options{Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	rctx, stopReload := context.WithCancel(ctx)
	reloaded := make(chan struct{})
	// Exits when rctx ends: after Run returns, below.
	go func() {
		defer close(reloaded)
		watchConfig(rctx, *configPath, *poll, load, svc, log)
	}()
	err = svc.Run(ctx, ln)
	stopReload()
	<-reloaded
	return err
}

// runSim serves the simulated exchange on its own, for another tickerd
// (source kind nasdaq, url http://ADDR) or a load tool.
func runSim(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickerd sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve on")
	var o sim.Options
	fs.Int64Var(&o.Seed, "seed", 0, "random walk seed (0: time-based)")
	fs.DurationVar(&o.Latency, "latency", 0, "added latency per response")
	fs.Float64Var(&o.ErrorRate, "error-rate", 0, "fraction of responses that are upstream errors")
	fs.IntVar(&o.CloseEvery, "close-every", 0, "close the connection after every N responses")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv := &httpx.Server{Handler: sim.New(&o), Logger: log}
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

// runHealthcheck GETs /healthz of the local instance: the container's
// HEALTHCHECK, which has no shell or curl.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickerd healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The port: TICKERD_LISTEN's, else the config file's, else 8080.
	listen := getenv("TICKERD_LISTEN")
	if listen == "" {
		path := getenv("TICKERD_CONFIG")
		if path == "" {
			path = "config.yaml"
		}
		if cfg, err := config.Load(path); err == nil {
			listen = cfg.Listen
		}
	}
	def := "http://127.0.0.1:8080/healthz"
	if _, port, err := net.SplitHostPort(listen); err == nil {
		def = "http://127.0.0.1:" + port + "/healthz"
	}
	url := fs.String("url", def, "health endpoint")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s: status %d", *url, resp.StatusCode)
	}
	return nil
}
