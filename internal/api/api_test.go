package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/collector"
	"github.com/tickerd/tickerd/internal/quote"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every blocking step, so that a broken API fails the
// test instead of hanging it. It never orders events.
const testTimeout = 10 * time.Second

// now is the collectors' clock: CollectedAt of every quote.
var now = time.Date(2026, time.July, 27, 12, 51, 3, 123456789, time.FixedZone("EDT", -4*60*60))

// fakeDoer answers the requests built by quote.NewNasdaq with canned nasdaq
// documents: a quote, or for symbols in vendor the 3004 error document.
// Requests for symbols in hold wait until release is closed. Safe for
// concurrent use.
type fakeDoer struct {
	release chan struct{}

	mu sync.Mutex
	// Guarded by mu; written by the test, read by Do.
	price  map[string]float64 // 100 when absent
	volume map[string]int64   // < 0: not reported
	vendor map[string]bool
	hold   map[string]bool
}

func newFakeDoer() *fakeDoer {
	return &fakeDoer{
		release: make(chan struct{}),
		price:   make(map[string]float64),
		volume:  make(map[string]int64),
		vendor:  make(map[string]bool),
		hold:    make(map[string]bool),
	}
}

func (f *fakeDoer) set(sym string, price float64, volume int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.price[sym], f.volume[sym] = price, volume
}

func (f *fakeDoer) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	sym := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/api/quote/"), "/info")
	f.mu.Lock()
	price, ok := f.price[sym]
	if !ok {
		price = 100
	}
	volume, vendor, hold := f.volume[sym], f.vendor[sym], f.hold[sym]
	f.mu.Unlock()
	if hold {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	body := `{"data":null,"message":null,"status":{"rCode":400,"bCodeMessage":[{"code":3004,"errorMessage":"Error while calling vendor"}],"developerMessage":null}}`
	if !vendor {
		vol := "N/A"
		if volume >= 0 {
			vol = strconv.FormatInt(volume, 10)
		}
		body = fmt.Sprintf(`{"data":{"symbol":%q,"primaryData":{"lastSalePrice":"$%.2f","netChange":"-3.21","percentageChange":"-0.62%%",`+
			`"lastTradeTimestamp":"Jul 27, 2026 12:51 PM ET"},"keyStats":{"Volume":{"label":"Volume","value":%q}}},`+
			`"message":null,"status":{"rCode":200,"bCodeMessage":null,"developerMessage":null}}`, sym, price, vol)
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// newCollector returns a collector of syms asking f, and the board it puts
// into.
func newCollector(f *fakeDoer, syms []string, opts *collector.Options) (*collector.Collector, *board.Board) {
	b := board.New(nil)
	if opts == nil {
		opts = &collector.Options{}
	}
	opts.StaleAfter = 1 // the tests count failures from the first one
	return collector.New(quote.NewNasdaq("http://upstream.test", ""), f, b, syms, opts), b
}

// collect runs one pulse of c and waits for it.
func collect(t *testing.T, c *collector.Collector) {
	t.Helper()
	if _, err := c.Collect(t.Context()); err != nil {
		t.Fatalf("Collect() = %v", err)
	}
}

// serve serves api.Handler(b, opts) on a loopback test server and returns
// its URL.
func serve(t *testing.T, b *board.Board, opts *api.Options) string {
	t.Helper()
	srv := httptest.NewServer(api.Handler(b, opts))
	t.Cleanup(srv.Close)
	return srv.URL
}

// get GETs url and returns the status and the body decoded as JSON.
func get(t *testing.T, url string) (int, any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("NewRequest(%q) = %v", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s = %v", url, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s Content-Type = %q, want application/json", url, ct)
	}
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET %s: decode body: %v", url, err)
	}
	return resp.StatusCode, v
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad want JSON %s: %v", s, err)
	}
	return v
}

// JSON forms of the quotes the fake gives; times are RFC 3339 nano, UTC.
const (
	aaplJSON  = `{"symbol":"AAPL","price":190.5,"change":-3.21,"change_pct":-0.62,"volume":55000000,"time":"2026-07-27T16:51:00.000000000Z","collected_at":"2026-07-27T16:51:03.123456789Z","seq":1,"stale":false}`
	aapl2JSON = `{"symbol":"AAPL","price":191.25,"change":-3.21,"change_pct":-0.62,"volume":55000100,"time":"2026-07-27T16:51:00.000000000Z","collected_at":"2026-07-27T16:51:03.123456789Z","seq":2,"stale":false}`
	msftJSON  = `{"symbol":"MSFT","price":512.34,"change":-3.21,"change_pct":-0.62,"time":"2026-07-27T16:51:00.000000000Z","collected_at":"2026-07-27T16:51:03.123456789Z","seq":1,"stale":false}`
)

func TestRoutes(t *testing.T) {
	f := newFakeDoer()
	f.set("AAPL", 190.5, 55_000_000)
	f.set("MSFT", 512.34, -1)
	f.vendor["NVDA"] = true
	c, b := newCollector(f, []string{"AAPL", "MSFT", "NVDA"}, &collector.Options{Now: func() time.Time { return now }})
	collect(t, c)
	url := serve(t, b, nil)

	tests := []struct {
		name   string
		path   string
		status int
		want   string
	}{
		{"quote", "/api/quotes/AAPL", http.StatusOK, aaplJSON},
		{"quote_lower_case", "/api/quotes/aapl", http.StatusOK, aaplJSON},
		{"quote_without_volume", "/api/quotes/MSFT", http.StatusOK, msftJSON},
		{"unknown_symbol", "/api/quotes/NOPE", http.StatusNotFound, `{"error":"unknown symbol NOPE"}`},
		{"history", "/api/quotes/AAPL/history", http.StatusOK, `{"symbol":"AAPL","history":[` + aaplJSON + `]}`},
		{"history_without_quotes", "/api/quotes/NVDA/history", http.StatusOK, `{"symbol":"NVDA","history":[]}`},
		{"unknown_symbol_history", "/api/quotes/NOPE/history", http.StatusNotFound, `{"error":"unknown symbol NOPE"}`},
		{"healthz", "/healthz", http.StatusOK, `{"status":"ok"}`},
		{"readyz", "/readyz", http.StatusOK, `{"status":"ready"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, got := get(t, url+tc.path)
			if status != tc.status {
				t.Errorf("GET %s status = %d, want %d", tc.path, status, tc.status)
			}
			if want := decode(t, tc.want); !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s = %v, want %v", tc.path, got, want)
			}
		})
	}

	t.Run("quotes", func(t *testing.T) {
		status, got := get(t, url+"/api/quotes")
		if status != http.StatusOK {
			t.Errorf("GET /api/quotes status = %d, want 200", status)
		}
		quotes, _ := got.(map[string]any)["quotes"].([]any)
		if len(quotes) != 3 {
			t.Fatalf("GET /api/quotes = %v, want 3 quotes", got)
		}
		for i, want := range []string{aaplJSON, msftJSON} {
			if w := decode(t, want); !reflect.DeepEqual(quotes[i], w) {
				t.Errorf("GET /api/quotes quotes[%d] = %v, want %v", i, quotes[i], w)
			}
		}
		// A symbol whose only attempt failed: status, and no price or times.
		nvda, _ := quotes[2].(map[string]any)
		for key, want := range map[string]any{"symbol": "NVDA", "seq": 0.0, "stale": true, "failures": 1.0, "change": 0.0} {
			if nvda[key] != want {
				t.Errorf("GET /api/quotes quotes[2][%q] = %v, want %v", key, nvda[key], want)
			}
		}
		if e, _ := nvda["error"].(string); e == "" {
			t.Errorf("GET /api/quotes quotes[2][\"error\"] = %v, want the error", nvda["error"])
		}
		for _, key := range []string{"price", "volume", "time", "collected_at"} {
			if v, ok := nvda[key]; ok {
				t.Errorf("GET /api/quotes quotes[2][%q] = %v, want it omitted", key, v)
			}
		}
	})

	t.Run("history_oldest_first", func(t *testing.T) {
		f.set("AAPL", 191.25, 55_000_100)
		collect(t, c)
		status, got := get(t, url+"/api/quotes/AAPL/history")
		want := decode(t, `{"symbol":"AAPL","history":[`+aaplJSON+`,`+aapl2JSON+`]}`)
		if status != http.StatusOK || !reflect.DeepEqual(got, want) {
			t.Errorf("GET /api/quotes/AAPL/history = %d %v, want 200 %v", status, got, want)
		}
	})
}

func TestQuoteBeforeFirstPulse(t *testing.T) {
	_, b := newCollector(newFakeDoer(), []string{"AAPL"}, nil)
	url := serve(t, b, nil)
	status, got := get(t, url+"/api/quotes/AAPL")
	want := decode(t, `{"symbol":"AAPL","change":0,"change_pct":0,"seq":0,"stale":false}`)
	if status != http.StatusOK || !reflect.DeepEqual(got, want) {
		t.Errorf("GET /api/quotes/AAPL = %d %v, want 200 %v", status, got, want)
	}
}

// readiness is a Ready func the test switches.
type readiness struct {
	mu  sync.Mutex
	err error // guarded by mu
}

func (r *readiness) set(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *readiness) ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// TestReadyz: readiness is the Ready hook alone. Symbols that were never
// attempted or whose last attempt failed do not make the service unready:
// it still serves them, marked stale.
func TestReadyz(t *testing.T) {
	f := newFakeDoer()
	f.vendor["NVDA"] = true
	c, b := newCollector(f, []string{"AAPL", "NVDA"}, nil)
	r := &readiness{err: errors.New("collection is not running")}
	url := serve(t, b, &api.Options{Ready: r.ready})

	check := func(step string, wantStatus int, want string) {
		t.Helper()
		status, got := get(t, url+"/readyz")
		if w := decode(t, want); status != wantStatus || !reflect.DeepEqual(got, w) {
			t.Errorf("%s: GET /readyz = %d %v, want %d %v", step, status, got, wantStatus, w)
		}
	}
	check("hook_not_ready", http.StatusServiceUnavailable, `{"status":"not ready","reason":"collection is not running"}`)
	r.set(nil)
	check("before_first_pulse", http.StatusOK, `{"status":"ready"}`)
	collect(t, c)
	check("one_symbol_failing", http.StatusOK, `{"status":"ready"}`)
	r.set(errors.New("stopping"))
	check("not_ready_again", http.StatusServiceUnavailable, `{"status":"not ready","reason":"stopping"}`)

	nilOpts := serve(t, b, nil)
	if status, _ := get(t, nilOpts+"/readyz"); status != http.StatusOK {
		t.Errorf("GET /readyz with nil Options = %d, want 200", status)
	}
}

func TestEscapedSymbol(t *testing.T) {
	f := newFakeDoer()
	c, b := newCollector(f, []string{"^GSPC", "BRK.B"}, nil)
	collect(t, c)
	url := serve(t, b, nil)
	tests := []struct {
		name string
		path string
		want string // the symbol answered for
	}{
		{"caret_raw", "/api/quotes/^GSPC", "^GSPC"},
		{"caret_upper_hex", "/api/quotes/%5EGSPC", "^GSPC"},
		{"caret_lower_hex", "/api/quotes/%5eGSPC", "^GSPC"},
		{"caret_lower_hex_history", "/api/quotes/%5eGSPC/history", "^GSPC"},
		{"dot", "/api/quotes/BRK.B", "BRK.B"},
		{"dot_escaped", "/api/quotes/BRK%2eB", "BRK.B"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, got := get(t, url+tc.path)
			if sym, _ := got.(map[string]any)["symbol"].(string); status != http.StatusOK || sym != tc.want {
				t.Errorf("GET %s = %d %v, want 200 for %s", tc.path, status, got, tc.want)
			}
		})
	}
}
