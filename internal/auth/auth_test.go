package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestNewErrors(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	secret := writeFile(t, dir, "secret", k.secret)
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name string
		o    Options
		is   error
		want []string // substrings of the message: file, line, what
	}{
		{name: "api_keys_bad_line", o: Options{APIKeysFile: writeFile(t, dir, "keys", []byte("# ok\nclient-one-0123456789\nbad\n"))},
			is: ErrKeyFile, want: []string{filepath.Join(dir, "keys") + ":3:", "want at least 16"}},
		{name: "api_keys_missing", o: Options{APIKeysFile: missing}, is: os.ErrNotExist, want: []string{missing}},
		{name: "api_keys_directory", o: Options{APIKeysFile: dir}, is: ErrKeyFile, want: []string{dir}},
		{name: "api_keys_too_large", o: Options{APIKeysFile: writeFile(t, dir, "huge", make([]byte, maxFileSize+1))},
			is: ErrKeyFile, want: []string{"huge", "larger than"}},
		{name: "secret_missing", o: Options{JWT: JWTOptions{HMACSecretFile: missing}}, is: ErrKeyFile, want: []string{missing}},
		{name: "secret_short", o: Options{JWT: JWTOptions{HMACSecretFile: writeFile(t, dir, "short", []byte("0123456789\r\n"))}},
			is: ErrKeyFile, want: []string{"short: secret of 10 bytes, want at least 32"}},
		{name: "pem_not_pem", o: Options{JWT: JWTOptions{PublicKeyFile: secret}}, is: ErrKeyFile, want: []string{secret, "no PEM block"}},
		{name: "jwks_bad", o: Options{JWT: JWTOptions{JWKSFile: writeFile(t, dir, "jwks.json", []byte("{\n\"keys\": [}"))}},
			is: ErrKeyFile, want: []string{"jwks.json:2:"}},
		{name: "issuer_without_keys", o: Options{JWT: JWTOptions{Issuer: "x"}}, is: ErrOptions, want: []string{"issuer or audience"}},
		{name: "audience_with_api_keys_only", o: Options{JWT: JWTOptions{Audience: "x"}, APIKeysFile: writeFile(t, dir, "ok-keys", nil)}, is: ErrOptions},
		{name: "negative_interval", o: Options{ReloadInterval: -time.Second, APIKeysFile: writeFile(t, dir, "ok-keys2", nil)}, is: ErrOptions},
		{name: "public_path_relative", o: Options{PublicPaths: []string{"/ok", "healthz"}}, is: ErrOptions, want: []string{`public_paths[1] "healthz"`}},
		{name: "public_path_unclean", o: Options{PublicPaths: []string{"/a/../b"}}, is: ErrOptions},
		{name: "public_path_star_inside", o: Options{PublicPaths: []string{"/static*"}}, is: ErrOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(&tt.o)
			if !errors.Is(err, tt.is) || a != nil {
				t.Fatalf("New = %v, %v; want nil, an error wrapping %v", a, err, tt.is)
			}
			if !strings.HasPrefix(err.Error(), "auth: ") || !containsAll(err.Error(), tt.want...) {
				t.Errorf("New error = %q, want it to start with \"auth: \" and contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), string(k.secret)) {
				t.Errorf("New error %q holds the secret", err)
			}
		})
	}
}

func TestEnabled(t *testing.T) {
	dir := t.TempDir()
	keysFile := writeFile(t, dir, "keys", []byte("client-one-0123456789\n"))
	tests := []struct {
		name string
		o    *Options
		want bool
	}{
		{name: "nil", o: nil, want: false},
		{name: "zero", o: &Options{}, want: false},
		{name: "public_paths_only", o: &Options{PublicPaths: []string{"/healthz"}}, want: false},
		{name: "api_keys", o: &Options{APIKeysFile: keysFile}, want: true},
		{name: "hmac", o: &Options{JWT: JWTOptions{HMACSecretFile: writeFile(t, dir, "secret", keys().secret)}}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.o)
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			if got := a.Enabled(); got != tt.want {
				t.Errorf("Enabled() = %v, want %v", got, tt.want)
			}
			if !tt.want {
				if _, err := a.Verify("client-one-0123456789"); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("Verify with auth off = %v, want ErrInvalidToken", err)
				}
			}
		})
	}
}

// TestVerifyClaims checks the grant Verify makes of tickerd's claims.
func TestVerifyClaims(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	a, err := New(&Options{JWT: JWTOptions{HMACSecretFile: writeFile(t, dir, "secret", k.secret), Leeway: -1}})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	type sym struct {
		s    string
		want bool
	}
	tests := []struct {
		name    string
		claims  jwt.MapClaims
		syms    []sym
		max     int
		dynamic bool
		subject bool
	}{
		{name: "no_claims", claims: jwt.MapClaims{}, syms: []sym{{"AAPL", true}, {"BTC-USD", true}}, dynamic: true},
		{name: "null_symbols", claims: jwt.MapClaims{"symbols": nil}, syms: []sym{{"AAPL", true}}, dynamic: true},
		{name: "empty_symbols", claims: jwt.MapClaims{"symbols": []string{}}, syms: []sym{{"AAPL", false}, {"", false}}, dynamic: true},
		{name: "patterns", claims: jwt.MapClaims{"symbols": []string{"BTC-*", "aapl", "^GSPC", "[M-N]SFT"}},
			syms: []sym{{"BTC-USD", true}, {"btc-eur", true}, {"BTC", false}, {"XBTC-USD", false}, {"AAPL", true}, {"AAPLX", false},
				{"^GSPC", true}, {"MSFT", true}, {"NSFT", true}, {"OSFT", false}}, dynamic: true},
		{name: "star", claims: jwt.MapClaims{"symbols": []string{"*"}}, syms: []sym{{"ANY.THING", true}}, dynamic: true},
		{name: "question_mark", claims: jwt.MapClaims{"symbols": []string{"A?"}}, syms: []sym{{"AB", true}, {"A", false}, {"ABC", false}}, dynamic: true},
		{name: "non_ascii_not_folded", claims: jwt.MapClaims{"symbols": []string{"S"}}, syms: []sym{{"ſ", false}, {"s", true}}, dynamic: true},
		{name: "max_and_dynamic", claims: jwt.MapClaims{"max_symbols": 5, "dynamic": false, "sub": "someone"}, syms: []sym{{"AAPL", true}}, max: 5, subject: true},
		{name: "dynamic_true", claims: jwt.MapClaims{"dynamic": true, "max_symbols": 0}, syms: []sym{{"AAPL", true}}, dynamic: true},
		{name: "empty_sub", claims: jwt.MapClaims{"sub": ""}, dynamic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.claims["exp"] = exp.Unix()
			p, err := a.Verify(mint(t, jwt.SigningMethodHS256, k.secret, "", tt.claims))
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			for _, s := range tt.syms {
				if got := p.Allows(s.s); got != s.want {
					t.Errorf("Allows(%q) = %v, want %v", s.s, got, s.want)
				}
			}
			if got := p.MaxSymbols(); got != tt.max {
				t.Errorf("MaxSymbols() = %d, want %d", got, tt.max)
			}
			if got := p.Dynamic(); got != tt.dynamic {
				t.Errorf("Dynamic() = %v, want %v", got, tt.dynamic)
			}
			if got := p.HasSubject(); got != tt.subject {
				t.Errorf("HasSubject() = %v, want %v", got, tt.subject)
			}
			if got := p.Expiry(); !got.Equal(exp) {
				t.Errorf("Expiry() = %v, want %v (exp, no leeway)", got, exp)
			}
		})
	}
}

// TestLeeway checks that Expiry is the first instant Verify rejects the
// token, for the default and a configured leeway.
func TestLeeway(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	secret := writeFile(t, dir, "secret", k.secret)
	for _, tt := range []struct {
		name   string
		leeway time.Duration
		want   time.Duration
	}{
		{name: "default", leeway: 0, want: 5 * time.Second},
		{name: "none", leeway: -1, want: 0},
		{name: "minute", leeway: time.Minute, want: time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(&Options{JWT: JWTOptions{HMACSecretFile: secret, Leeway: tt.leeway}})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			exp := time.Now().Add(time.Hour).Truncate(time.Second)
			p, err := a.Verify(mint(t, jwt.SigningMethodHS256, k.secret, "", jwt.MapClaims{"exp": exp.Unix()}))
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if got := p.Expiry().Sub(exp); got != tt.want {
				t.Errorf("Expiry() - exp = %v, want %v", got, tt.want)
			}
			// A token that expired just inside / outside the leeway.
			inside := time.Now().Add(-tt.want + 2*time.Second)
			if _, err := a.Verify(mint(t, jwt.SigningMethodHS256, k.secret, "", jwt.MapClaims{"exp": inside.Unix()})); err != nil {
				t.Errorf("Verify(exp %v ago) = %v, want nil", time.Since(inside).Round(time.Second), err)
			}
			outside := time.Now().Add(-tt.want - 2*time.Second)
			if _, err := a.Verify(mint(t, jwt.SigningMethodHS256, k.secret, "", jwt.MapClaims{"exp": outside.Unix()})); !errors.Is(err, ErrTokenExpired) {
				t.Errorf("Verify(exp %v ago) = %v, want ErrTokenExpired", time.Since(outside).Round(time.Second), err)
			}
		})
	}
}

// TestPrincipalHidesSubject checks that no way of printing or logging a
// Principal shows its subject.
func TestPrincipalHidesSubject(t *testing.T) {
	p := &Principal{subject: testSubject, patterns: []string{"A*"}, maxSymbols: 2, expiry: time.Unix(1e9, 0)}
	logger, buf := newLogger()
	logger.Info("client", "principal", p)
	for _, got := range []string{p.String(), fmtAll(p), buf.take()} {
		if strings.Contains(got, testSubject) {
			t.Errorf("%q shows the subject", got)
		}
		if !strings.Contains(got, "subject=true") && !strings.Contains(got, "has_subject=true") {
			t.Errorf("%q does not say there is a subject", got)
		}
	}
}

// TestNilPrincipal checks the grant of the nil Principal: everything.
func TestNilPrincipal(t *testing.T) {
	var p *Principal
	if !p.Allows("AAPL") || p.MaxSymbols() != 0 || !p.Dynamic() || !p.Expiry().IsZero() || p.HasSubject() {
		t.Errorf("nil Principal = %v, want an unrestricted grant without expiry", p)
	}
	if _, ok := FromContext(t.Context()); ok {
		t.Errorf("FromContext(empty context) ok = true, want false")
	}
}

// TestVerifyAPIKeyFirst checks that a token that is an API key is one even
// when JWTs are configured too, and the hash form is no key.
func TestVerifyAPIKeyFirst(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte("a.jwt.shaped-api-key"))
	a, err := New(&Options{
		JWT:         JWTOptions{HMACSecretFile: writeFile(t, dir, "secret", k.secret)},
		APIKeysFile: writeFile(t, dir, "keys", []byte("sha256:"+hex.EncodeToString(sum[:])+"\n")),
	})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	p, err := a.Verify("a.jwt.shaped-api-key")
	if err != nil || !p.Expiry().IsZero() || p.HasSubject() {
		t.Errorf("Verify(API key) = %v, %v; want an API key grant", p, err)
	}
	if _, err := a.Verify("sha256:" + hex.EncodeToString(sum[:])); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify(hash of the key) = %v, want ErrInvalidToken", err)
	}
}

// FuzzVerify checks that no token, however malformed, makes Verify panic
// or fail with anything but the two sentinels.
func FuzzVerify(f *testing.F) {
	k := keys()
	dir := f.TempDir()
	a, err := New(&Options{
		JWT: JWTOptions{
			HMACSecretFile: writeFile(f, dir, "secret", k.secret),
			JWKSFile:       writeFile(f, dir, "jwks.json", jwksDoc(jwkOf(k.ec, "ec1"), jwkOf(k.ed, ""))),
		},
		APIKeysFile: writeFile(f, dir, "keys", []byte("client-one-0123456789\n")),
	})
	if err != nil {
		f.Fatalf("New = %v", err)
	}
	later := time.Now().Add(time.Hour).Unix()
	f.Add(mint(f, jwt.SigningMethodHS256, k.secret, "", jwt.MapClaims{"exp": later, "symbols": []string{"A*"}}))
	f.Add(mint(f, jwt.SigningMethodES256, k.ec, "ec1", jwt.MapClaims{"exp": later}))
	f.Add(mint(f, jwt.SigningMethodEdDSA, k.ed, "", jwt.MapClaims{"exp": later, "max_symbols": 3}))
	f.Add(mint(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", jwt.MapClaims{"exp": later}))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add("client-one-0123456789")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		p, err := a.Verify(token)
		if err != nil {
			if p != nil || !(errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrTokenExpired)) {
				t.Fatalf("Verify = %v, %v; want nil and ErrInvalidToken or ErrTokenExpired", p, err)
			}
			if len(token) > 20 && strings.Contains(err.Error(), token) {
				t.Fatalf("Verify error %q holds the token", err)
			}
			return
		}
		p.Allows("AAPL") // the patterns Verify accepted are usable
	})
}

// TestPublicKeyFormats checks the PEM forms JWTOptions.PublicKeyFile
// takes, each verifying a token of its key and refusing another alg.
func TestPublicKeyFormats(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.ec.Public(), k.ec)
	if err != nil {
		t.Fatal(err)
	}
	later := jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}
	tests := []struct {
		name       string
		pem        []byte
		good, evil string // a token of the key, one it must refuse
	}{
		{name: "pkix_rsa", pem: k.rsaPEMPub, good: mint(t, jwt.SigningMethodPS512, k.rsa, "", later), evil: mint(t, jwt.SigningMethodES256, k.ec, "", later)},
		{name: "pkcs1_rsa", pem: pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}),
			good: mint(t, jwt.SigningMethodRS384, k.rsa, "", later), evil: mint(t, jwt.SigningMethodRS384, k.rsa2, "", later)},
		{name: "certificate_ec", pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			good: mint(t, jwt.SigningMethodES256, k.ec, "", later), evil: mint(t, jwt.SigningMethodHS256, der, "", later)},
		{name: "ec_p384", pem: pemPublic(k.ec384.Public()), good: mint(t, jwt.SigningMethodES384, k.ec384, "", later), evil: mint(t, jwt.SigningMethodES256, k.ec, "", later)},
		{name: "ed25519", pem: pemPublic(k.ed.Public()), good: mint(t, jwt.SigningMethodEdDSA, k.ed, "", later), evil: mint(t, jwt.SigningMethodEdDSA, k.ed2, "", later)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(&Options{JWT: JWTOptions{PublicKeyFile: writeFile(t, dir, tt.name+".pem", tt.pem)}})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			if _, err := a.Verify(tt.good); err != nil {
				t.Errorf("Verify(token of the key) = %v, want nil", err)
			}
			if _, err := a.Verify(tt.evil); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Verify(other token) = %v, want ErrInvalidToken", err)
			}
		})
	}
}
