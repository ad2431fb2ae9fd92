package service

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxPEMFile bounds the certificate and key files read, so that a wrong
// path (a log, a device) cannot make the service read without end.
const maxPEMFile = 1 << 20

// certReloader serves the main listener's certificate through
// tls.Config.GetCertificate and reads its files again when they change:
// on reload, which Service.Reload calls (SIGHUP) and run calls on a ticker.
// A pair that does not load (a half-written renewal, a key that does not
// match) keeps the previous certificate in use, and is logged once per
// change of the files. getCertificate is safe from any goroutine and never
// blocks on I/O; reload is serialised by mu.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cert              atomic.Pointer[tls.Certificate]

	mu   sync.Mutex
	seen [sha256.Size]byte // hash of the files last read (and the error, if any); guarded by mu
}

// newCertReloader loads the pair, which must be good.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if _, err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// getCertificate is tls.Config.GetCertificate: the pair last loaded.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}

// reload reads both files and, if either changed since the last read,
// loads the pair. It returns whether a new certificate is in use, and the
// problem when the files changed but do not load (reported once per
// change: an unchanged bad pair returns nil).
func (c *certReloader) reload() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	certPEM, certErr := readPEMFile(c.certFile)
	keyPEM, keyErr := readPEMFile(c.keyFile)
	h := sha256.New()
	for _, part := range [][]byte{certPEM, keyPEM, []byte(fmt.Sprint(certErr, keyErr))} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if sum == c.seen {
		return false, nil
	}
	c.seen = sum
	if err := errors.Join(certErr, keyErr); err != nil {
		return false, fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("tls: certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert.Store(&cert)
	return true, nil
}

// reloadAndLog is reload, logging what it did.
func (c *certReloader) reloadAndLog() {
	switch changed, err := c.reload(); {
	case err != nil:
		c.log.Error("tls: reload failed, keeping the previous certificate", "err", err)
	case changed:
		c.log.Info("tls: certificate reloaded", "cert_file", c.certFile)
	}
}

// run calls reload every interval until ctx ends. It starts no goroutine.
func (c *certReloader) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.reloadAndLog()
		}
	}
}

// tlsConfig is the main listener's: HTTP/1.1 only (websockets upgrade
// from it), TLS 1.2 at least, the certificate from c.
func (c *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: c.getCertificate,
		NextProtos:     []string{"http/1.1"},
		MinVersion:     tls.VersionTLS12,
	}
}

// readPEMFile reads at most maxPEMFile bytes of name.
func readPEMFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxPEMFile)
	}
	return data, nil
}
