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

// watcher reloads the configuration of a running service. It is used by
// one goroutine, its watch.
type watcher struct {
	path  string        // the config file
	every time.Duration // how often to check path for changes; 0: only on SIGHUP
	// load reads the config as at start; builtIn reports the built-in
	// defaults, used when the default path has no file.
	load  func() (cfg *config.Config, builtIn bool, err error)
	svc   *service.Service
	log   *slog.Logger
	level *slog.LevelVar // the logger's level: log.level applies at once

	running config.Log // the log section in effect
}

// watch reloads the configuration on SIGHUP and, when every > 0, whenever
// the file's content changes (a file that appears counts), until ctx ends.
// A config that does not load is rejected with the same error as at start,
// logged once, and the running one is kept.
func (w *watcher) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time // nil: no polling
	if w.every > 0 {
		t := time.NewTicker(w.every)
		defer t.Stop()
		tick = t.C
	}
	last, _ := os.ReadFile(w.path) // the content the service started with (nil: none)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			w.log.Info("SIGHUP: reloading config", "path", w.path)
		case <-tick:
			data, err := os.ReadFile(w.path)
			if err != nil || bytes.Equal(data, last) {
				continue // a file being replaced may be missing for a moment
			}
			last = data
			w.log.Info("config file changed: reloading", "path", w.path)
		}
		w.reload()
	}
}

// reload loads the config and applies it: the service takes symbols and
// schedule (and logs what changed), the logger takes log.level; a change
// to log.format or log.access is logged as needing a restart.
func (w *watcher) reload() {
	cfg, builtIn, err := w.load()
	if err != nil {
		w.log.Error("config reload rejected; keeping the running config", "error", err)
		return
	}
	if builtIn {
		w.log.Info("no config file: reloading the built-in defaults", "path", w.path)
	}
	if err := w.svc.Reload(cfg); err != nil {
		w.log.Error("config reload rejected; keeping the running config", "error", err)
		return
	}
	next := cfg.Log
	if next.Level != w.running.Level {
		w.level.Set(next.Level)
		// Logged at the level that both the old and the new one show.
		w.log.Log(context.Background(), max(next.Level, w.running.Level, slog.LevelInfo), "log level changed",
			"level", next.Level.String(), "old_level", w.running.Level.String())
		w.running.Level = next.Level
	}
	if next.Format != w.running.Format {
		w.log.Warn("config reload: key needs a restart to take effect", "key", "log.format")
	}
	if next.Access != w.running.Access {
		w.log.Warn("config reload: key needs a restart to take effect", "key", "log.access")
	}
}
