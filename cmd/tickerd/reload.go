package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/service"
)

// configPollInterval is how often the config file is checked for changes.
const configPollInterval = 2 * time.Second

// watchConfig reloads the configuration on SIGHUP and, when every > 0,
// whenever the file's content changes, until ctx ends. A config that does not load is rejected
// with the same error as at start, logged, and the running one is kept.
func watchConfig(ctx context.Context, path string, every time.Duration, load func() (*config.Config, error), svc *service.Service, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time // nil: no polling
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	last, _ := os.ReadFile(path) // the content the service started with
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading config", "path", path)
		case <-tick:
			data, err := os.ReadFile(path)
			if err != nil || bytes.Equal(data, last) {
				continue // a file being replaced may be missing for a moment
			}
			last = data
			log.Info("config file changed: reloading", "path", path)
		}
		cfg, err := load()
		if err != nil {
			log.Error("config reload rejected; keeping the running config", "error", err)
			continue
		}
		if err := svc.Reload(cfg); err != nil {
			log.Error("config reload rejected; keeping the running config", "error", err)
		}
	}
}
