package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/config"
)

// writePair writes a self-signed certificate and its key into dir, as
// name.pem and name.key, and returns their paths.
func writePair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestParseTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir, "a")
	otherCert, otherKey := writePair(t, dir, "b")
	ok := "tls:\n  cert_file: " + cert + "\n  key_file: " + key + "\n"
	cfg, err := config.Parse("t.yaml", []byte(ok))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", ok, err)
	}
	if want := (config.TLS{CertFile: cert, KeyFile: key}); cfg.TLS != want || !cfg.TLS.Enabled() {
		t.Errorf("Parse(%q).TLS = %+v, want %+v, enabled", ok, cfg.TLS, want)
	}
	if d := config.Default().TLS; d.Enabled() || d != (config.TLS{}) {
		t.Errorf("Default().TLS = %+v, want none", d)
	}

	tests := []struct {
		name string
		data string
		line int
		key  string
		msg  string
	}{
		{"cert_without_key", "history: 3\ntls:\n  cert_file: " + cert + "\n", 2, "tls", "go together"},
		{"key_without_cert", "tls: {key_file: " + key + "}\n", 1, "tls", "go together"},
		{"mismatched", "tls:\n  cert_file: " + cert + "\n  key_file: " + otherKey + "\n", 1, "tls", "certificate"},
		{"swapped", "tls:\n  cert_file: " + otherKey + "\n  key_file: " + otherCert + "\n", 1, "tls", "certificate"},
		{"cert_missing", "tls:\n  cert_file: " + filepath.Join(dir, "nope") + "\n  key_file: " + key + "\n", 2, "tls.cert_file", "cannot read"},
		{"key_dir", "tls:\n  cert_file: " + cert + "\n  key_file: " + dir + "\n", 3, "tls.key_file", "regular file"},
		{"unknown_key", "tls:\n  ca_file: " + cert + "\n", 2, "tls.ca_file", ""},
		{"not_mapping", "tls: on\n", 1, "tls", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(tc.data))
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Line != tc.line || ce.Key != tc.key || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Parse(%q) = %v, want an error at line %d, key %s, saying %q", tc.data, err, tc.line, tc.key, tc.msg)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("Parse(%q) = %v, which shows the key", tc.data, err)
			}
		})
	}
}
