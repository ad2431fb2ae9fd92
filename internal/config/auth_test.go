package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/auth"
	"github.com/tickerd/tickerd/internal/config"
)

// authFiles writes good key files of every kind into dir.
type authFiles struct {
	secret, pub, jwks, keys, empty string
}

func writeAuthFiles(t *testing.T) authFiles {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecdh, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	point := ecdh.Bytes() // 0x04, X, Y
	b64 := base64.RawURLEncoding.EncodeToString
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"` + b64(point[1:33]) + `","y":"` + b64(point[33:]) + `"}]}`
	f := authFiles{
		secret: filepath.Join(dir, "hmac"),
		pub:    filepath.Join(dir, "pub.pem"),
		jwks:   filepath.Join(dir, "jwks.json"),
		keys:   filepath.Join(dir, "api-keys"),
		empty:  filepath.Join(dir, "empty"),
	}
	for name, data := range map[string][]byte{
		f.secret: []byte("0123456789abcdef0123456789abcdef\n"),
		f.pub:    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		f.jwks:   []byte(jwks),
		f.keys:   []byte("# keys\nload-test-key-0123456789\n"),
		f.empty:  nil,
	} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestParseAuth(t *testing.T) {
	f := writeAuthFiles(t)
	ok := "auth:\n  jwt:\n    hmac_secret_file: " + f.secret + "\n    public_key_file: " + f.pub + "\n    jwks_file: " + f.jwks +
		"\n    issuer: https://id.example\n    audience: tickerd\n    leeway: 2s\n  api_keys_file: " + f.keys +
		"\n  public_paths: [/healthz, \"/static/*\"]\n  ws_first_message: true\n"
	cfg, err := config.Parse("t.yaml", []byte(ok))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", ok, err)
	}
	want := config.Auth{
		JWT: config.AuthJWT{HMACSecretFile: f.secret, PublicKeyFile: f.pub, JWKSFile: f.jwks,
			Issuer: "https://id.example", Audience: "tickerd", Leeway: 2 * time.Second},
		APIKeysFile: f.keys, PublicPaths: []string{"/healthz", "/static/*"}, WSFirstMessage: true,
	}
	if !reflect.DeepEqual(cfg.Auth, want) || !cfg.Auth.Enabled() {
		t.Errorf("Parse(%q).Auth = %+v, want %+v, enabled", ok, cfg.Auth, want)
	}
	// What Parse accepted, auth.New accepts.
	if a, err := auth.New(cfg.Auth.AuthOptions()); err != nil || !a.Enabled() {
		t.Errorf("auth.New(AuthOptions()) = %v, %v; want an enabled Authenticator", a, err)
	}

	d := config.Default().Auth
	if d.Enabled() || !reflect.DeepEqual(d.PublicPaths, []string{"/healthz", "/readyz"}) || d.JWT.Leeway != 5*time.Second {
		t.Errorf("Default().Auth = %+v, want off, health checks public, leeway 5s", d)
	}
	if a, err := auth.New(d.AuthOptions()); err != nil || a.Enabled() {
		t.Errorf("auth.New(Default().Auth.AuthOptions()) = %v, %v; want one that is off", a, err)
	}

	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name string
		data string
		line int
		key  string
		msg  string // in the message, when not empty
	}{
		{"secret_missing", "auth:\n  jwt:\n    hmac_secret_file: " + missing + "\n", 3, "auth.jwt.hmac_secret_file", "cannot read"},
		{"secret_short", "auth:\n  jwt:\n    hmac_secret_file: " + f.keys + "\n", 3, "auth.jwt.hmac_secret_file", ""},
		{"secret_empty", "auth:\n  jwt:\n    hmac_secret_file: " + f.empty + "\n", 3, "auth.jwt.hmac_secret_file", f.empty},
		{"pub_not_pem", "auth:\n  jwt:\n    public_key_file: " + f.secret + "\n", 3, "auth.jwt.public_key_file", f.secret},
		{"jwks_not_json", "auth:\n  jwt:\n    jwks_file: " + f.pub + "\n", 3, "auth.jwt.jwks_file", f.pub},
		{"jwks_dir", "auth:\n  jwt:\n    jwks_file: " + filepath.Dir(f.pub) + "\n", 3, "auth.jwt.jwks_file", "not a regular file"},
		{"api_keys_bad_line", "auth:\n  api_keys_file: " + f.pub + "\n", 2, "auth.api_keys_file", f.pub},
		{"leeway_long", "auth:\n  jwt:\n    leeway: 1h\n", 3, "auth.jwt.leeway", ""},
		{"leeway_negative", "auth:\n  jwt:\n    leeway: -1s\n", 3, "auth.jwt.leeway", ""},
		{"issuer_without_key", "auth:\n  api_keys_file: " + f.keys + "\n  jwt:\n    issuer: x\n", 3, "auth.jwt", "issuer and audience"},
		{"audience_without_key", "auth:\n  jwt: {audience: x}\n", 2, "auth.jwt", "issuer and audience"},
		{"first_message_without_key", "auth:\n  public_paths: []\n  ws_first_message: true\n", 3, "auth.ws_first_message", "needs"},
		{"public_relative", "auth:\n  public_paths:\n    - /healthz\n    - healthz\n", 4, "auth.public_paths[1]", "clean path"},
		{"public_unclean", "auth:\n  public_paths: [/a/../b]\n", 2, "auth.public_paths[0]", "clean path"},
		{"public_star_inside", "auth:\n  public_paths: [/a*]\n", 2, "auth.public_paths[0]", "clean path"},
		{"public_not_list", "auth:\n  public_paths: /healthz\n", 2, "auth.public_paths", "list"},
		{"public_too_many", "auth:\n  public_paths: [" + strings.Repeat("/a, ", config.MaxPublicPaths) + "/a]\n", 2, "auth.public_paths", "at most"},
		{"unknown_key", "auth:\n  jwt:\n    algorithms: [none]\n", 3, "auth.jwt.algorithms", ""},
		{"first_message_not_bool", "auth:\n  ws_first_message: yes please\n", 2, "auth.ws_first_message", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(tc.data))
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Line != tc.line || ce.Key != tc.key || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Parse(%q) = %v, want an error at line %d, key %s, saying %q", tc.data, err, tc.line, tc.key, tc.msg)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "load-test-key") {
				t.Errorf("Parse(%q) = %v, which shows a secret", tc.data, err)
			}
		})
	}
}

func TestAuthOptionsLeeway(t *testing.T) {
	tests := []struct {
		name   string
		leeway time.Duration
		want   time.Duration
	}{
		{"default", 5 * time.Second, 5 * time.Second},
		{"none", 0, -1},
		{"two_seconds", 2 * time.Second, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := config.Auth{JWT: config.AuthJWT{Leeway: tc.leeway}}
			if got := a.AuthOptions().JWT.Leeway; got != tc.want {
				t.Errorf("Auth{Leeway: %v}.AuthOptions().JWT.Leeway = %v, want %v", tc.leeway, got, tc.want)
			}
		})
	}
}

func TestParseAdminListen(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
		ok   bool
	}{
		{"default_empty", "history: 3\n", "", true},
		{"loopback", "admin_listen: 127.0.0.1:9090\n", "127.0.0.1:9090", true},
		{"all", "admin_listen: \":9090\"\n", ":9090", true},
		{"explicit_empty", "admin_listen: \"\"\n", "", true},
		{"no_port", "admin_listen: 127.0.0.1\n", "", false},
		{"bad_port", "admin_listen: \"127.0.0.1:http\"\n", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("t.yaml", []byte(tc.data))
			if !tc.ok {
				var ce *config.Error
				if !errors.As(err, &ce) || ce.Line != 1 || ce.Key != "admin_listen" || !errors.Is(err, config.ErrInvalidValue) {
					t.Fatalf("Parse(%q) = %v, want an invalid value at line 1, key admin_listen", tc.data, err)
				}
				return
			}
			if err != nil || cfg.AdminListen != tc.want {
				t.Fatalf("Parse(%q) = %v, admin_listen %q; want %q", tc.data, err, cfg.AdminListen, tc.want)
			}
		})
	}
}

func TestApplyEnvAdminListen(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr bool
	}{
		{"unset", "", "", false},
		{"set", "0.0.0.0:9090", "0.0.0.0:9090", false},
		{"bad", "9090", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			err := config.ApplyEnv(cfg, func(k string) string {
				if k == config.EnvAdminListen {
					return tc.value
				}
				return ""
			})
			if (err != nil) != tc.wantErr || cfg.AdminListen != tc.want {
				t.Errorf("ApplyEnv(%s=%q) = %v, admin_listen %q; want error %v, %q", config.EnvAdminListen, tc.value, err, cfg.AdminListen, tc.wantErr, tc.want)
			}
		})
	}
}
