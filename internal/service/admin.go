package service

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// adminHandler serves the admin listener: /metrics, /healthz and /readyz
// (answered by api, the main router, whose routes they are) and
// net/http/pprof under /debug/pprof (chi's Profiler). It asks for no
// token: the admin listener is meant for loopback or a private network.
func adminHandler(api, metrics http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Get("/metrics", metrics.ServeHTTP)
	r.Get("/healthz", api.ServeHTTP)
	r.Get("/readyz", api.ServeHTTP)
	r.Mount("/debug", middleware.Profiler())
	return r
}

// newAdminServer returns the admin listener's server. Its write timeout
// allows a 30s CPU profile (/debug/pprof/profile?seconds=30), pprof's
// default.
func newAdminServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
