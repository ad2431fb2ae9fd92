package fanout

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// logRecords is a slog.Handler that hands the records with a given
// message to a channel, with their time.
type logRecords struct {
	want map[string]chan time.Time
}

func newLogRecords(msgs ...string) *logRecords {
	l := &logRecords{want: make(map[string]chan time.Time)}
	for _, m := range msgs {
		l.want[m] = make(chan time.Time, 16)
	}
	return l
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	if ch, ok := l.want[r.Message]; ok {
		select {
		case ch <- r.Time:
		default:
		}
	}
	return nil
}

// wait returns the time of the next record with message msg.
func (l *logRecords) wait(t *testing.T, msg string) time.Time {
	t.Helper()
	select {
	case at := <-l.want[msg]:
		return at
	case <-time.After(waitLimit):
		t.Fatalf("no log record %q within %v", msg, waitLimit)
		return time.Time{}
	}
}

const (
	logSlow         = "websocket client too slow: disconnecting"
	logDisconnected = "websocket client disconnected"
)

// manySymbols returns n symbols S0000, S0001, ...
func manySymbols(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("S%04d", i)
	}
	return out
}

// TestNeverReadingClientCut: a client that stops reading is closed with
// 1008 within WriteTimeout + 2s of the server falling behind, with default
// kernel buffers on its side (the server's send buffer is SendBuffer, not
// the megabytes autotuning would give it). Before SendBuffer, a pulse of
// this size (about 350 KB) fitted in the kernel and the client stayed.
func TestNeverReadingClientCut(t *testing.T) {
	const wt = 500 * time.Millisecond
	syms := manySymbols(1500)
	src := newFakeSource(syms...)
	logs := newLogRecords(logSlow, logDisconnected)
	h := newHarness(t, src, &Options{WriteTimeout: wt, PingInterval: time.Hour, MaxSymbolsPerClient: 2000,
		Logger: slog.New(logs)}, nil)
	c := h.dial(t, "never", "?symbols=*", nil)
	if m := c.expect("subscribed"); len(m.Symbols) != len(syms) {
		t.Fatalf("subscribed to %d symbols, want %d", len(m.Symbols), len(syms))
	}

	// The client reads nothing more. One pulse is more than the server's
	// send buffer and the client's receive buffer hold.
	start := time.Now()
	for _, s := range syms {
		src.set(t, s, snapQuote(s, 1))
	}
	cut := logs.wait(t, logSlow)
	gone := logs.wait(t, logDisconnected)
	if d := cut.Sub(start); d < wt || d > wt+2*time.Second {
		t.Errorf("client cut %v after the pulse, want between WriteTimeout %v and %v", d, wt, wt+2*time.Second)
	}
	if d := gone.Sub(start); d > wt+2*time.Second {
		t.Errorf("client's connection closed %v after the pulse, want within %v", d, wt+2*time.Second)
	}

	// What the socket held, whole frames in order, then the close frame.
	n := 0
	for {
		m, err := c.readErr()
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Fatalf("Read() after %d quotes = %v (status %v), want close status 1008", n, err, got)
			}
			break
		}
		if m.Type != "quote" || m.Seq != 1 {
			t.Fatalf("Read() = %s, want a quote with seq 1", m)
		}
		n++
	}
	t.Logf("cut %v after the pulse; the socket held %d of %d quotes", cut.Sub(start), n, len(syms))
	if n >= len(syms) {
		t.Fatalf("client read all %d quotes, want fewer: the pulse fitted in the socket", n)
	}
	if got := h.metric("tickerd_ws_slow_disconnects_total", ""); got != 1 {
		t.Fatalf("tickerd_ws_slow_disconnects_total = %v, want 1", got)
	}
}

// TestSteadySlowReaderStays: a client that reads steadily, but far slower
// than its quotes come, is not cut: it skips intermediate quotes
// (coalescing), its seqs never go down, and it gets the last pulse.
func TestSteadySlowReaderStays(t *testing.T) {
	// WriteTimeout well above the reader's pace, so that a CI machine
	// starving this test's reader under -race for a second does not cut
	// it (seen once with 1s); the offer lasts 3s whatever it is.
	const wt, offer = 3 * time.Second, 3 * time.Second
	syms := manySymbols(200)
	src := newFakeSource(syms...)
	h := newHarness(t, src, &Options{WriteTimeout: wt, PingInterval: time.Hour}, nil)
	c := h.dial(t, "slow", "?symbols=*", nil)
	c.expect("subscribed")

	// The publisher offers about 1.8 MB/s for 3 s; the
	// reader takes at most 460 KB/s. (On loopback the segment size is
	// 64 KiB: the socket takes bytes in steps that big, so a reader must
	// take several per WriteTimeout.)
	done := make(chan uint64)
	// Exits after its last pulse.
	go func() {
		seq := uint64(0)
		for end := time.Now().Add(offer); time.Now().Before(end); {
			seq++
			for _, s := range syms {
				src.set(t, s, snapQuote(s, seq))
			}
			time.Sleep(25 * time.Millisecond)
		}
		done <- seq
	}()
	last := make(map[string]uint64)
	read := func() {
		m := c.read()
		if m.Type != "quote" || m.Seq <= last[m.Symbol] {
			t.Fatalf("Read() = %s after seq %d, want a quote with a higher seq", m, last[m.Symbol])
		}
		last[m.Symbol] = m.Seq
	}
	var final uint64
	for i := 0; ; i++ {
		select {
		case final = <-done:
		default:
		}
		if final > 0 {
			break
		}
		read()
		if i%10 == 9 {
			time.Sleep(5 * time.Millisecond) // the reader's pace
		}
	}
	for _, s := range syms { // then every symbol's last quote arrives
		for last[s] < final {
			read()
		}
	}
	if got := h.metric("tickerd_ws_slow_disconnects_total", ""); got != 0 {
		t.Fatalf("tickerd_ws_slow_disconnects_total = %v, want 0: a steady reader is not cut", got)
	}
	if got := h.metric("tickerd_ws_updates_skipped_total", ""); got == 0 {
		t.Fatalf("tickerd_ws_updates_skipped_total = 0, want the slow reader's skipped quotes counted")
	}
}
