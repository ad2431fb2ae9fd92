package service

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/cors"

	"github.com/tickerd/tickerd/internal/auth"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/fanout"
)

// adminPaths are the paths that move to the admin listener when there is
// one: the main listener answers 404 for them.
func adminPath(p string) bool {
	return p == "/metrics" || p == "/healthz" || p == "/readyz" || p == "/debug" || strings.HasPrefix(p, "/debug/")
}

// dashboardPath reports whether p is for one of the dashboard's static
// files, which are public (its data, under /api, and the websocket are
// not): "/" and the clean one-segment paths that are no route of the
// service's own. Those the dashboard does not have are 404 to anyone.
func dashboardPath(p string) bool {
	if p == "/" {
		return true
	}
	name, ok := strings.CutPrefix(p, "/")
	if !ok || name == "" || strings.Contains(name, "/") || path.Clean(p) != p {
		return false
	}
	switch name {
	case "api", "ws", "metrics", "healthz", "readyz", "debug":
		return false
	}
	return true
}

// hasToken reports whether r carries a token the way auth.Middleware takes
// one: a Bearer Authorization header or a token query parameter.
func hasToken(r *http.Request) bool {
	if scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(rest) != "" {
		return true
	}
	return r.URL.Query().Get("token") != ""
}

// accessOptions say who may reach what on the main listener.
type accessOptions struct {
	auth           *auth.Authenticator // off when no key file is configured
	adminSplit     bool                // adminPath paths are on the admin listener
	wsFirstMessage bool                // auth.ws_first_message: the hub authenticates an upgrade without a token by its first message
	allowedOrigins []string            // websocket.allowed_origins, for CORS on /api
}

// guard returns next behind the main listener's access rules, in this
// order: CORS for /api (a preflight is answered here, before any token is
// asked: browsers send none with it); 404 for the admin paths when they
// are on their own listener; the dashboard's files as they are; a
// websocket upgrade without a token passed to the hub when it is to
// authenticate by the first message; everything else behind
// auth.Middleware, which lets auth.public_paths through and answers 401
// without a valid token (a websocket upgrade too, before it is upgraded).
//
// The result is still the router's chi.Routes, so that its routes can be
// walked.
func guard(next chi.Router, o accessOptions) http.Handler {
	protected := o.auth.Middleware(next)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		clean := r.URL.RawPath == "" && path.Clean(p) == p
		switch {
		case o.adminSplit && adminPath(path.Clean("/"+p)):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"not found"}` + "\n")) // the client may be gone
		case clean && dashboardPath(p):
			next.ServeHTTP(w, r)
		case clean && p == "/ws" && o.wsFirstMessage && o.auth.Enabled() && !hasToken(r):
			next.ServeHTTP(w, r)
		default:
			protected.ServeHTTP(w, r)
		}
	})
	c := cors.New(cors.Options{
		AllowOriginFunc: func(_ *http.Request, origin string) bool { return originAllowed(o.allowedOrigins, origin) },
		AllowedMethods:  []string{http.MethodGet, http.MethodHead},
		AllowedHeaders:  []string{"Authorization"},
		ExposedHeaders:  []string{"ETag", "X-Request-Id"},
		MaxAge:          600,
	}).Handler(h)
	return guarded{routes: next, h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; (p == "/api" || strings.HasPrefix(p, "/api/")) && len(o.allowedOrigins) > 0 {
			c.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})}
}

// guarded is a router behind guard: it serves through h and describes
// the router's routes.
type guarded struct {
	routes chi.Routes
	h      http.Handler
}

func (g guarded) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.h.ServeHTTP(w, r) }

// Routes, Middlewares, Match and Find are the router's, for chi.Walk.
func (g guarded) Routes() []chi.Route          { return g.routes.Routes() }
func (g guarded) Middlewares() chi.Middlewares { return g.routes.Middlewares() }
func (g guarded) Match(c *chi.Context, method, path string) bool {
	return g.routes.Match(c, method, path)
}
func (g guarded) Find(c *chi.Context, method, path string) string {
	return g.routes.Find(c, method, path)
}

// originAllowed matches origin against websocket.allowed_origins as the
// websocket hub does (coder/websocket's OriginPatterns): path.Match
// patterns, ASCII case ignored, of the origin's host, or of scheme://host
// for patterns containing "://".
func originAllowed(patterns []string, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	for _, pat := range patterns {
		target := u.Host
		if strings.Contains(pat, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// exposed reports whether addr, the main listener's, is reachable from
// other hosts: anything but a loopback IP (the unspecified address, ":8080",
// listens on every interface).
func exposed(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return false // a unix socket or a test's pipe: local
	}
	return !tcp.IP.IsLoopback()
}

// newAccess sets up what guards the service: the authenticator, the
// main listener's certificate and the admin listener, from cfg. On error
// it holds nothing.
func (s *Service) newAccess(cfg *config.Config) error {
	o := cfg.Auth.AuthOptions()
	o.Logger, o.ReloadInterval, o.Registerer = s.log, s.reloadEvery, s.reg
	a, err := auth.New(o)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	s.auth = a
	if cfg.TLS.Enabled() {
		if s.cert, err = newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, s.log); err != nil {
			return err
		}
	}
	if cfg.AdminListen != "" {
		if s.adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			return fmt.Errorf("listen admin: %w", err)
		}
	}
	return nil
}

// reloadFiles reads the auth key files and the certificate again, now,
// and installs what changed (Reload's part on SIGHUP; Run also polls).
func (s *Service) reloadFiles() {
	if err := s.auth.Reload(); err != nil {
		s.log.Error("auth: reload failed, keeping the previous keys", "err", err)
	}
	if s.cert != nil {
		s.cert.reloadAndLog()
	}
}

// AdminAddr returns the admin listener's address (admin_listen, its port
// chosen when it was 0), or nil when there is none.
func (s *Service) AdminAddr() net.Addr {
	if s.adminLn == nil {
		return nil
	}
	return s.adminLn.Addr()
}

// closeAdmin closes the admin listener, once.
func (s *Service) closeAdmin() {
	if s.adminLn != nil {
		s.adminOnce.Do(func() { s.adminLn.Close() })
	}
}

// tokenGrant is the fan-out's Grant for a websocket upgrade: the
// Principal auth.Middleware verified, nil (everything) without auth or
// for an API key's grant.
func tokenGrant(r *http.Request) fanout.Grant {
	if p, ok := auth.FromContext(r.Context()); ok && p != nil {
		return p
	}
	return nil
}

// authFirst is the fan-out's AuthFirst with auth.ws_first_message on: an
// upgrade that auth.Middleware did not verify (guard let it through
// without a token) must authenticate by its first message. Failing
// closed, that is any upgrade without a Principal.
func authFirst(r *http.Request) bool {
	_, ok := auth.FromContext(r.Context())
	return !ok
}

// verifyToken is the fan-out's Verify, for an auth op: nil (the op
// refused as invalid) without auth, an error wrapping
// fanout.ErrTokenExpired for an expired token.
func (s *Service) verifyToken(token string) (fanout.Grant, error) {
	if !s.auth.Enabled() {
		return nil, errors.New("auth is off")
	}
	p, err := s.auth.Verify(token)
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %w", fanout.ErrTokenExpired, err)
	case err != nil:
		return nil, err
	}
	return p, nil
}
