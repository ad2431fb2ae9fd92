package service_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/service"
)

// rawConn dials the service and returns the connection with a reader.
func rawConn(t *testing.T, r *running) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatalf("Dial = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testTimeout)) // deadlock detector
	return c, bufio.NewReader(c)
}

// roundTrip writes a keep-alive GET of path on c and reads the answer.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, path string, extra string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: tickerd\r\n"+extra+"\r\n"); err != nil {
		t.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response to GET %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestIdleKeepAliveClosed: a keep-alive connection left idle is closed by
// the server after http.idle_timeout (it used to be kept forever).
func TestIdleKeepAliveClosed(t *testing.T) {
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
	cfg.HTTP.IdleTimeout = 100 * time.Millisecond
	r := start(t, cfg, nil)
	c, br := rawConn(t, r)
	idle := time.Now() // before the request: the server's idle time starts after its answer
	if resp := roundTrip(t, c, br, "/healthz", ""); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /healthz = %d close %v, want 200 and keep-alive", resp.StatusCode, resp.Close)
	}
	n, err := br.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Read on an idle keep-alive connection = %d, %v; want EOF once the server closes it (the deadlock detector is %v)", n, err, testTimeout)
	}
	if d := time.Since(idle); d < cfg.HTTP.IdleTimeout {
		t.Errorf("idle connection closed after %v, want no sooner than IdleTimeout %v", d, cfg.HTTP.IdleTimeout)
	}
}

// TestSlowHeaderDropped: a header that never completes costs its
// connection after http.read_header_timeout.
func TestSlowHeaderDropped(t *testing.T) {
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
	cfg.HTTP.ReadHeaderTimeout = 100 * time.Millisecond
	r := start(t, cfg, nil)
	c, br := rawConn(t, r)
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: tickerd\r\nX-Slow: ")
	if _, err := io.ReadAll(br); err != nil {
		t.Errorf("read after a half-sent header = %v, want the server to end the connection (deadlock detector %v)", err, testTimeout)
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	r := start(t, testConfig(config.KindSim, "", neverInTest, []string{"AAPL"}), nil)
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"small", 1 << 10, http.StatusOK},
		{"under_limit", service.MaxHeaderBytes - 1<<10, http.StatusOK},
		{"one_mib", 1 << 20, http.StatusRequestHeaderFieldsTooLarge},
		{"twice_the_limit", 2 * service.MaxHeaderBytes, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, br := rawConn(t, r)
			if resp := roundTrip(t, c, br, "/healthz", "X-Big: "+strings.Repeat("a", tc.size)+"\r\n"); resp.StatusCode != tc.status {
				t.Errorf("GET /healthz with a %d-byte header = %d, want %d", tc.size, resp.StatusCode, tc.status)
			}
		})
	}
}

// TestConnectionCap: with http.max_connections open, the next client waits
// until one of them closes, then is served.
func TestConnectionCap(t *testing.T) {
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
	cfg.HTTP.MaxConnections = 2
	r := start(t, cfg, nil)
	a, abr := rawConn(t, r)
	b, bbr := rawConn(t, r)
	for _, c := range []struct {
		conn net.Conn
		br   *bufio.Reader
	}{{a, abr}, {b, bbr}} {
		if resp := roundTrip(t, c.conn, c.br, "/healthz", ""); resp.StatusCode != 200 {
			t.Fatalf("GET /healthz = %d, want 200", resp.StatusCode)
		}
	}
	third, tbr := rawConn(t, r)
	io.WriteString(third, "GET /healthz HTTP/1.1\r\nHost: tickerd\r\n\r\n")
	// Not answered while two are open. A negative check can only look for
	// a while: a broken cap answers within microseconds on loopback.
	third.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := tbr.Peek(1); !isTimeout(err) {
		t.Fatalf("third connection answered (%v) while max_connections = 2 were open", err)
	}
	a.Close()
	third.SetReadDeadline(time.Now().Add(testTimeout))
	resp, err := http.ReadResponse(tbr, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("third connection after one closed: %v, %v; want 200", resp, err)
	}
	resp.Body.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestServiceMethods(t *testing.T) {
	r := start(t, testConfig(config.KindSim, "", neverInTest, []string{"AAPL"}), nil)
	tests := []struct {
		method string
		path   string
		status int
		allow  string
	}{
		{http.MethodGet, "/metrics", 200, ""},
		{http.MethodHead, "/metrics", 200, ""},
		{http.MethodPost, "/metrics", 405, "GET, HEAD"},
		{http.MethodPut, "/metrics", 405, "GET, HEAD"},
		{http.MethodDelete, "/metrics", 405, "GET, HEAD"},
		{http.MethodTrace, "/metrics", 405, "GET, HEAD"},
		{http.MethodPost, "/healthz", 405, "GET, HEAD"},
		{http.MethodPost, "/api/quotes", 405, "GET, HEAD"},
		{http.MethodPost, "/ws", 405, "GET, HEAD"},
		{http.MethodPost, "/", 405, "GET, HEAD"},
		{http.MethodGet, "/api/nope", 404, ""},
		{http.MethodPost, "/api/nope", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+strings.ReplaceAll(tc.path, "/", "_"), func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, r.url+tc.path, nil)
			resp, err := r.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s = %v", tc.method, tc.path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
				t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.status, tc.allow)
			}
			if tc.status >= 400 && (resp.Header.Get("Content-Type") != "application/json" || !json.Valid(body)) {
				t.Errorf("%s %s body %.200q (%s), want JSON", tc.method, tc.path, body, resp.Header.Get("Content-Type"))
			}
		})
	}
}

// hungUpstream accepts connections and never answers; it closes them when
// the test ends.
func hungUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn // guarded by mu
	done := make(chan struct{})
	// Exits when ln is closed by the cleanup.
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// TestReadyWhileUpstreamHangs: readiness says the service can serve; the
// hung upstream shows in /api/status and the metrics instead.
func TestReadyWhileUpstreamHangs(t *testing.T) {
	cfg := testConfig(config.KindNasdaq, hungUpstream(t), neverInTest, []string{"AAPL", "MSFT"})
	cfg.Source.Timeout = 100 * time.Millisecond
	r := start(t, cfg, &service.Options{Version: "v1.2.3"})
	waitFirstPulse(t, r.svc.Board(), cfg.Symbols) // both time out

	var ready map[string]string
	if status := r.getJSON(t, "/readyz", &ready); status != http.StatusOK || ready["status"] != "ready" {
		t.Errorf("GET /readyz with a hung upstream = %d %v, want 200 ready", status, ready)
	}
	var st api.Status
	if status := r.getJSON(t, "/api/status", &st); status != 200 || st.Health != "down" || st.FreshRatio != 0 || st.States["stale"] != 2 || st.SecondsSinceLastSuccess != nil {
		t.Errorf("GET /api/status = %d %+v, want down, ratio 0, 2 stale, no last success", status, st)
	}
	for series, want := range map[string]float64{
		"tickerd_symbols_fresh_ratio":                                                0,
		`tickerd_symbols{state="stale"}`:                                             2,
		`tickerd_symbols{state="fresh"}`:                                             0,
		`tickerd_symbols{state="pending"}`:                                           0,
		"tickerd_last_success_timestamp_seconds":                                     0,
		`tickerd_build_info{goversion="` + runtime.Version() + `",version="v1.2.3"}`: 1,
	} {
		if v, ok := r.metric(t, series); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
}

// TestHealthMetricsWithQuotes: a working upstream makes every symbol fresh
// and sets the last success time, even when prices do not change.
func TestHealthMetricsWithQuotes(t *testing.T) {
	before := time.Now()
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL", "MSFT"})
	r := start(t, cfg, nil)
	waitFirstPulse(t, r.svc.Board(), cfg.Symbols)
	if v, _ := r.metric(t, "tickerd_symbols_fresh_ratio"); v != 1 {
		t.Errorf("tickerd_symbols_fresh_ratio = %v, want 1", v)
	}
	v, _ := r.metric(t, "tickerd_last_success_timestamp_seconds")
	if last := time.Unix(0, int64(v*1e9)); last.Before(before.Add(-time.Second)) || last.After(time.Now().Add(time.Second)) {
		t.Errorf("tickerd_last_success_timestamp_seconds = %v (%v), want between %v and now", v, last, before)
	}
	var st api.Status
	if r.getJSON(t, "/api/status", &st); st.Health != "ok" || st.SecondsSinceLastSuccess == nil || *st.SecondsSinceLastSuccess > 5 {
		t.Errorf("GET /api/status = %+v, want ok with a recent last success", st)
	}
	if v, ok := r.metric(t, `tickerd_build_info{goversion="`+runtime.Version()+`",version="dev"}`); !ok || v != 1 {
		t.Errorf("tickerd_build_info with no version = %v (present %v), want 1 with version dev", v, ok)
	}
}

// TestNotReadyBeforeRun: a built service that is not running is not ready.
func TestNotReadyBeforeRun(t *testing.T) {
	svc, err := service.New(testConfig(config.KindSim, "", neverInTest, []string{"AAPL"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	rec := &responseRecorder{header: http.Header{}}
	req, _ := http.NewRequest(http.MethodGet, "/readyz", nil)
	svc.Handler().ServeHTTP(rec, req)
	if rec.status != http.StatusServiceUnavailable || !strings.Contains(rec.body.String(), "not serving") {
		t.Errorf("GET /readyz before Run = %d %s, want 503 not serving", rec.status, rec.body.String())
	}
}

type responseRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *responseRecorder) Header() http.Header         { return r.header }
func (r *responseRecorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *responseRecorder) WriteHeader(s int)           { r.status = s }

// logBuffer collects JSON log records; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) find(t *testing.T, msg string) map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range strings.Lines(l.b.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	t.Fatalf("no log record %q in:\n%s", msg, l.b.String())
	return nil
}

func TestReloadLogsChanges(t *testing.T) {
	var logs logBuffer
	cfg := testConfig(config.KindSim, "", "@every 1h", []string{"AAPL", "MSFT"})
	r := start(t, cfg, &service.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	next := testConfig(config.KindSim, "", "@every 2h", []string{"AAPL", "NVDA", "TSLA"})
	if err := r.svc.Reload(next); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	m := logs.find(t, "config reloaded")
	for key, want := range map[string]any{
		"added": []any{"NVDA", "TSLA"}, "removed": []any{"MSFT"}, "schedule": "@every 2h", "old_schedule": "@every 1h", "symbols": 3.0,
	} {
		if got := m[key]; !jsonEqual(got, want) {
			t.Errorf("config reloaded log %s = %v, want %v", key, got, want)
		}
	}
	if err := r.svc.Reload(next); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	logs.find(t, "config reloaded: no change to symbols or schedule")
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestAccessLog: log.access makes one record per request.
func TestAccessLog(t *testing.T) {
	var logs logBuffer
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
	cfg.Log.Access = true
	r := start(t, cfg, &service.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	r.get(t, "/api/quotes/AAPL")
	r.stop(t) // the handlers are done: their records are written
	m := logs.find(t, "http request")
	if m["path"] != "/api/quotes/AAPL" || m["status"] != 200.0 || m["request_id"] == "" {
		t.Errorf("access log = %v, want GET /api/quotes/AAPL 200 with a request id", m)
	}
}
