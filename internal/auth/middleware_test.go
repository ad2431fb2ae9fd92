package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://id.tickerd.test"
	testAudience = "tickerd"
	testSubject  = "user-42-do-not-log"
	plainAPIKey  = "plain-api-key-0123456789"
	hashedAPIKey = "hashed-api-key-9876543210"
)

// principalView is what the test handler reports about the request's
// Principal.
type principalView struct {
	Principal  bool   `json:"principal"`
	HasSubject bool   `json:"has_subject"`
	AllowsBTC  bool   `json:"allows_btc"`
	AllowsAAPL bool   `json:"allows_aapl"`
	MaxSymbols int    `json:"max_symbols"`
	Dynamic    bool   `json:"dynamic"`
	Expiry     int64  `json:"expiry"`
	RequestURI string `json:"request_uri"`
	Query      string `json:"query"`
}

// viewHandler answers with the principalView of the request.
var viewHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := FromContext(r.Context())
	v := principalView{
		Principal: ok, HasSubject: p.HasSubject(), AllowsBTC: p.Allows("BTC-USD"), AllowsAAPL: p.Allows("AAPL"),
		MaxSymbols: p.MaxSymbols(), Dynamic: p.Dynamic(), RequestURI: r.RequestURI, Query: r.URL.RawQuery,
	}
	if !p.Expiry().IsZero() {
		v.Expiry = p.Expiry().Unix()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
})

// testServer is an Authenticator's Middleware over viewHandler on a
// loopback HTTP server.
type testServer struct {
	a   *Authenticator
	srv *httptest.Server
	log *logBuffer
}

// newTestServer starts a server for o (whose Logger it sets) and stops it
// at the end of the test.
func newTestServer(t *testing.T, o *Options) *testServer {
	t.Helper()
	logger, buf := newLogger()
	o.Logger = logger
	a, err := New(o)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	srv := httptest.NewServer(a.Middleware(viewHandler)) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return &testServer{a: a, srv: srv, log: buf}
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get requests path (which may hold a query and escapes) with the given
// Authorization header, if any.
func (s *testServer) get(t *testing.T, path, authorization string) response {
	t.Helper()
	u, err := url.Parse(s.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s = %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of GET %s = %v", path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// checkRejected checks a 401 with the given error and nothing more.
func checkRejected(t *testing.T, r response, wantError string) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401 (body %s)", r.status, r.body)
	}
	if got := r.header.Get("WWW-Authenticate"); got != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want %q", got, "Bearer")
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	if len(body) != 1 || body["error"] != wantError {
		t.Errorf("body = %s, want exactly {\"error\":%q}", r.body, wantError)
	}
}

// claims returns valid claims for the "all" fixture, changed by mod.
func claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": testSubject,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if mod != nil {
		mod(c)
	}
	return c
}

// bare returns claims with only exp, for fixtures without issuer and
// audience.
func bare() jwt.MapClaims { return jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()} }

func TestMiddleware(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	hashed := sha256.Sum256([]byte(hashedAPIKey))
	apiKeys := "# tickerd API keys\n\n" + plainAPIKey + "\n  sha256:" + strings.ToUpper(hex.EncodeToString(hashed[:])) + "  \r\n"
	servers := map[string]*testServer{
		"all": newTestServer(t, &Options{
			JWT: JWTOptions{
				HMACSecretFile: writeFile(t, dir, "secret", append(k.secret, '\n')),
				PublicKeyFile:  writeFile(t, dir, "rsa.pem", k.rsaPEMPub),
				JWKSFile: writeFile(t, dir, "jwks.json", jwksDoc(
					jwkOf(k.rsa2, "rsa-jwks"), jwkOf(k.ec, "ec1"), jwkOf(k.ed, "ed1"), jwkOf(k.ec384, ""))),
				Issuer:   testIssuer,
				Audience: testAudience,
			},
			APIKeysFile: writeFile(t, dir, "api-keys", []byte(apiKeys)),
			PublicPaths: []string{"/healthz", "/static/*"},
		}),
		"pem_rsa": newTestServer(t, &Options{JWT: JWTOptions{PublicKeyFile: writeFile(t, dir, "only-rsa.pem", k.rsaPEMPub)}}),
		"pem_ec":  newTestServer(t, &Options{JWT: JWTOptions{PublicKeyFile: writeFile(t, dir, "ec.pem", pemPublic(k.ec.Public()))}}),
		"pem_ed":  newTestServer(t, &Options{JWT: JWTOptions{PublicKeyFile: writeFile(t, dir, "ed.pem", pemPublic(k.ed.Public()))}}),
		"off":     newTestServer(t, &Options{PublicPaths: []string{"/healthz"}}),
	}

	hour := time.Hour
	now := time.Now()
	set := func(kv ...any) func(jwt.MapClaims) {
		return func(c jwt.MapClaims) {
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(c, kv[i].(string))
				} else {
					c[kv[i].(string)] = kv[i+1]
				}
			}
		}
	}
	hs256 := mint(t, jwt.SigningMethodHS256, k.secret, "", claims(nil))
	none := mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(nil))
	longToken := strings.Repeat("a", maxTokenLen+1)
	unrestricted := func(t *testing.T, v principalView) {
		t.Helper()
		if !v.Principal || !v.AllowsBTC || !v.AllowsAAPL || !v.Dynamic || v.MaxSymbols != 0 {
			t.Errorf("principal = %+v, want an unrestricted one", v)
		}
	}
	jwtGrant := func(t *testing.T, v principalView) {
		t.Helper()
		unrestricted(t, v)
		if !v.HasSubject {
			t.Errorf("HasSubject = false, want true")
		}
		if want := now.Add(hour + defaultLeeway).Unix(); v.Expiry < want-5 || v.Expiry > want+5 {
			t.Errorf("Expiry = %d, want exp+leeway ~%d", v.Expiry, want)
		}
	}
	apiKeyGrant := func(t *testing.T, v principalView) {
		t.Helper()
		unrestricted(t, v)
		if v.HasSubject || v.Expiry != 0 {
			t.Errorf("principal = %+v, want no subject and no expiry", v)
		}
	}
	noPrincipal := func(t *testing.T, v principalView) {
		t.Helper()
		if v.Principal {
			t.Errorf("principal present, want none")
		}
	}

	tests := []struct {
		name    string
		fixture string
		path    string // default /api/quotes
		auth    string // Authorization header
		wantErr string // "" means 200
		why     error  // with wantErr: what Verify's error must also wrap
		check   func(*testing.T, principalView)
	}{
		{name: "hs256", fixture: "all", auth: "Bearer " + hs256, check: jwtGrant},
		{name: "hs384", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS384, k.secret, "", claims(nil)), check: jwtGrant},
		{name: "hs512", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS512, k.secret, "", claims(nil)), check: jwtGrant},
		{name: "rs256_pem", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodRS256, k.rsa, "", claims(nil)), check: jwtGrant},
		{name: "ps256_pem", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodPS256, k.rsa, "", claims(nil)), check: jwtGrant},
		{name: "rs256_jwks_kid", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodRS256, k.rsa2, "rsa-jwks", claims(nil)), check: jwtGrant},
		{name: "rs512_jwks_no_kid", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodRS512, k.rsa2, "", claims(nil)), check: jwtGrant},
		{name: "es256_jwks", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodES256, k.ec, "ec1", claims(nil)), check: jwtGrant},
		{name: "es384_jwks_no_kid", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodES384, k.ec384, "", claims(nil)), check: jwtGrant},
		{name: "eddsa_jwks", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodEdDSA, k.ed, "ed1", claims(nil)), check: jwtGrant},
		{name: "rs256_pem_only", fixture: "pem_rsa", auth: "Bearer " + mint(t, jwt.SigningMethodRS256, k.rsa, "", bare())},
		{name: "es256_pem_only", fixture: "pem_ec", auth: "Bearer " + mint(t, jwt.SigningMethodES256, k.ec, "", bare())},
		{name: "eddsa_pem_only", fixture: "pem_ed", auth: "Bearer " + mint(t, jwt.SigningMethodEdDSA, k.ed, "", bare())},
		{name: "bearer_lower_case", fixture: "all", auth: "bearer " + hs256, check: jwtGrant},
		{name: "query_token", fixture: "all", path: "/api/quotes?a=1&token=" + hs256 + "&b=2", check: func(t *testing.T, v principalView) {
			jwtGrant(t, v)
			if strings.Contains(v.RequestURI, "token") || v.Query != "a=1&b=2" {
				t.Errorf("handler saw RequestURI %q, query %q; want the token removed and a=1&b=2 kept", v.RequestURI, v.Query)
			}
		}},
		{name: "header_wins_over_query", fixture: "all", path: "/api/quotes?token=garbage", auth: "Bearer " + hs256, check: jwtGrant},

		{name: "api_key_plain", fixture: "all", auth: "Bearer " + plainAPIKey, check: apiKeyGrant},
		{name: "api_key_hashed", fixture: "all", auth: "Bearer " + hashedAPIKey, check: apiKeyGrant},
		{name: "api_key_query", fixture: "all", path: "/api/quotes?token=" + plainAPIKey, check: apiKeyGrant},
		{name: "api_key_unknown", fixture: "all", auth: "Bearer " + plainAPIKey + "x", wantErr: "invalid token"},
		{name: "api_key_hash_itself", fixture: "all", auth: "Bearer sha256:" + hex.EncodeToString(hashed[:]), wantErr: "invalid token"},
		{name: "api_key_without_api_keys_file", fixture: "pem_rsa", auth: "Bearer " + plainAPIKey, wantErr: "invalid token"},

		{name: "symbols_claim", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("symbols", []string{"btc-*"}, "max_symbols", 3, "dynamic", false))),
			check: func(t *testing.T, v principalView) {
				if !v.AllowsBTC || v.AllowsAAPL || v.MaxSymbols != 3 || v.Dynamic {
					t.Errorf("principal = %+v, want BTC-* only, max 3, not dynamic", v)
				}
			}},

		{name: "wrong_signature_hmac", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-another"), "", claims(nil)), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "wrong_signature_rsa_kid", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodRS256, k.rsa, "rsa-jwks", claims(nil)), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "wrong_signature_ec", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodES256, k.ec2, "ec1", claims(nil)), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "wrong_signature_eddsa", fixture: "pem_ed", auth: "Bearer " + mint(t, jwt.SigningMethodEdDSA, k.ed2, "", bare()), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "tampered_payload", fixture: "all", auth: "Bearer " + tamper(t, hs256), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "alg_confusion_pem_only", fixture: "pem_rsa", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.rsaPEMPub, "", bare()), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "alg_confusion_with_secret", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.rsaPEMPub, "", claims(nil)), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "alg_other_than_kid_key", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodRS256, k.rsa2, "ec1", claims(nil)), wantErr: "invalid token", why: jwt.ErrTokenUnverifiable},
		{name: "alg_not_for_pem_key", fixture: "pem_ec", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, pemPublic(k.ec.Public()), "", bare()), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "alg_none", fixture: "all", auth: "Bearer " + none, wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "alg_none_pem", fixture: "pem_rsa", auth: "Bearer " + mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", bare()), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "unknown_kid", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodES256, k.ec, "nope", claims(nil)), wantErr: "invalid token", why: jwt.ErrTokenUnverifiable},
		{name: "crit_header", fixture: "all", auth: "Bearer " + mintHeader(t, k.secret, map[string]any{"crit": []string{"exp"}}, claims(nil)), wantErr: "invalid token", why: jwt.ErrTokenUnverifiable},

		{name: "expired", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("exp", now.Add(-time.Minute).Unix()))), wantErr: "token expired", why: jwt.ErrTokenExpired},
		{name: "expired_rs256", fixture: "pem_rsa", auth: "Bearer " + mint(t, jwt.SigningMethodRS256, k.rsa, "", jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()}), wantErr: "token expired", why: jwt.ErrTokenExpired},
		{name: "expired_within_leeway", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("exp", now.Add(-2*time.Second).Unix())))},
		{name: "expired_and_badly_signed", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-another"), "", claims(set("exp", now.Add(-time.Minute).Unix()))), wantErr: "invalid token", why: jwt.ErrTokenSignatureInvalid},
		{name: "expired_and_wrong_audience", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("exp", now.Add(-time.Minute).Unix(), "aud", "other"))), wantErr: "invalid token", why: jwt.ErrTokenInvalidAudience},
		{name: "not_yet_valid", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("nbf", now.Add(time.Minute).Unix()))), wantErr: "invalid token", why: jwt.ErrTokenNotValidYet},
		{name: "issued_in_future", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("iat", now.Add(time.Minute).Unix()))), wantErr: "invalid token", why: jwt.ErrTokenUsedBeforeIssued},
		{name: "missing_exp", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("exp", nil))), wantErr: "invalid token", why: jwt.ErrTokenRequiredClaimMissing},
		{name: "missing_exp_pem", fixture: "pem_rsa", auth: "Bearer " + mint(t, jwt.SigningMethodRS256, k.rsa, "", jwt.MapClaims{"sub": "x"}), wantErr: "invalid token", why: jwt.ErrTokenRequiredClaimMissing},
		{name: "wrong_issuer", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("iss", "https://evil.test"))), wantErr: "invalid token", why: jwt.ErrTokenInvalidIssuer},
		{name: "missing_issuer", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("iss", nil))), wantErr: "invalid token", why: jwt.ErrTokenRequiredClaimMissing},
		{name: "wrong_audience", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("aud", []string{"a", "b"}))), wantErr: "invalid token", why: jwt.ErrTokenInvalidAudience},
		{name: "audience_in_list", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("aud", []string{"a", testAudience}))), check: jwtGrant},
		{name: "symbols_not_a_list", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("symbols", "BTC-*"))), wantErr: "invalid token", why: jwt.ErrTokenMalformed},
		{name: "symbols_bad_pattern", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("symbols", []string{"BTC-["}))), wantErr: "invalid token"},
		{name: "max_symbols_negative", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("max_symbols", -1))), wantErr: "invalid token"},
		{name: "dynamic_not_bool", fixture: "all", auth: "Bearer " + mint(t, jwt.SigningMethodHS256, k.secret, "", claims(set("dynamic", "no"))), wantErr: "invalid token", why: jwt.ErrTokenMalformed},

		{name: "no_token", fixture: "all", wantErr: "invalid token"},
		{name: "empty_bearer", fixture: "all", auth: "Bearer   ", wantErr: "invalid token"},
		{name: "basic_auth", fixture: "all", auth: "Basic " + plainAPIKey, wantErr: "invalid token"},
		{name: "garbage", fixture: "all", auth: "Bearer a.b.c", wantErr: "invalid token", why: jwt.ErrTokenMalformed},
		{name: "too_long", fixture: "all", auth: "Bearer " + longToken, wantErr: "invalid token"},

		{name: "public_exact", fixture: "all", path: "/healthz", check: noPrincipal},
		{name: "public_subtree", fixture: "all", path: "/static/js/app.js", check: noPrincipal},
		{name: "public_subtree_root", fixture: "all", path: "/static/", check: noPrincipal},
		{name: "public_with_bad_token", fixture: "all", path: "/healthz", auth: "Bearer garbage", check: noPrincipal},
		{name: "public_exact_only", fixture: "all", path: "/healthz/more", wantErr: "invalid token"},
		{name: "public_prefix_not_subtree", fixture: "all", path: "/static", wantErr: "invalid token"},
		{name: "public_lookalike", fixture: "all", path: "/staticx/app.js", wantErr: "invalid token"},
		{name: "public_dot_dot", fixture: "all", path: "/static/../api/quotes", wantErr: "invalid token"},
		{name: "public_double_slash", fixture: "all", path: "//healthz", wantErr: "invalid token"},
		{name: "public_escaped_slash", fixture: "all", path: "/static%2F..%2Fapi", wantErr: "invalid token"},

		{name: "off_no_token", fixture: "off", check: noPrincipal},
		{name: "off_bad_token", fixture: "off", auth: "Bearer garbage", check: noPrincipal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := servers[tt.fixture]
			s.log.take()
			p := tt.path
			if p == "" {
				p = "/api/quotes"
			}
			r := s.get(t, p, tt.auth)
			logged := s.log.take()
			if token := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(tt.auth, "Bearer"), "bearer")); len(token) > 8 && strings.Contains(logged, token) {
				t.Errorf("log holds the token: %s", logged)
			}
			if strings.Contains(logged, testSubject) {
				t.Errorf("log holds the subject: %s", logged)
			}
			if tt.wantErr != "" {
				checkRejected(t, r, tt.wantErr)
				if tt.why != nil {
					_, err := s.a.Verify(strings.Fields(tt.auth)[1])
					if !errors.Is(err, tt.why) {
						t.Errorf("Verify = %v, want an error wrapping %v", err, tt.why)
					}
				}
				if !strings.Contains(logged, "auth: ") {
					t.Errorf("rejection not logged; log = %q", logged)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("GET %s = %d %s, want 200; log: %s", p, r.status, r.body, logged)
			}
			var v principalView
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("body %q: %v", r.body, err)
			}
			if tt.check != nil {
				tt.check(t, v)
			} else if !v.Principal {
				t.Errorf("no principal in the handler's context")
			}
		})
	}
}

// tamper changes the payload of a signed token, keeping its signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	c := claims(func(c jwt.MapClaims) { c["symbols"] = []string{"*"}; c["sub"] = "admin" })
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = b64url(b)
	return strings.Join(parts, ".")
}

// mintHeader signs an HS256 token with extra header fields.
func mintHeader(t *testing.T, secret []byte, header map[string]any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
