package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxTokenLen bounds the tokens Verify looks at, so that a stranger's
// token costs a bounded amount of decoding.
const maxTokenLen = 8 << 10

// Authenticator checks tokens: API keys from a file, and JWTs signed with
// an HMAC secret, a PEM public key or the keys of a JWKS file.
//
// Verify and Middleware are safe to use from any goroutine, and never block
// on I/O: the key files are read by New, Reload and Run. Reload swaps the
// JWKS and API keys atomically, so a request sees either the old keys or
// the new ones. An Authenticator starts no goroutine of its own; the caller
// runs Run, if it wants reloads, and stops it with Run's context.
type Authenticator struct {
	enabled bool // any key file configured
	logger  *slog.Logger
	public  publicPaths
	m       *metrics // nil without Options.Registerer
	// interval is how often Run polls the watched files.
	interval time.Duration
	// jwt checks JWTs; nil when no JWT key file is configured.
	jwt *jwtVerifier
	// apiKeys holds the API keys file's keys; nil when there is no such
	// file. Swapped as a whole by Reload.
	apiKeys atomic.Pointer[apiKeySet]

	// reloadMu serialises Reload, and guards what it reads and writes.
	reloadMu sync.Mutex
	// watched are the JWKS and API keys files; owned by Reload.
	watched []*watchedFile
}

// New reads the key files of o and returns an Authenticator for them. A
// nil o, or one with no key file, gives an Authenticator that is off (see
// Options). Errors about a file wrap ErrKeyFile and name the file (and the
// line, for the API keys file); errors about o itself wrap ErrOptions.
func New(o *Options) (*Authenticator, error) {
	a := &Authenticator{logger: slog.Default(), interval: defaultReloadInterval}
	if o == nil {
		return a, nil
	}
	if o.Logger != nil {
		a.logger = o.Logger
	}
	a.m = newMetrics(o.Registerer)
	switch {
	case o.ReloadInterval < 0:
		return nil, fmt.Errorf("%w: negative reload interval %v", ErrOptions, o.ReloadInterval)
	case o.ReloadInterval > 0:
		a.interval = o.ReloadInterval
	}
	var err error
	if a.public, err = parsePublicPaths(o.PublicPaths); err != nil {
		return nil, err
	}
	if !o.JWT.enabled() && (o.JWT.Issuer != "" || o.JWT.Audience != "") {
		return nil, fmt.Errorf("%w: JWT issuer or audience set, but no JWT key file", ErrOptions)
	}
	if o.JWT.enabled() {
		if a.jwt, err = a.loadJWT(&o.JWT); err != nil {
			return nil, err
		}
	}
	if o.APIKeysFile != "" {
		name := o.APIKeysFile
		w := &watchedFile{name: name, install: func(data []byte) (string, error) {
			set, err := parseAPIKeys(name, data)
			if err != nil {
				return "", err
			}
			a.apiKeys.Store(set)
			return fmt.Sprintf("%d API keys", len(set.sums)), nil
		}}
		if _, _, err := w.poll(); err != nil {
			return nil, err
		}
		a.watched = append(a.watched, w)
	}
	a.enabled = a.jwt != nil || o.APIKeysFile != ""
	return a, nil
}

// loadJWT reads the JWT key files of o.
func (a *Authenticator) loadJWT(o *JWTOptions) (*jwtVerifier, error) {
	var secret []byte
	if o.HMACSecretFile != "" {
		data, err := readKeyFile(o.HMACSecretFile)
		if err != nil {
			return nil, err
		}
		if secret, err = parseHMACSecret(o.HMACSecretFile, data); err != nil {
			return nil, err
		}
	}
	var pub *verifyKey
	if o.PublicKeyFile != "" {
		data, err := readKeyFile(o.PublicKeyFile)
		if err != nil {
			return nil, err
		}
		if pub, err = parsePublicKeyPEM(o.PublicKeyFile, data); err != nil {
			return nil, err
		}
	}
	if o.JWKSFile == "" {
		return newJWTVerifier(o, secret, pub, nil), nil
	}
	var v *jwtVerifier
	name := o.JWKSFile
	w := &watchedFile{name: name, install: func(data []byte) (string, error) {
		set, err := parseJWKS(name, data)
		if err != nil {
			return "", err
		}
		if v == nil { // the first load, by New
			v = newJWTVerifier(o, secret, pub, set)
		} else {
			v.jwks.Store(set)
		}
		return fmt.Sprintf("%d JWKS keys, %d skipped", len(set.keys), set.skipped), nil
	}}
	if _, _, err := w.poll(); err != nil {
		return nil, err
	}
	a.watched = append(a.watched, w)
	return v, nil
}

// Enabled reports whether auth is on: some key file is configured.
func (a *Authenticator) Enabled() bool { return a.enabled }

// Verify checks a token, from a header, a query or a websocket's auth
// message, and returns its grant. A token that is one of the API keys is
// an API key; anything else must be a valid JWT. Errors wrap
// ErrTokenExpired or ErrInvalidToken; their messages say why, for the log,
// and never contain the token. When auth is off every token is invalid.
// Each call is counted in the metrics (Options.Registerer) by its result,
// and a JWT's subject in the count of distinct subjects.
func (a *Authenticator) Verify(token string) (*Principal, error) {
	p, err := a.verify(token)
	a.m.verified(p, err)
	return p, err
}

// verify is Verify, uncounted.
func (a *Authenticator) verify(token string) (*Principal, error) {
	switch {
	case !a.enabled:
		return nil, fmt.Errorf("%w: auth is off", ErrInvalidToken)
	case token == "":
		return nil, fmt.Errorf("%w: no token", ErrInvalidToken)
	case len(token) > maxTokenLen:
		return nil, fmt.Errorf("%w: token of %d bytes, want at most %d", ErrInvalidToken, len(token), maxTokenLen)
	}
	if keys := a.apiKeys.Load(); keys != nil && keys.match(token) {
		return apiKeyPrincipal(), nil
	}
	switch {
	case a.jwt == nil:
		return nil, fmt.Errorf("%w: not a known API key", ErrInvalidToken)
	case strings.Count(token, ".") != 2:
		return nil, fmt.Errorf("%w: neither a known API key nor a JWT", ErrInvalidToken)
	}
	return a.jwt.verify(token)
}

// Reload reads the JWKS and API keys files now and installs those whose
// content changed since they were last read. A file that cannot be read or
// does not parse leaves its keys as they were; Reload returns its error
// (wrapping ErrKeyFile) once per change of the file, not at every call.
// Each install is logged. Reload is safe to call from any goroutine, for
// example on SIGHUP; Run calls it on a ticker.
func (a *Authenticator) Reload() error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	var errs []error
	for _, w := range a.watched {
		changed, desc, err := w.poll()
		switch {
		case !changed:
		case err != nil:
			errs = append(errs, err)
		default:
			a.logger.Info("auth: reloaded key file", "file", w.name, "loaded", desc)
		}
	}
	return errors.Join(errs...)
}

// Run calls Reload every Options.ReloadInterval until ctx ends, logging
// its errors (the previous keys stay in use), then returns nil. With no
// file to watch it just waits for ctx. It starts no goroutine.
//
//	go func() { done <- a.Run(ctx) }() // returns once ctx has ended
func (a *Authenticator) Run(ctx context.Context) error {
	if len(a.watched) == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(a.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := a.Reload(); err != nil {
				a.logger.Error("auth: reload failed, keeping the previous keys", "err", err)
			}
		}
	}
}
