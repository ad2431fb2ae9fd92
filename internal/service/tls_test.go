package service_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/service"
)

// testCert is a self-signed certificate for 127.0.0.1, its PEM files'
// contents, and a pool that trusts it.
type testCert struct {
	serial          *big.Int
	certPEM, keyPEM []byte
	pool            *x509.CertPool
}

func newTestCert(t *testing.T, serial int64) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey = %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "tickerd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CreateCertificate = %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate = %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("MarshalPKCS8PrivateKey = %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return testCert{
		serial:  tmpl.SerialNumber,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pool:    pool,
	}
}

// write puts c in the files, the key first: a poll between the two sees
// a mismatched pair, which must keep the previous certificate.
func (c testCert) write(t *testing.T, certFile, keyFile string) {
	t.Helper()
	writeTestFile(t, keyFile, c.keyPEM)
	writeTestFile(t, certFile, c.certPEM)
}

// tlsConfig is testConfig with TLS from c, whose files are in a directory
// of the test's.
func tlsConfig(t *testing.T, c testCert) *config.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
	cfg.TLS = config.TLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	c.write(t, cfg.TLS.CertFile, cfg.TLS.KeyFile)
	return cfg
}

// serverSerial handshakes with the service and returns the serial number
// of the certificate it presents (verified against pool when not nil).
func serverSerial(t *testing.T, addr string, pool *x509.CertPool) *big.Int {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: testTimeout}, Config: &tls.Config{RootCAs: pool, InsecureSkipVerify: pool == nil}}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("tls Dial(%s) = %v", addr, err)
	}
	defer c.Close()
	st := c.(*tls.Conn).ConnectionState()
	if st.NegotiatedProtocol != "" && st.NegotiatedProtocol != "http/1.1" {
		t.Errorf("negotiated protocol %q, want http/1.1", st.NegotiatedProtocol)
	}
	return st.PeerCertificates[0].SerialNumber
}

// TestTLS: the main listener speaks TLS with the configured certificate,
// for REST and websocket alike, and refuses plain HTTP.
func TestTLS(t *testing.T) {
	c := newTestCert(t, 1)
	r := start(t, tlsConfig(t, c), nil)
	addr := strings.TrimPrefix(r.url, "http://")
	if got := serverSerial(t, addr, c.pool); got.Cmp(c.serial) != 0 {
		t.Fatalf("certificate serial = %v, want %v", got, c.serial)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool}}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: testTimeout}
	if resp, body := do(t, client, http.MethodGet, "https://"+addr+"/api/quotes", nil); resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET https://%s/api/quotes = %d %.80q (TLS %v), want 200 over TLS", addr, resp.StatusCode, body, resp.TLS != nil)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("websocket.Dial(wss://%s/ws) = %v", addr, err)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	// Plain HTTP gets the server's 400 for a TLS port, never an answer.
	if resp, _ := do(t, r.client, http.MethodGet, r.url+"/api/quotes", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET on the TLS listener = %d, want 400", resp.StatusCode)
	}
}

// TestTLSReloadOnSignal: Reload (SIGHUP) reads the files again: the next
// handshake has the new certificate; a bad pair keeps the one in use.
func TestTLSReloadOnSignal(t *testing.T) {
	first, second := newTestCert(t, 1), newTestCert(t, 2)
	cfg := tlsConfig(t, first)
	r := start(t, cfg, &service.Options{ReloadInterval: time.Hour}) // no poll during the test
	addr := strings.TrimPrefix(r.url, "http://")

	second.write(t, cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if got := serverSerial(t, addr, nil); got.Cmp(first.serial) != 0 {
		t.Fatalf("serial before Reload = %v, want %v (no poll within the hour)", got, first.serial)
	}
	if err := r.svc.Reload(cfg); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if got := serverSerial(t, addr, second.pool); got.Cmp(second.serial) != 0 {
		t.Fatalf("serial after Reload = %v, want %v", got, second.serial)
	}

	// A key that does not match the certificate: the second one stays.
	writeTestFile(t, cfg.TLS.KeyFile, first.keyPEM)
	if err := r.svc.Reload(cfg); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if got := serverSerial(t, addr, second.pool); got.Cmp(second.serial) != 0 {
		t.Errorf("serial after a bad pair = %v, want %v kept", got, second.serial)
	}
	// And a file gone.
	if err := os.Remove(cfg.TLS.CertFile); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Reload(cfg); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if got := serverSerial(t, addr, second.pool); got.Cmp(second.serial) != 0 {
		t.Errorf("serial with the certificate file gone = %v, want %v kept", got, second.serial)
	}
}

// TestTLSReloadOnChange: the service notices new files by itself, within
// a bounded poll of handshakes.
func TestTLSReloadOnChange(t *testing.T) {
	first, second := newTestCert(t, 1), newTestCert(t, 2)
	cfg := tlsConfig(t, first)
	r := start(t, cfg, &service.Options{ReloadInterval: 10 * time.Millisecond})
	addr := strings.TrimPrefix(r.url, "http://")
	if got := serverSerial(t, addr, first.pool); got.Cmp(first.serial) != 0 {
		t.Fatalf("serial = %v, want %v", got, first.serial)
	}
	second.write(t, cfg.TLS.CertFile, cfg.TLS.KeyFile)
	until(t, "the new certificate not served", func() bool { return serverSerial(t, addr, nil).Cmp(second.serial) == 0 })
	if got := serverSerial(t, addr, second.pool); got.Cmp(second.serial) != 0 {
		t.Errorf("serial = %v, want %v", got, second.serial)
	}
}

// TestTLSBadPairRefused: New refuses a pair that does not load (Parse
// does too; this is a Config built by hand).
func TestTLSBadPairRefused(t *testing.T) {
	first, second := newTestCert(t, 1), newTestCert(t, 2)
	cfg := tlsConfig(t, first)
	writeTestFile(t, cfg.TLS.KeyFile, second.keyPEM)
	if svc, err := service.New(cfg, nil); err == nil {
		svc.Close()
		t.Fatalf("New() with a mismatched key = nil error, want one")
	}
}
