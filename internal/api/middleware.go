package api

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// recoverer answers a handler's panic with 500 (when nothing was sent yet)
// and logs it with the stack through log, where chi's Recoverer would
// print to stderr past the configured log format. http.ErrAbortHandler is
// panicked on, as net/http expects: it aborts the response quietly.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww, ok := w.(middleware.WrapResponseWriter)
			if !ok {
				ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			}
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(p)
				}
				log.Error("panic serving request", "method", r.Method, "path", r.URL.Path,
					"request_id", middleware.GetReqID(r.Context()), "panic", p, "stack", string(debug.Stack()))
				if ww.Status() == 0 && r.Header.Get("Connection") != "Upgrade" {
					writeError(ww, r, http.StatusInternalServerError, "internal error")
				}
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// accessLog logs one line per request once it is answered: method, path,
// status, bytes, duration, remote address and request id. The request id
// (middleware.RequestID) is also sent back as X-Request-Id.
func accessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := middleware.GetReqID(r.Context())
			if id != "" {
				w.Header().Set(middleware.RequestIDHeader, id)
			}
			ww, ok := w.(middleware.WrapResponseWriter)
			if !ok {
				ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			}
			start := time.Now()
			defer func() {
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK // nothing written: net/http sends 200 (or a hijacked connection)
				}
				log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
					slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", status), slog.Int("bytes", ww.BytesWritten()),
					slog.Duration("duration", time.Since(start)), slog.String("remote", r.RemoteAddr),
					slog.String("request_id", id))
			}()
			next.ServeHTTP(ww, r)
		})
	}
}
