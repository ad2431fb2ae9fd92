package collector

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickerd/tickerd/internal/config"
)

// startRun runs c on spec until the returned cancel is called; the channel
// gets Run's result.
func startRun(t *testing.T, c *testCollector, spec string) (context.CancelFunc, <-chan error) {
	t.Helper()
	sched, err := config.ParseSchedule(spec)
	if err != nil {
		t.Fatalf("ParseSchedule(%q) = %v", spec, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	// Exits when Run returns, after cancel.
	go func() { done <- c.Run(ctx, sched) }()
	return cancel, done
}

func TestRunPulsesOnSchedule(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		advance time.Duration
		want    int
	}{
		// Every count includes the pulse Run makes at once.
		{"every_1s_for_3s", "@every 1s", 3 * time.Second, 4},
		{"every_1s_for_2500ms", "@every 1s", 2500 * time.Millisecond, 3},
		{"every_5s_for_12s", "@every 5s", 12 * time.Second, 3},
		{"seconds_field_every_2s_for_7s", "*/2 * * * * *", 7 * time.Second, 4},
		{"only_the_first", "@every 1s", 999 * time.Millisecond, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeDoer()
				m := NewMetrics(prometheus.NewRegistry())
				c := newTestCollector(f, []string{"AAPL", "MSFT"}, &Options{Metrics: m})
				cancel, done := startRun(t, c, tc.spec)
				time.Sleep(tc.advance) // fake time: the bubble's clock moves on
				synctest.Wait()        // the pulses due by now have run
				if got := testutil.ToFloat64(m.pulses); got != float64(tc.want) {
					t.Errorf("tickerd_pulses_total after %v = %v, want %d", tc.advance, got, tc.want)
				}
				for _, sym := range []string{"AAPL", "MSFT"} {
					if got := f.callCount(sym); got != tc.want {
						t.Errorf("requests for %s after %v = %d, want %d", sym, tc.advance, got, tc.want)
					}
				}
				cancel()
				if err := <-done; !errors.Is(err, context.Canceled) {
					t.Errorf("Run() = %v, want %v", err, context.Canceled)
				}
			})
		})
	}
}

// TestRunCancelsCollectionsInFlight: when Run's context ends, a collection
// in flight is cancelled, and Run returns only once it has gone.
func TestRunCancelsCollectionsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		c := newTestCollector(f, []string{"AAPL", "MSFT"}, &Options{StaleAfter: 1})
		cancel, done := startRun(t, c, "@every 1s")
		synctest.Wait() // the first pulse has run

		f.set("AAPL", 150, 10)
		f.setMode("AAPL", hold)
		time.Sleep(time.Second)
		synctest.Wait() // pulse 2 has run; AAPL's collection is held
		if sym := <-f.entered; sym != "AAPL" {
			t.Fatalf("held request for %q, want AAPL", sym)
		}

		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v, want %v", err, context.Canceled)
		}
		// The held collection was called off: nothing of it was recorded,
		// neither its answer nor a failure (Run ending is not the
		// upstream's fault, and in cluster mode a term that ended must not
		// write).
		if got, _ := load(t, c, "AAPL"); got.Stale || got.Failures != 0 || got.Quote.Price == 150 || got.Quote.Seq != 1 {
			t.Errorf("Value(AAPL) stale, failures, price, seq = %v, %d, %v, %d, want false, 0, not 150, 1", got.Stale, got.Failures, got.Quote.Price, got.Quote.Seq)
		}
		time.Sleep(10 * time.Second)
		if got := f.callCount("MSFT"); got != 2 {
			t.Errorf("requests for MSFT = %d, want 2 (no pulse after Run returned)", got)
		}
		if _, err := c.Collect(t.Context()); !errors.Is(err, ErrNotRunning) {
			t.Errorf("Collect() after Run = %v, want %v", err, ErrNotRunning)
		}
	})
}

func TestRunCancelledBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		c := newTestCollector(f, []string{"AAPL"}, nil)
		sched, _ := config.ParseSchedule("@every 1s")
		ctx, cancel := context.WithCancelCause(t.Context())
		stop := errors.New("stop")
		cancel(stop)
		if err := c.Run(ctx, sched); !errors.Is(err, stop) {
			t.Errorf("Run(cancelled ctx) = %v, want its cause %v", err, stop)
		}
		if got := f.callCount("AAPL"); got != 0 {
			t.Errorf("requests for AAPL = %d, want 0", got)
		}
	})
}

// TestNewSymbolPulsedAtOnce: a symbol added while Run runs is collected at
// once, without waiting for the next tick, and without collecting the
// others again.
func TestNewSymbolPulsedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		c := newTestCollector(f, []string{"AAPL"}, nil)
		cancel, done := startRun(t, c, "@every 1m")
		synctest.Wait() // the first pulse has run
		c.Add("NVDA")
		c.SetSymbols([]string{"AAPL", "MSFT"})
		synctest.Wait()
		for sym, want := range map[string]int{"AAPL": 1, "NVDA": 1, "MSFT": 1} {
			if got := f.callCount(sym); got != want {
				t.Errorf("requests for %s before the first tick = %d, want %d", sym, got, want)
			}
		}
		if got, _ := load(t, c, "NVDA"); got.Quote.Seq != 1 {
			t.Errorf("Value(NVDA).Quote.Seq = %d, want 1", got.Quote.Seq)
		}
		cancel()
		<-done
	})
}

// TestSetSchedule: a running Run switches to the new schedule (config
// reload) and keeps pulsing on it.
func TestSetSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		m := NewMetrics(prometheus.NewRegistry())
		c := newTestCollector(f, []string{"AAPL"}, &Options{Metrics: m})
		cancel, done := startRun(t, c, "@every 10s")
		time.Sleep(10 * time.Second) // fake time
		synctest.Wait()
		if got := testutil.ToFloat64(m.pulses); got != 2 {
			t.Fatalf("tickerd_pulses_total after 10s on @every 10s = %v, want 2 (at once, then at 10s)", got)
		}
		sched, err := config.ParseSchedule("@every 1s")
		if err != nil {
			t.Fatalf("ParseSchedule = %v", err)
		}
		c.SetSchedule(sched)
		synctest.Wait()             // Run has restarted the scheduler
		time.Sleep(3 * time.Second) // three pulses on the new schedule
		synctest.Wait()
		if got := testutil.ToFloat64(m.pulses); got != 5 {
			t.Errorf("tickerd_pulses_total 3s after SetSchedule(@every 1s) = %v, want 5", got)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run() = %v, want %v", err, context.Canceled)
		}
	})
}
