package auth_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/tickerd/tickerd/internal/auth"
)

// An API keys file, the middleware in front of a handler, and Verify for
// a token that arrives in a websocket message.
func Example() {
	dir, err := os.MkdirTemp("", "auth-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	keys := filepath.Join(dir, "api-keys")
	// The second key is "dashboard-key-0123456789", stored as its SHA-256.
	file := "# tickerd clients\nload-test-key-0123456789\nsha256:8d2344bdf78f98b308a29e4ee7a3c7946ce50d037b3efd298786c50f63402c7b\n"
	if err := os.WriteFile(keys, []byte(file), 0o600); err != nil {
		panic(err)
	}
	a, err := auth.New(&auth.Options{APIKeysFile: keys, PublicPaths: []string{"/healthz"}})
	if err != nil {
		panic(err)
	}
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		fmt.Fprintf(w, "principal %v, expires %v", ok, !p.Expiry().IsZero())
	}))
	for _, req := range []struct{ target, authorization string }{
		{"/healthz", ""},
		{"/api/quotes", ""},
		{"/api/quotes?token=load-test-key-0123456789", ""},
		{"/api/quotes", "Bearer dashboard-key-0123456789"},
	} {
		r := httptest.NewRequest("GET", req.target, nil)
		if req.authorization != "" {
			r.Header.Set("Authorization", req.authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(req.target, w.Code, strings.TrimSpace(w.Body.String()))
	}
	_, err = a.Verify("no-such-key")
	fmt.Println(errors.Is(err, auth.ErrInvalidToken))
	// Output:
	// /healthz 200 principal false, expires false
	// /api/quotes 401 {"error":"invalid token"}
	// /api/quotes?token=load-test-key-0123456789 200 principal true, expires false
	// /api/quotes 200 principal true, expires false
	// true
}
