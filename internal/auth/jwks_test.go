package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseJWKS(t *testing.T) {
	k := keys()
	with := func(m map[string]any, kv ...any) map[string]any {
		c := make(map[string]any, len(m))
		for key, v := range m {
			c[key] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	rsaJWK, ecJWK, edJWK := jwkOf(k.rsa, "r"), jwkOf(k.ec, "e"), jwkOf(k.ed, "d")
	tests := []struct {
		name     string
		doc      string
		wantAlgs map[string][]string // kid -> algorithms
		skipped  int
		wantErr  string
	}{
		{name: "all_types", doc: string(jwksDoc(rsaJWK, ecJWK, edJWK, jwkOf(k.ec384, "e384"))), wantAlgs: map[string][]string{
			"r": rsaAlgs, "e": {"ES256"}, "d": {"EdDSA"}, "e384": {"ES384"}}},
		{name: "alg_narrows", doc: string(jwksDoc(with(rsaJWK, "alg", "PS384"))), wantAlgs: map[string][]string{"r": {"PS384"}}},
		{name: "skips_unusable", doc: string(jwksDoc(ecJWK,
			with(rsaJWK, "kid", "enc", "use", "enc"),
			with(rsaJWK, "kid", "ops", "key_ops", []string{"encrypt"}),
			with(rsaJWK, "kid", "oaep", "alg", "RSA-OAEP"),
			with(rsaJWK, "kid", "hs", "alg", "HS256"),
			map[string]any{"kty": "oct", "k": "c2VjcmV0", "kid": "oct"},
			map[string]any{"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"},
			map[string]any{"kty": "OKP", "crv": "X25519", "x": "AA"},
			map[string]any{"kty": "nope"},
		)), wantAlgs: map[string][]string{"e": {"ES256"}}, skipped: 8},
		{name: "key_ops_verify", doc: string(jwksDoc(with(edJWK, "key_ops", []string{"verify"}, "use", "sig"))), wantAlgs: map[string][]string{"d": {"EdDSA"}}},
		{name: "padding_tolerated", doc: string(jwksDoc(with(edJWK, "x", edJWK["x"].(string)+"="))), wantAlgs: map[string][]string{"d": {"EdDSA"}}},
		{name: "no_kid", doc: string(jwksDoc(with(edJWK, "kid", nil))), wantAlgs: map[string][]string{"": {"EdDSA"}}},

		{name: "syntax_line", doc: "{\n  \"keys\": [\n    {\"kty\": \"RSA\",}\n  ]\n}", wantErr: "jwks.json:3: invalid character '}'"},
		{name: "type_line", doc: "{\n\"keys\": {}\n}", wantErr: "jwks.json:2: json: cannot unmarshal object"},
		{name: "not_a_set", doc: `{"kty":"RSA"}`, wantErr: `jwks.json: not a JWK Set: no "keys" array`},
		{name: "no_usable_keys", doc: `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, wantErr: "jwks.json: no usable keys (1 skipped"},
		{name: "empty_set", doc: `{"keys":[]}`, wantErr: "jwks.json: no usable keys (0 skipped"},
		{name: "key_not_object", doc: `{"keys":[7]}`, wantErr: "jwks.json: keys[0]: json: cannot unmarshal number"},
		{name: "duplicate_kid", doc: string(jwksDoc(ecJWK, with(edJWK, "kid", "e"))), wantErr: `jwks.json: keys[1] (kid "e"): kid used by an earlier key`},
		{name: "alg_does_not_fit", doc: string(jwksDoc(with(ecJWK, "alg", "ES384"))), wantErr: `keys[0] (kid "e"): alg "ES384" does not fit a EC key`},
		{name: "rsa_alg_on_ec", doc: string(jwksDoc(with(ecJWK, "alg", "RS256"))), wantErr: `alg "RS256" does not fit`},
		{name: "ec_off_curve", doc: string(jwksDoc(with(ecJWK, "y", ecJWK["x"]))), wantErr: `keys[0] (kid "e"): bad P-256 point`},
		{name: "ec_short_x", doc: string(jwksDoc(with(ecJWK, "x", "AAAA"))), wantErr: `member "x" of 3 bytes, want 32`},
		{name: "ec_missing_y", doc: string(jwksDoc(with(ecJWK, "y", nil))), wantErr: `member "y" missing`},
		{name: "ed_short", doc: string(jwksDoc(with(edJWK, "x", "AAAA"))), wantErr: `member "x" of 3 bytes, want 32`},
		{name: "rsa_bad_base64", doc: string(jwksDoc(with(rsaJWK, "n", "!!"))), wantErr: `member "n": illegal base64`},
		{name: "rsa_small", doc: string(jwksDoc(with(rsaJWK, "n", b64url(k.rsa.N.Bytes()[:128])))), wantErr: "RSA key of 1024 bits, want at least 2048"},
		{name: "rsa_even_e", doc: string(jwksDoc(with(rsaJWK, "e", "AQAA"))), wantErr: `member "e" is 65536, want an odd number`},
		{name: "rsa_long_e", doc: string(jwksDoc(with(rsaJWK, "e", "AQAAAAAB"))), wantErr: `member "e" of 6 bytes, want at most 4`},
		{name: "too_many", doc: string(jwksDoc(slices.Repeat([]map[string]any{with(edJWK, "kid", nil)}, maxJWKSKeys+1)...)), wantErr: "more than 64 usable keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := parseJWKS("jwks.json", []byte(tt.doc))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseJWKS = %v, want ErrKeyFile with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJWKS = %v, want nil", err)
			}
			if set.skipped != tt.skipped {
				t.Errorf("skipped = %d, want %d", set.skipped, tt.skipped)
			}
			got := make(map[string][]string)
			for _, vk := range set.keys {
				got[vk.kid] = vk.algs
			}
			if len(got) != len(tt.wantAlgs) {
				t.Errorf("keys = %v, want %v", got, tt.wantAlgs)
			}
			for kid, want := range tt.wantAlgs {
				if !slices.Equal(got[kid], want) {
					t.Errorf("algs of kid %q = %v, want %v", kid, got[kid], want)
				}
			}
		})
	}
}

// TestParseJWKSKeys checks that the keys come out as the same public keys
// that went in.
func TestParseJWKSKeys(t *testing.T) {
	k := keys()
	set, err := parseJWKS("jwks.json", jwksDoc(jwkOf(k.rsa, "r"), jwkOf(k.ec, "e"), jwkOf(k.ed, "d")))
	if err != nil {
		t.Fatalf("parseJWKS = %v", err)
	}
	for kid, want := range map[string]interface{ Equal(crypto.PublicKey) bool }{"r": &k.rsa.PublicKey, "e": &k.ec.PublicKey, "d": k.ed.Public().(ed25519.PublicKey)} {
		if got := set.kid(kid); got == nil || !want.Equal(got.key) {
			t.Errorf("kid(%q) = %v, want the generated key", kid, got)
		}
	}
	if got := set.kid(""); got != nil {
		t.Errorf("kid(\"\") = %v, want nil", got)
	}
	if got := (*jwkSet)(nil).kid("r"); got != nil {
		t.Errorf("nil set: kid(\"r\") = %v, want nil", got)
	}
	if _, ok := set.byKid["r"].key.(*rsa.PublicKey); !ok {
		t.Errorf("key r is %T, want *rsa.PublicKey", set.byKid["r"].key)
	}
	if _, ok := set.byKid["e"].key.(*ecdsa.PublicKey); !ok {
		t.Errorf("key e is %T, want *ecdsa.PublicKey", set.byKid["e"].key)
	}
}

// FuzzParseJWKS checks that any document either parses into 1 to 64 usable
// keys, each with algorithms that fit its type, or fails with ErrKeyFile
// naming the file, and never panics.
func FuzzParseJWKS(f *testing.F) {
	k := keys()
	f.Add(jwksDoc(jwkOf(k.rsa, "r"), jwkOf(k.ec, "e"), jwkOf(k.ed, "")))
	f.Add(jwksDoc(jwkOf(k.ec384, "x")))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA","alg":"ES512"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","use":"sig","key_ops":["verify"]}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AA"},{"kty":"OKP","crv":"Ed25519","x":"` + b64url(make([]byte, 32)) + `"}]}`))
	f.Add([]byte("{\n\"keys\": [1, null, {}]\n}"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := parseJWKS("fuzz.json", data)
		if err != nil {
			if !errors.Is(err, ErrKeyFile) || !strings.HasPrefix(err.Error(), "auth: bad key file: fuzz.json") {
				t.Fatalf("parseJWKS = %v, want ErrKeyFile naming fuzz.json", err)
			}
			return
		}
		if n := len(set.keys); n < 1 || n > maxJWKSKeys {
			t.Fatalf("parseJWKS kept %d keys, want 1 to %d", n, maxJWKSKeys)
		}
		for _, vk := range set.keys {
			want, err := newVerifyKey(vk.key)
			if err != nil {
				t.Fatalf("key %q: newVerifyKey = %v", vk.kid, err)
			}
			if len(vk.algs) == 0 {
				t.Fatalf("key %q allows no algorithm", vk.kid)
			}
			for _, alg := range vk.algs {
				if !want.allows(alg) {
					t.Fatalf("key %q (%T) allows %s", vk.kid, vk.key, alg)
				}
			}
			if vk.kid != "" && set.byKid[vk.kid] != vk {
				t.Fatalf("byKid[%q] is not the key with that kid", vk.kid)
			}
		}
		// Parsing is a function of the document: a reload of the same
		// file gives the same keys.
		again, err := parseJWKS("fuzz.json", data)
		if err != nil {
			t.Fatalf("second parseJWKS = %v, want nil", err)
		}
		if len(again.keys) != len(set.keys) {
			t.Fatalf("second parseJWKS = %d keys, want %d", len(again.keys), len(set.keys))
		}
		for i, vk := range again.keys {
			if !vk.key.(interface{ Equal(crypto.PublicKey) bool }).Equal(set.keys[i].key) || !slices.Equal(vk.algs, set.keys[i].algs) {
				t.Fatalf("second parseJWKS key %d differs", i)
			}
		}
	})
}
