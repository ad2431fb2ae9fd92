// Package api serves tickerd's REST API over chi: the latest quotes, their
// history, and the health and readiness probes. It reads the board and
// writes nothing.
package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/fanout"
	"github.com/tickerd/tickerd/internal/quote"
)

// Quote is the JSON form of a symbol's latest quote and status: the
// websocket API's quote object (fanout.QuoteMessage, without "type") plus
// the status fields. Before the first good quote, seq is 0 and price and
// times are absent or zero.
type Quote struct {
	fanout.QuoteMessage
	Stale    bool   `json:"stale"`
	Error    string `json:"error,omitempty"`
	Failures int    `json:"failures,omitempty"`
}

// FromSnapshot returns the JSON form of s.
func FromSnapshot(s board.Snapshot) Quote {
	out := FromQuote(s.Quote)
	out.Symbol = s.Symbol
	out.Stale, out.Error, out.Failures = s.Stale, s.Err, s.Failures
	return out
}

// FromQuote returns the JSON form of q, without status.
func FromQuote(q quote.Quote) Quote {
	m := fanout.NewQuoteMessage(q)
	m.Type = ""
	return Quote{QuoteMessage: m}
}

// Options configures the API. Ready reports why the service is not ready
// yet (nil: ready); nil means always ready.
type Options struct {
	Ready func() error
}

// Handler returns the API routes on a chi router:
//
//	GET /api/quotes                    {"quotes":[Quote...]}
//	GET /api/quotes/{symbol}           Quote, or 404 {"error":"..."}
//	GET /api/quotes/{symbol}/history   {"symbol":"AAPL","history":[Quote...]}
//	GET /healthz                       200 {"status":"ok"}
//	GET /readyz                        200 {"status":"ready"} or 503 {"status":"not ready","reason":"..."}
func Handler(b *board.Board, opts *Options) chi.Router {
	a := &api{b: b}
	if opts != nil {
		a.ready = opts.Ready
	}
	r := chi.NewRouter()
	r.Get("/api/quotes", a.quotes)
	r.Get("/api/quotes/{symbol}", a.quote)
	r.Get("/api/quotes/{symbol}/history", a.history)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", a.readyz)
	return r
}

type api struct {
	b     *board.Board // read only
	ready func() error
}

func (a *api) quotes(w http.ResponseWriter, _ *http.Request) {
	syms := a.b.Symbols().All()
	out := make([]Quote, 0, len(syms))
	for _, sym := range syms {
		if s, ok := a.b.Snapshot(sym); ok {
			out = append(out, FromSnapshot(s))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"quotes": out})
}

func (a *api) quote(w http.ResponseWriter, r *http.Request) {
	sym := symbolParam(r)
	s, ok := a.b.Snapshot(sym)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown symbol " + sym})
		return
	}
	writeJSON(w, http.StatusOK, FromSnapshot(s))
}

func (a *api) history(w http.ResponseWriter, r *http.Request) {
	sym := symbolParam(r)
	hist, ok := a.b.History(sym)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown symbol " + sym})
		return
	}
	out := make([]Quote, len(hist))
	for i, q := range hist {
		out[i] = FromQuote(q)
	}
	writeJSON(w, http.StatusOK, map[string]any{"symbol": sym, "history": out})
}

func (a *api) readyz(w http.ResponseWriter, _ *http.Request) {
	reason := ""
	for _, sym := range a.b.Symbols().All() {
		if s, _ := a.b.Snapshot(sym); !s.Attempted {
			reason = "symbol " + sym + " not attempted yet"
			break
		}
	}
	if reason == "" && a.ready != nil {
		if err := a.ready(); err != nil {
			reason = err.Error()
		}
	}
	if reason != "" {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// symbolParam returns the {symbol} path segment unescaped: chi hands it
// over as sent when the path's escaping is not Go's own ("%5eGSPC").
func symbolParam(r *http.Request) string {
	sym := chi.URLParam(r, "symbol")
	if s, err := url.PathUnescape(sym); err == nil {
		sym = s
	}
	return strings.ToUpper(sym) // symbols are collected upper-cased
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // the status is sent; a failed write has nowhere to go
}
