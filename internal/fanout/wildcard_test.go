package fanout

import (
	"slices"
	"testing"
	"time"
)

// TestWildcardStaysLive: a client subscribed to "*" follows the configured
// set on a real board: a symbol a reload adds joins its set (and its
// quotes reach it), one a reload removes leaves it with unknown_symbol.
// A client that named its symbols gets none of that; one that
// unsubscribed from "*" no longer follows, and a symbol a star client
// unsubscribed from stays out.
func TestWildcardStaysLive(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, nil, nil)
	star := h.dial(t, "star", "?symbols=*", nil)
	star.expectSubscribed("AAPL", "MSFT")
	named := h.dial(t, "named", "?symbols=AAPL,MSFT", nil)
	named.expectSubscribed("AAPL", "MSFT")
	quit := h.dial(t, "quit", "", nil)
	quit.send(`{"op":"subscribe","symbols":["*"]}`)
	quit.expectSubscribed("AAPL", "MSFT")
	quit.send(`{"op":"unsubscribe","symbols":["*"]}`)
	quit.expectSubscribed()

	src.setSymbols("AAPL", "MSFT", "GOOG") // a reload adds GOOG
	star.expectSubscribed("AAPL", "GOOG", "MSFT")
	src.set(t, "GOOG", snapQuote("GOOG", 1))
	star.expectQuote("GOOG", 1)

	// named and quit would get GOOG's quote before AAPL's if they had it.
	src.set(t, "AAPL", snapQuote("AAPL", 1))
	named.expectQuote("AAPL", 1)
	star.expectQuote("AAPL", 1)
	quit.send(`{"op":"list"}`)
	quit.expectSubscribed()

	src.setSymbols("AAPL", "GOOG") // a reload removes MSFT
	for _, c := range []*wsClient{star, named} {
		if m := c.expectError(CodeUnknownSymbol); !slices.Equal(m.Symbols, []string{"MSFT"}) {
			t.Fatalf("%s: Read() = %s, want unknown_symbol naming [MSFT]", c.name, m)
		}
	}
	star.expectSubscribed("AAPL", "GOOG")
	named.expectSubscribed("AAPL")

	// Unsubscribing from one symbol keeps the wildcard: GOOG stays out,
	// NVDA joins.
	star.send(`{"op":"unsubscribe","symbols":["GOOG"]}`)
	star.expectSubscribed("AAPL")
	src.setSymbols("AAPL", "GOOG", "NVDA")
	star.expectSubscribed("AAPL", "NVDA")
	src.set(t, "NVDA", snapQuote("NVDA", 1))
	star.expectQuote("NVDA", 1)
	if got := h.metric("tickerd_ws_subscriptions", ""); got != 3 {
		t.Fatalf("tickerd_ws_subscriptions = %v, want 3 (star's AAPL, NVDA; named's AAPL)", got)
	}
}

// TestWildcardLimit: symbols a reload adds join a "*" subscriber's set
// only up to MaxSymbolsPerClient, in the configured order; the rest are
// named in a too_many_symbols error, and the set stays within the limit.
func TestWildcardLimit(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, &Options{MaxSymbolsPerClient: 3}, nil)
	c := h.dial(t, "star", "", nil)
	c.send(`{"op":"subscribe","symbols":["*"]}`)
	c.expectSubscribed("AAPL", "MSFT")

	src.setSymbols("AAPL", "MSFT", "NVDA", "GOOG")
	if m := c.expectError(CodeTooManySymbols); !slices.Equal(m.Symbols, []string{"GOOG"}) {
		t.Fatalf("Read() = %s, want too_many_symbols naming [GOOG]", m)
	}
	c.expectSubscribed("AAPL", "MSFT", "NVDA")

	// With room again (MSFT removed), the next symbol added joins.
	src.setSymbols("AAPL", "NVDA", "GOOG", "TSLA")
	c.expectError(CodeUnknownSymbol)
	c.expectSubscribed("AAPL", "NVDA")
	c.expectSubscribed("AAPL", "NVDA", "TSLA")

	// A subscribe to "*" past the limit changes nothing, as before.
	other := h.dial(t, "other", "", nil)
	other.send(`{"op":"subscribe","symbols":["*"]}`)
	other.expectError(CodeTooManySymbols)
	other.send(`{"op":"list"}`)
	other.expectSubscribed()
}

// TestWildcardWaitingSubscribe: a subscribe to "*" that waits (here a
// resume, for the board to reach the client's seq) means the configured
// set as it is when it completes: a symbol a reload added while it
// waited is in its "subscribed".
func TestWildcardWaitingSubscribe(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	src.set(t, "AAPL", snapQuote("AAPL", 4))
	waiting := make(chan struct{}, 1)
	h := newHarness(t, src, &Options{ResumeWait: waitLimit}, func(h *harness) {
		h.hub.onWait = func() { waiting <- struct{}{} }
	})
	other := h.dial(t, "other", "?symbols=*", nil)
	other.expectSubscribed("AAPL", "MSFT")
	other.expectQuote("AAPL", 4)

	c := h.dial(t, "resumer", "", nil)
	c.send(`{"op":"subscribe","symbols":["*"],"since":{"epoch":"` + testEpoch + `","seq":{"AAPL":5}}}`)
	select {
	case <-waiting:
	case <-time.After(waitLimit):
		t.Fatal("the resuming subscribe did not wait")
	}
	src.setSymbols("AAPL", "MSFT", "GOOG")
	other.expectSubscribed("AAPL", "GOOG", "MSFT") // the Hub has taken the reload in
	src.set(t, "AAPL", snapQuote("AAPL", 5))       // the board catches up: the wait ends
	c.expectSubscribedResume(testEpoch, []string{"AAPL"}, "AAPL", "GOOG", "MSFT")

	other.expectQuote("AAPL", 5)
	src.setSymbols("AAPL", "MSFT", "GOOG", "NVDA") // and c follows the set from now on
	other.expectSubscribed("AAPL", "GOOG", "MSFT", "NVDA")
	c.expectSubscribed("AAPL", "GOOG", "MSFT", "NVDA")
}
