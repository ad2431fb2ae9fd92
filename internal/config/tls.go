package config

import (
	"crypto/tls"

	"gopkg.in/yaml.v3"
)

// TLS is the tls section: a certificate for the main listener (HTTP and
// websocket). Empty files mean plain TCP. Like [Config], a plain value.
type TLS struct {
	// CertFile is the PEM certificate chain, leaf first; with KeyFile.
	// Both are read again when they change, so a renewed certificate is
	// served without a restart.
	CertFile string
	// KeyFile is the PEM private key of CertFile's leaf.
	KeyFile string
}

// Enabled reports whether t asks for TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// tlsSection decodes the tls section, then checks the pair: both files or
// neither, and a key that matches the certificate, as the listener will
// load them.
func tlsSection(t *TLS) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		if err := d.mapping(n, key, []field{
			{"cert_file", str(&t.CertFile, checkFile)},
			{"key_file", str(&t.KeyFile, checkFile)},
		}); err != nil {
			return err
		}
		if (t.CertFile == "") != (t.KeyFile == "") {
			return d.errAt(d.keyNode(n, key), key, &detail{sentinel: ErrInvalidValue, msg: "cert_file and key_file go together"})
		}
		if t.CertFile == "" {
			return nil
		}
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			return d.errAt(d.keyNode(n, key), key, &detail{sentinel: ErrInvalidValue, msg: "certificate " + quote(t.CertFile) + " and key " + quote(t.KeyFile), cause: err})
		}
		return nil
	}
}
