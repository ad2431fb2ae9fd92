package main

import (
	"io"
	"log/slog"

	"github.com/tickerd/tickerd/internal/config"
)

// newLogger returns the service's logger writing to w in lc's format
// (config.LogJSON: one JSON object a line; otherwise slog's text), and the
// level it logs from, which a config reload may change while it is in use
// (a LevelVar is safe for concurrent use).
func newLogger(w io.Writer, lc config.Log) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	level.Set(lc.Level)
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts)), level
	}
	return slog.New(slog.NewTextHandler(w, opts)), level
}
