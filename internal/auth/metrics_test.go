package auth

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// TestVerifyMetrics: every Verify is counted by its result, and the
// distinct subjects of the JWTs verified are counted, never shown.
func TestVerifyMetrics(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	a, err := New(&Options{
		JWT:         JWTOptions{HMACSecretFile: writeFile(t, dir, "secret", k.secret)},
		APIKeysFile: writeFile(t, dir, "keys", []byte("metrics-test-key-0123456789\n")),
		Registerer:  reg,
	})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	tok := func(claims jwt.MapClaims) string { return mint(t, jwt.SigningMethodHS256, k.secret, "", claims) }
	for _, token := range []string{
		tok(jwt.MapClaims{"exp": exp, "sub": "alice-subject"}),
		tok(jwt.MapClaims{"exp": exp, "sub": "alice-subject", "max_symbols": 3}), // the same subject again
		tok(jwt.MapClaims{"exp": exp, "sub": "bob-subject"}),
		tok(jwt.MapClaims{"exp": exp}),                                                       // no subject
		"metrics-test-key-0123456789",                                                        // an API key: no subject
		tok(jwt.MapClaims{"exp": time.Now().Add(-time.Hour).Unix(), "sub": "carol-subject"}), // expired: not counted as seen
		mint(t, jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-or-more!!"), "", jwt.MapClaims{"exp": exp, "sub": "dave-subject"}),
		"not-a-token",
	} {
		_, _ = a.Verify(token) // the outcomes are what is checked
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	got := map[string]float64{}
	var text strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			t.Fatalf("MetricFamilyToText = %v", err)
		}
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			if m.GetCounter() != nil {
				got[key] = m.GetCounter().GetValue()
			} else {
				got[key] = m.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"tickerd_auth_verifications_total{result=ok}":      5,
		"tickerd_auth_verifications_total{result=expired}": 1,
		"tickerd_auth_verifications_total{result=invalid}": 2,
		"tickerd_auth_subjects":                            2,
	}
	for key, w := range want {
		if got[key] != w {
			t.Errorf("metric %s = %v, want %v", key, got[key], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("metrics = %v, want only %v", got, want)
	}
	if s := text.String(); strings.Contains(s, "-subject") {
		t.Errorf("metrics show a subject:\n%s", s)
	}
}

// TestSubjectsBounded: past maxSubjects new subjects are not counted.
func TestSubjectsBounded(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	for i := range maxSubjects + 10 {
		m.subject("subject-" + strconv.Itoa(i))
	}
	if got := len(m.seen); got != maxSubjects {
		t.Errorf("subjects kept = %d, want %d", got, maxSubjects)
	}
	if got := testutil.ToFloat64(m.subjects); got != maxSubjects {
		t.Errorf("tickerd_auth_subjects = %v, want %d", got, maxSubjects)
	}
}
