package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// countSum returns h's sample count and sum.
func countSum(t *testing.T, h prometheus.Histogram) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// TestLagMetrics: a new quote is observed once on each lag histogram
// along its path (the leader's send and ack lags, a follower's store
// and watch lags), each at least the quote's age when it was put and
// in the path's order (sent, stored, then acknowledged and applied); a snapshot without a new quote (the same quote
// marked stale) is observed on none.
func TestLagMetrics(t *testing.T) {
	ns := startNATS(t)
	syms := []string{"AAPL"}
	r := newRoundRig(t, ns, syms)
	f := startInstance(t, ns, startUpstream(t), "b", clusterOpts{symbols: syms, period: time.Hour})
	waitFor(t, 10*time.Second, "the follower has the first quote", func() bool { return f.node.Ready() == nil && seqOf(f, "AAPL") == seqOf(r.in, "AAPL") })
	const age = 30 * time.Second
	hs := []struct {
		name string
		h    prometheus.Histogram
	}{
		{"send", r.in.node.metrics.sendLag},
		{"ack", r.in.node.metrics.ackLag},
		{"store", f.node.metrics.storeLag},
		{"watch", f.node.metrics.watchLag},
	}
	for _, tc := range []struct {
		name  string
		fresh bool
	}{
		{"stale_only", false},
		{"new_quote", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counts := make([]uint64, len(hs))
			sums := make([]float64, len(hs))
			for i, h := range hs {
				counts[i], sums[i] = countSum(t, h.h)
			}
			snap := r.next("AAPL")
			if tc.fresh {
				snap.Quote.CollectedAt = time.Now().Add(-age)
			} else {
				r.term.n.mu.Lock()
				snap, _ = r.term.n.knownSnapshotLocked("AAPL")
				r.term.n.mu.Unlock()
				snap.Stale = true
			}
			if err := r.term.Put(context.Background(), snap); err != nil {
				t.Fatalf("Put = %v, want nil", err)
			}
			r.term.n.mu.Lock()
			rev := r.term.n.latest[shardOf("AAPL")]["AAPL"].rev
			r.term.n.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := f.node.waitApplied(ctx, rev); err != nil {
				t.Fatalf("follower waitApplied(%d) = %v", rev, err)
			}
			var lags []float64
			for i, h := range hs {
				c, s := countSum(t, h.h)
				want := counts[i]
				if tc.fresh {
					want++
				}
				if c != want {
					t.Errorf("%s lag: %d observations, want %d", h.name, c, want)
				}
				lags = append(lags, s-sums[i])
			}
			if !tc.fresh || t.Failed() {
				return
			}
			for i, h := range hs {
				if lags[i] < age.Seconds() {
					t.Errorf("%s lag = %.3fs, want at least %v", h.name, lags[i], age)
				}
			}
			// The path: sent, stored, then acknowledged and delivered.
			for _, p := range [][2]int{{0, 2}, {2, 1}, {2, 3}} {
				if a, b := lags[p[0]], lags[p[1]]; a > b {
					t.Errorf("%s lag = %.4fs > %s lag = %.4fs, want it no later", hs[p[0]].name, a, hs[p[1]].name, b)
				}
			}
		})
	}
}
