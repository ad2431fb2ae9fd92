package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tickerd/tickerd/internal/board"
)

// BenchmarkWatchLag measures what NATS adds between the leader and a
// follower: from a quote's collected_at on the leader to its snapshot on
// the follower's board, for every symbol of every pulse: apply-p50-ms and
// apply-p99-ms when the watch puts it on the board (from the node's
// tickerd_cluster_watch_lag_seconds histogram, interpolated within its
// buckets), p50-ms and p99-ms when a watcher of the board's Value (as the
// fan-out has, one goroutine per symbol) receives it. A pulse of all symbols at once (burst) is the
// default schedule's shape; "spread" caps the collector at 2x the symbol
// count per second (source.max_rps), so the same quotes reach NATS over
// half the second. Each iteration is one pulse (1s).
//
//	go test -run '^$' -bench WatchLag -benchtime 10x ./internal/cluster/
func BenchmarkWatchLag(b *testing.B) {
	for _, bc := range []struct {
		name    string
		symbols int
		spread  bool
	}{
		{"burst_500", 500, false},
		{"spread_500", 500, true},
		{"burst_5000", 5000, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			syms := make([]string, bc.symbols)
			for i := range syms {
				syms[i] = fmt.Sprintf("S%04d", i)
			}
			o := clusterOpts{symbols: syms, period: time.Second}
			if bc.spread {
				o.maxRPS = float64(2 * bc.symbols)
			}
			ns := startNATS(b)
			up := startUpstream(b)
			a, f := startInstance(b, ns, up, "a", o), startInstance(b, ns, up, "b", o)
			if leaderOf(b, 10*time.Second, a, f) == f {
				a, f = f, a
			}
			last := syms[len(syms)-1]
			waitFor(b, 10*time.Second, "the follower has every symbol", func() bool { _, ok := f.board.Value(last); return ok })
			before := histogramOf(b, f.node.metrics.watchLag)
			seq0 := lastSeq(b, f)
			lags := watchLags(b, f.board, syms)
			applied := histogramOf(b, f.node.metrics.watchLag).minus(before)
			b.ReportMetric(float64(lastSeq(b, f)-seq0)/float64(b.N), "msgs/pulse")
			b.ReportMetric(applied.quantile(0.5)*1e3, "apply-p50-ms")
			b.ReportMetric(applied.quantile(0.99)*1e3, "apply-p99-ms")
			slices.Sort(lags)
			if len(lags) == 0 {
				b.Fatal("no quotes reached the follower")
			}
			q := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))]) / 1e6 }
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(len(lags))/float64(b.N), "quotes/pulse")
		})
	}
}

// lastSeq returns the bucket stream's last sequence: the messages written
// to it so far.
func lastSeq(b *testing.B, in *instance) uint64 {
	st, err := in.node.bucket().Status(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
}

// watchLags watches syms on the follower's board for b.N pulses (b.N
// seconds) and returns each new quote's lag since its collection.
func watchLags(b *testing.B, fb *board.Board, syms []string) []time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var lags []time.Duration
	var wg sync.WaitGroup
	for _, s := range syms {
		v, _ := fb.Value(s)
		w := v.Watch()
		w.Recv(ctx) // the current snapshot: not a new quote
		wg.Add(1)
		// Exits when ctx is cancelled below.
		go func() {
			defer wg.Done()
			defer w.Close()
			for {
				snap, err := w.Recv(ctx)
				if err != nil {
					return
				}
				d := time.Since(snap.Quote.CollectedAt)
				mu.Lock()
				lags = append(lags, d)
				mu.Unlock()
			}
		}()
	}
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second) // one pulse: the benchmark measures what arrives in it
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	return lags
}

// hist is a histogram's cumulative bucket counts.
type hist struct {
	bounds []float64
	counts []uint64
}

func histogramOf(b *testing.B, h prometheus.Histogram) hist {
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		b.Fatal(err)
	}
	var out hist
	for _, bk := range m.GetHistogram().GetBucket() {
		out.bounds = append(out.bounds, bk.GetUpperBound())
		out.counts = append(out.counts, bk.GetCumulativeCount())
	}
	return out
}

func (h hist) minus(o hist) hist {
	out := hist{bounds: h.bounds, counts: slices.Clone(h.counts)}
	for i := range out.counts {
		out.counts[i] -= o.counts[i]
	}
	return out
}

// quantile interpolates the q-quantile linearly within its bucket.
func (h hist) quantile(q float64) float64 {
	if len(h.counts) == 0 || h.counts[len(h.counts)-1] == 0 {
		return 0
	}
	rank := q * float64(h.counts[len(h.counts)-1])
	lo, prev := 0.0, uint64(0)
	for i, c := range h.counts {
		if float64(c) >= rank {
			if c == prev {
				return h.bounds[i]
			}
			return lo + (h.bounds[i]-lo)*(rank-float64(prev))/float64(c-prev)
		}
		lo, prev = h.bounds[i], c
	}
	return h.bounds[len(h.bounds)-1]
}
