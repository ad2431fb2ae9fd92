package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// testTimeout bounds every blocking step outside a synctest bubble, so that
// a broken collector fails the test instead of hanging it. It never orders
// events.
const testTimeout = 10 * time.Second

// mode is how the fake upstream answers one symbol.
type mode int

const (
	answer          mode = iota // a quote document at the symbol's price and volume
	vendor                      // nasdaq's 3004 "Error while calling vendor" document
	unknown                     // nasdaq's 1001 "Symbol not exists." document
	garbage                     // a body that is not JSON
	status503                   // HTTP 503 with an empty body
	broken                      // Do fails with errBroken, as a dead connection would
	hang                        // Do waits for its context to end
	hold                        // Do reports on entered, then waits for release and answers
	status429                   // HTTP 429 with Retry-After: 30
	wrongSymbol                 // a quote for another symbol, as a misaligned connection gives
	wrongUntilReset             // wrongSymbol until the next Reset, then answer: a stray answer the reset realigns
)

var errBroken = errors.New("fake: connection reset by peer")

// tradeTime is the lastTradeTimestamp of every fake quote, "Jul 27, 2026
// 12:51 PM ET", in UTC.
var tradeTime = time.Date(2026, time.July, 27, 16, 51, 0, 0, time.UTC)

// fakeDoer is the quote source's connection in these tests: it answers the
// requests built by quote.NewNasdaq with canned nasdaq documents. It is safe
// for concurrent use. Do blocks only in the hang mode (until its context
// ends) and the hold mode (until release is closed or its context ends).
type fakeDoer struct {
	entered chan string   // hold mode: gets the symbol once Do waits; buffered
	release chan struct{} // hold mode: closed by the test to let held Do calls answer

	mu sync.Mutex
	// Guarded by mu; written by the test, read by Do.
	price  map[string]float64 // 100 when absent
	volume map[string]int64   // < 0: not reported; 1000 when absent
	modes  map[string]mode    // answer when absent
	// Guarded by mu; written by Do and Reset.
	calls  map[string]int
	resets int // calls of Reset
}

// Reset records that the collector asked for the connection to be reset.
func (f *fakeDoer) Reset(error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets++
	for sym, m := range f.modes {
		if m == wrongUntilReset {
			f.modes[sym] = answer
		}
	}
}

// totalCalls returns the number of requests of all symbols.
func (f *fakeDoer) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func newFakeDoer() *fakeDoer {
	return &fakeDoer{
		entered: make(chan string, 16),
		release: make(chan struct{}),
		price:   make(map[string]float64),
		volume:  make(map[string]int64),
		modes:   make(map[string]mode),
		calls:   make(map[string]int),
	}
}

// set makes sym's next answers carry price and volume.
func (f *fakeDoer) set(sym string, price float64, volume int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.price[sym], f.volume[sym] = price, volume
}

func (f *fakeDoer) setMode(sym string, m mode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.modes[sym] = m
}

func (f *fakeDoer) callCount(sym string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[sym]
}

// Do answers req, a GET /api/quote/{SYMBOL}/info, as the symbol's mode says.
func (f *fakeDoer) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	sym := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/api/quote/"), "/info")
	f.mu.Lock()
	f.calls[sym]++
	m := f.modes[sym]
	price, ok := f.price[sym]
	if !ok {
		price = 100
	}
	volume, ok := f.volume[sym]
	if !ok {
		volume = 1000
	}
	f.mu.Unlock()

	status, body, header := http.StatusOK, "", http.Header{"Content-Type": {"application/json"}}
	switch m {
	case status429:
		status = http.StatusTooManyRequests
		header.Set("Retry-After", "30")
	case wrongSymbol, wrongUntilReset:
		body = nasdaqDoc("ZZZZ", price, volume)
	case hang:
		<-ctx.Done()
		return nil, ctx.Err()
	case hold:
		f.entered <- sym
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		body = nasdaqDoc(sym, price, volume)
	case broken:
		return nil, errBroken
	case vendor:
		body = `{"data":null,"message":null,"status":{"rCode":400,"bCodeMessage":[{"code":3004,"errorMessage":"Error while calling vendor"}],"developerMessage":null}}`
	case unknown:
		body = `{"data":null,"message":null,"status":{"rCode":400,"bCodeMessage":[{"code":1001,"errorMessage":"Symbol not exists."}],"developerMessage":null}}`
	case garbage:
		body = `<html>Access Denied</html>`
	case status503:
		status = http.StatusServiceUnavailable
	default:
		body = nasdaqDoc(sym, price, volume)
	}
	return &http.Response{
		Status:     strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode: status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        header,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// nasdaqDoc is api.nasdaq.com's quote info answer for sym; a negative
// volume is reported as "N/A".
func nasdaqDoc(sym string, price float64, volume int64) string {
	vol := "N/A"
	if volume >= 0 {
		vol = strconv.FormatInt(volume, 10)
	}
	return fmt.Sprintf(`{"data":{"symbol":%q,"companyName":"Test Corp","stockType":"Common Stock","exchange":"NASDAQ-GS",`+
		`"primaryData":{"lastSalePrice":"$%.2f","netChange":"-3.21","percentageChange":"-0.62%%","deltaIndicator":"down",`+
		`"lastTradeTimestamp":"Jul 27, 2026 12:51 PM ET","isRealTime":true},"secondaryData":null,`+
		`"keyStats":{"Volume":{"label":"Volume","value":%q}},"marketStatus":"Open","assetClass":"STOCKS"},`+
		`"message":null,"status":{"rCode":200,"bCodeMessage":null,"developerMessage":null}}`, sym, price, vol)
}

// newTestCollector returns a Collector of syms that asks f through a real
// nasdaq source.
func newTestCollector(f *fakeDoer, syms []string, opts *Options) *testCollector {
	return newTestCollectorHistory(f, syms, opts, 0)
}

// newTestCollectorHistory is newTestCollector with a board keeping history
// quotes per symbol.
func newTestCollectorHistory(f *fakeDoer, syms []string, opts *Options, history int) *testCollector {
	b := board.New(&board.Options{History: history})
	return &testCollector{New(quote.NewNasdaq("http://upstream.test", ""), f, b, syms, opts), b}
}

// testCollector is a Collector with the board it puts into, which the tests
// read.
type testCollector struct {
	*Collector
	b *board.Board
}

func (c *testCollector) Value(sym string) (*vanilla.Value[Snapshot], bool) { return c.b.Value(sym) }
func (c *testCollector) History(sym string) ([]quote.Quote, bool)          { return c.b.History(sym) }

// Pulse starts one pulse without waiting for its collections; Wait waits.
func (c *testCollector) Pulse(ctx context.Context) (started, skipped int) {
	started, skipped, _ = c.pulse(ctx, false)
	return started, skipped
}

// Wait waits until every collection started so far has finished.
func (c *testCollector) Wait() { c.wg.Wait() }

// Snapshot is the board's, which the tests compare.
type Snapshot = board.Snapshot

// ErrRemoved is the board's.
var ErrRemoved = board.ErrRemoved

// pulse runs one pulse and waits for its collections.
func pulse(t *testing.T, c *testCollector) (started, skipped int) {
	t.Helper()
	started, skipped = c.Pulse(t.Context())
	c.Wait()
	return started, skipped
}

// load returns sym's current snapshot and Value version.
func load(t *testing.T, c *testCollector, sym string) (Snapshot, uint64) {
	t.Helper()
	v, ok := c.Value(sym)
	if !ok {
		t.Fatalf("Value(%q) = _, false, want true", sym)
	}
	s, version, set := v.Load()
	if !set {
		t.Fatalf("Value(%q).Load() = unset, want set", sym)
	}
	return s, version
}

// recv returns the next item of ch, failing the test after testTimeout.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case x := <-ch:
		return x
	case <-time.After(testTimeout):
		t.Fatalf("nothing received in %v", testTimeout)
		panic("unreachable")
	}
}

func TestPulseSetsEveryValue(t *testing.T) {
	now := time.Date(2026, time.July, 27, 12, 51, 3, 123456789, time.FixedZone("EDT", -4*60*60))
	f := newFakeDoer()
	f.set("AAPL", 190.5, 55_000_000)
	f.set("MSFT", 512.34, 12_345_678)
	f.set("NVDA", 120.01, -1)
	c := newTestCollector(f, []string{"AAPL", "MSFT", "NVDA"}, &Options{Now: func() time.Time { return now }})

	for _, sym := range c.Symbols() {
		if v, _ := c.Value(sym); v == nil {
			t.Fatalf("Value(%q) = nil before the first pulse, want an unset Value", sym)
		} else if _, _, set := v.Load(); set {
			t.Errorf("Value(%q).Load() set before the first pulse, want unset", sym)
		}
	}
	if started, skipped := pulse(t, c); started != 3 || skipped != 0 {
		t.Errorf("Pulse() = %d, %d, want 3, 0", started, skipped)
	}

	tests := []struct {
		sym       string
		price     float64
		volume    int64
		hasVolume bool
	}{
		{"AAPL", 190.5, 55_000_000, true},
		{"MSFT", 512.34, 12_345_678, true},
		{"NVDA", 120.01, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.sym, func(t *testing.T) {
			got, version := load(t, c, tc.sym)
			got.Quote.Time = got.Quote.Time.UTC()
			want := Snapshot{
				Symbol: tc.sym,
				Quote: quote.Quote{Symbol: tc.sym, Price: tc.price, Change: -3.21, ChangePct: -0.62,
					Volume: tc.volume, HasVolume: tc.hasVolume, MarketStatus: "Open", Time: tradeTime, CollectedAt: now.UTC(), Seq: 1},
				Attempted: true,
			}
			if got != want {
				t.Errorf("Value(%q) = %+v, want %+v", tc.sym, got, want)
			}
			if version != 1 {
				t.Errorf("Value(%q) version = %d, want 1", tc.sym, version)
			}
		})
	}
}

func TestSeqGrowsOnlyOnChange(t *testing.T) {
	type step struct {
		price  float64
		volume int64
	}
	tests := []struct {
		name        string
		steps       []step   // one answer per pulse
		wantSeq     []uint64 // Quote.Seq after each pulse
		wantVersion []uint64 // the Value's version after each pulse
	}{
		{"first_quote", []step{{100, 10}}, []uint64{1}, []uint64{1}},
		{"identical", []step{{100, 10}, {100, 10}, {100, 10}}, []uint64{1, 1, 1}, []uint64{1, 1, 1}},
		{"every_change", []step{{100, 10}, {101, 10}, {102, 10}}, []uint64{1, 2, 3}, []uint64{1, 2, 3}},
		{"price_back", []step{{100, 10}, {101, 10}, {100, 10}}, []uint64{1, 2, 3}, []uint64{1, 2, 3}},
		{"volume_only", []step{{100, 10}, {100, 20}, {100, 20}}, []uint64{1, 2, 2}, []uint64{1, 2, 2}},
		{"volume_lost", []step{{100, 10}, {100, -1}}, []uint64{1, 2}, []uint64{1, 2}},
		{"mixed", []step{{100, 10}, {100, 10}, {101, 10}, {101, 10}, {102, 10}}, []uint64{1, 1, 2, 2, 3}, []uint64{1, 1, 2, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var clock atomic.Int64 // seconds; every call to Now is a second later
			now := func() time.Time { return time.Unix(clock.Add(1), 0) }
			f := newFakeDoer()
			c := newTestCollector(f, []string{"AAPL"}, &Options{Now: now})
			var collectedAt time.Time
			for i, st := range tc.steps {
				f.set("AAPL", st.price, st.volume)
				pulse(t, c)
				got, version := load(t, c, "AAPL")
				if got.Quote.Seq != tc.wantSeq[i] || version != tc.wantVersion[i] {
					t.Errorf("pulse %d: Value(AAPL) seq, version = %d, %d, want %d, %d", i+1, got.Quote.Seq, version, tc.wantSeq[i], tc.wantVersion[i])
				}
				changed := i == 0 || tc.wantSeq[i] != tc.wantSeq[i-1]
				if !changed && !got.Quote.CollectedAt.Equal(collectedAt) {
					t.Errorf("pulse %d: Value(AAPL).Quote.CollectedAt = %v, want %v kept from the unchanged quote", i+1, got.Quote.CollectedAt, collectedAt)
				}
				if changed && !got.Quote.CollectedAt.After(collectedAt) {
					t.Errorf("pulse %d: Value(AAPL).Quote.CollectedAt = %v, want after %v", i+1, got.Quote.CollectedAt, collectedAt)
				}
				collectedAt = got.Quote.CollectedAt
			}
			hist, _ := c.History("AAPL")
			if want := tc.wantSeq[len(tc.wantSeq)-1]; uint64(len(hist)) != want {
				t.Errorf("History(AAPL) has %d quotes, want %d (one per change)", len(hist), want)
			}
		})
	}
}

func TestFailingSymbolGoesStale(t *testing.T) {
	tests := []struct {
		name string
		mode mode
	}{
		{"upstream_3004", vendor},
		{"malformed_body", garbage},
		{"http_503", status503},
		{"transport_error", broken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDoer()
			c := newTestCollector(f, []string{"AAPL", "MSFT"}, &Options{StaleAfter: 1})
			f.set("AAPL", 100, 10)
			f.set("MSFT", 200, 10)
			pulse(t, c)
			good, _ := load(t, c, "AAPL")

			f.setMode("AAPL", tc.mode)
			for n := 1; n <= 2; n++ {
				f.set("MSFT", 200+float64(n), 10)
				pulse(t, c)
				got, version := load(t, c, "AAPL")
				if !got.Stale || got.Err == "" || got.Failures != n || !got.Attempted {
					t.Errorf("failure %d: Value(AAPL) stale, err, failures, attempted = %v, %q, %d, %v, want true, an error, %d, true",
						n, got.Stale, got.Err, got.Failures, got.Attempted, n)
				}
				if got.Quote != good.Quote {
					t.Errorf("failure %d: Value(AAPL).Quote = %+v, want the last good %+v", n, got.Quote, good.Quote)
				}
				if want := uint64(1 + n); version != want {
					t.Errorf("failure %d: Value(AAPL) version = %d, want %d", n, version, want)
				}
				other, _ := load(t, c, "MSFT")
				if other.Stale || other.Quote.Seq != uint64(1+n) || other.Quote.Price != 200+float64(n) {
					t.Errorf("failure %d: Value(MSFT) stale, seq, price = %v, %d, %v, want false, %d, %v",
						n, other.Stale, other.Quote.Seq, other.Quote.Price, 1+n, 200+float64(n))
				}
			}

			f.setMode("AAPL", answer)
			f.set("AAPL", 101, 10)
			pulse(t, c)
			got, _ := load(t, c, "AAPL")
			if got.Stale || got.Err != "" || got.Failures != 0 || got.Quote.Price != 101 || got.Quote.Seq != 2 {
				t.Errorf("recovered: Value(AAPL) stale, err, failures, price, seq = %v, %q, %d, %v, %d, want false, \"\", 0, 101, 2",
					got.Stale, got.Err, got.Failures, got.Quote.Price, got.Quote.Seq)
			}
		})
	}
}

func TestFailureBeforeFirstQuote(t *testing.T) {
	f := newFakeDoer()
	f.setMode("AAPL", broken)
	c := newTestCollector(f, []string{"AAPL"}, &Options{StaleAfter: 1})
	pulse(t, c)
	got, _ := load(t, c, "AAPL")
	if got.HasQuote() || !got.Attempted || !got.Stale || got.Failures != 1 || got.Err == "" {
		t.Errorf("Value(AAPL) = %+v, want attempted, stale, 1 failure, an error and no quote", got)
	}
	if hist, _ := c.History("AAPL"); len(hist) != 0 {
		t.Errorf("History(AAPL) = %v, want empty", hist)
	}
}

func TestPulseSkipsRunningCollection(t *testing.T) {
	// In a bubble synctest.Wait tells when every collection that is not
	// held has finished.
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		f.setMode("AAPL", hold)
		m := NewMetrics(prometheus.NewRegistry())
		c := newTestCollector(f, []string{"AAPL", "MSFT"}, &Options{Metrics: m})

		if started, skipped := c.Pulse(t.Context()); started != 2 || skipped != 0 {
			t.Errorf("first Pulse() = %d, %d, want 2, 0", started, skipped)
		}
		synctest.Wait() // MSFT's collection is done; AAPL's is held
		if sym := <-f.entered; sym != "AAPL" {
			t.Fatalf("held request for %q, want AAPL", sym)
		}
		if started, skipped := c.Pulse(t.Context()); started != 1 || skipped != 1 {
			t.Errorf("second Pulse() with AAPL running = %d, %d, want 1, 1", started, skipped)
		}
		close(f.release)
		c.Wait()

		if n := f.callCount("AAPL"); n != 1 {
			t.Errorf("requests for AAPL = %d, want 1", n)
		}
		if n := f.callCount("MSFT"); n != 2 {
			t.Errorf("requests for MSFT = %d, want 2", n)
		}
		if got := testutil.ToFloat64(m.skipped.WithLabelValues("AAPL")); got != 1 {
			t.Errorf("tickerd_collections_skipped_total{symbol=AAPL} = %v, want 1", got)
		}
		if got := testutil.ToFloat64(m.skipped.WithLabelValues("MSFT")); got != 0 {
			t.Errorf("tickerd_collections_skipped_total{symbol=MSFT} = %v, want 0", got)
		}
		if got, _ := load(t, c, "AAPL"); got.Quote.Seq != 1 || got.Stale {
			t.Errorf("Value(AAPL) seq, stale = %d, %v, want 1, false", got.Quote.Seq, got.Stale)
		}

		// Once finished, AAPL is collected again.
		f.setMode("AAPL", answer)
		if started, skipped := pulse(t, c); started != 2 || skipped != 0 {
			t.Errorf("third Pulse() = %d, %d, want 2, 0", started, skipped)
		}
	})
}

func TestCollectionTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		f.setMode("AAPL", hang)
		m := NewMetrics(prometheus.NewRegistry())
		c := newTestCollector(f, []string{"AAPL", "MSFT"}, &Options{Timeout: 2 * time.Second, Metrics: m, StaleAfter: 1})
		start := time.Now()
		c.Pulse(t.Context())
		c.Wait()
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Pulse() and Wait() took %v, want the 2s timeout", d)
		}
		got, _ := load(t, c, "AAPL")
		if !got.Stale || got.Failures != 1 || got.Err == "" || got.HasQuote() {
			t.Errorf("Value(AAPL) = %+v, want stale with 1 failure, an error and no quote", got)
		}
		if got, _ := load(t, c, "MSFT"); got.Stale || !got.HasQuote() {
			t.Errorf("Value(MSFT) = %+v, want a fresh quote", got)
		}
		if got := testutil.ToFloat64(m.collections.WithLabelValues("AAPL", "timeout")); got != 1 {
			t.Errorf("tickerd_collections_total{symbol=AAPL,outcome=timeout} = %v, want 1", got)
		}
		if got := testutil.ToFloat64(m.collections.WithLabelValues("MSFT", "ok")); got != 1 {
			t.Errorf("tickerd_collections_total{symbol=MSFT,outcome=ok} = %v, want 1", got)
		}
	})
}

func TestHistory(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		prices []float64 // one answer per pulse
		want   []float64
	}{
		{"empty", 3, nil, []float64{}},
		{"partly_full", 3, []float64{101, 102}, []float64{101, 102}},
		{"exactly_full", 3, []float64{101, 102, 103}, []float64{101, 102, 103}},
		{"wrapped", 3, []float64{101, 102, 103, 104, 105}, []float64{103, 104, 105}},
		{"wrapped_twice", 2, []float64{101, 102, 103, 104, 105, 106, 107}, []float64{106, 107}},
		{"size_one", 1, []float64{101, 102, 103}, []float64{103}},
		{"unchanged_not_kept", 3, []float64{101, 101, 102, 102}, []float64{101, 102}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDoer()
			c := newTestCollectorHistory(f, []string{"AAPL"}, nil, tc.size)
			for _, p := range tc.prices {
				f.set("AAPL", p, 10)
				pulse(t, c)
			}
			hist, ok := c.History("AAPL")
			if !ok {
				t.Fatalf("History(AAPL) = _, false, want true")
			}
			got := make([]float64, len(hist))
			for i, q := range hist {
				got[i] = q.Price
				if i > 0 && q.Seq != hist[i-1].Seq+1 {
					t.Errorf("History(AAPL)[%d].Seq = %d, want %d (oldest first)", i, q.Seq, hist[i-1].Seq+1)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("History(AAPL) prices = %v, want %v", got, tc.want)
			}
		})
	}
	c := newTestCollector(newFakeDoer(), []string{"AAPL"}, nil)
	if hist, ok := c.History("NOPE"); ok || hist != nil {
		t.Errorf("History(NOPE) = %v, %v, want nil, false", hist, ok)
	}
}

// wantRemoved checks that v was closed with ErrRemoved.
func wantRemoved(t *testing.T, sym string, c *testCollector, get func(context.Context) (Snapshot, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if _, err := get(ctx); !errors.Is(err, ErrRemoved) {
		t.Errorf("Value(%q).Get() after removal = %v, want %v", sym, err, ErrRemoved)
	}
	if v, ok := c.Value(sym); ok {
		t.Errorf("Value(%q) after removal = %p, true, want nil, false", sym, v)
	}
	if _, ok := c.History(sym); ok {
		t.Errorf("History(%q) after removal ok = true, want false", sym)
	}
}

func TestSetSymbols(t *testing.T) {
	f := newFakeDoer()
	c := newTestCollector(f, []string{"AAPL", "MSFT", "AAPL"}, nil)
	if got, want := c.Symbols(), []string{"AAPL", "MSFT"}; !slices.Equal(got, want) {
		t.Errorf("Symbols() = %v, want %v", got, want)
	}
	pulse(t, c)
	aapl, _ := c.Value("AAPL")
	msft, _ := c.Value("MSFT")
	watch := msft.Watch()
	defer watch.Close()

	c.SetSymbols([]string{"NVDA", "AAPL"})
	if got, want := c.Symbols(), []string{"NVDA", "AAPL"}; !slices.Equal(got, want) {
		t.Errorf("Symbols() = %v, want %v", got, want)
	}
	if v, _ := c.Value("AAPL"); v != aapl {
		t.Errorf("Value(AAPL) after SetSymbols = %p, want the same Value %p", v, aapl)
	}
	if got, _ := load(t, c, "AAPL"); got.Quote.Seq != 1 {
		t.Errorf("Value(AAPL).Quote.Seq after SetSymbols = %d, want 1 (kept)", got.Quote.Seq)
	}
	wantRemoved(t, "MSFT", c, msft.Get)
	// A watcher first gets the last version, then the removal.
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if s, err := watch.Recv(ctx); err != nil || s.Quote.Seq != 1 {
		t.Errorf("watcher Recv() = %+v, %v, want the last snapshot", s, err)
	}
	if _, err := watch.Recv(ctx); !errors.Is(err, ErrRemoved) {
		t.Errorf("watcher Recv() after the last snapshot = %v, want %v", err, ErrRemoved)
	}

	if started, _ := pulse(t, c); started != 2 {
		t.Errorf("Pulse() started %d, want 2", started)
	}
	if n := f.callCount("MSFT"); n != 1 {
		t.Errorf("requests for removed MSFT = %d, want 1", n)
	}
}

func TestAddRemove(t *testing.T) {
	f := newFakeDoer()
	c := newTestCollector(f, []string{"AAPL", "MSFT"}, nil)
	if !c.Add("NVDA") {
		t.Errorf("Add(NVDA) = false, want true")
	}
	if c.Add("NVDA") {
		t.Errorf("Add(NVDA) again = true, want false")
	}
	if c.Add("AAPL") {
		t.Errorf("Add(AAPL) of a configured symbol = true, want false")
	}
	if got, want := c.Symbols(), []string{"AAPL", "MSFT", "NVDA"}; !slices.Equal(got, want) {
		t.Errorf("Symbols() = %v, want %v", got, want)
	}
	if started, _ := pulse(t, c); started != 3 {
		t.Errorf("Pulse() started %d, want 3", started)
	}
	nvda, _ := c.Value("NVDA")
	c.Remove("NVDA")
	c.Remove("AAPL") // configured: Remove only undoes Add, so AAPL stays
	c.Remove("NOPE") // not collected: nothing happens
	wantRemoved(t, "NVDA", c, nvda.Get)
	if got, want := c.Symbols(), []string{"AAPL", "MSFT"}; !slices.Equal(got, want) {
		t.Errorf("Symbols() = %v, want %v", got, want)
	}
	if started, _ := pulse(t, c); started != 2 {
		t.Errorf("Pulse() started %d, want 2", started)
	}
	if n := f.callCount("NVDA"); n != 1 {
		t.Errorf("requests for removed NVDA = %d, want 1", n)
	}
}

// TestReloadKeepsDynamic: a reload (SetSymbols) keeps symbols added for
// clients, and a symbol a reload configures survives its dynamic Remove.
func TestReloadKeepsDynamic(t *testing.T) {
	f := newFakeDoer()
	c := newTestCollector(f, []string{"AAPL", "MSFT"}, nil)
	c.Add("NVDA")
	c.Add("TSLA")
	nvda, _ := c.Value("NVDA")
	c.SetSymbols([]string{"MSFT", "TSLA", "GOOG"})
	if got, want := c.Symbols(), []string{"MSFT", "TSLA", "GOOG", "NVDA"}; !slices.Equal(got, want) {
		t.Errorf("Symbols() after SetSymbols = %v, want %v", got, want)
	}
	if v, _ := c.Value("NVDA"); v != nvda {
		t.Errorf("Value(NVDA) after SetSymbols = %p, want the same dynamic Value %p", v, nvda)
	}
	c.Remove("TSLA") // configured by the reload: stays
	c.Remove("NVDA") // dynamic only: goes
	if got, want := c.Symbols(), []string{"MSFT", "TSLA", "GOOG"}; !slices.Equal(got, want) {
		t.Errorf("Symbols() after Remove = %v, want %v", got, want)
	}
	wantRemoved(t, "NVDA", c, nvda.Get)
}

// TestRemoveWhileCollecting: Remove cancels the symbol's running collection
// and returns once it has gone, so nothing is put for the symbol after it.
func TestRemoveWhileCollecting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		f.setMode("AAPL", hold)
		c := newTestCollector(f, nil, nil)
		c.Add("AAPL")
		old, _ := c.Value("AAPL")
		c.Pulse(t.Context())
		recv(t, f.entered)
		c.Remove("AAPL")
		waited := make(chan struct{})
		// Exits when every collection has finished.
		go func() { c.Wait(); close(waited) }()
		synctest.Wait()
		select {
		case <-waited:
		default:
			t.Fatalf("Remove(AAPL) returned with its collection still running")
		}
		wantRemoved(t, "AAPL", c, old.Get)
		if _, _, set := old.Load(); set {
			t.Errorf("removed Value(AAPL).Load() set by the cancelled collection, want unset")
		}

		// Added again, the symbol starts afresh with a new Value.
		f.setMode("AAPL", answer)
		c.Add("AAPL")
		pulse(t, c)
		if v, _ := c.Value("AAPL"); v == old {
			t.Errorf("Value(AAPL) after Add = the removed Value, want a new one")
		}
		if got, _ := load(t, c, "AAPL"); got.Quote.Seq != 1 || got.Stale {
			t.Errorf("Value(AAPL) seq, stale = %d, %v, want 1, false", got.Quote.Seq, got.Stale)
		}
	})
}

func TestMetricsOutcome(t *testing.T) {
	outcomes := []string{"ok", "unknown_symbol", "upstream_error", "malformed", "not_quote", "wrong_symbol", "timeout", "http_status", "transport_error"}
	tests := []struct {
		name string
		mode mode
		want string
	}{
		{"ok", answer, "ok"},
		{"upstream_3004", vendor, "upstream_error"},
		{"malformed_body", garbage, "not_quote"},
		{"wrong_symbol", wrongSymbol, "wrong_symbol"},
		// A non-2xx status is neither a source error nor a parse error
		// today: it is counted with the transport errors.
		{"http_503", status503, "http_status"},
		{"transport_error", broken, "transport_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			f := newFakeDoer()
			f.setMode("AAPL", tc.mode)
			c := newTestCollector(f, []string{"AAPL"}, &Options{Metrics: m})
			pulse(t, c)
			pulse(t, c)
			for _, o := range outcomes {
				want := 0.0
				switch {
				case o == tc.want && o == "wrong_symbol":
					want = 4 // each pulse asks again once after the reset
				case o == tc.want:
					want = 2
				}
				if got := testutil.ToFloat64(m.collections.WithLabelValues("AAPL", o)); got != want {
					t.Errorf("tickerd_collections_total{symbol=AAPL,outcome=%s} = %v, want %v", o, got, want)
				}
			}
			if got := testutil.ToFloat64(m.pulses); got != 2 {
				t.Errorf("tickerd_pulses_total = %v, want 2", got)
			}
			asks := uint64(2)
			if tc.want == "wrong_symbol" {
				asks = 4
			}
			if got := histogramCount(t, reg, "tickerd_collection_seconds"); got != asks {
				t.Errorf("tickerd_collection_seconds count = %d, want %d", got, asks)
			}
		})
	}
}

// histogramCount returns the sample count of the histogram name in reg.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("Gather() has no %s", name)
	return 0
}

func TestNilMetrics(t *testing.T) {
	// A nil *Metrics records nothing and does not panic, for every outcome.
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		f.setMode("MSFT", broken)
		f.setMode("NVDA", hold)
		c := newTestCollector(f, []string{"AAPL", "MSFT", "NVDA"}, nil)
		c.Pulse(t.Context())
		synctest.Wait()
		if started, skipped := c.Pulse(t.Context()); started != 2 || skipped != 1 {
			t.Errorf("Pulse() = %d, %d, want 2, 1", started, skipped)
		}
		close(f.release)
		c.Wait()
	})
}

// TestMetricsSeriesFollowSymbols: a symbol's series exist from when it is
// added (zero-valued) and are deleted when it is removed, so clients that
// come and go with dynamic symbols cannot grow /metrics without bound.
func TestMetricsSeriesFollowSymbols(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	f := newFakeDoer()
	c := newTestCollector(f, []string{"AAPL"}, &Options{Metrics: m})
	series := func() int {
		return testutil.CollectAndCount(m.collections) + testutil.CollectAndCount(m.skipped)
	}
	if got := series(); got != 2 {
		t.Fatalf("series with one symbol before any pulse = %d, want 2 (collections ok, skipped)", got)
	}
	for i := range 50 {
		c.Add(fmt.Sprintf("DYN%d", i))
	}
	pulse(t, c)
	if got := series(); got != 102 {
		t.Fatalf("series with 51 symbols = %d, want 102", got)
	}
	for i := range 50 {
		c.Remove(fmt.Sprintf("DYN%d", i))
	}
	if got := series(); got != 2 {
		t.Errorf("series after removing the 50 added symbols = %d, want 2", got)
	}
}
