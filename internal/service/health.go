package service

import (
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// trackedSource is a quote.Source that notes when a Parse last succeeded:
// a successful collection, whether or not the price changed (an unchanged
// quote is not put on the board again, so the board cannot tell).
type trackedSource struct {
	quote.Source
	now  func() time.Time
	last atomic.Int64 // unix nanoseconds of the last successful Parse; 0: none
}

func (s *trackedSource) Parse(symbol string, resp *http.Response) (quote.Quote, error) {
	q, err := s.Source.Parse(symbol, resp)
	if err == nil {
		s.last.Store(s.now().UnixNano())
	}
	return q, err
}

// lastSuccess returns when a collection last succeeded; zero before the
// first.
func (s *trackedSource) lastSuccess() time.Time {
	if n := s.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// registerHealthMetrics exports the upstream's health as /api/status
// reports it, and the build, all read at scrape time and present from the
// start.
func registerHealthMetrics(reg prometheus.Registerer, b *board.Board, src *trackedSource, version string) {
	status := func() api.Status { return api.ReadStatus(b, src.now(), src.lastSuccess()) }
	states := []string{api.StateFresh, api.StateStale, api.StatePending}
	symbols := prometheus.NewDesc("tickerd_symbols", "Symbols collected, by state: fresh (last attempt succeeded), stale (last attempt failed), pending (not attempted yet).", []string{"state"}, nil)
	reg.MustRegister(
		collectorFunc{desc: symbols, collect: func(ch chan<- prometheus.Metric) {
			st := status()
			for _, s := range states {
				ch <- prometheus.MustNewConstMetric(symbols, prometheus.GaugeValue, float64(st.States[s]), s)
			}
		}},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickerd_symbols_fresh_ratio", Help: "Fraction of the symbols whose last collection succeeded (1 with no symbols)."},
			func() float64 { return status().FreshRatio }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickerd_last_success_timestamp_seconds", Help: "Unix time of the last successful collection; 0 before the first."},
			func() float64 {
				// On a cluster follower, which collects nothing itself,
				// the newest quote on the board.
				if t := status().LastSuccess; t != nil {
					return float64(t.UnixNano()) / 1e9
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickerd_build_info", Help: "Always 1; the labels say which build runs.",
			ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}},
			func() float64 { return 1 }),
	)
}

// collectorFunc is a prometheus.Collector of one Desc whose metrics are
// made at scrape time.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
