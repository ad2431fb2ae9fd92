package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/collector"
	"github.com/tickerd/tickerd/internal/config"
)

// do sends method url with header h on a client that does not decompress,
// and returns the response with its whole body.
func do(t *testing.T, method, url string, h http.Header) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatalf("NewRequest(%s %q) = %v", method, url, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s %s = %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, body
}

func TestMethodsAndNotFound(t *testing.T) {
	_, b := newCollector(newFakeDoer(), []string{"AAPL"}, nil)
	url := serve(t, b, nil)
	tests := []struct {
		name      string
		method    string
		path      string
		status    int
		allow     string
		errSubstr string
	}{
		{"post_quotes", http.MethodPost, "/api/quotes", 405, "GET, HEAD", "method POST is not allowed here; use GET or HEAD"},
		{"delete_quote", http.MethodDelete, "/api/quotes/AAPL", 405, "GET, HEAD", "method DELETE"},
		{"put_history", http.MethodPut, "/api/quotes/AAPL/history", 405, "GET, HEAD", "method PUT"},
		{"post_status", http.MethodPost, "/api/status", 405, "GET, HEAD", "method POST"},
		{"post_healthz", http.MethodPost, "/healthz", 405, "GET, HEAD", "method POST"},
		{"trace_readyz", http.MethodTrace, "/readyz", 405, "GET, HEAD", "method TRACE"},
		{"unknown_api_path", http.MethodGet, "/api/nope", 404, "", "no such endpoint: /api/nope"},
		{"unknown_api_path_post", http.MethodPost, "/api/quotes/AAPL/nope", 404, "", "no such endpoint"},
		{"api_root", http.MethodGet, "/api", 404, "", "no such endpoint"},
		{"unknown_top_path", http.MethodGet, "/nope", 404, "", "no such endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, tc.method, url+tc.path, nil)
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s status = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("%s %s Allow = %q, want %q", tc.method, tc.path, got, tc.allow)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s Content-Type = %q, want application/json", tc.method, tc.path, ct)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(e.Error, tc.errSubstr) {
				t.Errorf("%s %s body = %s, want {\"error\":...%q...}", tc.method, tc.path, body, tc.errSubstr)
			}
		})
	}
	t.Run("head", func(t *testing.T) {
		get, getBody := do(t, http.MethodGet, url+"/api/quotes", nil)
		head, headBody := do(t, http.MethodHead, url+"/api/quotes", nil)
		if head.StatusCode != 200 || len(headBody) != 0 || head.Header.Get("Content-Length") != get.Header.Get("Content-Length") || len(getBody) == 0 {
			t.Errorf("HEAD /api/quotes = %d, %d body bytes, Content-Length %q; want 200, none, GET's %q", head.StatusCode, len(headBody), head.Header.Get("Content-Length"), get.Header.Get("Content-Length"))
		}
	})
}

func TestQuotesQuery(t *testing.T) {
	f := newFakeDoer()
	c, b := newCollector(f, []string{"AAPL", "MSFT", "NVDA"}, &collector.Options{Now: func() time.Time { return now }})
	collect(t, c)
	url := serve(t, b, nil)
	tests := []struct {
		name        string
		query       string
		status      int
		wantSymbols []string
		wantUnknown []any
		wantErr     string
	}{
		{"none", "", 200, []string{"AAPL", "MSFT", "NVDA"}, nil, ""},
		{"two_in_request_order", "?symbols=nvda,AAPL", 200, []string{"NVDA", "AAPL"}, nil, ""},
		{"spaces_duplicates_empty", "?symbols=%20msft%20,,MSFT,", 200, []string{"MSFT"}, nil, ""},
		{"repeated_parameter", "?symbols=AAPL&symbols=MSFT", 200, []string{"AAPL", "MSFT"}, nil, ""},
		{"unknown_listed", "?symbols=AAPL,ZZZZ", 200, []string{"AAPL"}, []any{"ZZZZ"}, ""},
		{"empty", "?symbols=", 400, nil, nil, "symbols is empty"},
		{"invalid", "?symbols=AAPL,A%20B", 400, nil, nil, `invalid symbol "A B" in symbols`},
		{"too_many", "?symbols=" + strings.Repeat("A,", 0) + manySymbols(api.MaxQuerySymbols+1), 400, nil, nil, "too many symbols"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, url+"/api/quotes"+tc.query, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET /api/quotes%s status = %d (%s), want %d", tc.query, resp.StatusCode, body, tc.status)
			}
			var got struct {
				Quotes  []struct{ Symbol string }
				Unknown []any
				Error   string
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("GET /api/quotes%s body %s: %v", tc.query, body, err)
			}
			var syms []string
			for _, q := range got.Quotes {
				syms = append(syms, q.Symbol)
			}
			if !reflect.DeepEqual(syms, tc.wantSymbols) || !reflect.DeepEqual(got.Unknown, tc.wantUnknown) || !strings.Contains(got.Error, tc.wantErr) {
				t.Errorf("GET /api/quotes%s = %s, want symbols %v, unknown %v, error containing %q", tc.query, body, tc.wantSymbols, tc.wantUnknown, tc.wantErr)
			}
		})
	}
}

// manySymbols returns n distinct valid symbols separated by commas.
func manySymbols(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("S")
		for v := i; ; v /= 26 {
			b.WriteByte(byte('A' + v%26))
			if v < 26 {
				break
			}
		}
	}
	return b.String()
}

func TestHistoryLimit(t *testing.T) {
	f := newFakeDoer()
	c, b := newCollector(f, []string{"AAPL"}, nil)
	for i := range 5 {
		f.set("AAPL", float64(100+i), 1)
		collect(t, c)
	}
	url := serve(t, b, nil)
	tests := []struct {
		name    string
		query   string
		status  int
		prices  []float64
		wantErr string
	}{
		{"all", "", 200, []float64{100, 101, 102, 103, 104}, ""},
		{"last_two", "?limit=2", 200, []float64{103, 104}, ""},
		{"one", "?limit=1", 200, []float64{104}, ""},
		{"more_than_kept", "?limit=1000", 200, []float64{100, 101, 102, 103, 104}, ""},
		{"zero", "?limit=0", 400, nil, `limit must be a whole number of at least 1, got "0"`},
		{"negative", "?limit=-1", 400, nil, "limit must be"},
		{"word", "?limit=ten", 400, nil, `got "ten"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, http.MethodGet, url+"/api/quotes/AAPL/history"+tc.query, nil)
			var got struct {
				History []struct{ Price float64 }
				Error   string
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("GET history%s body %s: %v", tc.query, body, err)
			}
			var prices []float64
			for _, q := range got.History {
				prices = append(prices, q.Price)
			}
			if resp.StatusCode != tc.status || !reflect.DeepEqual(prices, tc.prices) || !strings.Contains(got.Error, tc.wantErr) {
				t.Errorf("GET history%s = %d %s, want %d prices %v error %q", tc.query, resp.StatusCode, body, tc.status, tc.prices, tc.wantErr)
			}
		})
	}
}

func TestETag(t *testing.T) {
	f := newFakeDoer()
	c, b := newCollector(f, []string{"AAPL", "MSFT"}, nil)
	collect(t, c)
	url := serve(t, b, nil)
	for _, path := range []string{"/api/quotes", "/api/quotes?symbols=MSFT", "/api/quotes/AAPL", "/api/quotes/AAPL/history"} {
		t.Run(strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(path), func(t *testing.T) {
			first, body := do(t, http.MethodGet, url+path, nil)
			tag := first.Header.Get("ETag")
			if first.StatusCode != 200 || !strings.HasPrefix(tag, `W/"`) {
				t.Fatalf("GET %s = %d ETag %q, want 200 and a weak ETag", path, first.StatusCode, tag)
			}
			again, againBody := do(t, http.MethodGet, url+path, http.Header{"If-None-Match": {`"other", ` + tag}})
			if again.StatusCode != http.StatusNotModified || len(againBody) != 0 || again.Header.Get("ETag") != tag {
				t.Errorf("GET %s If-None-Match %s = %d %q ETag %q, want 304, no body, same ETag", path, tag, again.StatusCode, againBody, again.Header.Get("ETag"))
			}
			if stale, _ := do(t, http.MethodGet, url+path, http.Header{"If-None-Match": {`W/"0000"`}}); stale.StatusCode != 200 {
				t.Errorf("GET %s with a non-matching If-None-Match = %d, want 200", path, stale.StatusCode)
			}
			_ = body
		})
	}
	// A new pulse changes the quotes: the old tag no longer matches.
	first, _ := do(t, http.MethodGet, url+"/api/quotes/AAPL", nil)
	f.set("AAPL", 123, 1)
	collect(t, c)
	next, _ := do(t, http.MethodGet, url+"/api/quotes/AAPL", http.Header{"If-None-Match": {first.Header.Get("ETag")}})
	if next.StatusCode != 200 || next.Header.Get("ETag") == first.Header.Get("ETag") {
		t.Errorf("GET /api/quotes/AAPL after a new quote with the old ETag = %d ETag %q, want 200 and a new ETag", next.StatusCode, next.Header.Get("ETag"))
	}
}

func TestGzip(t *testing.T) {
	f := newFakeDoer()
	c, b := newCollector(f, []string{"AAPL", "MSFT"}, nil)
	collect(t, c)
	url := serve(t, b, nil)
	plain, plainBody := do(t, http.MethodGet, url+"/api/quotes", nil)
	if ce := plain.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("GET /api/quotes without Accept-Encoding: Content-Encoding = %q, want none", ce)
	}
	zipped, zippedBody := do(t, http.MethodGet, url+"/api/quotes", http.Header{"Accept-Encoding": {"gzip"}})
	if ce := zipped.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("GET /api/quotes with Accept-Encoding gzip: Content-Encoding = %q, want gzip", ce)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zippedBody))
	if err != nil {
		t.Fatalf("gzip.NewReader = %v", err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plainBody) {
		t.Errorf("gunzipped body = %q, %v; want the plain body %q", unzipped, err, plainBody)
	}
	if zipped.Header.Get("ETag") != plain.Header.Get("ETag") {
		t.Errorf("ETag gzip %q != plain %q: want one weak tag for both encodings", zipped.Header.Get("ETag"), plain.Header.Get("ETag"))
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log records written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestAccessLogAndRecover(t *testing.T) {
	_, b := newCollector(newFakeDoer(), []string{"AAPL"}, nil)
	var logs syncBuffer
	h := api.Handler(b, &api.Options{AccessLog: true, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	h.Get("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h.Get("/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, _ := do(t, http.MethodGet, srv.URL+"/api/quotes/AAPL", nil)
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 200 || id == "" {
		t.Errorf("GET /api/quotes/AAPL = %d X-Request-Id %q, want 200 and an id", resp.StatusCode, id)
	}
	resp, body := do(t, http.MethodGet, srv.URL+"/panic", nil)
	if resp.StatusCode != 500 || !strings.Contains(string(body), `"error":"internal error"`) {
		t.Errorf("GET /panic = %d %s, want 500 {\"error\":\"internal error\"}", resp.StatusCode, body)
	}
	// ErrAbortHandler aborts the response: the client sees the connection
	// end, not a 500.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/abort", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("GET /abort = %d, want the connection aborted", resp.StatusCode)
	} else if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") {
		t.Logf("GET /abort error %v", err)
	}
	srv.Close() // every handler has returned: the log is complete

	var access []map[string]any
	var panics int
	for _, l := range logs.lines(t) {
		switch l["msg"] {
		case "http request":
			access = append(access, l)
		case "panic serving request":
			panics++
			if l["panic"] != "boom" || !strings.Contains(l["stack"].(string), "goroutine") {
				t.Errorf("panic log = %v, want panic boom with a stack", l)
			}
		}
	}
	if panics != 1 {
		t.Errorf("logged %d panics, want 1 (ErrAbortHandler is not logged as one)", panics)
	}
	if len(access) < 2 {
		t.Fatalf("access log lines = %v, want one per request", access)
	}
	for i, want := range []struct {
		path   string
		status float64
	}{{"/api/quotes/AAPL", 200}, {"/panic", 500}} {
		l := access[i]
		if l["method"] != "GET" || l["path"] != want.path || l["status"] != want.status || l["bytes"].(float64) <= 0 || l["request_id"] == "" {
			t.Errorf("access log %d = %v, want GET %s status %v with bytes and request_id", i, l, want.path, want.status)
		}
	}
	if access[0]["request_id"] != id {
		t.Errorf("access log request_id = %v, want the X-Request-Id sent, %q", access[0]["request_id"], id)
	}
}

// TestQuotesQuerySourceSyntax: ?symbols= is checked in the source's own
// symbol syntax, and a refusal says it.
func TestQuotesQuerySourceSyntax(t *testing.T) {
	b := board.New(nil)
	tests := []struct {
		name, kind, query string
		status            int
		says              string
	}{
		{"binance_refuses_dash", config.KindBinance, "?symbols=BTC-USD", 400, "such as BTCUSDT"},
		{"binance_takes_its_own", config.KindBinance, "?symbols=btcusdt", 200, `"unknown":["BTCUSDT"]`},
		{"json_takes_slash", config.KindJSON, "?symbols=EUR/USD", 200, `"unknown":["EUR/USD"]`},
		{"sim_refuses_slash", config.KindSim, "?symbols=EUR/USD", 400, `invalid symbol \"EUR/USD\"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := config.Source{Kind: tc.kind}
			url := serve(t, b, &api.Options{NormalizeSymbol: src.NormalizeSymbol})
			resp, body := do(t, http.MethodGet, url+"/api/quotes"+tc.query, nil)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.says) {
				t.Errorf("GET /api/quotes%s with kind %s = %d %s, want %d saying %s", tc.query, tc.kind, resp.StatusCode, body, tc.status, tc.says)
			}
		})
	}
}
