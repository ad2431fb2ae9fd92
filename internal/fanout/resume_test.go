package fanout

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/board"
)

// expectSubscribedResume reads the next message and checks it is
// "subscribed" with syms, epoch and exactly recovered (nil: no
// "recovered" field).
func (w *wsClient) expectSubscribedResume(epoch string, recovered []string, syms ...string) msg {
	w.t.Helper()
	m := w.expect("subscribed")
	switch {
	case m.Symbols == nil || !slices.Equal(m.Symbols, syms):
		w.t.Fatalf("%s: Read() = %s, want subscribed %q", w.name, m, syms)
	case m.Epoch != epoch:
		w.t.Fatalf("%s: Read() = %s, want epoch %q", w.name, m, epoch)
	case (recovered == nil) != (m.Recovered == nil) || !slices.Equal(m.Recovered, recovered):
		w.t.Fatalf("%s: Read() = %s, want recovered %q", w.name, m, recovered)
	}
	return m
}

// expectReset reads the next message and checks it is a reset to epoch.
func (w *wsClient) expectReset(epoch string) {
	w.t.Helper()
	if m := w.expect("reset"); m.Epoch != epoch {
		w.t.Fatalf("%s: Read() = %s, want reset to epoch %q", w.name, m, epoch)
	}
}

// expectStatus reads the next message and checks it is sym's status.
func (w *wsClient) expectStatus(sym string, stale bool) {
	w.t.Helper()
	if m := w.expect("status"); m.Symbol != sym || m.Stale != stale {
		w.t.Fatalf("%s: Read() = %s, want status %s stale %v", w.name, m, sym, stale)
	}
}

// TestSubscribedCarriesEpoch: every "subscribed" names the board's epoch,
// without "recovered" unless the subscribe had "since".
func TestSubscribedCarriesEpoch(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"list"}`)
	c.expectSubscribedResume(testEpoch, nil)
	c.send(`{"op":"subscribe","symbols":["AAPL"]}`)
	c.expectSubscribedResume(testEpoch, nil, "AAPL")
	c.send(`{"op":"unsubscribe","symbols":["AAPL"]}`)
	c.expectSubscribedResume(testEpoch, nil)
}

// TestResumeSameEpoch: a resuming client gets each symbol's current quote
// only if it is newer than its own, the status of stale and unknown
// symbols, and later only quotes newer than the ones it has.
func TestResumeSameEpoch(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT", "GOOG", "NVDA", "TSLA", "AMZN")
	h := newHarness(t, src, nil, nil)
	src.set(t, "AAPL", snapQuote("AAPL", 5))                           // the client has it
	src.set(t, "MSFT", stale(snapQuote("MSFT", 3), "upstream 503", 2)) // has it, but stale
	src.set(t, "GOOG", snapQuote("GOOG", 7))                           // the client is ahead: not recovered
	src.set(t, "NVDA", snapQuote("NVDA", 2))                           // one newer than the client's
	src.set(t, "TSLA", snapQuote("TSLA", 4))                           // not in since: all of it
	unknown := board.Snapshot{Symbol: "AMZN", Unknown: true, Err: "unknown symbol", Attempted: true, Failures: 1}
	src.set(t, "AMZN", unknown) // never quoted, unknown to the source

	c := h.dial(t, "client", "", nil)
	// IBM is in since but not subscribed: ignored. "msft" is normalised.
	c.send(`{"op":"subscribe","symbols":["AAPL","MSFT","GOOG","NVDA","TSLA","AMZN"],` +
		`"since":{"epoch":"E1","seq":{"AAPL":5,"msft":3,"GOOG":9,"NVDA":1,"AMZN":0,"IBM":4}}}`)
	c.expectSubscribedResume(testEpoch, []string{"AAPL", "AMZN", "MSFT", "NVDA"}, "AAPL", "AMZN", "GOOG", "MSFT", "NVDA", "TSLA")
	// In request order: MSFT's stale status (no quote: the client has seq
	// 3), NVDA's seq 2, TSLA's snapshot, AMZN's unknown status. Nothing of
	// AAPL (has 5) or GOOG (has 9).
	c.expectStatus("MSFT", true)
	c.expectQuote("NVDA", 2)
	c.expectQuote("TSLA", 4)
	if m := c.expect("status"); m.Symbol != "AMZN" || !m.Unknown || m.Error != "unknown symbol" {
		t.Fatalf("Read() = %s, want AMZN's unknown status", m)
	}

	// Later quotes: only those newer than the client's.
	src.set(t, "GOOG", snapQuote("GOOG", 8)) // older than the client's 9
	src.set(t, "AAPL", snapQuote("AAPL", 6))
	c.expectQuote("AAPL", 6)
	src.set(t, "GOOG", snapQuote("GOOG", 10))
	c.expectQuote("GOOG", 10)
}

// TestResumeOtherEpoch: since of another epoch gets a reset, then full
// snapshots, whatever the seqs.
func TestResumeOtherEpoch(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, nil, nil)
	src.set(t, "AAPL", snapQuote("AAPL", 5))
	src.set(t, "MSFT", snapQuote("MSFT", 2))

	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"subscribe","symbols":["AAPL"],"since":{"epoch":"OLD","seq":{"AAPL":9}}}`)
	c.expectReset(testEpoch)
	c.expectSubscribedResume(testEpoch, []string{}, "AAPL")
	c.expectQuote("AAPL", 5)
	// Another subscribe with the same since, sent before the client saw
	// the reset, needs none: its symbols get full snapshots.
	c.send(`{"op":"subscribe","symbols":["MSFT"],"since":{"epoch":"OLD","seq":{"MSFT":9}}}`)
	c.expectSubscribedResume(testEpoch, []string{}, "AAPL", "MSFT")
	c.expectQuote("MSFT", 2)
	// A since of yet another epoch resets again, and every symbol of the
	// client starts afresh.
	c.send(`{"op":"subscribe","symbols":["MSFT"],"since":{"epoch":"OTHER","seq":{}}}`)
	c.expectReset(testEpoch)
	c.expectSubscribedResume(testEpoch, []string{}, "AAPL", "MSFT")
	got := []msg{c.expect("quote"), c.expect("quote")}
	slices.SortFunc(got, func(a, b msg) int { return strings.Compare(a.Symbol, b.Symbol) })
	if got[0].Symbol != "AAPL" || got[0].Seq != 5 || got[1].Symbol != "MSFT" || got[1].Seq != 2 {
		t.Fatalf("Read() = %s, %s, want AAPL 5 and MSFT 2 again", got[0], got[1])
	}
}

// TestResumeQuery: ?symbols=...&since=... resumes on connect.
func TestResumeQuery(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, nil, nil)
	src.set(t, "AAPL", snapQuote("AAPL", 5))
	src.set(t, "MSFT", snapQuote("MSFT", 2))
	since := url.QueryEscape(`{"epoch":"E1","seq":{"AAPL":5,"MSFT":1}}`)
	c := h.dial(t, "client", "?symbols=AAPL,MSFT&since="+since, nil)
	c.expectSubscribedResume(testEpoch, []string{"AAPL", "MSFT"}, "AAPL", "MSFT")
	c.expectQuote("MSFT", 2)
	src.set(t, "AAPL", snapQuote("AAPL", 6))
	c.expectQuote("AAPL", 6)
}

// TestEpochChangeResets: when the board's epoch changes, each client gets
// "reset" before any quote of the new epoch, and no quote of the old one
// after it. The epoch changes many times in a row, quicker than the client
// reads, so that the watchers race the epoch watcher.
func TestEpochChangeResets(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, nil, nil)
	src.set(t, "AAPL", snapQuote("AAPL", 5))
	c := h.dial(t, "client", "?symbols=AAPL,MSFT", nil)
	c.expectSubscribedResume(testEpoch, nil, "AAPL", "MSFT")
	c.expectQuote("AAPL", 5)

	// Round r has epoch "R<r>"; its quotes have price 1000*r + seq, so
	// that a quote tells its epoch.
	const rounds = 40
	quote := func(sym string, r int, seq uint64) board.Snapshot {
		s := snapQuote(sym, seq)
		s.Quote.Price = float64(1000*r) + float64(seq)
		return s
	}
	for r := 1; r <= rounds; r++ {
		src.SetEpoch(fmt.Sprintf("R%d", r))
		for seq := uint64(1); seq <= 3; seq++ {
			src.set(t, "AAPL", quote("AAPL", r, seq))
			src.set(t, "MSFT", quote("MSFT", r, seq))
		}
	}
	round := 0 // of the last reset read
	last := map[string]uint64{}
	for round < rounds || last["AAPL"] < 3 || last["MSFT"] < 3 {
		m := c.read()
		switch m.Type {
		case "reset":
			var r int
			if _, err := fmt.Sscanf(m.Epoch, "R%d", &r); err != nil || r <= round {
				t.Fatalf("Read() = %s after a reset to round %d, want a later round", m, round)
			}
			round = r
			clear(last)
		case "quote":
			if r := int(m.Price) / 1000; r != round {
				t.Fatalf("Read() = %s of round %d, after a reset to round %d", m, r, round)
			}
			if m.Seq <= last[m.Symbol] {
				t.Fatalf("Read() = %s after seq %d in the same epoch, want a higher seq", m, last[m.Symbol])
			}
			last[m.Symbol] = m.Seq
		default:
			t.Fatalf("Read() = %s, want a reset or a quote", m)
		}
	}
	c.send(`{"op":"list"}`)
	c.expectSubscribedResume(fmt.Sprintf("R%d", rounds), nil, "AAPL", "MSFT")
}

// TestEpochChangeIdleClient: a client gets "reset" when the epoch changes
// even before any quote of the new epoch, and a client told no epoch yet
// gets none.
func TestEpochChangeIdleClient(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	src.set(t, "AAPL", snapQuote("AAPL", 5))
	told := h.dial(t, "told", "?symbols=AAPL", nil)
	told.expectSubscribedResume(testEpoch, nil, "AAPL")
	told.expectQuote("AAPL", 5)
	fresh := h.dial(t, "fresh", "", nil)

	src.SetEpoch("E2")
	told.expectReset("E2")
	fresh.send(`{"op":"list"}`)
	fresh.expectSubscribedResume("E2", nil) // no reset before it
	src.set(t, "AAPL", snapQuote("AAPL", 1))
	told.expectQuote("AAPL", 1)
}

// TestResumeWaitCatchesUp: a board behind the client's since is waited
// for, up to ResumeWait, before the answer; the client's reader and other
// clients are not held up meanwhile.
func TestResumeWaitCatchesUp(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	waiting := make(chan struct{}, 1)
	h := newHarness(t, src, &Options{ResumeWait: waitLimit}, func(h *harness) {
		h.hub.onWait = func() { waiting <- struct{}{} }
	})
	src.set(t, "AAPL", snapQuote("AAPL", 3))
	src.set(t, "MSFT", snapQuote("MSFT", 1))

	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"subscribe","symbols":["AAPL","MSFT"],"since":{"epoch":"E1","seq":{"AAPL":5}}}`)
	<-waiting
	// The reader reads on: messages past the queue are refused at once.
	for range maxQueued + 1 {
		c.send(`{"op":"list"}`)
	}
	c.expectError(CodeRateLimited)
	// Others are served.
	other := h.dial(t, "other", "?symbols=MSFT", nil)
	other.expectSubscribedResume(testEpoch, nil, "MSFT")
	other.expectQuote("MSFT", 1)

	src.set(t, "AAPL", snapQuote("AAPL", 4)) // not there yet
	src.set(t, "AAPL", snapQuote("AAPL", 5))
	c.expectSubscribedResume(testEpoch, []string{"AAPL"}, "AAPL", "MSFT")
	// Then MSFT's snapshot (not AAPL's: the client has seq 5), and the
	// answers to the messages queued, which may go out first.
	lists, quotes := 0, 0
	for range maxQueued + 1 {
		switch m := c.read(); {
		case m.Type == "subscribed" && m.Recovered == nil && slices.Equal(m.Symbols, []string{"AAPL", "MSFT"}):
			lists++
		case m.Type == "quote" && m.Symbol == "MSFT" && m.Seq == 1:
			quotes++
		default:
			t.Fatalf("Read() = %s, want the subscribed of a list or MSFT's quote 1", m)
		}
	}
	if lists != maxQueued || quotes != 1 {
		t.Fatalf("got %d list answers and %d quotes, want %d and 1", lists, quotes, maxQueued)
	}
	src.set(t, "AAPL", snapQuote("AAPL", 6))
	c.expectQuote("AAPL", 6)
}

// TestResumeWaitTimesOut: a board that does not catch up within
// ResumeWait gets an answer anyway: the symbol is not recovered, and the
// client gets no quote up to its own seq.
func TestResumeWaitTimesOut(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, &Options{ResumeWait: 20 * time.Millisecond}, nil)
	src.set(t, "AAPL", snapQuote("AAPL", 3))
	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"subscribe","symbols":["AAPL"],"since":{"epoch":"E1","seq":{"AAPL":5}}}`)
	c.expectSubscribedResume(testEpoch, []string{}, "AAPL")
	src.set(t, "AAPL", snapQuote("AAPL", 5)) // the client has it
	src.set(t, "AAPL", snapQuote("AAPL", 6))
	c.expectQuote("AAPL", 6)
}

// TestResumeWaitEpochChanges: a new epoch while a resume waits for the
// board to catch up ends the wait: the client gets a reset, then full
// snapshots of the new epoch.
func TestResumeWaitEpochChanges(t *testing.T) {
	src := newFakeSource("AAPL")
	waiting := make(chan struct{}, 1)
	h := newHarness(t, src, &Options{ResumeWait: waitLimit}, func(h *harness) {
		h.hub.onWait = func() { waiting <- struct{}{} }
	})
	src.set(t, "AAPL", snapQuote("AAPL", 3))
	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"subscribe","symbols":["AAPL"],"since":{"epoch":"E1","seq":{"AAPL":5}}}`)
	<-waiting
	src.SetEpoch("E2")
	src.set(t, "AAPL", snapQuote("AAPL", 1))
	c.expectReset("E2")
	c.expectSubscribedResume("E2", []string{}, "AAPL")
	c.expectQuote("AAPL", 1)
}

// TestBadSince: a bad since gets a bad_request error; the connection
// stays and the set is unchanged.
func TestBadSince(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT", "GOOG")
	h := newHarness(t, src, &Options{MaxSymbolsPerClient: 3}, nil)
	sub := func(since string) string {
		return `{"op":"subscribe","symbols":["MSFT"],"since":` + since + `}`
	}
	tests := []struct {
		name string
		send string
	}{
		{"not_object", sub(`[1]`)},
		{"missing_epoch", sub(`{"seq":{"MSFT":1}}`)},
		{"epoch_not_string", sub(`{"epoch":7,"seq":{}}`)},
		{"epoch_empty", sub(`{"epoch":"","seq":{}}`)},
		{"epoch_too_long", sub(`{"epoch":"` + strings.Repeat("e", maxEpochLen+1) + `","seq":{}}`)},
		{"seq_not_object", sub(`{"epoch":"E1","seq":[1]}`)},
		{"seq_negative", sub(`{"epoch":"E1","seq":{"MSFT":-1}}`)},
		{"seq_fraction", sub(`{"epoch":"E1","seq":{"MSFT":1.5}}`)},
		{"seq_exponent", sub(`{"epoch":"E1","seq":{"MSFT":1e3}}`)},
		{"seq_string", sub(`{"epoch":"E1","seq":{"MSFT":"1"}}`)},
		{"seq_null", sub(`{"epoch":"E1","seq":{"MSFT":null}}`)},
		{"seq_too_big", sub(`{"epoch":"E1","seq":{"MSFT":18446744073709551616}}`)},
		{"invalid_symbol", sub(`{"epoch":"E1","seq":{"A B":1}}`)},
		{"duplicate_symbol", sub(`{"epoch":"E1","seq":{"msft":1,"MSFT":2}}`)},
		{"too_many_symbols", sub(`{"epoch":"E1","seq":{"A":1,"B":1,"C":1,"D":1}}`)},
		{"on_unsubscribe", `{"op":"unsubscribe","symbols":["AAPL"],"since":{"epoch":"E1","seq":{}}}`},
		{"on_list", `{"op":"list","since":{"epoch":"E1","seq":{}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial(t, tt.name, "?symbols=AAPL", nil)
			c.expectSubscribed("AAPL")
			c.send(tt.send)
			c.expectError(CodeBadRequest)
			c.send(`{"op":"list"}`)
			c.expectSubscribed("AAPL")
		})
	}
	queries := []struct {
		name  string
		query string
	}{
		{"query_not_json", "?symbols=AAPL&since=" + url.QueryEscape(`{"epoch":`)},
		{"query_twice", "?symbols=AAPL&since=" + url.QueryEscape(`{"epoch":"E1"}`) + "&since=" + url.QueryEscape(`{"epoch":"E1"}`)},
		{"query_without_symbols", "?since=" + url.QueryEscape(`{"epoch":"E1"}`)},
		{"query_too_long", "?symbols=AAPL&since=" + url.QueryEscape(`{"epoch":"E1","x":"`+strings.Repeat("x", readLimit)+`"}`)},
	}
	for _, tt := range queries {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial(t, tt.name, tt.query, nil)
			c.expectError(CodeBadRequest)
			c.send(`{"op":"list"}`)
			c.expectSubscribed()
		})
	}
}
