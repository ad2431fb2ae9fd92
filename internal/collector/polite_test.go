package collector

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// TestStaleAfter: a symbol turns stale only after StaleAfter consecutive
// failures; the failures before are counted and carry their error.
func TestStaleAfter(t *testing.T) {
	tests := []struct {
		name       string
		staleAfter int // 0: the default, 2
		want       []bool
	}{
		{"default_2", 0, []bool{false, true, true}},
		{"one", 1, []bool{true, true, true}},
		{"three", 3, []bool{false, false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeDoer()
			c := newTestCollector(f, []string{"AAPL"}, &Options{StaleAfter: tc.staleAfter})
			pulse(t, c)
			f.setMode("AAPL", broken)
			for i, want := range tc.want {
				pulse(t, c)
				got, _ := load(t, c, "AAPL")
				if got.Stale != want || got.Failures != i+1 || got.Err == "" || !got.HasQuote() {
					t.Errorf("failure %d: Value(AAPL) stale, failures, err, has quote = %v, %d, %q, %v, want %v, %d, an error, true",
						i+1, got.Stale, got.Failures, got.Err, got.HasQuote(), want, i+1)
				}
			}
		})
	}
}

// TestUnknownSymbolBacksOff: a symbol the source does not know is marked
// unknown (not stale) and asked again after 10s, 20s, 40s... up to an
// hour, not on every pulse; a good answer ends the backoff.
func TestUnknownSymbolBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		f.setMode("ZZZZ", unknown)
		c := newTestCollector(f, []string{"ZZZZ", "AAPL"}, nil)
		want := 0
		// Pulses every second for 75 s: asked at 0, 10, 30 and 70 s.
		for sec := 0; sec <= 75; sec++ {
			pulse(t, c)
			if sec == 0 || sec == 10 || sec == 30 || sec == 70 {
				want++
			}
			if got := f.callCount("ZZZZ"); got != want {
				t.Fatalf("requests for ZZZZ after %ds = %d, want %d", sec, got, want)
			}
			time.Sleep(time.Second)
		}
		if got := f.callCount("AAPL"); got != 76 {
			t.Errorf("requests for AAPL = %d, want 76 (one a pulse)", got)
		}
		got, _ := load(t, c, "ZZZZ")
		if !got.Unknown || got.Stale || !strings.Contains(got.Err, quote.ErrUnknownSymbol.Error()) {
			t.Errorf("Value(ZZZZ) unknown, stale, err = %v, %v, %q, want true, false, an unknown-symbol error", got.Unknown, got.Stale, got.Err)
		}

		// The backoff caps at an hour, and a good answer ends it.
		time.Sleep(2 * time.Hour)
		pulse(t, c) // asked: the last wait was 80s
		f.setMode("ZZZZ", answer)
		time.Sleep(time.Hour)
		pulse(t, c)
		if got, _ := load(t, c, "ZZZZ"); got.Unknown || got.Stale || !got.HasQuote() {
			t.Errorf("Value(ZZZZ) after a good answer = %+v, want a fresh quote, not unknown", got)
		}
		before := f.callCount("ZZZZ")
		time.Sleep(time.Second)
		pulse(t, c)
		if got := f.callCount("ZZZZ"); got != before+1 {
			t.Errorf("requests for ZZZZ on the pulse after recovery = %d, want %d (no backoff)", got, before+1)
		}
	})
}

// TestRetryAfterPausesSource: a 429 with Retry-After: 30 pauses the whole
// source for exactly 30 s: no request for any symbol meanwhile, every
// symbol keeps its last quote and is marked stale with the reason; then
// collection resumes.
func TestRetryAfterPausesSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		m := NewMetrics(prometheus.NewRegistry())
		c := newTestCollector(f, []string{"AAPL", "MSFT"}, &Options{Metrics: m})
		pulse(t, c)
		f.setMode("AAPL", status429)
		f.setMode("MSFT", status429)
		time.Sleep(time.Second)
		pulse(t, c) // both answered 429 with Retry-After: 30
		pausedAt := time.Now()
		if until, reason := c.Paused(); !until.Equal(pausedAt.Add(30*time.Second)) || !strings.Contains(reason, "429") {
			t.Fatalf("Paused() = %v, %q, want %v and the 429", until, reason, pausedAt.Add(30*time.Second))
		}
		f.setMode("AAPL", answer)
		f.setMode("MSFT", answer)
		before := f.totalCalls()
		for range 29 {
			time.Sleep(time.Second)
			pulse(t, c)
		}
		if got := f.totalCalls(); got != before {
			t.Errorf("requests during the 30 s pause = %d, want 0", got-before)
		}
		for _, sym := range []string{"AAPL", "MSFT"} {
			got, _ := load(t, c, sym)
			if !got.Stale || !strings.Contains(got.Err, ErrPaused.Error()) || !got.HasQuote() || got.Quote.Seq != 1 {
				t.Errorf("Value(%s) during the pause = stale %v, err %q, seq %d, want stale with the pause as reason and the last quote (seq 1)", sym, got.Stale, got.Err, got.Quote.Seq)
			}
		}
		time.Sleep(time.Second) // 30 s after the 429
		pulse(t, c)
		if got := f.totalCalls(); got != before+2 {
			t.Errorf("requests on the first pulse after the pause = %d, want 2", got-before)
		}
		if until, _ := c.Paused(); !until.IsZero() {
			t.Errorf("Paused() after the pause = %v, want zero", until)
		}
		if got := testutil.ToFloat64(m.pauses); got != 1 {
			t.Errorf("tickerd_source_pauses_total = %v, want 1", got)
		}
		if got, _ := load(t, c, "AAPL"); got.Stale {
			t.Errorf("Value(AAPL) after the pause = stale (%q), want fresh", got.Err)
		}
	})
}

// TestMaxRPS: a pulse larger than the budget is spread over time, not
// dropped: 50 symbols at 10 requests/s take 4 s (a burst of 10, then 10/s).
func TestMaxRPS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeDoer()
		syms := make([]string, 50)
		for i := range syms {
			syms[i] = "S" + string(rune('A'+i/26)) + string(rune('A'+i%26))
		}
		c := newTestCollector(f, syms, &Options{MaxRPS: 10, Timeout: time.Minute})
		start := time.Now()
		done := make(chan struct{})
		// Exits when the pulse's collections have finished.
		go func() { pulse(t, c); close(done) }()
		for sec := 0; sec <= 3; sec++ {
			synctest.Wait()
			if got, want := f.totalCalls(), 10+10*sec; got != want {
				t.Errorf("requests %ds into the pulse = %d, want %d", sec, got, want)
			}
			time.Sleep(time.Second)
		}
		<-done
		if d := time.Since(start); d != 4*time.Second {
			t.Errorf("a pulse of 50 symbols at 10/s took %v, want 4s", d)
		}
		if got := f.totalCalls(); got != 50 {
			t.Errorf("requests = %d, want 50 (none dropped)", got)
		}
	})
}

// TestFailureLogsRateLimited: a symbol failing the same way on every pulse
// is logged when it turns stale and then at most once a minute, with the
// count of failures not logged.
func TestFailureLogsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
		f := newFakeDoer()
		f.setMode("AAPL", broken)
		c := newTestCollector(f, []string{"AAPL"}, &Options{Logger: log})
		for range 240 { // 4 minutes of 1 s pulses
			pulse(t, c)
			time.Sleep(time.Second)
		}
		f.setMode("AAPL", answer)
		pulse(t, c)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		var stale, still, recovered int
		for _, l := range lines {
			switch {
			case strings.Contains(l, `msg="symbol stale"`):
				stale++
			case strings.Contains(l, `msg="symbol still failing"`):
				still++
			case strings.Contains(l, `msg="symbol recovered"`):
				recovered++
			}
		}
		// Stale at the second failure (1 s), again at 61, 121, 181 s.
		if stale != 1 || still != 3 || recovered != 1 || len(lines) != 5 {
			t.Errorf("log of 240 failures then a success: %d stale, %d still failing, %d recovered, %d lines, want 1, 3, 1, 5:\n%s", stale, still, recovered, len(lines), buf.String())
		}
	})
}

// TestWrongSymbolResetsConnection: an answer for another symbol fails that
// collection (never accepted as the symbol's quote) and resets the
// connection, so the next pulse starts aligned.
func TestWrongSymbolResetsConnection(t *testing.T) {
	f := newFakeDoer()
	c := newTestCollector(f, []string{"AAPL"}, &Options{StaleAfter: 1})
	pulse(t, c)
	good, _ := load(t, c, "AAPL")
	f.setMode("AAPL", wrongSymbol)
	pulse(t, c)
	got, _ := load(t, c, "AAPL")
	if !got.Stale || got.Quote != good.Quote || !strings.Contains(got.Err, quote.ErrWrongSymbol.Error()) {
		t.Errorf("Value(AAPL) after a wrong-symbol answer = stale %v, quote %+v, err %q, want stale, the last good quote, the wrong-symbol error", got.Stale, got.Quote, got.Err)
	}
	f.mu.Lock()
	resets := f.resets
	f.mu.Unlock()
	if resets != 2 {
		t.Errorf("connection resets = %d, want 2 (one, a second ask, another)", resets)
	}
}

// TestStrayAnswerRetried: one wrong answer (a stray answer misaligned the
// stream) costs a reset and a second ask, not the pulse: the symbol gets
// its own quote in the same collection.
func TestStrayAnswerRetried(t *testing.T) {
	f := newFakeDoer()
	c := newTestCollector(f, []string{"AAPL"}, &Options{StaleAfter: 1})
	f.setMode("AAPL", wrongUntilReset)
	f.set("AAPL", 123.45, 1000)
	pulse(t, c)
	got, _ := load(t, c, "AAPL")
	if got.Stale || got.Quote.Symbol != "AAPL" || got.Quote.Price != 123.45 || got.Quote.Seq != 1 {
		t.Errorf("Value(AAPL) after a stray answer = %+v, want AAPL's own quote at seq 1, fresh", got)
	}
	f.mu.Lock()
	resets, calls := f.resets, f.calls["AAPL"]
	f.mu.Unlock()
	if resets != 1 || calls != 2 {
		t.Errorf("resets, requests = %d, %d, want 1, 2", resets, calls)
	}
}

// leaseSink is a Board behind a Lease that ends at until, or is over.
type leaseSink struct {
	*board.Board
	until time.Time
	over  bool
}

func (l *leaseSink) Until() (time.Time, error) {
	if l.over {
		return time.Time{}, errors.New("lease over")
	}
	return l.until, nil
}

// TestLease: with a Sink that is a Lease, a collection past the lease
// sends nothing and records nothing, and a request in flight ends at the
// lease's deadline, whatever the collection timeout.
func TestLease(t *testing.T) {
	t.Run("over", func(t *testing.T) {
		f := newFakeDoer()
		sink := &leaseSink{Board: board.New(nil), over: true}
		c := &testCollector{New(quote.NewNasdaq("http://upstream.test", ""), f, sink, []string{"AAPL"}, &Options{Timeout: time.Minute}), sink.Board}
		pulse(t, c)
		if n := f.totalCalls(); n != 0 {
			t.Errorf("requests with the lease over = %d, want 0", n)
		}
		if s, _ := sink.Snapshot("AAPL"); s.Attempted || s.Failures != 0 {
			t.Errorf("Snapshot(AAPL) with the lease over = %+v, want nothing recorded", s)
		}
	})
	t.Run("deadline_bounds_request", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeDoer()
			f.setMode("AAPL", hang)
			sink := &leaseSink{Board: board.New(nil), until: time.Now().Add(2 * time.Second)}
			c := &testCollector{New(quote.NewNasdaq("http://upstream.test", ""), f, sink, []string{"AAPL"}, &Options{Timeout: time.Minute}), sink.Board}
			start := time.Now()
			pulse(t, c)
			if d := time.Since(start); d != 2*time.Second {
				t.Errorf("a hung request with a lease of 2s took %v, want 2s (not the 1m timeout)", d)
			}
		})
	})
}
