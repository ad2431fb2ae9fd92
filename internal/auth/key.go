package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
)

// Limits on keys.
const (
	minRSABits      = 2048
	minSecretLength = 32
)

// The algorithms each type of key allows.
var (
	rsaAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	// asymmetricAlgs is every public-key algorithm any key may allow.
	asymmetricAlgs = append(slices.Clone(rsaAlgs), "ES256", "ES384", "ES512", "EdDSA")
)

// verifyKey is one public key and the algorithms it may verify. It is not
// modified after it is made and may be read from any goroutine.
type verifyKey struct {
	kid  string           // "" when the key has none (PEM, or a JWK without kid)
	key  crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	algs []string         // never empty, never an HMAC algorithm or "none"
}

// allows reports whether k may verify a token signed with alg.
func (k *verifyKey) allows(alg string) bool { return slices.Contains(k.algs, alg) }

// newVerifyKey checks pub and returns it with the algorithms its type
// allows. The error does not name a file; callers add it.
func newVerifyKey(pub crypto.PublicKey) (*verifyKey, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits, want at least %d", bits, minRSABits)
		}
		return &verifyKey{key: pub, algs: rsaAlgs}, nil
	case *ecdsa.PublicKey:
		var alg string
		switch pub.Curve {
		case elliptic.P256():
			alg = "ES256"
		case elliptic.P384():
			alg = "ES384"
		case elliptic.P521():
			alg = "ES512"
		default:
			return nil, fmt.Errorf("ECDSA key on curve %s, want P-256, P-384 or P-521", pub.Curve.Params().Name)
		}
		return &verifyKey{key: pub, algs: []string{alg}}, nil
	case ed25519.PublicKey:
		return &verifyKey{key: pub, algs: []string{"EdDSA"}}, nil
	}
	return nil, fmt.Errorf("unsupported key type %T, want RSA, ECDSA or Ed25519", pub)
}

// parsePublicKeyPEM parses a PEM file holding exactly one public key (see
// JWTOptions.PublicKeyFile). Its errors wrap ErrKeyFile and name the file.
func parsePublicKeyPEM(name string, data []byte) (*verifyKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: %s: no PEM block", ErrKeyFile, name)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: %s: more than one PEM block (put several keys in a JWKS file)", ErrKeyFile, name)
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("%w: %s: PEM block %q, want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", ErrKeyFile, name, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: parse %s block: %w", ErrKeyFile, name, block.Type, err)
	}
	k, err := newVerifyKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKeyFile, name, err)
	}
	return k, nil
}

// parseHMACSecret returns the secret in an HMAC secret file, without
// trailing CR and LF. Its errors wrap ErrKeyFile and name the file; they
// never quote the secret.
func parseHMACSecret(name string, data []byte) ([]byte, error) {
	end := len(data)
	for end > 0 && (data[end-1] == '\n' || data[end-1] == '\r') {
		end--
	}
	if end < minSecretLength {
		return nil, fmt.Errorf("%w: %s: secret of %d bytes, want at least %d", ErrKeyFile, name, end, minSecretLength)
	}
	return data[:end:end], nil
}
