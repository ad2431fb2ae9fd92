package auth

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxPatterns bounds the symbols claim, so that Allows stays cheap.
const maxPatterns = 256

// hmacAlgs are the algorithms of the HMAC secret.
var hmacAlgs = []string{"HS256", "HS384", "HS512"}

// jwtVerifier checks JWTs. Its fields are set by newJWTVerifier and not
// modified after, except jwks, which Reload swaps; it is safe to use from
// any goroutine.
type jwtVerifier struct {
	parser *jwt.Parser
	leeway time.Duration
	secret []byte     // HMAC secret; nil when none
	pub    *verifyKey // the PEM public key; nil when none
	// jwks holds the JWKS file's keys; nil when there is no JWKS file.
	// Swapped as a whole by Reload.
	jwks atomic.Pointer[jwkSet]
}

// tokenClaims are the claims tickerd reads. The pointers tell an absent
// claim from a zero one.
type tokenClaims struct {
	jwt.RegisteredClaims
	Symbols    *[]string `json:"symbols"`
	MaxSymbols *int      `json:"max_symbols"`
	Dynamic    *bool     `json:"dynamic"`
}

// newJWTVerifier makes a verifier for the keys given; jwks may be nil.
func newJWTVerifier(o *JWTOptions, secret []byte, pub *verifyKey, jwks *jwkSet) *jwtVerifier {
	var methods []string
	if secret != nil {
		methods = append(methods, hmacAlgs...)
	}
	switch {
	case jwks != nil:
		// Reloads may bring any type of key; the key function checks each.
		methods = append(methods, asymmetricAlgs...)
	case pub != nil:
		methods = append(methods, pub.algs...)
	}
	leeway := o.leeway()
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods), // never "none", never an alg no key has
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithStrictDecoding(),
	}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	v := &jwtVerifier{parser: jwt.NewParser(opts...), leeway: leeway, secret: secret, pub: pub}
	v.jwks.Store(jwks)
	return v
}

// verify checks a JWT and returns its grant. Its errors wrap
// ErrTokenExpired or ErrInvalidToken, and the jwt/v5 error with the detail.
func (v *jwtVerifier) verify(token string) (*Principal, error) {
	var c tokenClaims
	if _, err := v.parser.ParseWithClaims(token, &c, v.key); err != nil {
		// jwt/v5 checks the signature before the claims, so "expired" is
		// only ever said of a token we issued.
		if expiredOnly(err) {
			return nil, fmt.Errorf("%w: %w", ErrTokenExpired, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	p := &Principal{dynamic: true}
	p.subject = c.Subject
	p.expiry = c.ExpiresAt.Add(v.leeway) // WithExpirationRequired: never nil here
	if c.Symbols != nil {
		if len(*c.Symbols) > maxPatterns {
			return nil, fmt.Errorf("%w: symbols claim has %d patterns, want at most %d", ErrInvalidToken, len(*c.Symbols), maxPatterns)
		}
		p.patterns = make([]string, 0, len(*c.Symbols))
		for i, pat := range *c.Symbols {
			pat = upperASCII(pat)
			if _, err := path.Match(pat, ""); err != nil {
				return nil, fmt.Errorf("%w: symbols claim [%d]: %w", ErrInvalidToken, i, err)
			}
			p.patterns = append(p.patterns, pat)
		}
	}
	if c.MaxSymbols != nil {
		if *c.MaxSymbols < 0 {
			return nil, fmt.Errorf("%w: max_symbols claim is negative", ErrInvalidToken)
		}
		p.maxSymbols = *c.MaxSymbols
	}
	if c.Dynamic != nil {
		p.dynamic = *c.Dynamic
	}
	return p, nil
}

// expiredOnly reports whether err says the token expired and nothing else
// about its claims, so that a client is told "expired" only when a fresh
// token of the same kind would do.
func expiredOnly(err error) bool {
	if !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidIssuer,
		jwt.ErrTokenInvalidAudience, jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidSubject,
		jwt.ErrTokenInvalidId, jwt.ErrTokenMalformed,
	} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}

// key is the jwt.Keyfunc: it picks the keys that may verify t, by alg and
// kid, and never takes a key from the token itself (jwk, jku, x5u, x5c).
func (v *jwtVerifier) key(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("token has a crit header, and tickerd understands no extensions")
	}
	alg := t.Method.Alg()
	if slices.Contains(hmacAlgs, alg) {
		if v.secret == nil {
			return nil, fmt.Errorf("alg %s needs an HMAC secret, and none is configured", alg)
		}
		return v.secret, nil
	}
	var kid string
	if raw, ok := t.Header["kid"]; ok {
		if kid, ok = raw.(string); !ok {
			return nil, errors.New("kid header is not a string")
		}
	}
	set := v.jwks.Load()
	if k := set.kid(kid); k != nil {
		// The kid names one key: that key or none.
		if !k.allows(alg) {
			return nil, fmt.Errorf("the key with the token's kid does not allow alg %s", alg)
		}
		return k.key, nil
	}
	var keys []jwt.VerificationKey
	if set != nil && kid == "" {
		for _, k := range set.keys {
			if k.allows(alg) {
				keys = append(keys, k.key)
			}
		}
	}
	if v.pub != nil && v.pub.allows(alg) {
		keys = append(keys, v.pub.key) // with or without a kid: a PEM key has none
	}
	switch len(keys) {
	case 0:
		if kid != "" {
			return nil, fmt.Errorf("no key with the token's kid, and no public key for alg %s", alg)
		}
		return nil, fmt.Errorf("no key for alg %s", alg)
	case 1:
		return keys[0], nil
	}
	return jwt.VerificationKeySet{Keys: keys}, nil
}
