package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePublicKeyPEM(t *testing.T) {
	k := keys()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.ec.Public(), k.ec)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	tests := []struct {
		name     string
		pem      []byte
		wantAlgs []string
		wantErr  string
	}{
		{name: "pkix_rsa", pem: k.rsaPEMPub, wantAlgs: rsaAlgs},
		{name: "pkcs1_rsa", pem: block("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)), wantAlgs: rsaAlgs},
		{name: "certificate_ec", pem: block("CERTIFICATE", cert), wantAlgs: []string{"ES256"}},
		{name: "p384", pem: pemPublic(k.ec384.Public()), wantAlgs: []string{"ES384"}},
		{name: "ed25519", pem: pemPublic(k.ed.Public()), wantAlgs: []string{"EdDSA"}},
		{name: "text_around", pem: append(append([]byte("issued by ops\n"), pemPublic(k.ed.Public())...), "\n\n"...), wantAlgs: []string{"EdDSA"}},

		{name: "not_pem", pem: []byte("hello"), wantErr: "key.pem: no PEM block"},
		{name: "private_key", pem: block("PRIVATE KEY", []byte{0}), wantErr: `key.pem: PEM block "PRIVATE KEY", want PUBLIC KEY`},
		{name: "two_blocks", pem: append(pemPublic(k.ec.Public()), pemPublic(k.ed.Public())...), wantErr: "key.pem: more than one PEM block"},
		{name: "small_rsa", pem: k.rsa1024Pub, wantErr: "key.pem: RSA key of 1024 bits, want at least 2048"},
		{name: "p224", pem: pemPublic(p224.Public()), wantErr: "key.pem: ECDSA key on curve P-224"},
		{name: "bad_der", pem: block("PUBLIC KEY", []byte{0}), wantErr: "key.pem: parse PUBLIC KEY block: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vk, err := parsePublicKeyPEM("key.pem", tt.pem)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parsePublicKeyPEM = %v, want ErrKeyFile with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePublicKeyPEM = %v, want nil", err)
			}
			if !slices.Equal(vk.algs, tt.wantAlgs) {
				t.Errorf("algs = %v, want %v", vk.algs, tt.wantAlgs)
			}
		})
	}
}

func TestParseHMACSecret(t *testing.T) {
	secret := strings.Repeat("s", minSecretLength)
	tests := []struct {
		name, file, want, wantErr string
	}{
		{name: "bare", file: secret, want: secret},
		{name: "lf", file: secret + "\n", want: secret},
		{name: "crlf_twice", file: secret + "\r\n\r\n", want: secret},
		{name: "spaces_kept", file: " " + secret + " \n", want: " " + secret + " "},
		{name: "short", file: "0123456789\n", wantErr: "secret.txt: secret of 10 bytes, want at least 32"},
		{name: "short_before_newlines", file: secret[1:] + "\n\n\n", wantErr: "secret of 31 bytes"},
		{name: "empty", file: "", wantErr: "secret of 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHMACSecret("secret.txt", []byte(tt.file))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "0123456789") {
					t.Fatalf("parseHMACSecret = %v, want ErrKeyFile with %q and not the secret", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("parseHMACSecret = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
