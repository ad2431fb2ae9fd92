package fanout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestHubFollowsBoardSymbols: the Hub follows the board's symbol set by
// itself: removed symbols' subscribers are told, added ones can be
// subscribed to and are watched.
func TestHubFollowsBoardSymbols(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, nil, nil)
	c := h.dial(t, "client", "?symbols=AAPL,MSFT", nil)
	c.expectSubscribed("AAPL", "MSFT")

	src.setSymbols("MSFT", "GOOG") // closes AAPL's Value, like the collector
	if m := c.expectError(CodeUnknownSymbol); !slices.Equal(m.Symbols, []string{"AAPL"}) {
		t.Fatalf("Read() = %s, want symbols [AAPL]", m)
	}
	c.expectSubscribed("MSFT")

	c.send(`{"op":"subscribe","symbols":["*"]}`)
	c.expectSubscribed("GOOG", "MSFT")
	src.set(t, "GOOG", snapQuote("GOOG", 1)) // GOOG is watched now
	c.expectQuote("GOOG", 1)
	c.send(`{"op":"subscribe","symbols":["AAPL"]}`)
	c.expectError(CodeUnknownSymbol)
}

func TestDynamicSymbols(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, &Options{DynamicSymbols: true, MaxDynamicSymbols: 2}, nil)
	a := h.dial(t, "a", "", nil)
	a.send(`{"op":"subscribe","symbols":["zzz"]}`)
	a.expectSubscribed("ZZZ")
	if _, ok := src.Value("ZZZ"); !ok {
		t.Fatalf("Source.Value(ZZZ) not found after a subscribed: want it added")
	}
	src.set(t, "ZZZ", snapQuote("ZZZ", 1))
	a.expectQuote("ZZZ", 1)

	b := h.dial(t, "b", "", nil)
	b.send(`{"op":"subscribe","symbols":["*"]}`) // configured symbols only
	b.expectSubscribed("AAPL")
	b.send(`{"op":"subscribe","symbols":["ZZZ","YYY"]}`)
	b.expectSubscribed("AAPL", "YYY", "ZZZ")
	b.expectQuote("ZZZ", 1)

	a.send(`{"op":"subscribe","symbols":["XXX"]}`) // a third dynamic symbol
	a.expectError(CodeTooManySymbols)
	if _, ok := src.Value("XXX"); ok {
		t.Fatalf("Source.Value(XXX) found after a rejected subscribe, want it not added")
	}

	a.send(`{"op":"unsubscribe","symbols":["ZZZ"]}`) // b still watches ZZZ
	a.expectSubscribed()
	b.send(`{"op":"unsubscribe","symbols":["yyy"]}`) // b was YYY's only client
	b.expectSubscribed("AAPL", "ZZZ")
	src.waitRemoved(t, "YYY")
	if _, ok := src.Value("ZZZ"); !ok {
		t.Fatalf("Source.Value(ZZZ) not found while b is subscribed, want it kept")
	}

	if err := b.c.Close(websocket.StatusNormalClosure, ""); err != nil { // the last client of ZZZ leaves
		t.Fatalf("Close() = %v", err)
	}
	src.waitRemoved(t, "ZZZ")

	// Added again, it is a new Value: its seq starts again.
	a.send(`{"op":"subscribe","symbols":["ZZZ"]}`)
	a.expectSubscribed("ZZZ")
	src.set(t, "ZZZ", snapQuote("ZZZ", 1))
	a.expectQuote("ZZZ", 1)
}

func TestDynamicSymbolsOff(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"subscribe","symbols":["ZZZ"]}`)
	c.expectError(CodeUnknownSymbol)
	if _, ok := src.Value("ZZZ"); ok {
		t.Fatalf("Source.Value(ZZZ) found, want dynamic symbols off")
	}
}

// TestSlowClientIsolated has one client that never reads while others do.
// The others get every update, in order, while the slow one's socket is
// full; the slow one's pending updates stay bounded by its subscriptions;
// after WriteTimeout it is closed with 1008.
func TestSlowClientIsolated(t *testing.T) {
	syms := []string{"AAPL", "GOOG", "MSFT", "NVDA"}
	src := newFakeSource(syms...)
	h := newHarness(t, src, &Options{WriteTimeout: 200 * time.Millisecond, PingInterval: time.Hour}, func(h *harness) {
		h.srv.Listener = smallBufListener{h.srv.Listener}
	})
	query := "?symbols=" + strings.Join(syms, ",")
	slow := h.dial(t, "slow", query, smallRecvDialer())
	var fast []*wsClient
	for _, name := range []string{"fast1", "fast2", "fast3"} {
		c := h.dial(t, name, query, nil)
		c.expectSubscribed(syms...)
		fast = append(fast, c)
	}

	// round publishes seq for every symbol and checks that every fast
	// client gets exactly those quotes before the next round: nothing
	// skipped, nothing out of order, whatever the slow client does.
	round := func(seq uint64) {
		t.Helper()
		for _, s := range syms {
			src.set(t, s, snapQuote(s, seq))
		}
		for _, c := range fast {
			var got []string
			for range syms {
				m := c.expect("quote")
				if m.Seq != seq {
					t.Fatalf("%s: Read() = %s in round %d, want seq %d", c.name, m, seq, seq)
				}
				got = append(got, m.Symbol)
			}
			if slices.Sort(got); !slices.Equal(got, syms) {
				t.Fatalf("%s: round %d quotes for %q, want one each for %q", c.name, seq, got, syms)
			}
		}
	}
	deadline := time.Now().Add(waitLimit)
	seq := uint64(0)
	for h.metric("tickerd_ws_slow_disconnects_total", "") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("slow client not disconnected after %d rounds and %v, want after the 200ms write timeout", seq, waitLimit)
		}
		seq++
		round(seq)
		h.checkBounded(len(syms))
	}
	rounds := seq
	seq++
	round(seq) // the others go on

	// The slow client reads at last: what its socket held, in order, then
	// the close frame.
	last := map[string]uint64{}
	n := 0
	for {
		m, err := slow.readErr()
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Fatalf("slow: Read() = %v (status %v), want close status 1008", err, got)
			}
			break
		}
		switch {
		case m.Type == "subscribed" && n == 0:
		case m.Type != "quote" || m.Seq <= last[m.Symbol]:
			t.Fatalf("slow: Read() = %s after seq %d, want a quote with a higher seq", m, last[m.Symbol])
		default:
			last[m.Symbol] = m.Seq
		}
		n++
	}
	t.Logf("slow client closed after %d rounds; it had %d messages in its socket", rounds, n)
	if n >= int(rounds)*len(syms) {
		t.Fatalf("slow client read %d messages of %d rounds, want fewer: its socket never filled", n, rounds)
	}
	if got := h.metric("tickerd_ws_updates_skipped_total", ""); got == 0 {
		t.Fatalf("tickerd_ws_updates_skipped_total = 0, want the slow client's coalesced updates counted")
	}
	if got := h.metric("tickerd_ws_slow_disconnects_total", ""); got != 1 {
		t.Fatalf("tickerd_ws_slow_disconnects_total = %v, want 1", got)
	}
}

// checkBounded checks every client's outbox: at most one pending update
// per subscribed symbol, at most maxSubs of them, and a short ctrl queue.
func (h *harness) checkBounded(maxSubs int) {
	h.t.Helper()
	h.hub.mu.Lock()
	defer h.hub.mu.Unlock()
	for c := range h.hub.clients {
		c.mu.Lock()
		dirty, subs, ctrl := len(c.dirty), len(c.subs), len(c.ctrl)
		pending := 0
		for _, s := range c.subs {
			if s.pend != nil {
				pending++
			}
		}
		c.mu.Unlock()
		if dirty != pending || subs > maxSubs || ctrl > maxCtrl {
			h.t.Fatalf("client %s outbox: %d dirty, %d pending, %d subs, %d ctrl; want dirty == pending <= subs <= %d, ctrl <= %d",
				c.remote, dirty, pending, subs, ctrl, maxSubs, maxCtrl)
		}
	}
}
