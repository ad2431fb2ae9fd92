package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for tickerd.example (not
// 127.0.0.1) and its key into dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tickerd.example"},
		DNSNames: []string{"tickerd.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestHealthcheckTLS: with TLS on the main listener and no admin
// listener, healthcheck speaks https to it (the image's HEALTHCHECK keeps
// working), and succeeds against a running instance whose certificate
// names another host.
func TestHealthcheckTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	addr := freeAddr(t)
	path := writeFile(t, "tls.yaml", "listen: "+addr+"\nschedule: \"@every 1h\"\nsymbols: [AAPL]\ntls: {cert_file: "+cert+", key_file: "+key+"}\n")
	getenv := env(map[string]string{"TICKERD_CONFIG": path})
	if _, url := healthcheckFlags(getenv); *url != "https://"+addr+"/healthz" {
		t.Errorf("healthcheckFlags with tls -url = %q, want https://%s/healthz", *url, addr)
	}
	s := startRun(t, nil, getenv)
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = run(t.Context(), []string{"healthcheck"}, getenv, new(bytes.Buffer), new(bytes.Buffer)); err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("run(healthcheck) against a TLS instance = %v, want nil", err)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("run() = %v, want nil after cancel", err)
	}
}
