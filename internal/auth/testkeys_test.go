package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync"
)

// testKeys are generated once per test binary: RSA generation is slow
// under -race.
type testKeys struct {
	secret     []byte
	rsa, rsa2  *rsa.PrivateKey // rsa2 is a second, unrelated RSA key
	ec, ec2    *ecdsa.PrivateKey
	ed, ed2    ed25519.PrivateKey
	ec384      *ecdsa.PrivateKey
	rsaPEMPub  []byte // PEM "PUBLIC KEY" of rsa
	rsa1024Pub []byte // PEM of a key too small to be accepted
}

var keys = sync.OnceValue(func() *testKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k := &testKeys{secret: []byte("0123456789abcdef0123456789abcdef-test-secret")}
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	_, k.ed2, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.rsaPEMPub = pemPublic(&k.rsa.PublicKey)
	// A 1024-bit modulus made by hand: rsa.GenerateKey refuses sizes
	// below 1024 and this only needs to be parsed, never used.
	small := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 1023), E: 65537}
	small.N.Add(small.N, big.NewInt(1))
	k.rsa1024Pub = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(small)})
	return k
})

// pemPublic returns pub as a PEM "PUBLIC KEY" block.
func pemPublic(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// jwkOf returns the public JWK of a private key, with kid when not empty.
func jwkOf(priv crypto.Signer, kid string) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]any{}
	switch pub := priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		point, err := pub.Bytes() // 0x04 || X || Y
		if err != nil {
			panic(err)
		}
		size := (len(point) - 1) / 2
		m["kty"], m["crv"] = "EC", pub.Curve.Params().Name
		m["x"], m["y"] = b64(point[1:1+size]), b64(point[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	default:
		panic("jwkOf: unexpected key type")
	}
	if kid != "" {
		m["kid"] = kid
	}
	return m
}

// jwksDoc returns a JWK Set document of jwks.
func jwksDoc(jwks ...map[string]any) []byte {
	b, err := json.MarshalIndent(map[string]any{"keys": jwks}, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

// b64url is base64url without padding, as JWTs and JWKs use it.
func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
