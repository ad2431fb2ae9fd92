package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxNATSURLs bounds the servers cluster.nats_url may list.
const maxNATSURLs = 32

func clusterFields(c *Cluster) []field {
	return []field{
		{"nats_url", str(&c.NATSURL, checkNATSURL)},
		{"bucket", str(&c.Bucket, checkName("bucket", "", false))},
		{"replicas", integer(&c.Replicas, 1, 5)},
		{"instance_id", str(&c.InstanceID, checkName("instance id", ".", true))},
		{"lease_ttl", duration(&c.LeaseTTL, time.Second, time.Minute)},
		{"resume_wait", duration(&c.ResumeWait, 0, 30*time.Second)},
		{"creds_file", str(&c.CredsFile, checkFile)},
		{"tls", section([]field{
			{"ca_file", str(&c.TLS.CAFile, checkFile)},
			{"cert_file", str(&c.TLS.CertFile, checkFile)},
			{"key_file", str(&c.TLS.KeyFile, checkFile)},
		})},
	}
}

// clusterSection decodes the cluster section, then checks what no single
// key can: a TLS certificate comes with its key.
func clusterSection(c *Cluster) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		if err := d.mapping(n, key, clusterFields(c)); err != nil {
			return err
		}
		if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
			return d.errAt(n, key+".tls", &detail{sentinel: ErrInvalidValue, msg: "cert_file and key_file go together"})
		}
		return nil
	}
}

// checkNATSURL accepts "" or a comma-separated list of nats, tls, ws or
// wss URLs with a host, as nats.Connect takes them.
func checkNATSURL(s string) error {
	if s == "" {
		return nil
	}
	urls := strings.Split(s, ",")
	if len(urls) > maxNATSURLs {
		return &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("at most %d URLs", maxNATSURLs)}
	}
	// Errors name the URL by its place in the list and its scheme only:
	// whatever else it holds may be a credential.
	for i, raw := range urls {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		if err != nil {
			return &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("URL %d: invalid", i+1), cause: err}
		}
		if u.User != nil {
			return &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("URL %d: user info (a password) in the URL: put credentials in creds_file", i+1)}
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("URL %d: want nats://host:port (or tls, ws, wss), got scheme %s", i+1, quote(u.Scheme))}
		}
		if u.Host == "" {
			return &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("URL %d: no host", i+1)}
		}
	}
	return nil
}

// checkName returns a check for a name of 1 to 64 letters, digits, '-',
// '_' and the runes of extra (a bucket name is a NATS subject token; an
// instance id may be a host name, dots and all). Empty is allowed when
// emptyOK.
func checkName(what, extra string, emptyOK bool) func(string) error {
	return func(s string) error {
		if s == "" && emptyOK {
			return nil
		}
		if !validName(s, extra) {
			return &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("%s must be 1 to 64 letters, digits, '-', '_'%s, got %s", what, describeExtra(extra), quote(s))}
		}
		return nil
	}
}

func describeExtra(extra string) string {
	if extra == "" {
		return ""
	}
	return " or " + quote(extra)
}

func validName(s, extra string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}

// checkFile accepts "" or the name of a regular file that exists.
func checkFile(s string) error {
	if s == "" {
		return nil
	}
	fi, err := os.Stat(s)
	if err != nil {
		return &detail{sentinel: ErrInvalidValue, msg: "cannot read " + quote(s), cause: err}
	}
	if !fi.Mode().IsRegular() {
		return &detail{sentinel: ErrInvalidValue, msg: quote(s) + " is not a regular file"}
	}
	return nil
}

// Environment variables that [ApplyEnv] reads.
const (
	EnvListen      = "TICKERD_LISTEN"       // overrides listen
	EnvNATSURL     = "TICKERD_NATS_URL"     // overrides cluster.nats_url
	EnvInstanceID  = "TICKERD_INSTANCE_ID"  // overrides cluster.instance_id
	EnvAdminListen = "TICKERD_ADMIN_LISTEN" // overrides admin_listen
)

// ApplyEnv sets the keys the environment overrides (EnvListen, EnvNATSURL,
// EnvInstanceID, EnvAdminListen) in cfg, checked as the file's values are. Variables that
// are unset or empty change nothing. A bad value is an error naming the
// variable; cfg is then unchanged.
func ApplyEnv(cfg *Config, getenv func(string) string) error {
	c := *cfg
	for _, e := range []struct {
		name  string
		dst   *string
		check func(string) error
	}{
		{EnvListen, &c.Listen, checkListen},
		{EnvNATSURL, &c.Cluster.NATSURL, checkNATSURL},
		{EnvInstanceID, &c.Cluster.InstanceID, checkName("instance id", ".", false)},
		{EnvAdminListen, &c.AdminListen, checkListen},
	} {
		v := getenv(e.name)
		if v == "" {
			continue
		}
		if err := e.check(v); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		*e.dst = v
	}
	*cfg = c
	return nil
}
