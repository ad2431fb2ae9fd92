package fanout

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/config"
)

func TestSubscribeSnapshotThenUpdates(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT", "GOOG")
	h := newHarness(t, src, nil, nil)
	src.set(t, "AAPL", snapQuote("AAPL", 1))
	src.set(t, "GOOG", stale(snapQuote("GOOG", 4), "upstream 503", 2))
	src.set(t, "MSFT", stale(board.Snapshot{Symbol: "MSFT"}, "timeout", 1))

	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"subscribe","symbols":["aapl","GOOG","msft","AAPL"]}`)
	c.expectSubscribed("AAPL", "GOOG", "MSFT")
	// The snapshot, in request order: AAPL's quote; GOOG's quote then its
	// stale status; MSFT has no quote, only the status.
	q := c.expectQuote("AAPL", 1)
	if q.Price != 101 || q.Volume == nil || *q.Volume != 1000 || q.Time != "2026-11-21T15:04:00.123456789Z" ||
		q.CollectedAt != "2026-11-21T15:04:06.123456789Z" {
		t.Fatalf("snapshot quote = %s, want price 101, volume 1000 and both times", q)
	}
	c.expectQuote("GOOG", 4)
	if m := c.expect("status"); m.Symbol != "GOOG" || !m.Stale || m.Error != "upstream 503" || m.Failures != 2 {
		t.Fatalf("Read() = %s, want GOOG stale status", m)
	}
	if m := c.expect("status"); m.Symbol != "MSFT" || !m.Stale || m.Error != "timeout" || m.Failures != 1 {
		t.Fatalf("Read() = %s, want MSFT stale status", m)
	}

	// Updates: a new quote; a quote without volume and time.
	src.set(t, "AAPL", snapQuote("AAPL", 2))
	c.expectQuote("AAPL", 2)
	bare := snapQuote("MSFT", 1)
	bare.Quote.HasVolume, bare.Quote.Volume, bare.Quote.Time = false, 0, time.Time{}
	src.set(t, "MSFT", bare)
	m := c.expectQuote("MSFT", 1)
	if strings.Contains(m.raw, "volume") || strings.Contains(m.raw, `"time"`) {
		t.Fatalf("Read() = %s, want no volume and no time", m)
	}
	// MSFT had been stale: it recovered.
	if m := c.expect("status"); m.Symbol != "MSFT" || m.Stale || m.Failures != 0 {
		t.Fatalf("Read() = %s, want MSFT recovered", m)
	}
}

func TestStatusOnlyOnChange(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	src.set(t, "AAPL", snapQuote("AAPL", 1))
	c := h.dial(t, "client", "?symbols=AAPL", nil)
	c.expectSubscribed("AAPL")
	c.expectQuote("AAPL", 1)

	src.set(t, "AAPL", stale(snapQuote("AAPL", 1), "boom", 1))
	if m := c.expect("status"); !m.Stale || m.Error != "boom" || m.Failures != 1 {
		t.Fatalf("Read() = %s, want stale status", m)
	}
	// Still stale: no new message, so the next one is the recovery's quote.
	src.set(t, "AAPL", stale(snapQuote("AAPL", 1), "boom again", 2))
	src.set(t, "AAPL", snapQuote("AAPL", 2))
	c.expectQuote("AAPL", 2)
	if m := c.expect("status"); m.Stale || m.Error != "" {
		t.Fatalf("Read() = %s, want recovered status", m)
	}
}

func TestSeqNeverGoesDown(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, nil, nil)
	c := h.dial(t, "client", "?symbols=AAPL,MSFT", nil)
	c.expectSubscribed("AAPL", "MSFT")

	const n = 500
	aapl, _ := src.Value("AAPL")
	msft, _ := src.Value("MSFT")
	done := make(chan struct{})
	go func() { // exits after n Sets per symbol
		defer close(done)
		for i := uint64(1); i <= n; i++ {
			aapl.Set(snapQuote("AAPL", i))
			msft.Set(snapQuote("MSFT", i))
		}
	}()
	last := map[string]uint64{}
	for last["AAPL"] < n || last["MSFT"] < n {
		m := c.expect("quote")
		if m.Seq <= last[m.Symbol] {
			t.Fatalf("Read() = %s after seq %d, want a higher seq", m, last[m.Symbol])
		}
		last[m.Symbol] = m.Seq
	}
	<-done
}

func TestErrorLeavesSetUnchanged(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT", "GOOG")
	h := newHarness(t, src, &Options{MaxSymbolsPerClient: 2}, nil)
	tests := []struct {
		name string
		send string
		code string
	}{
		{"not_json", `hello`, CodeBadRequest},
		{"missing_op", `{"symbols":["MSFT"]}`, CodeBadRequest},
		{"unknown_op", `{"op":"subscribe_all"}`, CodeUnknownOp},
		{"invalid_symbol", `{"op":"subscribe","symbols":["MSFT","not valid"]}`, CodeInvalidSymbol},
		{"invalid_symbol_unsubscribe", `{"op":"unsubscribe","symbols":["AAPL","not valid"]}`, CodeInvalidSymbol},
		{"unknown_symbol", `{"op":"subscribe","symbols":["ZZZZ"]}`, CodeUnknownSymbol},
		{"too_many_symbols", `{"op":"subscribe","symbols":["MSFT","GOOG"]}`, CodeTooManySymbols},
		{"too_many_with_star", `{"op":"subscribe","symbols":["*"]}`, CodeTooManySymbols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial(t, tt.name, "?symbols=AAPL", nil)
			c.expectSubscribed("AAPL")
			c.send(tt.send)
			c.expectError(tt.code)
			c.send(`{"op":"list"}`) // the connection stays, the set is unchanged
			c.expectSubscribed("AAPL")
		})
	}
	t.Run("binary_message", func(t *testing.T) {
		c := h.dial(t, "binary", "", nil)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := c.c.Write(ctx, websocket.MessageBinary, []byte(`{"op":"list"}`)); err != nil {
			t.Fatalf("Write(binary) = %v", err)
		}
		c.expectError(CodeBadRequest)
		c.send(`{"op":"list"}`)
		c.expectSubscribed()
	})
}

func TestUnknownSymbolNamesSymbols(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"subscribe","symbols":["zzz","AAPL","yyy"]}`)
	if m := c.expectError(CodeUnknownSymbol); !slices.Equal(m.Symbols, []string{"ZZZ", "YYY"}) {
		t.Fatalf("Read() = %s, want symbols [ZZZ YYY]", m)
	}
	c.send(`{"op":"list"}`) // AAPL was not added either
	c.expectSubscribed()
}

func TestQuerySymbols(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, nil, nil)
	src.set(t, "MSFT", snapQuote("MSFT", 7))
	t.Run("subscribes", func(t *testing.T) {
		c := h.dial(t, "query", "?symbols=msft,,AAPL", nil)
		c.expectSubscribed("AAPL", "MSFT")
		c.expectQuote("MSFT", 7)
	})
	t.Run("invalid_keeps_connection", func(t *testing.T) {
		c := h.dial(t, "query_bad", "?symbols=AAPL,bad!", nil)
		c.expectError(CodeInvalidSymbol)
		c.send(`{"op":"list"}`)
		c.expectSubscribed()
	})
}

func TestStarAndUnsubscribe(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT", "GOOG")
	h := newHarness(t, src, nil, nil)
	c := h.dial(t, "client", "", nil)
	other := h.dial(t, "other", "?symbols=AAPL", nil)
	other.expectSubscribed("AAPL")

	c.send(`{"op":"subscribe","symbols":["*"]}`)
	c.expectSubscribed("AAPL", "GOOG", "MSFT")
	c.send(`{"op":"unsubscribe","symbols":["aapl","NVDA"]}`) // NVDA: not subscribed, ignored
	c.expectSubscribed("GOOG", "MSFT")

	// AAPL is published (other gets it) before MSFT, so c would get AAPL
	// first if it were still subscribed.
	src.set(t, "AAPL", snapQuote("AAPL", 1))
	other.expectQuote("AAPL", 1)
	src.set(t, "MSFT", snapQuote("MSFT", 1))
	c.expectQuote("MSFT", 1)

	c.send(`{"op":"unsubscribe","symbols":["*"]}`)
	c.expectSubscribed()
	src.set(t, "MSFT", snapQuote("MSFT", 2))
	c.send(`{"op":"list"}`)
	c.expectSubscribed()
	if got := h.metric("tickerd_ws_subscriptions", ""); got != 1 {
		t.Fatalf("tickerd_ws_subscriptions = %v, want 1 (other's AAPL)", got)
	}
}

func TestRateLimited(t *testing.T) {
	src := newFakeSource("AAPL")
	var now atomic.Int64 // the frozen clock, in ns
	now.Store(collectedAt.UnixNano())
	h := newHarness(t, src, &Options{OpsPerSecond: 2}, func(h *harness) {
		h.hub.now = func() time.Time { return time.Unix(0, now.Load()) }
	})
	c := h.dial(t, "client", "", nil)
	for range 4 { // the burst: twice the rate
		c.send(`{"op":"list"}`)
	}
	c.send(`{"op":"subscribe","symbols":["AAPL"]}`)
	for range 4 {
		c.expectSubscribed()
	}
	c.expectError(CodeRateLimited)
	now.Add(int64(time.Second / 2)) // one token back
	c.send(`{"op":"subscribe","symbols":["AAPL"]}`)
	c.send(`{"op":"list"}`)
	c.expectSubscribed("AAPL")
	c.expectError(CodeRateLimited)
}

// TestSourceSymbolSyntax: with the source's own normalizer, a client's
// symbol in another provider's spelling is refused with that source's
// syntax in the message, and its own spelling is accepted, in a subscribe
// and in a resume's since alike.
func TestSourceSymbolSyntax(t *testing.T) {
	src := newFakeSource("BTCUSDT", "EUR/USD")
	binance := config.Source{Kind: config.KindBinance}
	h := newHarness(t, src, &Options{NormalizeSymbol: binance.NormalizeSymbol}, nil)
	c := h.dial(t, "client", "", nil)
	tests := []struct {
		name, send string
		code, says string
	}{
		{"other_spelling", `{"op":"subscribe","symbols":["BTC-USD"]}`, CodeInvalidSymbol, "BTCUSDT"},
		{"other_spelling_in_since", `{"op":"subscribe","symbols":["BTCUSDT"],"since":{"epoch":"e","seq":{"BTC_USDT":3}}}`, CodeBadRequest, "BTCUSDT"},
		{"slash", `{"op":"subscribe","symbols":["EUR/USD"]}`, CodeInvalidSymbol, "Binance pair"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.send(tc.send)
			if m := c.expectError(tc.code); !strings.Contains(m.Message, tc.says) {
				t.Errorf("error for %s = %q, want it to say %q", tc.send, m.Message, tc.says)
			}
		})
	}
	c.send(`{"op":"subscribe","symbols":["btcusdt"]}`)
	c.expectSubscribed("BTCUSDT")
}
