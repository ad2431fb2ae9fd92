package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, h http.Handler, method, target string, hdr http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesFiles(t *testing.T) {
	h := Handler()
	tests := []struct {
		name     string
		path     string
		ctype    string
		contains []string
	}{
		{"index", "/", "text/html; charset=utf-8", []string{
			`<script type="module" src="app.js"`, `href="style.css"`, `rel="icon" href="favicon.svg"`,
			`id="conn"`, `id="banner"`, `id="add-symbol"`, `list="symbol-suggestions"`, `id="add-btn"`, `data-sort="price"`,
			`class="num price"`, `class="num change col-change"`, `class="num pct"`, `class="updated"`, `class="stale"`,
			`class="remove"`, `<dialog id="detail"`, `id="chart"`,
		}},
		{"app_js", "/app.js", "text/javascript; charset=utf-8", []string{
			"from './tickerd-client.js'", "/history", "/api/quotes", "localStorage", "dataset.symbol", "prefers-reduced-motion", "aria-sort",
		}},
		{"client_js", "/tickerd-client.js", "text/javascript; charset=utf-8", []string{
			"export class TickerClient", "new WebSocket(", "'/ws'", "batch=1", "Array.isArray(data)", "since:", "'reset'",
		}},
		{"style_css", "/style.css", "text/css; charset=utf-8", []string{
			"@media (max-width: 600px)", ".stale", "prefers-reduced-motion: reduce", "body.offline",
		}},
		{"favicon_svg", "/favicon.svg", "image/svg+xml", []string{"<svg"}},
		{"favicon_ico", "/favicon.ico", "image/svg+xml", []string{"<svg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, h, http.MethodGet, tt.path, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tt.path, resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Fatalf("GET %s Content-Type = %q, want %q", tt.path, got, tt.ctype)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Fatalf("GET %s X-Content-Type-Options = %q, want nosniff", tt.path, got)
			}
			for _, s := range tt.contains {
				if !strings.Contains(string(body), s) {
					t.Fatalf("GET %s body lacks %q", tt.path, s)
				}
			}
			// No CDN, no external font: nothing absolute but the XML namespace.
			for _, u := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"' )]*`).FindAllString(string(body), -1) {
				if !strings.Contains(u, "www.w3.org/") {
					t.Fatalf("GET %s refers to %q, want only same-origin files", tt.path, u)
				}
			}

			etag := resp.Header.Get("ETag")
			if etag == "" {
				t.Fatalf("GET %s has no ETag", tt.path)
			}
			again := get(t, h, http.MethodGet, tt.path, http.Header{"If-None-Match": {etag}})
			if again.StatusCode != http.StatusNotModified {
				t.Fatalf("GET %s with If-None-Match %s = %d, want 304", tt.path, etag, again.StatusCode)
			}
		})
	}
}

func TestHandlerRejects(t *testing.T) {
	h := Handler()
	tests := []struct {
		name   string
		method string
		path   string
		want   int
	}{
		{"unknown_file", http.MethodGet, "/nope.js", http.StatusNotFound},
		{"directory", http.MethodGet, "/static/", http.StatusNotFound},
		{"dot_dot", http.MethodGet, "/../web.go", http.StatusNotFound},
		{"post", http.MethodPost, "/", http.StatusMethodNotAllowed},
		{"head", http.MethodHead, "/app.js", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := get(t, h, tt.method, tt.path, nil).StatusCode; got != tt.want {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.path, got, tt.want)
			}
		})
	}
}
