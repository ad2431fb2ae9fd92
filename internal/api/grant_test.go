package api_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/auth"
	"github.com/tickerd/tickerd/internal/collector"
)

// TestSymbolsGrant: behind auth's middleware, a token's symbols claim
// limits what REST shows; no claim shows everything.
func TestSymbolsGrant(t *testing.T) {
	f := newFakeDoer()
	c, b := newCollector(f, []string{"AAPL", "MSFT", "NVDA"}, &collector.Options{Now: func() time.Time { return now }})
	collect(t, c)
	secret := []byte("0123456789abcdef0123456789abcdef")
	file := filepath.Join(t.TempDir(), "hmac")
	if err := os.WriteFile(file, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(&auth.Options{JWT: auth.JWTOptions{HMACSecretFile: file}})
	if err != nil {
		t.Fatalf("auth.New() = %v", err)
	}
	srv := httptest.NewServer(a.Middleware(api.Handler(b, nil)))
	t.Cleanup(srv.Close)
	token := func(claims jwt.MapClaims) string {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	narrow := token(jwt.MapClaims{"sub": "t", "symbols": []string{"AAPL", "M*"}})
	wide := token(jwt.MapClaims{"sub": "t"})
	tests := []struct {
		name, token, path string
		status            int
		body              string
	}{
		{"list_filtered", narrow, "/api/quotes", 200, `"symbol":"MSFT"`},
		{"list_unfiltered", wide, "/api/quotes", 200, `"symbol":"NVDA"`},
		{"query_forbidden", narrow, "/api/quotes?symbols=AAPL,NVDA", 403, "forbidden: the token does not allow NVDA"},
		{"query_allowed", narrow, "/api/quotes?symbols=msft", 200, `"symbol":"MSFT"`},
		{"one_forbidden", narrow, "/api/quotes/NVDA", 403, "forbidden"},
		{"one_forbidden_not_collected", narrow, "/api/quotes/ZZZZ", 403, "forbidden"},
		{"one_allowed", narrow, "/api/quotes/aapl", 200, `"symbol":"AAPL"`},
		{"history_forbidden", narrow, "/api/quotes/NVDA/history", 403, "forbidden"},
		{"history_allowed", narrow, "/api/quotes/MSFT/history", 200, `"history"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := do(t, http.MethodGet, srv.URL+tc.path, http.Header{"Authorization": {"Bearer " + tc.token}})
			body := string(raw)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
				t.Errorf("GET %s = %d %s, want %d with %s", tc.path, resp.StatusCode, body, tc.status, tc.body)
			}
			if tc.name == "list_filtered" && strings.Contains(body, "NVDA") {
				t.Errorf("GET %s with a token for AAPL and M* = %s, shows NVDA", tc.path, body)
			}
		})
	}
}
