package service

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickerd/tickerd/internal/httpx"
)

// registerClientMetrics exposes the httpx client's counters, read at
// scrape time.
func registerClientMetrics(reg prometheus.Registerer, c *httpx.Client) {
	counter := func(name, help string, f func(httpx.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(c.Stats())) })
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickerd_source_in_flight", Help: "Requests written to the quote source and not answered yet."},
			func() float64 { return float64(c.Stats().InFlight) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickerd_source_connected", Help: "1 while the quote source connection is open."},
			func() float64 {
				if c.Stats().Connected {
					return 1
				}
				return 0
			}),
		counter("tickerd_source_requests_total", "Requests sent to the quote source.", func(s httpx.Stats) uint64 { return s.Requests }),
		counter("tickerd_source_dials_total", "Connections opened to the quote source.", func(s httpx.Stats) uint64 { return s.Dials }),
		counter("tickerd_source_dial_errors_total", "Failed dials to the quote source.", func(s httpx.Stats) uint64 { return s.DialErrors }),
		counter("tickerd_source_conn_errors_total", "Quote source connections that died with requests in flight.", func(s httpx.Stats) uint64 { return s.ConnErrors }),
		counter("tickerd_source_retries_total", "Requests sent again on a new connection.", func(s httpx.Stats) uint64 { return s.Retries }),
		counter("tickerd_source_failures_total", "Requests failed by the connection.", func(s httpx.Stats) uint64 { return s.Failures }),
		counter("tickerd_source_drain_resets_total", "Connections reset because a body was too long to drain.", func(s httpx.Stats) uint64 { return s.DrainResets }),
	)
}
