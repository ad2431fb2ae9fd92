package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/service"
)

// authSecret is the HMAC secret of authConfig's tokens.
var authSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// apiKey is a key of authConfig's API keys file; apiKeyHashed is another,
// stored there as its SHA-256.
const (
	apiKey       = "load-test-key-0123456789"
	apiKeyHashed = "dashboard-key-0123456789"
)

// authConfig is testConfig with auth on: the HMAC secret and an API keys
// file (one plain key, one hashed), in a directory of the test's.
func authConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "hmac")
	keys := filepath.Join(dir, "api-keys")
	writeTestFile(t, secret, authSecret)
	writeTestFile(t, keys, []byte("# test keys\n"+apiKey+"\nsha256:8d2344bdf78f98b308a29e4ee7a3c7946ce50d037b3efd298786c50f63402c7b\n"))
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
	cfg.Auth.JWT.HMACSecretFile = secret
	cfg.Auth.APIKeysFile = keys
	return cfg
}

func writeTestFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatalf("WriteFile(%s) = %v", name, err)
	}
}

// hs256 returns a token signed with key, expiring in ttl.
func hs256(t *testing.T, key []byte, ttl time.Duration) string {
	t.Helper()
	return hs256Claims(t, key, map[string]any{"exp": time.Now().Add(ttl).Unix()})
}

// hs256Claims returns a token signed with key for sub "tester", expiring
// in an hour, with claims added (or replacing those).
func hs256Claims(t *testing.T, key []byte, claims map[string]any) string {
	t.Helper()
	c := jwt.MapClaims{"sub": "tester", "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		t.Fatalf("SignedString = %v", err)
	}
	return tok
}

// do sends method path to base with the headers, and returns the
// response with its body read.
func do(t *testing.T, c *http.Client, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("NewRequest(%s %s) = %v", method, url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s = %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, string(body)
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func TestAuthREST(t *testing.T) {
	r := start(t, authConfig(t), nil)
	until(t, "/readyz not 200", func() bool { code, _ := r.get(t, "/readyz"); return code == http.StatusOK })
	valid := hs256(t, authSecret, time.Minute)
	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
		body   string // the whole body, trimmed, when not empty
	}{
		{"no_token", "/api/quotes", nil, http.StatusUnauthorized, `{"error":"invalid token"}`},
		{"bad_signature", "/api/quotes", bearer(hs256(t, []byte("another-secret-of-32-bytes-or-more!!"), time.Minute)), http.StatusUnauthorized, `{"error":"invalid token"}`},
		{"garbage", "/api/quotes", bearer("not-a-token"), http.StatusUnauthorized, `{"error":"invalid token"}`},
		{"expired", "/api/quotes", bearer(hs256(t, authSecret, -time.Hour)), http.StatusUnauthorized, `{"error":"token expired"}`},
		{"other_scheme", "/api/quotes", http.Header{"Authorization": {"Basic " + apiKey}}, http.StatusUnauthorized, ""},
		{"hs256_header", "/api/quotes", bearer(valid), http.StatusOK, ""},
		{"hs256_query", "/api/quotes?token=" + valid, nil, http.StatusOK, ""},
		{"api_key", "/api/quotes/AAPL", bearer(apiKey), http.StatusOK, ""},
		{"api_key_hashed", "/api/status", bearer(apiKeyHashed), http.StatusOK, ""},
		{"cluster_needs_token", "/api/cluster", nil, http.StatusUnauthorized, ""},
		{"metrics_needs_token", "/metrics", nil, http.StatusUnauthorized, ""},
		{"metrics_with_token", "/metrics", bearer(apiKey), http.StatusOK, ""},
		{"unclean_path", "/static/../api/quotes", nil, http.StatusUnauthorized, ""},
		{"healthz_public", "/healthz", nil, http.StatusOK, ""},
		{"readyz_public", "/readyz", nil, http.StatusOK, ""},
		{"dashboard_index", "/", nil, http.StatusOK, ""},
		{"dashboard_script", "/tickerd-client.js", nil, http.StatusOK, ""},
		{"dashboard_icon", "/favicon.ico", nil, http.StatusOK, ""},
		{"dashboard_missing", "/nothing.js", nil, http.StatusNotFound, ""},
		{"pprof_absent", "/debug/pprof/", bearer(apiKey), http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, r.client, http.MethodGet, r.url+tc.path, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s = %d %q, want %d", tc.path, resp.StatusCode, body, tc.status)
			}
			if tc.body != "" && strings.TrimSpace(body) != tc.body {
				t.Errorf("GET %s body = %q, want %q", tc.path, body, tc.body)
			}
			if tc.status == http.StatusUnauthorized {
				if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("GET %s: WWW-Authenticate = %q, want Bearer", tc.path, got)
				}
				if got := resp.Header.Get("Content-Type"); got != "application/json" {
					t.Errorf("GET %s: Content-Type = %q, want application/json", tc.path, got)
				}
			}
		})
	}
}

// TestAuthPublicPaths: auth.public_paths replaces the default list; the
// dashboard's files stay public whatever it says.
func TestAuthPublicPaths(t *testing.T) {
	cfg := authConfig(t)
	cfg.Auth.PublicPaths = []string{"/api/status"}
	r := start(t, cfg, nil)
	tests := []struct {
		path   string
		status int
	}{
		{"/api/status", http.StatusOK},
		{"/api/status/", http.StatusUnauthorized}, // an exact path covers only itself
		{"/api/quotes", http.StatusUnauthorized},
		{"/healthz", http.StatusUnauthorized},
		{"/", http.StatusOK},
		{"/app.js", http.StatusOK},
	}
	for _, tc := range tests {
		if code, body := r.get(t, tc.path); code != tc.status {
			t.Errorf("GET %s = %d %q, want %d", tc.path, code, body, tc.status)
		}
	}
}

// TestAuthOffByDefault: with no key file everything is served as before.
func TestAuthOffByDefault(t *testing.T) {
	r := start(t, testConfig(config.KindSim, "", neverInTest, []string{"AAPL"}), nil)
	for _, p := range []string{"/api/quotes", "/api/cluster", "/metrics", "/healthz"} {
		if code, body := r.get(t, p); code != http.StatusOK {
			t.Errorf("GET %s = %d %q, want 200 with auth off", p, code, body)
		}
	}
}

func wsURL(base, query string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws" + query
}

// TestAuthWebsocketUpgrade: with auth.ws_first_message off, an upgrade
// without a valid token is refused with 401 before it is upgraded; with
// one it is a websocket.
func TestAuthWebsocketUpgrade(t *testing.T) {
	r := start(t, authConfig(t), nil)
	tests := []struct {
		name   string
		query  string
		header http.Header
		status int
	}{
		{"no_token", "", nil, http.StatusUnauthorized},
		{"bad_token", "?token=nope-nope-nope-nope", nil, http.StatusUnauthorized},
		{"expired", "?token=" + hs256(t, authSecret, -time.Hour), nil, http.StatusUnauthorized},
		{"query_token", "?token=" + hs256(t, authSecret, time.Minute), nil, http.StatusSwitchingProtocols},
		{"header_api_key", "", bearer(apiKey), http.StatusSwitchingProtocols},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			conn := dialAuth(ctx, t, wsURL(r.url, tc.query), tc.header, tc.status)
			if conn == nil {
				return
			}
			defer conn.CloseNow()
			// The hub answers a subscribe: the connection is the hub's.
			msg, _ := json.Marshal(map[string]any{"op": "subscribe", "symbols": []string{"AAPL"}})
			if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
				t.Fatalf("Write(subscribe) = %v", err)
			}
			if _, data, err := conn.Read(ctx); err != nil || !bytes.Contains(data, []byte(`"type"`)) {
				t.Fatalf("Read() after subscribe = %q, %v; want a message of the hub", data, err)
			}
			conn.Close(websocket.StatusNormalClosure, "")
		})
	}
}

// dialAuth dials url with header and checks the upgrade's status: a
// connection for 101, closed when the test ends, else nil once the
// refusal is checked (an error, and WWW-Authenticate: Bearer).
func dialAuth(ctx context.Context, t *testing.T, url string, header http.Header, status int) *websocket.Conn {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}, HTTPHeader: header})
	if resp == nil {
		t.Fatalf("websocket.Dial(%s) = %v and no response", url, err)
	}
	if resp.StatusCode != status {
		t.Fatalf("websocket.Dial(%s) = %d (%v), want %d", url, resp.StatusCode, err, status)
	}
	if status != http.StatusSwitchingProtocols {
		if err == nil {
			conn.CloseNow()
			t.Fatalf("websocket.Dial(%s) = a connection, want an error", url)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("websocket.Dial(%s): WWW-Authenticate = %q, want Bearer", url, got)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("websocket.Dial(%s) = %v, want a connection", url, err)
	}
	return conn
}

// wsMessage is what TestAuthWebsocketFirstMessage reads of a message.
type wsMessage struct {
	Type    string   `json:"type"`
	Code    string   `json:"code"`
	Symbols []string `json:"symbols"`
}

// readWS reads the next message of conn, or the error that ended it.
func readWS(ctx context.Context, conn *websocket.Conn) (wsMessage, error) {
	_, data, err := conn.Read(ctx)
	if err != nil {
		return wsMessage{}, err
	}
	var m wsMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return wsMessage{}, fmt.Errorf("decode %s: %w", data, err)
	}
	return m, nil
}

// TestAuthWebsocketFirstMessage: with auth.ws_first_message on, a
// websocket upgrades without a token and authenticates with its first
// message, a JWT or an API key; anything else first, or a refused token,
// gets an error and then a close with 1008. A token at the upgrade still
// works as with the key off, and a bad one there is still 401. (The 5s
// deadline is fanout's TestAuthFirst, on an injected clock.)
func TestAuthWebsocketFirstMessage(t *testing.T) {
	cfg := authConfig(t)
	cfg.Auth.WSFirstMessage = true
	r := start(t, cfg, nil)
	valid := hs256Claims(t, authSecret, map[string]any{"symbols": []string{"AAPL"}})
	authOp := func(token string) string {
		b, _ := json.Marshal(map[string]string{"op": "auth", "token": token})
		return string(b)
	}
	tests := []struct {
		name   string
		query  string
		header http.Header
		status int    // of the upgrade
		first  string // the first message; "" for none
		code   string // the error before the close 1008; "" when the connection stays
		reason string // the close reason
	}{
		{"first_message_jwt", "", nil, http.StatusSwitchingProtocols, authOp(valid), "", ""},
		{"first_message_api_key", "", nil, http.StatusSwitchingProtocols, authOp(apiKeyHashed), "", ""},
		{"first_message_with_symbols", "?symbols=AAPL", nil, http.StatusSwitchingProtocols, authOp(valid), "", ""},
		{"wrong_op_first", "", nil, http.StatusSwitchingProtocols, `{"op":"subscribe","symbols":["AAPL"]}`, "auth_required", "authentication required"},
		{"invalid_token", "", nil, http.StatusSwitchingProtocols, authOp("nope-nope-nope-nope"), "invalid_token", "invalid token"},
		{"expired_token", "", nil, http.StatusSwitchingProtocols, authOp(hs256(t, authSecret, -time.Hour)), "token_expired", "token expired"},
		{"query_token", "?token=" + valid, nil, http.StatusSwitchingProtocols, "", "", ""},
		{"header_token", "", bearer(apiKey), http.StatusSwitchingProtocols, "", "", ""},
		{"bad_query_token", "?token=nope-nope-nope-nope", nil, http.StatusUnauthorized, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			conn := dialAuth(ctx, t, wsURL(r.url, tc.query), tc.header, tc.status)
			if conn == nil {
				return
			}
			defer conn.CloseNow()
			send := func(text string) {
				t.Helper()
				if err := conn.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
					t.Fatalf("Write(%s) = %v", text, err)
				}
			}
			if tc.first != "" {
				send(tc.first)
			}
			if tc.code != "" {
				if m, err := readWS(ctx, conn); err != nil || m.Type != "error" || m.Code != tc.code {
					t.Fatalf("Read() after %s = %+v, %v; want error %q", tc.name, m, err, tc.code)
				}
				_, err := readWS(ctx, conn)
				var ce websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != tc.reason {
					t.Fatalf("Read() after the error = %v, want close 1008 %q", err, tc.reason)
				}
				return
			}
			if tc.first != "" { // the auth op's answer: the upgrade's symbols, if any
				want := []string{}
				if tc.query != "" {
					want = []string{"AAPL"}
				}
				if m, err := readWS(ctx, conn); err != nil || m.Type != "subscribed" || !slices.Equal(m.Symbols, want) {
					t.Fatalf("Read() after auth = %+v, %v; want subscribed %v", m, err, want)
				}
			}
			// The connection is the hub's, under the token's grant.
			send(`{"op":"subscribe","symbols":["AAPL"]}`)
			for {
				m, err := readWS(ctx, conn)
				if err == nil && (m.Type == "quote" || m.Type == "status") {
					continue // of the symbols subscribed to on auth
				}
				if err != nil || m.Type != "subscribed" || !slices.Equal(m.Symbols, []string{"AAPL"}) {
					t.Fatalf("Read() after subscribe = %+v, %v; want subscribed [AAPL]", m, err)
				}
				break
			}
			conn.Close(websocket.StatusNormalClosure, "")
		})
	}
	// The auth ops and upgrades were counted; the one subject ("tester")
	// is counted, never shown.
	resp, body := do(t, r.client, http.MethodGet, r.url+"/metrics", bearer(apiKey))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{
		`tickerd_auth_verifications_total{result="expired"} 1`,
		`tickerd_auth_verifications_total{result="invalid"} 2`, // the auth op's and the upgrade's
		"tickerd_auth_subjects 1\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics has no %q", want)
		}
	}
	if strings.Contains(body, "tester") {
		t.Errorf("GET /metrics shows a token's subject")
	}
}

// TestAdminSplit: with admin_listen, metrics, health checks and pprof are
// served there, and not on the main listener; without it, metrics and
// health checks stay on the main one and pprof is nowhere.
func TestAdminSplit(t *testing.T) {
	cfg := authConfig(t)
	cfg.AdminListen = "127.0.0.1:0"
	r := start(t, cfg, nil)
	addr := r.svc.AdminAddr()
	if addr == nil {
		t.Fatal("AdminAddr() = nil, want the admin listener's address")
	}
	admin := "http://" + addr.String()
	until(t, "admin /readyz not 200", func() bool {
		resp, _ := do(t, r.client, http.MethodGet, admin+"/readyz", nil)
		return resp.StatusCode == http.StatusOK
	})
	tests := []struct {
		name   string
		base   string
		path   string
		header http.Header
		status int
	}{
		{"admin_metrics", admin, "/metrics", nil, http.StatusOK},
		{"admin_healthz", admin, "/healthz", nil, http.StatusOK},
		{"admin_readyz", admin, "/readyz", nil, http.StatusOK},
		{"admin_pprof_index", admin, "/debug/pprof/", nil, http.StatusOK},
		{"admin_pprof_goroutine", admin, "/debug/pprof/goroutine?debug=1", nil, http.StatusOK},
		{"admin_no_api", admin, "/api/quotes", nil, http.StatusNotFound},
		{"admin_no_ws", admin, "/ws", nil, http.StatusNotFound},
		{"main_no_metrics", r.url, "/metrics", bearer(apiKey), http.StatusNotFound},
		{"main_no_metrics_anonymous", r.url, "/metrics", nil, http.StatusNotFound},
		{"main_no_healthz", r.url, "/healthz", nil, http.StatusNotFound},
		{"main_no_readyz", r.url, "/readyz", nil, http.StatusNotFound},
		{"main_no_pprof", r.url, "/debug/pprof/", bearer(apiKey), http.StatusNotFound},
		{"main_no_pprof_unclean", r.url, "//debug/pprof/", bearer(apiKey), http.StatusNotFound},
		{"main_api", r.url, "/api/quotes", bearer(apiKey), http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, r.client, http.MethodGet, tc.base+tc.path, tc.header)
			if resp.StatusCode != tc.status {
				t.Errorf("GET %s%s = %d %.80q, want %d", tc.base, tc.path, resp.StatusCode, body, tc.status)
			}
			if tc.name == "admin_metrics" && !strings.Contains(body, "tickerd_build_info") {
				t.Errorf("GET %s/metrics = %.200q, want the service's metrics", admin, body)
			}
		})
	}
}

// TestCORS: the REST API answers preflights from websocket.allowed_origins
// before asking for a token, and tells browsers of other origins nothing.
func TestCORS(t *testing.T) {
	cfg := authConfig(t)
	cfg.Websocket.AllowedOrigins = []string{"dash.example", "https://*.ops.example"}
	r := start(t, cfg, nil)
	preflight := func(origin string) http.Header {
		return http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"GET"}, "Access-Control-Request-Headers": {"authorization"}}
	}
	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		status     int
		allowOrign string // the Access-Control-Allow-Origin wanted; "" for none
	}{
		{"preflight_host_pattern", http.MethodOptions, "/api/quotes", preflight("https://dash.example"), http.StatusOK, "https://dash.example"},
		{"preflight_scheme_pattern", http.MethodOptions, "/api/quotes/AAPL", preflight("https://a.ops.example"), http.StatusOK, "https://a.ops.example"},
		{"preflight_scheme_mismatch", http.MethodOptions, "/api/quotes", preflight("http://a.ops.example"), http.StatusOK, ""},
		{"preflight_other_origin", http.MethodOptions, "/api/quotes", preflight("https://evil.example"), http.StatusOK, ""},
		{"get_allowed", http.MethodGet, "/api/quotes", http.Header{"Origin": {"https://dash.example"}, "Authorization": {"Bearer " + apiKey}}, http.StatusOK, "https://dash.example"},
		{"get_allowed_no_token", http.MethodGet, "/api/quotes", http.Header{"Origin": {"https://dash.example"}}, http.StatusUnauthorized, "https://dash.example"},
		{"get_other_origin", http.MethodGet, "/api/quotes", http.Header{"Origin": {"https://evil.example"}, "Authorization": {"Bearer " + apiKey}}, http.StatusOK, ""},
		{"not_api", http.MethodGet, "/", http.Header{"Origin": {"https://dash.example"}}, http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, r.client, tc.method, r.url+tc.path, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d %.80q, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.allowOrign {
				t.Errorf("%s %s: Access-Control-Allow-Origin = %q, want %q", tc.method, tc.path, got, tc.allowOrign)
			}
			if tc.method == http.MethodOptions && tc.allowOrign != "" {
				if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "authorization") {
					t.Errorf("%s %s: Access-Control-Allow-Headers = %q, want authorization", tc.method, tc.path, got)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestExposureWarning: on loopback there is no warning about a missing
// auth (listening elsewhere is for the unit test of the rule: tests stay
// on loopback). Run logs it before it marks itself ready.
func TestExposureWarning(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := start(t, testConfig(config.KindSim, "", neverInTest, []string{"AAPL"}), &service.Options{Logger: log})
	until(t, "/readyz not 200", func() bool { code, _ := r.get(t, "/readyz"); return code == http.StatusOK })
	s := logs.String()
	if !strings.Contains(s, "tickerd running") {
		t.Fatalf("log of a ready service = %q, want \"tickerd running\"", s)
	}
	if strings.Contains(s, "without auth") {
		t.Errorf("log on loopback = %q, want no warning about auth", s)
	}
}

// TestAuthKeysReload: an API key added to the file works after Reload
// (SIGHUP), and a removed one stops working; Run's poll finds changes by
// itself too.
func TestAuthKeysReload(t *testing.T) {
	const added = "added-later-key-0123456789"
	t.Run("on_reload", func(t *testing.T) {
		cfg := authConfig(t)
		r := start(t, cfg, &service.Options{ReloadInterval: time.Hour})
		if resp, _ := do(t, r.client, http.MethodGet, r.url+"/api/quotes", bearer(added)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET with a key not in the file = %d, want 401", resp.StatusCode)
		}
		writeTestFile(t, cfg.Auth.APIKeysFile, []byte(added+"\n"))
		if err := r.svc.Reload(cfg); err != nil {
			t.Fatalf("Reload() = %v", err)
		}
		if resp, _ := do(t, r.client, http.MethodGet, r.url+"/api/quotes", bearer(added)); resp.StatusCode != http.StatusOK {
			t.Errorf("GET with the added key after Reload = %d, want 200", resp.StatusCode)
		}
		if resp, _ := do(t, r.client, http.MethodGet, r.url+"/api/quotes", bearer(apiKey)); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET with a removed key after Reload = %d, want 401", resp.StatusCode)
		}
	})
	t.Run("on_poll", func(t *testing.T) {
		cfg := authConfig(t)
		r := start(t, cfg, &service.Options{ReloadInterval: 10 * time.Millisecond})
		writeTestFile(t, cfg.Auth.APIKeysFile, []byte(apiKey+"\n"+added+"\n"))
		until(t, "the added key not accepted", func() bool {
			resp, _ := do(t, r.client, http.MethodGet, r.url+"/api/quotes", bearer(added))
			return resp.StatusCode == http.StatusOK
		})
	})
}
