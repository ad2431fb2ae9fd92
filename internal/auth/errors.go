package auth

import "errors"

// Sentinel errors. Test with [errors.Is]; the messages of wrapping errors add
// detail meant for logs, never for clients.
var (
	// ErrInvalidToken reports a token that is missing, malformed, unknown,
	// badly signed, signed with an algorithm the configured keys do not
	// allow, not yet valid, or for the wrong issuer or audience.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrTokenExpired reports a correctly signed token whose exp (plus the
	// leeway) has passed and which has nothing else wrong with it.
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrKeyFile reports a key file (HMAC secret, public key, JWKS or API
	// keys) that cannot be read or does not parse; the message names the
	// file and, where there is one, the line.
	ErrKeyFile = errors.New("auth: bad key file")
	// ErrOptions reports Options that contradict themselves, such as an
	// issuer with no JWT key to check it with.
	ErrOptions = errors.New("auth: invalid options")
)
