package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/collector"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/httpx"
	"github.com/tickerd/tickerd/internal/service"
	"github.com/tickerd/tickerd/internal/sim"
)

// testTimeout bounds every blocking step, so that a broken service fails
// the test instead of hanging it. It never orders events.
const testTimeout = 10 * time.Second

// neverInTest is a schedule that does not fire while a test runs: tests
// that need to know where one pulse ends drive the pulses themselves with
// Collector.Pulse and Wait.
const neverInTest = "@every 1h"

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// upstream is a quote source on loopback: an httpx.Server serving a handler,
// counting the connections it accepts.
type upstream struct {
	url      string
	accepted atomic.Int64
}

// startUpstream serves h until the test's cleanup shuts it down.
func startUpstream(t testing.TB, h http.Handler) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	u := &upstream{url: "http://" + ln.Addr().String()}
	srv := &httpx.Server{Handler: h}
	errc := make(chan error, 1)
	// Exits when srv is shut down by the cleanup.
	go func() { errc <- srv.Serve(countingListener{ln, &u.accepted}) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("upstream Shutdown() = %v, want nil", err)
		}
		if err := <-errc; !errors.Is(err, httpx.ErrServerClosed) {
			t.Errorf("upstream Serve() = %v, want %v", err, httpx.ErrServerClosed)
		}
	})
	return u
}

// failFirst answers the first n requests for sym as nasdaq does when its
// vendor fails (code 3004, HTTP 200) and passes every other request to
// next. Safe for concurrent use.
type failFirst struct {
	next http.Handler
	sym  string
	n    int

	mu   sync.Mutex
	seen int // requests for sym so far; guarded by mu
}

func (h *failFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.URL.Path, "/api/quote/"+h.sym+"/info") {
		h.mu.Lock()
		h.seen++
		fail := h.seen <= h.n
		h.mu.Unlock()
		if fail {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"data":null,"message":null,"status":{"rCode":400,"bCodeMessage":[{"code":3004,"errorMessage":"Error while calling vendor"}],"developerMessage":null}}`)
			return
		}
	}
	h.next.ServeHTTP(w, r)
}

// testConfig is a configuration for kind and url collecting syms on
// schedule.
func testConfig(kind, url, schedule string, syms []string) *config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Source.Kind, cfg.Source.URL = kind, url
	cfg.Schedule = schedule
	cfg.Symbols = syms
	cfg.Source.StaleAfter = 1 // the tests count failures from the first one
	return cfg
}

// running is a Service running on a loopback listener.
type running struct {
	svc    *service.Service
	url    string
	client *http.Client
	cancel context.CancelFunc
	done   chan error // Run's result

	once sync.Once
	err  error // Run's result, once stop has it
}

// start runs a Service for cfg until stop or the test's cleanup, which
// checks that Run returned nil.
func start(t *testing.T, cfg *config.Config, opts *service.Options) *running {
	t.Helper()
	svc, err := service.New(cfg, opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatalf("Listen(%q) = %v", cfg.Listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{
		svc:    svc,
		url:    "http://" + ln.Addr().String(),
		client: &http.Client{Transport: &http.Transport{}, Timeout: testTimeout},
		cancel: cancel,
		done:   make(chan error, 1),
	}
	// Exits when Run returns, after cancel.
	go func() { r.done <- svc.Run(ctx, ln) }()
	t.Cleanup(func() {
		if err := r.stop(t); err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})
	return r
}

// stop cancels Run's context and returns Run's result. A clean stop runs
// none of the shutdown steps into service.ShutdownTimeout.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	return r.stopWithin(t, service.ShutdownTimeout)
}

// stopWithin is stop, failing the test if Run takes longer than limit.
func (r *running) stopWithin(t *testing.T, limit time.Duration) error {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(limit):
			t.Fatalf("Run() still running %v after its context was cancelled", limit)
		}
		r.client.CloseIdleConnections()
	})
	return r.err
}

// get GETs path from the service and returns the status and body.
func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := r.client.Get(r.url + path)
	if err != nil {
		t.Fatalf("GET %s = %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// getJSON GETs path and decodes its JSON body into v.
func (r *running) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	status, body := r.get(t, path)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: decode %q: %v", path, body, err)
	}
	return status
}

// metric returns the value of series (name and labels, in the exposition's
// order) scraped from /metrics; ok is false when it is not there.
func (r *running) metric(t *testing.T, series string) (v float64, ok bool) {
	t.Helper()
	status, body := r.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics status = %d, want 200", status)
	}
	for line := range strings.Lines(body) {
		if rest, found := strings.CutPrefix(line, series+" "); found {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("GET /metrics: %s has value %q: %v", series, rest, err)
			}
			return v, true
		}
	}
	return 0, false
}

// waitFor watches sym's Value until a snapshot satisfies cond, and returns
// that snapshot.
func waitFor(t *testing.T, b *board.Board, sym string, cond func(board.Snapshot) bool) board.Snapshot {
	t.Helper()
	v, ok := b.Value(sym)
	if !ok {
		t.Fatalf("Value(%q) = _, false, want true", sym)
	}
	w := v.Watch()
	defer w.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	for {
		s, err := w.Recv(ctx)
		if err != nil {
			t.Fatalf("Value(%q) watcher Recv() = %v while waiting", sym, err)
		}
		if cond(s) {
			return s
		}
	}
}

// snapshot returns sym's current snapshot.
func snapshot(t *testing.T, b *board.Board, sym string) board.Snapshot {
	t.Helper()
	v, ok := b.Value(sym)
	if !ok {
		t.Fatalf("Value(%q) = _, false, want true", sym)
	}
	s, _, _ := v.Load()
	return s
}

// waitFirstPulse waits until Run's own pulse at start has attempted every
// symbol of syms.
func waitFirstPulse(t *testing.T, b *board.Board, syms []string) {
	t.Helper()
	for _, sym := range syms {
		waitFor(t, b, sym, func(s board.Snapshot) bool { return s.Attempted })
	}
}

// pulse runs one pulse by hand and waits for its collections.
func pulse(t *testing.T, c *collector.Collector) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if _, err := c.Collect(ctx); err != nil {
		t.Fatalf("Collect() = %v", err)
	}
}

func symbols(n int) []string {
	syms := make([]string, n)
	for i := range syms {
		syms[i] = fmt.Sprintf("S%03d", i)
	}
	return syms
}

func TestServiceServesQuotes(t *testing.T) {
	syms := []string{"AAPL", "MSFT", "NVDA"}
	cfg := testConfig(config.KindSim, "", "@every 1s", syms) // the embedded simulator
	r := start(t, cfg, &service.Options{Sim: &sim.Options{Seed: 1}})
	b := r.svc.Board()

	// The cron schedule pulses: every symbol gets a quote, then a newer one.
	for _, sym := range syms {
		waitFor(t, b, sym, board.Snapshot.HasQuote)
	}
	waitFor(t, b, "AAPL", func(s board.Snapshot) bool { return s.Quote.Seq >= 2 })

	var quotes struct{ Quotes []api.Quote }
	if status := r.getJSON(t, "/api/quotes", &quotes); status != http.StatusOK {
		t.Errorf("GET /api/quotes status = %d, want 200", status)
	}
	if len(quotes.Quotes) != len(syms) {
		t.Fatalf("GET /api/quotes = %+v, want %d quotes", quotes, len(syms))
	}
	for i, q := range quotes.Quotes {
		if q.Symbol != syms[i] || q.Price <= 0 || q.Seq < 1 || q.Stale || q.Time == "" || q.CollectedAt == "" || q.Volume == nil {
			t.Errorf("GET /api/quotes quotes[%d] = %+v, want a fresh quote for %s", i, q, syms[i])
		}
	}
	var q api.Quote
	if status := r.getJSON(t, "/api/quotes/MSFT", &q); status != http.StatusOK || q.Symbol != "MSFT" || q.Price <= 0 {
		t.Errorf("GET /api/quotes/MSFT = %d %+v, want 200 and a quote", status, q)
	}
	var ready map[string]string
	if status := r.getJSON(t, "/readyz", &ready); status != http.StatusOK || ready["status"] != "ready" {
		t.Errorf("GET /readyz = %d %v, want 200 ready", status, ready)
	}
	if v, _ := r.metric(t, "tickerd_source_connected"); v != 1 {
		t.Errorf("tickerd_source_connected = %v, want 1", v)
	}
	if v, _ := r.metric(t, `tickerd_collections_total{outcome="ok",symbol="AAPL"}`); v < 2 {
		t.Errorf(`tickerd_collections_total{outcome="ok",symbol="AAPL"} = %v, want >= 2`, v)
	}

	if err := r.stop(t); err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if resp, err := r.client.Get(r.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /healthz after Run returned = %s, want a refused connection", resp.Status)
	}
}

func TestServiceStaleSymbolRecovers(t *testing.T) {
	up := startUpstream(t, &failFirst{next: sim.New(&sim.Options{Seed: 1}), sym: "BAD", n: 2})
	syms := []string{"AAPL", "BAD", "MSFT"}
	r := start(t, testConfig(config.KindNasdaq, up.url, neverInTest, syms), nil)
	c, b := r.svc.Collector(), r.svc.Board()

	for p := 1; p <= 3; p++ {
		if p == 1 {
			waitFirstPulse(t, b, syms) // Run's own, at start
		} else {
			pulse(t, c)
		}
		for _, sym := range []string{"AAPL", "MSFT"} {
			if s := snapshot(t, b, sym); s.Stale || s.Quote.Seq != uint64(p) {
				t.Errorf("pulse %d: Value(%s) stale, seq = %v, %d, want false, %d", p, sym, s.Stale, s.Quote.Seq, p)
			}
		}
		var q api.Quote
		r.getJSON(t, "/api/quotes/BAD", &q)
		if p <= 2 {
			if !q.Stale || q.Failures != p || q.Error == "" || q.Price != 0 {
				t.Errorf("pulse %d: GET /api/quotes/BAD = %+v, want stale, %d failures, an error, no price", p, q, p)
			}
		} else if q.Stale || q.Failures != 0 || q.Error != "" || q.Price <= 0 || q.Seq != 1 {
			t.Errorf("pulse %d: GET /api/quotes/BAD = %+v, want recovered with its first quote", p, q)
		}
	}
	// A symbol that failed its attempts is attempted: the service is ready.
	var ready map[string]string
	if status := r.getJSON(t, "/readyz", &ready); status != http.StatusOK {
		t.Errorf("GET /readyz = %d %v, want 200", status, ready)
	}
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{`tickerd_collections_total{outcome="upstream_error",symbol="BAD"}`, 2},
		{`tickerd_collections_total{outcome="ok",symbol="BAD"}`, 1},
		{`tickerd_collections_total{outcome="ok",symbol="AAPL"}`, 3},
		{`tickerd_pulses_total`, 3},
	} {
		if v, _ := r.metric(t, tc.series); v != tc.want {
			t.Errorf("%s = %v, want %v", tc.series, v, tc.want)
		}
	}
	if _, ok := r.metric(t, `tickerd_collections_total{outcome="upstream_error",symbol="AAPL"}`); ok {
		t.Errorf(`tickerd_collections_total{outcome="upstream_error",symbol="AAPL"} present, want absent`)
	}
}

func TestServiceUpstreamClosesConnection(t *testing.T) {
	up := startUpstream(t, sim.New(&sim.Options{Seed: 1, CloseEvery: 3}))
	syms := symbols(10)
	r := start(t, testConfig(config.KindNasdaq, up.url, neverInTest, syms), nil)
	c, b := r.svc.Collector(), r.svc.Board()

	const pulses = 6 // Run's own at start, then by hand
	for p := 1; p <= pulses; p++ {
		if p == 1 {
			waitFirstPulse(t, b, syms)
		} else {
			pulse(t, c)
		}
		// Every symbol's price moves on every quote the simulator serves,
		// so a quote per pulse is one more seq per pulse.
		for _, sym := range syms {
			if s := snapshot(t, b, sym); s.Stale || s.Quote.Seq != uint64(p) {
				t.Errorf("pulse %d: Value(%s) stale, seq, err = %v, %d, %q, want false, %d, \"\"", p, sym, s.Stale, s.Quote.Seq, s.Err, p)
			}
		}
	}
	// 60 answers, every third closing its connection.
	if n := up.accepted.Load(); n < 2 {
		t.Errorf("upstream accepted %d connections, want several (it closes every 3 responses)", n)
	}
	if v, _ := r.metric(t, "tickerd_source_dials_total"); v != float64(up.accepted.Load()) {
		t.Errorf("tickerd_source_dials_total = %v, want %d (one per accepted connection)", v, up.accepted.Load())
	}
	for _, sym := range syms {
		series := `tickerd_collections_total{outcome="ok",symbol="` + sym + `"}`
		if v, _ := r.metric(t, series); v != pulses {
			t.Errorf("%s = %v, want %d", series, v, pulses)
		}
	}
}

func TestServicePulse500OneConnection(t *testing.T) {
	up := startUpstream(t, sim.New(&sim.Options{Seed: 1}))
	syms := symbols(500)
	r := start(t, testConfig(config.KindNasdaq, up.url, neverInTest, syms), nil)
	b := r.svc.Board()

	waitFirstPulse(t, b, syms) // Run's own pulse at start
	for _, sym := range syms {
		if s := snapshot(t, b, sym); s.Stale || s.Quote.Seq != 1 {
			t.Errorf("Value(%s) stale, seq, err = %v, %d, %q, want false, 1, \"\"", sym, s.Stale, s.Quote.Seq, s.Err)
		}
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections, want 1", n)
	}
	if v, _ := r.metric(t, "tickerd_source_dials_total"); v != 1 {
		t.Errorf("tickerd_source_dials_total = %v, want 1", v)
	}
	if v, _ := r.metric(t, "tickerd_source_requests_total"); v != 500 {
		t.Errorf("tickerd_source_requests_total = %v, want 500", v)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*config.Config)
	}{
		{"bad_schedule", func(c *config.Config) { c.Schedule = "every second" }},
		{"bad_source_url", func(c *config.Config) { c.Source.Kind, c.Source.URL = config.KindNasdaq, "ftp://127.0.0.1:21" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
			tc.mutate(cfg)
			if svc, err := service.New(cfg, nil); err == nil {
				t.Errorf("New() = %v, nil, want an error", svc)
			}
		})
	}
}

// TestServiceReload: symbols and schedule change on a running service; a
// key that needs a restart keeps its running value.
func TestServiceReload(t *testing.T) {
	cfg := testConfig(config.KindSim, "", "@every 1h", []string{"AAPL", "MSFT"})
	r := start(t, cfg, nil)
	c, b := r.svc.Collector(), r.svc.Board()
	msft, _ := b.Value("MSFT")

	next := testConfig(config.KindSim, "", "@every 1s", []string{"AAPL", "NVDA"})
	next.Listen = "127.0.0.1:1" // needs a restart: ignored
	if err := r.svc.Reload(next); err != nil {
		t.Fatalf("Reload() = %v, want nil", err)
	}
	if got, want := c.Symbols(), []string{"AAPL", "NVDA"}; !slices.Equal(got, want) {
		t.Errorf("Symbols() after Reload = %v, want %v", got, want)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if _, err := msft.Get(ctx); !errors.Is(err, board.ErrRemoved) {
		t.Errorf("removed MSFT Value Get() = %v, want %v", err, board.ErrRemoved)
	}
	// NVDA is collected at once when added; only the new one-second
	// schedule can pulse it again within the test timeout.
	waitFor(t, b, "NVDA", func(s board.Snapshot) bool { return s.Quote.Seq >= 2 })
	if status, _ := r.get(t, "/healthz"); status != http.StatusOK {
		t.Errorf("GET /healthz after Reload = %d, want 200 on the old listener", status)
	}
}

// TestServiceCloseWithoutRun: a Service built and never run releases what
// New took (the embedded simulator's listener, the source client's
// goroutine) on Close; goleak in TestMain checks the goroutines.
func TestServiceCloseWithoutRun(t *testing.T) {
	svc, err := service.New(testConfig(config.KindSim, "", neverInTest, []string{"AAPL"}), nil)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if err := svc.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if err := svc.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

// TestServiceStopsCleanlyWithHungUpstream: an upstream that accepts and
// never answers cannot make the stop fail: Run returns nil (tickerd exits
// 0), with the stale symbols' collections cancelled.
func TestServiceStopsCleanlyWithHungUpstream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	accepted := make(chan net.Conn, 16)
	// Exits when ln is closed by the cleanup.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // read nothing, answer nothing
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	cfg := testConfig(config.KindNasdaq, "http://"+ln.Addr().String(), neverInTest, []string{"AAPL", "MSFT"})
	cfg.Source.Timeout = time.Hour // only the stop can end the collections
	r := start(t, cfg, nil)
	select {
	case c := <-accepted: // the first pulse's requests are on the hung connection
		accepted <- c
	case <-time.After(testTimeout):
		t.Fatalf("the upstream accepted no connection within %v", testTimeout)
	}
	// The drain of the hung connection may take its bound, ShutdownTimeout.
	if err := r.stopWithin(t, 3*service.ShutdownTimeout); err != nil {
		t.Errorf("Run() with a hung upstream = %v, want nil", err)
	}
}
