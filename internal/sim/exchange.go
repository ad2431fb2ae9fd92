// Package sim is a simulated exchange that answers quote requests exactly as
// api.nasdaq.com does, so tickerd can run, and be tested, against the real
// nasdaq parser without the network.
//
// Mount an Exchange as any http.Handler and point a nasdaq source at it:
//
//	ex := sim.New(&sim.Options{Seed: 1, ErrorRate: 0.01})
//	srv := httptest.NewServer(ex) // or &http.Server{Addr: "127.0.0.1:8081", Handler: ex}
//	defer srv.Close()
//	src := quote.NewNasdaq(srv.URL, "")
//
// Every symbol of 1 to 12 characters from A-Z, 0-9, '.', '-' and '^' (any
// case) is listed, except that symbols starting with "ZZZ" are not: by this
// package's convention they, like symbols that do not look valid, get
// nasdaq's code 1001 "Symbol not exists." answer, so tests can ask for an
// unknown symbol on purpose.
package sim

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // ET timestamps must format in containers without zoneinfo
)

// Options configures an Exchange. The zero value, like a nil *Options, is a
// time-seeded exchange that answers at once, never fails and never closes
// connections.
type Options struct {
	Seed       int64            // random walk seed; 0 means time-based
	Latency    time.Duration    // added before each response
	ErrorRate  float64          // fraction of responses that are the nasdaq 3004 "Error while calling vendor" error
	CloseEvery int              // every Nth response carries "Connection: close" (0 = never)
	Now        func() time.Time // clock for lastTradeTimestamp and marketStatus; nil = time.Now
}

// Exchange is an http.Handler serving GET /api/quote/{symbol}/info in
// nasdaq's shape, with a price that random-walks per symbol. It is safe for
// concurrent use and starts no goroutines; ServeHTTP blocks for
// Options.Latency or until the request's context ends, whichever is first.
// Other paths get 404 and other methods 405, neither counted by Requests.
// Options.CloseEvery counts the same answers Requests does. Memory grows with
// the number of distinct symbols asked for.
//
// Each symbol's walk starts at a price derived from the symbol alone, which
// is also the "previous close" its change is measured from, and moves one
// step, never zero, per quote served for that symbol: the sequence of
// quotes a symbol gets depends only on Seed, not on other symbols' traffic
// or on error responses.
type Exchange struct {
	latency    time.Duration
	errorRate  float64
	closeEvery uint64 // 0: never
	now        func() time.Time
	seed       uint64
	mux        *http.ServeMux

	mu      sync.Mutex
	served  uint64           // responses answered, errors included
	errRand *rand.Rand       // decides which responses are 3004 errors
	walks   map[string]*walk // by upper-case symbol
}

// New returns an Exchange configured by opts; nil opts means defaults.
func New(opts *Options) *Exchange {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	seed := uint64(o.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	e := &Exchange{
		latency:   o.Latency,
		errorRate: o.ErrorRate,
		now:       o.Now,
		seed:      seed,
		mux:       http.NewServeMux(),
		errRand:   rand.New(rand.NewPCG(seed, 0x3004)),
		walks:     make(map[string]*walk),
	}
	if o.CloseEvery > 0 {
		e.closeEvery = uint64(o.CloseEvery)
	}
	e.mux.HandleFunc("GET /api/quote/{symbol}/info", e.serveQuote)
	return e
}

// ServeHTTP answers one request; see Exchange.
func (e *Exchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mux.ServeHTTP(w, r)
}

// Requests returns how many quote requests have been answered so far,
// including error answers but not requests abandoned during Latency.
func (e *Exchange) Requests() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.served
}

// Nasdaq status.bCodeMessage errors the Exchange sends.
var (
	errUnknownSymbol = bcode{Code: 1001, ErrorMessage: "Symbol not exists."}
	errVendor        = bcode{Code: 3004, ErrorMessage: "Error while calling vendor"}
)

func (e *Exchange) serveQuote(w http.ResponseWriter, r *http.Request) {
	if e.latency > 0 {
		t := time.NewTimer(e.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client is gone; nothing to answer
		}
	}
	raw := r.PathValue("symbol")
	sym := strings.ToUpper(raw)
	now := e.now()

	e.mu.Lock()
	e.served++
	n := e.served
	var doc document
	switch {
	case !validSymbol(raw) || strings.HasPrefix(sym, "ZZZ"):
		doc = errorDocument(errUnknownSymbol)
	case e.errorRate > 0 && e.errRand.Float64() < e.errorRate:
		doc = errorDocument(errVendor)
	default:
		doc = e.walkLocked(sym).quote(sym, now)
	}
	e.mu.Unlock()

	body, err := json.Marshal(&doc)
	if err != nil { // not expected: document holds only strings, numbers and bools
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if e.closeEvery > 0 && n%e.closeEvery == 0 {
		h.Set("Connection", "close")
	}
	w.Write(body) // an error means the client is gone; nothing to do
}

// walkLocked returns sym's walk, advanced by one step.
func (e *Exchange) walkLocked(sym string) *walk {
	wk := e.walks[sym]
	if wk == nil {
		wk = newWalk(e.seed, sym)
		e.walks[sym] = wk
	}
	wk.step()
	return wk
}

// validSymbol reports whether s is 1 to 12 characters of A-Z, a-z, 0-9, '.',
// '-' and '^'.
func validSymbol(s string) bool {
	if len(s) < 1 || len(s) > 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '-', c == '^':
		default:
			return false
		}
	}
	return true
}
