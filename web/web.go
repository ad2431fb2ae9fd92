// Package web is tickerd's dashboard: static HTML, CSS and JavaScript,
// embedded in the binary, with no build step and nothing loaded from
// elsewhere. The page talks to the websocket API at /ws through
// tickerd-client.js, an ES module documented for reuse (batch frames,
// resume with "since", reconnect with backoff); it reads the known symbols
// (for suggestions) from /api/quotes and each symbol's history (for its
// sparkline and its chart, an SVG it draws itself) from
// /api/quotes/{symbol}/history.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
)

//go:embed static
var static embed.FS

// contentTypes are the types of the files served, set explicitly so they
// do not depend on the system's MIME tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// aliases are paths served with another file's content: browsers ask for
// /favicon.ico unless the page names its icon.
var aliases = map[string]string{"/favicon.ico": "/favicon.svg"}

// csp allows the page its own files and the websocket, nothing else.
const csp = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the handler of the dashboard's files, to be mounted at
// "/": index.html at "/", app.js, tickerd-client.js, style.css and
// favicon.svg beside it, and the same icon at /favicon.ico; anything else
// is 404. Responses carry a strong ETag (a hash of the file) and must be
// revalidated, so a new build is picked up at once. The handler is safe
// for concurrent use.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil { // cannot happen: "static" is a valid path
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "web: "+err.Error(), http.StatusInternalServerError)
		})
	}
	etags := make(map[string]string)
	_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags["/"+p] = `"` + hex.EncodeToString(sum[:12]) + `"`
		return nil
	})
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path
		if name == "/" {
			name = "/index.html"
		}
		if to, ok := aliases[name]; ok {
			name = to
			r2 := *r
			u := *r.URL
			u.Path, u.RawPath = to, ""
			r2.URL = &u
			r = &r2
		}
		etag, ok := etags[name]
		if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			if ok {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
				return
			}
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentTypes[path.Ext(name)])
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if name == "/index.html" {
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "no-referrer")
		}
		files.ServeHTTP(w, r)
	})
}
