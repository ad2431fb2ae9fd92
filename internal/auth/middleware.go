package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
)

// The only two things a rejected client is told.
var (
	bodyInvalid = []byte(`{"error":"invalid token"}` + "\n")
	bodyExpired = []byte(`{"error":"token expired"}` + "\n")
)

// Middleware returns next behind token checks, for chi's Use or any
// net/http handler chain. Requests for a public path go straight to next.
// Others need a valid token in "Authorization: Bearer <token>" or, failing
// that, in the query as ?token=<token> (browsers cannot set headers on a
// websocket); next then finds the Principal with FromContext, and a token
// from the query is removed from the request's URL and RequestURI, so that
// handlers and their logs never see it. A request without a valid token
// gets 401 with WWW-Authenticate: Bearer and {"error":"invalid token"} or
// {"error":"token expired"}; why it was rejected goes to Options.Logger,
// without the token. When auth is off, Middleware returns next itself.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	if !a.enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.public.match(r) {
			next.ServeHTTP(w, r)
			return
		}
		token, from := tokenFrom(r)
		if token == "" {
			a.logger.Debug("auth: request without a token", "path", r.URL.Path, "remote", r.RemoteAddr)
			reject(w, ErrInvalidToken)
			return
		}
		p, err := a.Verify(token)
		if err != nil {
			a.logger.Info("auth: token rejected", "path", r.URL.Path, "remote", r.RemoteAddr, "from", from, "err", err)
			reject(w, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), contextKey{}, p))
		if r.URL.Query().Has("token") {
			u := *r.URL // WithContext shares the URL with the caller's request
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			r.URL = &u
			r.RequestURI = u.RequestURI()
		}
		next.ServeHTTP(w, r)
	})
}

// tokenFrom returns the request's token and where it came from: a Bearer
// Authorization header (scheme case-insensitive), else the token query
// parameter. Another Authorization scheme is not a token.
func tokenFrom(r *http.Request) (token, from string) {
	if scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if t := strings.TrimSpace(rest); t != "" {
			return t, "header"
		}
	}
	if t := r.URL.Query().Get("token"); t != "" {
		return t, "query"
	}
	return "", ""
}

// reject answers 401 with the client's share of err.
func reject(w http.ResponseWriter, err error) {
	body := bodyInvalid
	if errors.Is(err, ErrTokenExpired) {
		body = bodyExpired
	}
	h := w.Header()
	h.Set("WWW-Authenticate", "Bearer")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write(body) // the client may be gone; nothing to do about it
}

// publicPaths are the paths served without a token: exact paths, and
// prefixes from entries ending in "/*". Not modified after New.
type publicPaths struct {
	exact    map[string]bool
	prefixes []string // each ends in "/"
}

// parsePublicPaths checks Options.PublicPaths.
func parsePublicPaths(list []string) (publicPaths, error) {
	pp := publicPaths{exact: make(map[string]bool)}
	for i, p := range list {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if !strings.HasSuffix(prefix, "/") || !cleanPath(prefix) {
				return pp, fmt.Errorf("%w: public_paths[%d] %q: want a clean path starting with '/', ending in \"/*\" for a subtree", ErrOptions, i, p)
			}
			pp.prefixes = append(pp.prefixes, prefix)
			continue
		}
		if !cleanPath(p) {
			return pp, fmt.Errorf("%w: public_paths[%d] %q: want a clean path starting with '/', ending in \"/*\" for a subtree", ErrOptions, i, p)
		}
		pp.exact[p] = true
	}
	return pp, nil
}

// match reports whether r is for a public path. Paths that are not clean,
// or that needed escaping the standard way does not produce (RawPath set),
// are never public, so that no spelling of a protected path can pass as
// a public one whatever the router makes of it.
func (pp *publicPaths) match(r *http.Request) bool {
	p := r.URL.Path
	if r.URL.RawPath != "" || !cleanPath(p) {
		return false
	}
	if pp.exact[p] {
		return true
	}
	for _, prefix := range pp.prefixes {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// cleanPath reports whether p starts with '/' and path.Clean leaves it
// alone, but for one trailing slash.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	return c == p || c+"/" == p
}
