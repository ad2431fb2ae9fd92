package collector

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickerd/tickerd/internal/quote"
)

// Metrics are the collector's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	pulses      prometheus.Counter
	collections *prometheus.CounterVec // symbol, outcome
	latency     prometheus.Histogram   // seconds per collection
	skipped     *prometheus.CounterVec // symbol
	putFailures prometheus.Counter
	pauses      prometheus.Counter
	pauseUntil  prometheus.Gauge
}

// NewMetrics creates the collector's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		pulses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickerd_pulses_total", Help: "Pulses run."}),
		collections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickerd_collections_total", Help: "Collections by symbol and outcome."},
			[]string{"symbol", "outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tickerd_collection_seconds", Help: "Time from request to parsed quote.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickerd_collections_skipped_total", Help: "Collections skipped because the previous one was still running."},
			[]string{"symbol"}),
		putFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickerd_snapshot_put_failures_total", Help: "Collected snapshots the sink did not take (in cluster mode: writes fenced or lost)."}),
	}
	m.pauses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tickerd_source_pauses_total", Help: "Times the source asked to be left alone (HTTP 429 or 503 with Retry-After)."})
	m.pauseUntil = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tickerd_source_paused_until_timestamp_seconds", Help: "Unix time until which no request is sent to the source; in the past when not paused."})
	reg.MustRegister(m.pulses, m.collections, m.latency, m.skipped, m.putFailures, m.pauses, m.pauseUntil)
	return m
}

func (m *Metrics) pulse() {
	if m != nil {
		m.pulses.Inc()
	}
}

// addSymbol makes sym's series exist from the start, so that alerts need
// no "or vector(0)".
func (m *Metrics) addSymbol(sym string) {
	if m != nil {
		m.skipped.WithLabelValues(sym)
		m.collections.WithLabelValues(sym, "ok")
	}
}

// removeSymbol deletes sym's series: symbols come and go (clients add
// them), and the series must not grow without bound.
func (m *Metrics) removeSymbol(sym string) {
	if m != nil {
		m.skipped.DeletePartialMatch(prometheus.Labels{"symbol": sym})
		m.collections.DeletePartialMatch(prometheus.Labels{"symbol": sym})
	}
}

func (m *Metrics) paused() {
	if m != nil {
		m.pauses.Inc()
	}
}

func (m *Metrics) pausedUntil(t time.Time) {
	if m != nil {
		m.pauseUntil.Set(float64(t.UnixNano()) / 1e9)
	}
}

func (m *Metrics) putFailed() {
	if m != nil {
		m.putFailures.Inc()
	}
}

func (m *Metrics) skip(sym string) {
	if m != nil {
		m.skipped.WithLabelValues(sym).Inc()
	}
}

func (m *Metrics) collected(sym string, err error, d time.Duration) {
	if m == nil {
		return
	}
	m.collections.WithLabelValues(sym, outcome(err)).Inc()
	m.latency.Observe(d.Seconds())
}

// outcome names the kind of a collection's result for the metrics label.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, quote.ErrUnknownSymbol):
		return "unknown_symbol"
	case errors.Is(err, quote.ErrUpstream):
		return "upstream_error"
	case errors.Is(err, quote.ErrMalformed), errors.Is(err, quote.ErrTooLarge):
		return "malformed"
	case errors.Is(err, quote.ErrNotQuote):
		return "not_quote"
	case errors.Is(err, quote.ErrWrongSymbol):
		return "wrong_symbol"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, new(*quote.StatusError)):
		return "http_status"
	}
	return "transport_error"
}
