// Package api serves tickerd's REST API over chi: the latest quotes, their
// history, the upstream's health, and the health and readiness probes. It
// reads the board and writes nothing.
//
// Every answer under /api is JSON, errors included ({"error":"..."}): an
// unknown path is a 404, a known path asked with the wrong method a 405
// with Allow. Quote reads carry a weak ETag and answer If-None-Match with
// 304; JSON is gzip- or deflate-compressed for clients that accept it.
package api

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/tickerd/tickerd/internal/auth"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/fanout"
	"github.com/tickerd/tickerd/internal/quote"
)

// MaxQuerySymbols is the most symbols one ?symbols= list may name.
const MaxQuerySymbols = 1000

// Quote is the JSON form of a symbol's latest quote and status: the
// websocket API's quote object (fanout.QuoteMessage, without "type") plus
// the status fields. Before the first good quote, seq is 0 and price and
// times are absent or zero.
type Quote struct {
	fanout.QuoteMessage
	Stale    bool   `json:"stale"`
	Unknown  bool   `json:"unknown,omitempty"` // the source does not know the symbol; asked again with a backoff
	Error    string `json:"error,omitempty"`
	Failures int    `json:"failures,omitempty"`
}

// FromSnapshot returns the JSON form of s.
func FromSnapshot(s board.Snapshot) Quote {
	out := FromQuote(s.Quote)
	out.Symbol = s.Symbol
	out.Stale, out.Unknown, out.Error, out.Failures = s.Stale, s.Unknown, s.Err, s.Failures
	return out
}

// FromQuote returns the JSON form of q, without status.
func FromQuote(q quote.Quote) Quote {
	m := fanout.NewQuoteMessage(q)
	m.Type = ""
	return Quote{QuoteMessage: m}
}

// Options configures the API. A nil *Options means all defaults.
type Options struct {
	// Ready reports why the service cannot serve (nil: it can). It is the
	// readiness hook: the service says whether its parts are running,
	// cluster mode adds its own condition. Nil means always ready. Stale
	// quotes never make the service unready: upstream health is in
	// /api/status and the metrics.
	Ready func() error
	// LastSuccess returns when the last collection succeeded (zero: none
	// yet), for /api/status. Nil means the newest quote's collection time
	// on the board, which is when a price last changed: a quiet market
	// would look like a failing upstream, so the service sets it.
	LastSuccess func() time.Time
	// Now is the clock for /api/status; nil means time.Now.
	Now func() time.Time
	// Logger receives recovered panics and, with AccessLog, one line per
	// request; nil discards.
	Logger *slog.Logger
	// AccessLog logs every request at info level.
	AccessLog bool
	// NormalizeSymbol checks and normalises the symbols of ?symbols=, as
	// the source spells them (config.Source's NormalizeSymbol); an error
	// that is a *quote.SymbolError has its Reason shown. Nil means
	// config.NormalizeSymbol.
	NormalizeSymbol func(sym string) (string, error)
}

// Handler returns the API routes on a chi router, with request ids, panic
// recovery (a panic answers 500 and is logged; http.ErrAbortHandler still
// aborts the connection) and, when asked, the access log in front of
// every route, including those the caller adds to the router afterwards.
// Routes answer GET and HEAD:
//
//	/api/quotes[?symbols=A,B]          {"quotes":[Quote...]} (with "unknown":[...] for listed symbols not collected)
//	/api/quotes/{symbol}               Quote, or 404 {"error":"..."}
//	/api/quotes/{symbol}/history[?limit=N]  {"symbol":"AAPL","history":[Quote...]}, the last N, oldest first
//	/api/status                        Status: the upstream's health
//	/healthz                           200 {"status":"ok"}
//	/readyz                            200 {"status":"ready"} or 503 {"status":"not ready","reason":"..."}
//
// Unknown paths under /api answer 404 and wrong methods on any route of
// the router 405 with Allow, both as {"error":"..."}. Behind
// auth.Middleware, a token with a symbols claim sees only the symbols it
// allows: /api/quotes lists those, and naming another (in ?symbols= or
// the path) is 403 {"error":"forbidden: ..."}.
func Handler(b *board.Board, opts *Options) chi.Router {
	a := &api{b: b, log: slog.New(slog.DiscardHandler), now: time.Now}
	var o Options
	if opts != nil {
		o = *opts
	}
	a.ready, a.lastSuccess, a.normalize = o.Ready, o.LastSuccess, o.NormalizeSymbol
	if a.normalize == nil {
		a.normalize = config.NormalizeSymbol
	}
	if o.Logger != nil {
		a.log = o.Logger
	}
	if o.Now != nil {
		a.now = o.Now
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	if o.AccessLog {
		r.Use(accessLog(a.log)) // outside recoverer: it logs the 500 of a panic
	}
	r.Use(recoverer(a.log), middleware.GetHead)
	root := r
	r.MethodNotAllowed(methodNotAllowed(root))
	r.NotFound(notFound)
	r.Route("/api", func(r chi.Router) {
		r.Use(middleware.Compress(5, "application/json"))
		r.NotFound(notFound)
		r.MethodNotAllowed(methodNotAllowed(root))
		r.Get("/quotes", a.quotes)
		r.Get("/quotes/{symbol}", a.quote)
		r.Get("/quotes/{symbol}/history", a.history)
		r.Get("/status", a.status)
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", a.readyz)
	return r
}

type api struct {
	b           *board.Board // read only
	ready       func() error
	lastSuccess func() time.Time
	now         func() time.Time
	normalize   func(string) (string, error)
	log         *slog.Logger
}

func (a *api) quotes(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context()) // nil (no auth, or an API key's grant): every symbol
	syms := slices.DeleteFunc(a.b.Symbols().All(), func(sym string) bool { return !p.Allows(sym) })
	var unknown []string
	if q, ok := r.URL.Query()["symbols"]; ok {
		want, err := querySymbols(strings.Join(q, ","), a.normalize)
		if err != "" {
			writeError(w, r, http.StatusBadRequest, err)
			return
		}
		if denied := slices.DeleteFunc(slices.Clone(want), p.Allows); len(denied) > 0 {
			writeError(w, r, http.StatusForbidden, "forbidden: the token does not allow "+strings.Join(denied, ", "))
			return
		}
		syms = want
	}
	out := make([]Quote, 0, len(syms))
	for _, sym := range syms {
		if s, ok := a.b.Snapshot(sym); ok {
			out = append(out, FromSnapshot(s))
		} else {
			unknown = append(unknown, sym)
		}
	}
	body := map[string]any{"quotes": out}
	if len(unknown) > 0 {
		body["unknown"] = unknown
	}
	writeCached(w, r, body)
}

// querySymbols parses a ?symbols= list: comma-separated, upper-cased,
// duplicates and empty entries dropped, in the order given. It returns a
// message for the client when the list is not acceptable.
func querySymbols(list string, normalize func(string) (string, error)) ([]string, string) {
	var out []string
	seen := make(map[string]bool)
	for s := range strings.SplitSeq(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		sym, err := normalize(s)
		if err != nil {
			msg := "invalid symbol " + strconv.Quote(s) + " in symbols"
			if se, ok := errors.AsType[*quote.SymbolError](err); ok {
				msg += ": " + se.Reason
			}
			return nil, msg
		}
		if seen[sym] {
			continue
		}
		if len(out) == MaxQuerySymbols {
			return nil, "too many symbols: at most " + strconv.Itoa(MaxQuerySymbols)
		}
		seen[sym] = true
		out = append(out, sym)
	}
	if len(out) == 0 {
		return nil, "symbols is empty: list symbols separated by commas, such as symbols=AAPL,MSFT"
	}
	return out, ""
}

func (a *api) quote(w http.ResponseWriter, r *http.Request) {
	sym := symbolParam(r)
	if !a.allowed(w, r, sym) {
		return
	}
	s, ok := a.b.Snapshot(sym)
	if !ok {
		writeError(w, r, http.StatusNotFound, "unknown symbol "+sym)
		return
	}
	writeCached(w, r, FromSnapshot(s))
}

func (a *api) history(w http.ResponseWriter, r *http.Request) {
	sym := symbolParam(r)
	if !a.allowed(w, r, sym) {
		return
	}
	limit := -1
	if l, ok := r.URL.Query()["limit"]; ok {
		n, err := strconv.Atoi(l[0])
		if err != nil || n < 1 {
			writeError(w, r, http.StatusBadRequest, "limit must be a whole number of at least 1, got "+strconv.Quote(l[0]))
			return
		}
		limit = n
	}
	hist, ok := a.b.History(sym)
	if !ok {
		writeError(w, r, http.StatusNotFound, "unknown symbol "+sym)
		return
	}
	if limit >= 0 && limit < len(hist) {
		hist = hist[len(hist)-limit:]
	}
	out := make([]Quote, len(hist))
	for i, q := range hist {
		out[i] = FromQuote(q)
	}
	writeCached(w, r, map[string]any{"symbol": sym, "history": out})
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	var last time.Time
	if a.lastSuccess != nil {
		last = a.lastSuccess()
	}
	writeJSON(w, r, http.StatusOK, ReadStatus(a.b, a.now(), last))
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	if a.ready != nil {
		if err := a.ready(); err != nil {
			writeJSON(w, r, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
	}
	writeJSON(w, r, http.StatusOK, map[string]string{"status": "ready"})
}

// allowed reports whether the request's token (auth.FromContext) allows
// sym, and answers 403 when it does not: before the lookup, so that a
// token cannot learn which symbols exist beyond its grant.
func (a *api) allowed(w http.ResponseWriter, r *http.Request, sym string) bool {
	if p, _ := auth.FromContext(r.Context()); !p.Allows(sym) {
		writeError(w, r, http.StatusForbidden, "forbidden: the token does not allow "+sym)
		return false
	}
	return true
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

// probeMethods are the methods tried to fill Allow on a 405.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// methodNotAllowed returns the 405 handler of root: it answers with the
// methods the path does answer in Allow. chi does not hand a custom
// handler the methods it found, so they are looked up again on root with
// the whole path; HEAD goes with GET (middleware.GetHead).
func methodNotAllowed(root chi.Routes) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		var allow []string
		for _, m := range probeMethods {
			if root.Match(chi.NewRouteContext(), m, path) || (m == http.MethodHead && root.Match(chi.NewRouteContext(), http.MethodGet, path)) {
				allow = append(allow, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		msg := "method " + r.Method + " is not allowed here"
		if len(allow) > 0 {
			msg += "; use " + strings.Join(allow, " or ")
		}
		writeError(w, r, http.StatusMethodNotAllowed, msg)
	}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
}

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	writeJSON(w, r, status, map[string]string{"error": msg})
}

// writeJSON sends v as JSON with status.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, ok := marshal(w, v)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body) // the status is sent; a failed write has nowhere to go
	}
}

// writeCached sends v as JSON with 200 and a weak ETag over the body, or
// 304 when the request's If-None-Match names that ETag. The tag is weak
// because the body may be sent compressed.
func writeCached(w http.ResponseWriter, r *http.Request, v any) {
	body, ok := marshal(w, v)
	if !ok {
		return
	}
	h := fnv.New128a()
	h.Write(body)
	tag := `W/"` + hex.EncodeToString(h.Sum(nil)) + `"`
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache") // revalidate every time: quotes change each pulse
	if etagMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header names tag, compared
// weakly (RFC 9110 13.1.2).
func etagMatch(header, tag string) bool {
	want := strings.TrimPrefix(tag, "W/")
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// marshal encodes v, answering 500 when it cannot (it always can: every
// value the API sends is plain data).
func marshal(w http.ResponseWriter, v any) ([]byte, bool) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, `{"error":"internal error"}`, http.StatusInternalServerError)
		return nil, false
	}
	return buf.Bytes(), true
}
