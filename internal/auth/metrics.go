package auth

import (
	"errors"
	"hash/maphash"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// maxSubjects bounds the distinct subjects counted: past it the gauge
// stays, so that the set of hashes cannot grow without end.
const maxSubjects = 100_000

// Results of Verify, the label values of
// tickerd_auth_verifications_total.
const (
	resultOK      = "ok"
	resultInvalid = "invalid"
	resultExpired = "expired"
)

// metrics are an Authenticator's Prometheus metrics. A nil *metrics
// records nothing. It is safe for concurrent use.
type metrics struct {
	ok, invalid, expired prometheus.Counter
	subjects             prometheus.Gauge

	seed maphash.Seed // of this process only: the hashes are never shown

	mu sync.Mutex
	// seen holds a hash of each subject verified, up to maxSubjects;
	// guarded by mu.
	seen map[uint64]struct{}
}

// newMetrics creates the metrics and registers them with reg; a nil reg
// means no metrics.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickerd_auth_verifications_total",
		Help: "Tokens verified (REST, websocket upgrades and auth ops), by result: ok, invalid or expired."},
		[]string{"result"})
	m := &metrics{
		ok:      vec.WithLabelValues(resultOK),
		invalid: vec.WithLabelValues(resultInvalid),
		expired: vec.WithLabelValues(resultExpired),
		subjects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tickerd_auth_subjects",
			Help: "Distinct JWT subjects (sub) verified since start, counted up to 100000; the subjects themselves are never exported."}),
		seed: maphash.MakeSeed(),
		seen: make(map[uint64]struct{}),
	}
	reg.MustRegister(vec, m.subjects)
	return m
}

// verified records the outcome of one Verify: err is its error, p its
// Principal when it succeeded.
func (m *metrics) verified(p *Principal, err error) {
	switch {
	case m == nil:
	case errors.Is(err, ErrTokenExpired):
		m.expired.Inc()
	case err != nil:
		m.invalid.Inc()
	default:
		m.ok.Inc()
		if p.subject != "" {
			m.subject(p.subject)
		}
	}
}

// subject counts sub, if it is new and there is room.
func (m *metrics) subject(sub string) {
	h := maphash.String(m.seed, sub)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[h]; ok || len(m.seen) >= maxSubjects {
		return
	}
	m.seen[h] = struct{}{}
	m.subjects.Set(float64(len(m.seen)))
}
