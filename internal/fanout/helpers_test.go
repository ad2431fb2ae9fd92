package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// waitLimit bounds every wait in these tests: it only detects deadlocks.
const waitLimit = 10 * time.Second

// fakeSource is a real board.Board whose snapshots the test sets, and a
// Demand that adds and removes symbols on it like the collector: Remove
// closes the Value with board.ErrRemoved and reports the symbol on removed.
type fakeSource struct {
	*board.Board
	removed chan string

	mu         sync.Mutex
	configured []string
	dynamic    []string
}

// testEpoch is the epoch of a fakeSource's board.
const testEpoch = "E1"

func newFakeSource(syms ...string) *fakeSource {
	f := &fakeSource{Board: board.New(&board.Options{Epoch: testEpoch}), removed: make(chan string, 64)}
	f.setSymbols(syms...)
	return f
}

// putLocked puts the symbol set into the board. f.mu must be held.
func (f *fakeSource) putLocked() {
	_ = f.PutSymbols(context.Background(), board.Symbols{Configured: slices.Clone(f.configured), Dynamic: slices.Clone(f.dynamic)})
}

func (f *fakeSource) Add(sym string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.configured, sym) || slices.Contains(f.dynamic, sym) {
		return false
	}
	f.dynamic = append(f.dynamic, sym)
	f.putLocked()
	return true
}

func (f *fakeSource) Remove(sym string) {
	f.mu.Lock()
	ok := slices.Contains(f.dynamic, sym)
	if ok {
		f.dynamic = slices.DeleteFunc(f.dynamic, func(s string) bool { return s == sym })
		f.putLocked()
	}
	f.mu.Unlock()
	if ok {
		f.removed <- sym
	}
}

// setSymbols replaces the configured set like Collector.SetSymbols: kept
// symbols keep their Value, removed ones have it closed.
func (f *fakeSource) setSymbols(syms ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configured = slices.Clone(syms)
	f.dynamic = slices.DeleteFunc(f.dynamic, func(s string) bool { return slices.Contains(syms, s) })
	f.putLocked()
}

// set stores snap as sym's current Snapshot.
func (f *fakeSource) set(t testing.TB, sym string, snap board.Snapshot) {
	t.Helper()
	v, ok := f.Value(sym)
	if !ok {
		t.Fatalf("fakeSource.set(%q): no such symbol", sym)
	}
	v.Set(snap)
}

// collectedAt is the base of the CollectedAt times the tests use.
var collectedAt = time.Date(2026, 11, 21, 15, 4, 5, 123456789, time.UTC)

// snapQuote returns a fresh good snapshot of sym with quote seq.
func snapQuote(sym string, seq uint64) board.Snapshot {
	return board.Snapshot{
		Symbol: sym,
		Quote: quote.Quote{
			Symbol: sym, Price: 100 + float64(seq), Change: 1.5, ChangePct: 0.5,
			Volume: int64(1000 * seq), HasVolume: true,
			Time:        collectedAt.Add(-5 * time.Second),
			CollectedAt: collectedAt.Add(time.Duration(seq) * time.Second),
			Seq:         seq,
		},
		Attempted: true,
	}
}

// stale returns snap after n failed attempts with error msg.
func stale(snap board.Snapshot, msg string, n int) board.Snapshot {
	snap.Stale, snap.Err, snap.Failures, snap.Attempted = true, msg, n, true
	return snap
}

// harness runs a Hub behind an httptest server, and Run until the test
// ends (or until stop).
type harness struct {
	t   *testing.T
	src *fakeSource
	hub *Hub
	srv *httptest.Server
	reg *prometheus.Registry

	cancel context.CancelFunc
	done   chan error // Run's result
}

// newHarness starts a Hub over src. tweak, when not nil, runs before the
// server starts, to change the Hub's clock or the server's listener.
func newHarness(t *testing.T, src *fakeSource, opts *Options, tweak func(*harness)) *harness {
	t.Helper()
	return newHarnessDemand(t, src, src, opts, tweak)
}

// newHarnessDemand is newHarness with dem as the Hub's Demand.
func newHarnessDemand(t *testing.T, src *fakeSource, dem Demand, opts *Options, tweak func(*harness)) *harness {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	h := &harness{t: t, src: src, hub: New(src, dem, opts), reg: reg, done: make(chan error, 1)}
	h.srv = httptest.NewUnstartedServer(h.hub)
	if tweak != nil {
		tweak(h)
	}
	h.srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.hub.Run(ctx) }() // exits when ctx ends: stop or cleanup
	t.Cleanup(func() {
		h.stop()
		h.srv.Close()
	})
	return h
}

// stop cancels Run and waits for it to return.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok && err != nil {
			h.t.Errorf("Run() = %v, want nil", err)
		}
		if ok {
			close(h.done)
		}
	case <-time.After(waitLimit):
		h.t.Fatalf("Run did not return %v after its context ended", waitLimit)
	}
}

func (h *harness) url(query string) string {
	return "ws://" + h.srv.Listener.Addr().String() + "/ws" + query
}

// wsClient is a test's websocket client.
type wsClient struct {
	t    *testing.T
	name string
	c    *websocket.Conn
}

// dial connects to the harness and fails t if it cannot. The connection
// is dropped when t ends.
func (h *harness) dial(t *testing.T, name, query string, opts *websocket.DialOptions) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, h.url(query), opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("Dial(%s) = %v (HTTP %d), want a connection", name, err, status)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsClient{t: t, name: name, c: c}
}

// dialStatus tries to connect and returns the HTTP status of the refusal,
// failing the test if the upgrade succeeds.
func (h *harness) dialStatus(t *testing.T, hdr http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, h.url(""), &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil {
		_ = c.CloseNow()
		t.Fatalf("Dial(Origin %q) succeeded, want a refusal", hdr.Get("Origin"))
	}
	if resp == nil {
		t.Fatalf("Dial() = %v without a response, want an HTTP refusal", err)
	}
	return resp.StatusCode
}

// msg is any server message.
type msg struct {
	Type        string   `json:"type"`
	Symbol      string   `json:"symbol"`
	Price       float64  `json:"price"`
	Volume      *int64   `json:"volume"`
	Time        string   `json:"time"`
	CollectedAt string   `json:"collected_at"`
	Seq         uint64   `json:"seq"`
	Stale       bool     `json:"stale"`
	Error       string   `json:"error"`
	Failures    int      `json:"failures"`
	Code        string   `json:"code"`
	Message     string   `json:"message"`
	Symbols     []string `json:"symbols"`
	Unknown     bool     `json:"unknown"`
	Epoch       string   `json:"epoch"`
	Recovered   []string `json:"recovered"` // nil when absent

	raw string
}

func (m msg) String() string { return m.raw }

func (w *wsClient) send(text string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		w.t.Fatalf("%s: Write(%s) = %v", w.name, text, err)
	}
}

// readErr reads the next message; waitLimit only detects a deadlock.
func (w *wsClient) readErr() (msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	typ, data, err := w.c.Read(ctx)
	if err != nil {
		return msg{}, err
	}
	if typ != websocket.MessageText {
		return msg{}, fmt.Errorf("message type %v, want text", typ)
	}
	m := msg{raw: string(data)}
	if err := json.Unmarshal(data, &m); err != nil {
		return msg{}, fmt.Errorf("decode %s: %w", data, err)
	}
	return m, nil
}

func (w *wsClient) read() msg {
	w.t.Helper()
	m, err := w.readErr()
	if err != nil {
		w.t.Fatalf("%s: Read() = %v, want a message", w.name, err)
	}
	return m
}

// expect reads the next message and checks its type.
func (w *wsClient) expect(typ string) msg {
	w.t.Helper()
	m := w.read()
	if m.Type != typ {
		w.t.Fatalf("%s: Read() = %s, want a %q message", w.name, m, typ)
	}
	return m
}

// expectSubscribed reads the next message and checks it is "subscribed"
// with exactly syms.
func (w *wsClient) expectSubscribed(syms ...string) {
	w.t.Helper()
	m := w.expect("subscribed")
	if m.Symbols == nil || !slices.Equal(m.Symbols, syms) {
		w.t.Fatalf("%s: Read() = %s, want subscribed %q", w.name, m, syms)
	}
}

// expectError reads the next message and checks it is an error with code.
func (w *wsClient) expectError(code string) msg {
	w.t.Helper()
	m := w.expect("error")
	if m.Code != code || m.Message == "" {
		w.t.Fatalf("%s: Read() = %s, want error %q with a message", w.name, m, code)
	}
	return m
}

// expectQuote reads the next message and checks it is sym's quote seq.
func (w *wsClient) expectQuote(sym string, seq uint64) msg {
	w.t.Helper()
	m := w.expect("quote")
	if m.Symbol != sym || m.Seq != seq {
		w.t.Fatalf("%s: Read() = %s, want quote %s seq %d", w.name, m, sym, seq)
	}
	return m
}

// expectClose reads until the connection ends and checks the close code.
func (w *wsClient) expectClose(code websocket.StatusCode) {
	w.t.Helper()
	if err := w.closed(code); err != nil {
		w.t.Fatal(err)
	}
}

// closed reads until the connection ends and returns an error unless it
// ended with code. It may run in its own goroutine.
func (w *wsClient) closed(code websocket.StatusCode) error {
	for {
		m, err := w.readErr()
		if err == nil {
			if m.Type == "" {
				return fmt.Errorf("%s: Read() = %s, want a message with a type", w.name, m)
			}
			continue
		}
		if got := websocket.CloseStatus(err); got != code {
			return fmt.Errorf("%s: Read() = %v (close status %v), want close status %v", w.name, err, got, code)
		}
		return nil
	}
}

// metric returns the value of the counter or gauge name with the given
// label value (or without labels when label is ""), 0 when absent.
func (h *harness) metric(name, label string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatalf("Gather() = %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// waitRemoved waits for the fake source to report the removal of sym.
func (f *fakeSource) waitRemoved(t *testing.T, sym string) {
	t.Helper()
	select {
	case got := <-f.removed:
		if got != sym {
			t.Fatalf("Source.Remove(%q), want Remove(%q)", got, sym)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Source.Remove(%q) not called within %v", sym, waitLimit)
	}
}
