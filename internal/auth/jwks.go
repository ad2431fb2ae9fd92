package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// maxJWKSKeys bounds the usable keys of a JWKS file: a token without a kid
// is tried against each key that fits its alg.
const maxJWKSKeys = 64

// jwkSet is a parsed JWKS file. It is not modified after parseJWKS returns
// it and may be read from any goroutine.
type jwkSet struct {
	keys    []*verifyKey          // usable keys, in file order
	byKid   map[string]*verifyKey // the keys that have a kid
	skipped int                   // keys left out: other kty, crv, use or alg
}

// jwk is the part of a JSON Web Key (RFC 7517, 7518, 8037) tickerd reads.
// Private members ("d" and friends) are ignored.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

// errSkip marks a key tickerd does not use for verifying signatures; it is
// counted, not reported.
var errSkip = errors.New("skipped")

// parseJWKS parses a JWK Set document (see JWTOptions.JWKSFile). Its
// errors wrap ErrKeyFile and name the file, and the line (for JSON syntax)
// or the key's index and kid.
func parseJWKS(name string, data []byte) (*jwkSet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s%s: %w", ErrKeyFile, name, jsonErrorLine(data, err), err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("%w: %s: not a JWK Set: no \"keys\" array", ErrKeyFile, name)
	}
	set := &jwkSet{byKid: make(map[string]*verifyKey)}
	for i, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("%w: %s: keys[%d]: %w", ErrKeyFile, name, i, err)
		}
		vk, err := k.verifyKey()
		if errors.Is(err, errSkip) {
			set.skipped++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: keys[%d]%s: %w", ErrKeyFile, name, i, kidNote(k.Kid), err)
		}
		if vk.kid != "" {
			if _, dup := set.byKid[vk.kid]; dup {
				return nil, fmt.Errorf("%w: %s: keys[%d]%s: kid used by an earlier key", ErrKeyFile, name, i, kidNote(k.Kid))
			}
			set.byKid[vk.kid] = vk
		}
		if len(set.keys) == maxJWKSKeys {
			return nil, fmt.Errorf("%w: %s: more than %d usable keys", ErrKeyFile, name, maxJWKSKeys)
		}
		set.keys = append(set.keys, vk)
	}
	if len(set.keys) == 0 {
		return nil, fmt.Errorf("%w: %s: no usable keys (%d skipped: tickerd verifies with RSA, EC P-256/384/521 and Ed25519 signing keys)", ErrKeyFile, name, set.skipped)
	}
	return set, nil
}

// kid returns the key with the given kid, or nil when s is nil, kid is
// empty or no key has it.
func (s *jwkSet) kid(kid string) *verifyKey {
	if s == nil || kid == "" {
		return nil
	}
	return s.byKid[kid]
}

// kidNote returns ` (kid "k")` for an error message, or "" with no kid.
func kidNote(kid string) string {
	if kid == "" {
		return ""
	}
	return fmt.Sprintf(" (kid %.40q)", kid)
}

// jsonErrorLine returns ":line" for a JSON error that has an offset, else "".
func jsonErrorLine(data []byte, err error) string {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 || offset > int64(len(data)) {
		return ""
	}
	return fmt.Sprintf(":%d", 1+bytes.Count(data[:offset], []byte("\n")))
}

// verifyKey converts k into a public key with the algorithms it may verify.
// It returns errSkip for keys that are not for verifying signatures with an
// algorithm tickerd supports, and an error for such keys that are malformed.
//
// Neither golang-jwt/jwt/v5 nor the standard library parses JWKs, so the
// conversion is here; it only decodes numbers and points, and leaves every
// check of them to crypto/rsa and crypto/ecdsa.
func (k *jwk) verifyKey() (*verifyKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return nil, errSkip
	}
	if k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify") {
		return nil, errSkip
	}
	if k.Alg != "" && !slices.Contains(asymmetricAlgs, k.Alg) {
		return nil, errSkip // an encryption algorithm, HMAC, "none", or unknown
	}
	var pub crypto.PublicKey
	var err error
	switch k.Kty {
	case "RSA":
		pub, err = k.rsaKey()
	case "EC":
		pub, err = k.ecKey()
	case "OKP":
		pub, err = k.okpKey()
	default:
		return nil, errSkip // "oct" (no shared secrets in a public document) or unknown
	}
	if err != nil {
		return nil, err
	}
	vk, err := newVerifyKey(pub)
	if err != nil {
		return nil, err
	}
	if k.Alg != "" {
		if !vk.allows(k.Alg) {
			return nil, fmt.Errorf("alg %q does not fit a %s key (want one of %s)", k.Alg, k.Kty, strings.Join(vk.algs, ", "))
		}
		vk.algs = []string{k.Alg}
	}
	vk.kid = k.Kid
	return vk, nil
}

// rsaKey decodes an RSA key's n and e.
func (k *jwk) rsaKey() (*rsa.PublicKey, error) {
	n, err := decodeMember("n", k.N, 0)
	if err != nil {
		return nil, err
	}
	e, err := decodeMember("e", k.E, 0)
	if err != nil {
		return nil, err
	}
	if len(e) > 4 {
		return nil, fmt.Errorf("member \"e\" of %d bytes, want at most 4", len(e))
	}
	var exp int64
	for _, b := range e {
		exp = exp<<8 | int64(b)
	}
	if exp < 3 || exp%2 == 0 || exp > 1<<31-1 {
		return nil, fmt.Errorf("member \"e\" is %d, want an odd number from 3 to 2^31-1", exp)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}, nil
}

// ecKey decodes an EC key's curve and point; crypto/ecdsa checks the point
// is on the curve.
func (k *jwk) ecKey() (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, errSkip // secp256k1 and others
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err := decodeMember("x", k.X, size)
	if err != nil {
		return nil, err
	}
	y, err := decodeMember("y", k.Y, size)
	if err != nil {
		return nil, err
	}
	point := make([]byte, 0, 1+2*size)
	point = append(append(append(point, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("bad %s point: %w", k.Crv, err)
	}
	return pub, nil
}

// okpKey decodes an Ed25519 key (RFC 8037).
func (k *jwk) okpKey() (ed25519.PublicKey, error) {
	if k.Crv != "Ed25519" {
		return nil, errSkip // X25519 is for key agreement; Ed448 is not supported
	}
	x, err := decodeMember("x", k.X, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(x), nil
}

// decodeMember decodes a base64url member of a JWK; with size > 0 it must
// decode to exactly size bytes, else to at least one. Trailing '=' padding
// is tolerated.
func decodeMember(member, s string, size int) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("member %q missing", member)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("member %q: %w", member, err)
	}
	if size > 0 && len(b) != size {
		return nil, fmt.Errorf("member %q of %d bytes, want %d", member, len(b), size)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("member %q empty", member)
	}
	return b, nil
}
