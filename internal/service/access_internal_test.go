package service

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/tickerd/tickerd/internal/auth"
)

func TestExposed(t *testing.T) {
	tests := []struct {
		name string
		addr net.Addr
		want bool
	}{
		{"loopback_v4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, false},
		{"loopback_v4_other", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 8080}, false},
		{"loopback_v6", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, false},
		{"unspecified_v4", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, true},
		{"unspecified_v6", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, true},
		{"private", &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 8080}, true},
		{"unix", &net.UnixAddr{Name: "/run/tickerd.sock", Net: "unix"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exposed(tc.addr); got != tc.want {
				t.Errorf("exposed(%v) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestDashboardPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/index.html", true},
		{"/app.js", true},
		{"/favicon.ico", true},
		{"/api", false},
		{"/api/quotes", false},
		{"/ws", false},
		{"/metrics", false},
		{"/healthz", false},
		{"/readyz", false},
		{"/debug", false},
		{"/static/app.js", false},
		{"/./app.js", false},
		{"//app.js", false},
		{"", false},
		{"app.js", false},
	}
	for _, tc := range tests {
		if got := dashboardPath(tc.path); got != tc.want {
			t.Errorf("dashboardPath(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	patterns := []string{"dash.example", "https://*.ops.example", "LOCALHOST:*"}
	tests := []struct {
		origin string
		want   bool
	}{
		{"https://dash.example", true},
		{"http://dash.example", true},
		{"https://DASH.example", true},
		{"https://dash.example:8443", false},
		{"https://a.ops.example", true},
		{"http://a.ops.example", false},
		{"http://localhost:3000", true},
		{"https://evil.example", false},
		{"null", false},
		{"", false},
		{"::", false},
	}
	for _, tc := range tests {
		if got := originAllowed(patterns, tc.origin); got != tc.want {
			t.Errorf("originAllowed(%q, %q) = %v, want %v", patterns, tc.origin, got, tc.want)
		}
	}
}

// TestGuardPrincipalToHub: the websocket route gets the token's Principal
// in its request context, and the URL without the token, so the hub can
// apply the grant and never logs the token.
func TestGuardPrincipalToHub(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("hub-test-key-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(&auth.Options{APIKeysFile: keys})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		ok    bool
		query string
	}
	got := make(chan seen, 1)
	r := chi.NewRouter()
	r.Get("/ws", func(w http.ResponseWriter, r *http.Request) {
		_, ok := auth.FromContext(r.Context())
		got <- seen{ok, r.URL.RawQuery}
	})
	srv := httptest.NewServer(guard(r, accessOptions{auth: a})) // on 127.0.0.1
	defer srv.Close()
	client := srv.Client()
	tests := []struct {
		name   string
		target string
		header string
		want   seen
	}{
		{"query_token", "/ws?symbols=AAPL&token=hub-test-key-0123456789", "", seen{true, "symbols=AAPL"}},
		{"header_token", "/ws?symbols=AAPL", "Bearer hub-test-key-0123456789", seen{true, "symbols=AAPL"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET %s = %v", tc.target, err)
			}
			resp.Body.Close()
			select {
			case s := <-got:
				if s != tc.want {
					t.Errorf("GET %s: the hub saw principal %v, query %q; want %v, %q", tc.target, s.ok, s.query, tc.want.ok, tc.want.query)
				}
			default:
				t.Fatalf("GET %s = %d, the hub was not called", tc.target, resp.StatusCode)
			}
		})
	}
}

func TestBatchDelay(t *testing.T) {
	tests := []struct {
		name string
		file time.Duration // websocket.batch_delay
		want time.Duration // fanout.Options.BatchDelay
	}{
		{"none", 0, -1}, // fanout's zero is its default
		{"default", 2 * time.Millisecond, 2 * time.Millisecond},
		{"long", 250 * time.Millisecond, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := batchDelay(tt.file); got != tt.want {
				t.Errorf("batchDelay(%v) = %v, want %v", tt.file, got, tt.want)
			}
		})
	}
}
