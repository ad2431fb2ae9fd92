package auth

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"time"
)

// Principal is what a verified token grants: which symbols, how many, and
// until when. A Principal is immutable and safe to use from any goroutine.
//
// The methods of a nil *Principal describe an unrestricted grant that never
// expires, which is what a request has when auth is off (FromContext
// reports false then); callers that must tell the two apart use the ok of
// FromContext.
//
// A Principal keeps the token's sub but never shows it: String, GoString
// and LogValue say only whether there is one, so that logging a Principal
// cannot leak who the client is.
type Principal struct {
	subject    string    // the JWT's sub; "" for API keys and tokens without one
	patterns   []string  // upper-cased path.Match patterns; nil means every symbol
	maxSymbols int       // 0 means no limit of the token's own
	dynamic    bool      // may cause new symbols to be collected
	expiry     time.Time // exp plus leeway; zero for API keys
	apiKey     bool      // authenticated by API key rather than JWT
}

// apiKeyPrincipal is the grant of every API key: everything, forever.
func apiKeyPrincipal() *Principal { return &Principal{dynamic: true, apiKey: true} }

// Allows reports whether the grant covers sym: the token had no symbols
// claim, or one of its patterns matches sym as path.Match does ("BTC-*",
// "AAPL", "[A-C]*"). Matching ignores ASCII case, as tickerd's symbols do.
func (p *Principal) Allows(sym string) bool {
	if p == nil || p.patterns == nil {
		return true
	}
	sym = upperASCII(sym)
	for _, pat := range p.patterns {
		if ok, _ := path.Match(pat, sym); ok { // patterns were checked by Verify
			return true
		}
	}
	return false
}

// MaxSymbols returns the token's max_symbols claim: how many symbols the
// client may subscribe to at once. Zero means the token sets no limit of
// its own (the server's limits still apply).
func (p *Principal) MaxSymbols() int {
	if p == nil {
		return 0
	}
	return p.maxSymbols
}

// Dynamic reports whether the client may cause symbols that are not yet
// collected to be collected (when the server allows dynamic symbols at
// all): the token's dynamic claim, true when the claim is absent, and true
// for API keys.
func (p *Principal) Dynamic() bool { return p == nil || p.dynamic }

// Expiry returns the instant the grant ends: the token's exp plus the
// configured leeway, which is the first instant at which Verify rejects the
// same token with ErrTokenExpired. It is the zero time for API keys, which
// do not expire (they end when removed from the file).
func (p *Principal) Expiry() time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.expiry
}

// HasSubject reports whether the token had a non-empty sub claim. The
// subject itself is not exposed.
func (p *Principal) HasSubject() bool { return p != nil && p.subject != "" }

// String describes the grant without the subject, for logs and %v.
func (p *Principal) String() string {
	if p == nil {
		return "auth.Principal(none)"
	}
	kind := "jwt"
	if p.apiKey {
		kind = "api key"
	}
	symbols := "all"
	if p.patterns != nil {
		symbols = fmt.Sprint(len(p.patterns), " patterns")
	}
	expiry := "never"
	if !p.expiry.IsZero() {
		expiry = p.expiry.Format(time.RFC3339)
	}
	return fmt.Sprintf("auth.Principal(%s, subject=%t, symbols=%s, max_symbols=%d, dynamic=%t, expiry=%s)",
		kind, p.subject != "", symbols, p.maxSymbols, p.dynamic, expiry)
}

// GoString is String, so that %#v does not print the subject either.
func (p *Principal) GoString() string { return p.String() }

// LogValue implements slog.LogValuer without the subject.
func (p *Principal) LogValue() slog.Value {
	if p == nil {
		return slog.StringValue("none")
	}
	attrs := []slog.Attr{
		slog.Bool("api_key", p.apiKey),
		slog.Bool("has_subject", p.subject != ""),
		slog.Bool("dynamic", p.dynamic),
	}
	if p.patterns != nil {
		attrs = append(attrs, slog.Int("symbol_patterns", len(p.patterns)))
	}
	if p.maxSymbols != 0 {
		attrs = append(attrs, slog.Int("max_symbols", p.maxSymbols))
	}
	if !p.expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", p.expiry))
	}
	return slog.GroupValue(attrs...)
}

// contextKey is the context key of the request's Principal.
type contextKey struct{}

// FromContext returns the Principal that Middleware put in a request's
// context, and false when there is none: auth is off, or the path is
// public.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(contextKey{}).(*Principal)
	return p, ok
}

// upperASCII upper-cases ASCII letters only, so that no other letter can
// turn into one ('ſ' stays 'ſ').
func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
