package config

import (
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tickerd/tickerd/internal/auth"
)

// MaxPublicPaths bounds auth.public_paths.
const MaxPublicPaths = 64

// Auth is the auth section: who may use the REST API and the websocket.
// Its zero key files mean auth is off, today's behaviour. Like [Config], a
// plain value.
type Auth struct {
	// JWT configures JSON Web Tokens; no key file means no JWTs.
	JWT AuthJWT
	// APIKeysFile names a file of API keys, one a line, plain or
	// "sha256:<hex>" (see auth.Options.APIKeysFile); reloaded when it
	// changes. Empty means no API keys.
	APIKeysFile string
	// PublicPaths are served without a token: clean paths, "/x/*" for a
	// subtree. The dashboard's static files are public whatever they say;
	// its data (/api) is not.
	PublicPaths []string
	// WSFirstMessage lets a websocket upgrade without a token; it must
	// then send {"op":"auth","token":"..."} first, within 5s.
	WSFirstMessage bool
}

// AuthJWT is auth.jwt. Like [Config], a plain value.
type AuthJWT struct {
	HMACSecretFile string // HS256/384/512 secret, at least 32 bytes
	PublicKeyFile  string // PEM public key for RS*, PS*, ES*, EdDSA
	JWKSFile       string // JWK Set on disk, reloaded when it changes
	Issuer         string // the iss tokens must have; empty: not checked
	Audience       string // an aud tokens must have; empty: not checked
	// Leeway is the clock skew forgiven on exp, nbf and iat; 0 to 5m.
	Leeway time.Duration
}

// Enabled reports whether a has any key file, that is whether tokens are
// required.
func (a *Auth) Enabled() bool {
	return a.APIKeysFile != "" || a.JWT.HMACSecretFile != "" || a.JWT.PublicKeyFile != "" || a.JWT.JWKSFile != ""
}

// AuthOptions returns the auth.Options of a, without a logger or reload
// interval (the caller's to set). auth.New accepts them for a Config that
// Parse returned, unless the key files changed since.
func (a *Auth) AuthOptions() *auth.Options {
	leeway := a.JWT.Leeway
	if leeway == 0 {
		leeway = -1 // auth's zero is its default; the file's 0s means none
	}
	return &auth.Options{
		JWT: auth.JWTOptions{
			HMACSecretFile: a.JWT.HMACSecretFile,
			PublicKeyFile:  a.JWT.PublicKeyFile,
			JWKSFile:       a.JWT.JWKSFile,
			Issuer:         a.JWT.Issuer,
			Audience:       a.JWT.Audience,
			Leeway:         leeway,
		},
		APIKeysFile: a.APIKeysFile,
		PublicPaths: append([]string(nil), a.PublicPaths...),
	}
}

// defaultAuth is Default's auth section: off, health checks public.
func defaultAuth() Auth {
	return Auth{
		JWT:         AuthJWT{Leeway: 5 * time.Second},
		PublicPaths: []string{"/healthz", "/readyz"},
	}
}

func authFields(a *Auth) []field {
	return []field{
		{"jwt", section([]field{
			{"hmac_secret_file", str(&a.JWT.HMACSecretFile, checkKeyFile(func(f string) *auth.Options {
				return &auth.Options{JWT: auth.JWTOptions{HMACSecretFile: f}}
			}))},
			{"public_key_file", str(&a.JWT.PublicKeyFile, checkKeyFile(func(f string) *auth.Options {
				return &auth.Options{JWT: auth.JWTOptions{PublicKeyFile: f}}
			}))},
			{"jwks_file", str(&a.JWT.JWKSFile, checkKeyFile(func(f string) *auth.Options {
				return &auth.Options{JWT: auth.JWTOptions{JWKSFile: f}}
			}))},
			{"issuer", str(&a.JWT.Issuer, nil)},
			{"audience", str(&a.JWT.Audience, nil)},
			{"leeway", duration(&a.JWT.Leeway, 0, 5*time.Minute)},
		})},
		{"api_keys_file", str(&a.APIKeysFile, checkKeyFile(func(f string) *auth.Options {
			return &auth.Options{APIKeysFile: f}
		}))},
		{"public_paths", publicPaths(&a.PublicPaths)},
		{"ws_first_message", boolean(&a.WSFirstMessage)},
	}
}

// authSection decodes the auth section, then checks what no single key
// can: issuer and audience need a JWT key, ws_first_message some key.
func authSection(a *Auth) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		if err := d.mapping(n, key, authFields(a)); err != nil {
			return err
		}
		jwtKey := a.JWT.HMACSecretFile != "" || a.JWT.PublicKeyFile != "" || a.JWT.JWKSFile != ""
		if !jwtKey && (a.JWT.Issuer != "" || a.JWT.Audience != "") {
			return d.errAt(d.keyNode(n, key+".jwt"), key+".jwt", &detail{sentinel: ErrInvalidValue, msg: "issuer and audience need hmac_secret_file, public_key_file or jwks_file"})
		}
		if a.WSFirstMessage && !a.Enabled() {
			return d.errAt(d.keyNode(n, key+".ws_first_message"), key+".ws_first_message", &detail{sentinel: ErrInvalidValue, msg: "needs a JWT key file or api_keys_file"})
		}
		return nil
	}
}

// keyNode returns the key node the decoder saw at path, or n when there is
// none, for errors about a key whose value was checked alone.
func (d *decoder) keyNode(n *yaml.Node, path string) *yaml.Node {
	if kn := d.keys[path]; kn != nil {
		return kn
	}
	return n
}

// checkKeyFile returns a check for a key file: "" or a regular file that
// auth.New, given the options opts makes for it alone, reads and parses.
// The message names the file and what is wrong (the line, for an API
// keys file), never a secret.
func checkKeyFile(opts func(string) *auth.Options) func(string) error {
	return func(s string) error {
		if s == "" {
			return nil
		}
		if err := checkFile(s); err != nil {
			return err
		}
		if _, err := auth.New(opts(s)); err != nil {
			return &detail{sentinel: ErrInvalidValue, msg: "", cause: err}
		}
		return nil
	}
}

// publicPaths decodes auth.public_paths: at most MaxPublicPaths paths as
// auth.Options.PublicPaths takes them, each checked at its line.
func publicPaths(dst *[]string) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		seq := resolve(n)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return d.errAt(n, key, typeErr("list", seq))
		}
		if len(seq.Content) > MaxPublicPaths {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: "at most " + strconv.Itoa(MaxPublicPaths) + " paths"})
		}
		out := make([]string, 0, len(seq.Content))
		for i, e := range seq.Content {
			ek := key + "[" + strconv.Itoa(i) + "]"
			s, err := d.scalar(e, ek, "string")
			if err != nil {
				return err
			}
			if _, err := auth.New(&auth.Options{PublicPaths: []string{s.Value}}); err != nil {
				return d.errAt(e, ek, &detail{sentinel: ErrInvalidValue, msg: "want a clean path starting with '/', ending in \"/*\" for a subtree, got " + quote(s.Value)})
			}
			out = append(out, s.Value)
		}
		*dst = out
		return nil
	}
}
