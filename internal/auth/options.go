package auth

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for zero Options fields.
const (
	defaultLeeway         = 5 * time.Second
	defaultReloadInterval = 5 * time.Second
)

// Options configures an [Authenticator]. A nil *Options, or one with no key
// file at all, means auth is off: [Authenticator.Middleware] lets every
// request through and [Authenticator.Enabled] reports false. New reads the
// Options and never keeps or modifies them.
type Options struct {
	// JWT configures JSON Web Token verification; zero means no JWTs.
	JWT JWTOptions
	// APIKeysFile names a file of API keys, one per line: the key itself,
	// or "sha256:" and the 64 hex digits of its SHA-256, so that the file
	// holds no secret. Blank lines and lines starting with '#' are skipped;
	// surrounding white space is ignored. A plain key is at least 16 bytes
	// of printable ASCII without spaces. At most 10000 keys. Reloaded when
	// the file changes. Empty means no API keys.
	APIKeysFile string
	// PublicPaths are URL paths served without a token, such as "/healthz".
	// A path ending in "/*" covers everything below it ("/static/*" covers
	// "/static/app.js"); any other path must match exactly. A request path
	// that is not clean ("/static/../ws", "//ws") is never public. Nil means
	// none.
	PublicPaths []string
	// ReloadInterval is how often [Authenticator.Run] checks JWKSFile and
	// APIKeysFile for changes. Zero means 5s.
	ReloadInterval time.Duration
	// Logger receives the reason for every rejected token at Info (never
	// the token or its subject), requests without a token at Debug, each
	// reload at Info and failed reloads at Error. Nil means slog.Default().
	Logger *slog.Logger
	// Registerer is where the metrics are registered: verifications by
	// result (tickerd_auth_verifications_total{result="ok|invalid|expired"})
	// and the number of distinct JWT subjects verified
	// (tickerd_auth_subjects; never a subject itself). Nil means no
	// metrics.
	Registerer prometheus.Registerer
}

// JWTOptions configures JWT verification. Any combination of the three key
// files may be set; a token's alg selects among them: HS256/384/512 use the
// HMAC secret, every other algorithm the public key or the JWKS keys whose
// type (and alg, when the JWK names one) fit it.
type JWTOptions struct {
	// HMACSecretFile names a file holding the shared secret for HS256,
	// HS384 and HS512, at least 32 bytes; trailing CR and LF are dropped.
	HMACSecretFile string
	// PublicKeyFile names a PEM file with one public key ("PUBLIC KEY",
	// "RSA PUBLIC KEY" or "CERTIFICATE"): RSA of at least 2048 bits for
	// RS256/384/512 and PS256/384/512, ECDSA P-256, P-384 or P-521 for
	// ES256, ES384 or ES512 respectively, or Ed25519 for EdDSA.
	PublicKeyFile string
	// JWKSFile names a JWK Set document (RFC 7517) of public keys, reloaded
	// when it changes. A token whose kid names one of its keys is checked
	// against that key only; a token without a kid against every key that
	// fits its alg; a token whose kid is unknown only against the PEM
	// public key, if any. Keys of other types (such as "oct"), curves or
	// uses are skipped; at most 64 usable keys.
	JWKSFile string
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audience, when set, must be one of the token's aud.
	Audience string
	// Leeway is the clock skew forgiven when checking exp, nbf and iat.
	// Zero means 5s; a negative value means none.
	Leeway time.Duration
}

// enabled reports whether any JWT key file is set.
func (o *JWTOptions) enabled() bool {
	return o.HMACSecretFile != "" || o.PublicKeyFile != "" || o.JWKSFile != ""
}

// leeway returns the effective leeway.
func (o *JWTOptions) leeway() time.Duration {
	switch {
	case o.Leeway == 0:
		return defaultLeeway
	case o.Leeway < 0:
		return 0
	}
	return o.Leeway
}
