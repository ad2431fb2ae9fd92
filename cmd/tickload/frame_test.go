package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/fanout"
	"github.com/tickerd/tickerd/internal/quote"
)

// Real tickerd messages, as the server encodes them today.
const (
	quoteFull = `{"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,"volume":111677,"time":"2026-11-21T15:04:00.000000000Z",` +
		`"open":266.1,"high":268.4,"low":265.9,"prev_close":267.1,"bid":267.84,"ask":267.86,"market_status":"open",` +
		`"collected_at":"2026-11-21T15:04:05.123456789Z","seq":17}`
	quoteBare      = `{"type":"quote","symbol":"^GSPC","price":6001.5,"change":-3,"change_pct":-0.05,"collected_at":"2026-11-21T15:04:05.123456789Z","seq":4}`
	subscribedMsg  = `{"type":"subscribed","symbols":["AAPL","MSFT"],"epoch":"6f1d2c3b4a5e6f70"}`
	resumedMsg     = `{"type":"subscribed","symbols":["AAPL","MSFT"],"epoch":"6f1d2c3b4a5e6f70","recovered":["AAPL"]}`
	resetMsg       = `{"type":"reset","epoch":"9a8b7c6d5e4f3a2b"}`
	staleMsg       = `{"type":"status","symbol":"AAPL","stale":true,"error":"quote: http status 503 Service Unavailable","failures":3}`
	unknownSymMsg  = `{"type":"error","code":"unknown_symbol","message":"no longer collected: MSFT","symbols":["MSFT"]}`
	tooManySymsMsg = `{"type":"error","code":"too_many_symbols","message":"newly configured symbols left out of \"*\", past the limit of 3 per client: GOOG","symbols":["GOOG"]}`
)

// wantMsg is what a test expects of one message.
type wantMsg struct {
	typ    string
	symbol string
	seq    uint64
	err    bool
}

func (w wantMsg) String() string {
	return fmt.Sprintf("%s %s %d err=%v", w.typ, w.symbol, w.seq, w.err)
}

// TestFrameMessages reads whole frames as the server sends them: single
// messages, and in batch mode arrays of them, quotes with and without
// the optional fields, the resume fields, reset, errors with "symbols"
// and escaped strings, and broken arrays.
func TestFrameMessages(t *testing.T) {
	q := func(sym string, seq uint64) wantMsg { return wantMsg{typ: "quote", symbol: sym, seq: seq} }
	tests := []struct {
		name  string
		frame string
		want  []wantMsg
	}{
		{"quote_full", quoteFull, []wantMsg{q("AAPL", 17)}},
		{"quote_bare", quoteBare, []wantMsg{q("^GSPC", 4)}},
		{"subscribed_epoch", subscribedMsg, []wantMsg{{typ: "subscribed"}}},
		{"subscribed_recovered", resumedMsg, []wantMsg{{typ: "subscribed"}}},
		{"reset", resetMsg, []wantMsg{{}}}, // a type tickload does not tell apart
		{"status", staleMsg, []wantMsg{{typ: "status"}}},
		{"error_symbols", unknownSymMsg, []wantMsg{{typ: "error"}}},
		{"error_escaped_quotes", tooManySymsMsg, []wantMsg{{typ: "error"}}},
		{"batch_one", "[" + quoteFull + "]", []wantMsg{q("AAPL", 17)}},
		{"batch_pulse", "[" + resetMsg + "," + resumedMsg + "," + quoteFull + "," + staleMsg + "," + quoteBare + "]",
			[]wantMsg{{}, {typ: "subscribed"}, q("AAPL", 17), {typ: "status"}, q("^GSPC", 4)}},
		{"batch_escaped_error_then_quote", "[" + tooManySymsMsg + "," + quoteBare + "]", []wantMsg{{typ: "error"}, q("^GSPC", 4)}},
		{"batch_whitespace", "[ " + quoteBare + " ,\n " + quoteFull + " ]\n", []wantMsg{q("^GSPC", 4), q("AAPL", 17)}},
		{"batch_empty", "[]", nil},
		{"batch_truncated", "[" + quoteBare + "," + quoteFull[:40], []wantMsg{q("^GSPC", 4), {err: true}}},
		{"batch_unclosed", "[" + quoteBare, []wantMsg{q("^GSPC", 4), {err: true}}},
		{"batch_trailing_garbage", "[" + quoteBare + "]x", []wantMsg{q("^GSPC", 4), {err: true}}},
		{"batch_bad_element", `[{"type":"quote","symbol":"X","seq":1},` + quoteBare + "]", []wantMsg{{typ: "quote", err: true}, q("^GSPC", 4)}},
		{"not_json", "hello", []wantMsg{{err: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []wantMsg
			for m, err := range frameMessages([]byte(tt.frame)) {
				got = append(got, wantMsg{typ: m.typ, symbol: string(m.symbol), seq: m.seq, err: err != nil})
				if m.typ == "quote" && err == nil && !m.collectedAt.Equal(at) {
					t.Errorf("frameMessages(%s): quote %s collected_at %v, want %v", tt.frame, m.symbol, m.collectedAt, at)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("frameMessages(%s) = %v, want %v", tt.frame, got, tt.want)
			}
		})
	}
}

// TestParsePush reads Centrifugo's push lines: a publication of a tickerd
// quote as the publisher writes it, the same with keys moved, and pushes
// that are not publications.
func TestParsePush(t *testing.T) {
	data := string(appendQuoteData(nil, "S0001", 101.5, 0.25, at, 9))
	tests := []struct {
		name string
		line string
		want wantMsg
	}{
		{"publication", `{"push":{"channel":"S0001","pub":{"data":` + data + `}}}`, wantMsg{typ: "quote", symbol: "S0001", seq: 9}},
		{"publication_with_offset", `{"push":{"channel":"S0001","pub":{"data":` + data + `,"offset":3}}}`, wantMsg{typ: "quote", symbol: "S0001", seq: 9}},
		{"join", `{"push":{"channel":"S0001","join":{"info":{"client":"c"}}}}`, wantMsg{}},
		{"no_seq", `{"push":{"channel":"S0001","pub":{"data":{"collected_at":"2026-11-21T15:04:05.123456789Z"}}}}`, wantMsg{err: true}},
		{"not_a_push", `{"id":2,"subscribe":{}}`, wantMsg{err: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parsePush([]byte(tt.line))
			got := wantMsg{typ: m.typ, symbol: string(m.symbol), seq: m.seq, err: err != nil}
			if got != tt.want {
				t.Errorf("parsePush(%s) = %v, want %v", tt.line, got, tt.want)
			}
			if got.typ == "quote" && !m.collectedAt.Equal(at) {
				t.Errorf("parsePush(%s) collected_at = %v, want %v", tt.line, m.collectedAt, at)
			}
		})
	}
}

// FuzzFrameMessages: whatever a frame holds, frameMessages never panics
// and ends; and a batch of quotes the server's encoder makes, with a
// status between them, reads back whole and in order.
func FuzzFrameMessages(f *testing.F) {
	f.Add([]byte("["+quoteFull+","+staleMsg+"]"), "AAPL", uint64(3), uint8(2))
	f.Add([]byte("["+tooManySymsMsg), "^GSPC", uint64(1), uint8(1))
	f.Add([]byte(`[{"a":"\"}]`), "BRK.B", uint64(1<<60), uint8(5))
	f.Fuzz(func(t *testing.T, raw []byte, sym string, seq uint64, n uint8) {
		count := 0
		for range frameMessages(raw) {
			if count++; count > len(raw)+1 {
				t.Fatalf("frameMessages(%q) yielded %d messages", raw, count)
			}
		}

		if sym == "" || seq == 0 || jsonEscapes(sym) {
			return
		}
		k := int(n)%8 + 1
		parts := make([]string, 0, 2*k)
		for i := range k {
			b, err := json.Marshal(fanout.NewQuoteMessage(quote.Quote{Symbol: sym, Price: 1, CollectedAt: at, Seq: seq + uint64(i)}))
			if err != nil {
				t.Fatalf("Marshal() = %v", err)
			}
			parts = append(parts, string(b), staleMsg)
		}
		frame := "[" + strings.Join(parts, ",") + "]"
		i := 0
		for m, err := range frameMessages([]byte(frame)) {
			switch {
			case err != nil:
				t.Fatalf("frameMessages(%s) element %d: %v", frame, i, err)
			case i%2 == 0 && (m.typ != "quote" || string(m.symbol) != sym || m.seq != seq+uint64(i/2) || !m.collectedAt.Equal(at)):
				t.Fatalf("frameMessages(%s) element %d = %+v, want quote %s seq %d", frame, i, m, sym, seq+uint64(i/2))
			case i%2 == 1 && m.typ != "status":
				t.Fatalf("frameMessages(%s) element %d = %+v, want status", frame, i, m)
			}
			i++
		}
		if i != 2*k {
			t.Fatalf("frameMessages(%s) yielded %d messages, want %d", frame, i, 2*k)
		}
	})
}

// FuzzParsePush: parsePush never panics on a line, and reads back any
// publication of appendQuoteData.
func FuzzParsePush(f *testing.F) {
	f.Add([]byte(`{"push":{"channel":"S0001","pub":{"data":{}}}}`), "S0001", uint64(1), 100.0)
	f.Add([]byte(`{"push":{"channel":"`), "BTC-USD", uint64(1<<63), 0.5)
	f.Fuzz(func(t *testing.T, raw []byte, ch string, seq uint64, price float64) {
		_, _ = parsePush(raw)
		if ch == "" || jsonEscapes(ch) || strings.ContainsAny(ch, `"\`) || price <= 0 || price > 1e12 {
			return
		}
		line := `{"push":{"channel":"` + ch + `","pub":{"data":` + string(appendQuoteData(nil, ch, price, 0, at, seq)) + `}}}`
		m, err := parsePush([]byte(line))
		if err != nil || m.typ != "quote" || string(m.symbol) != ch || m.seq != seq || !m.collectedAt.Equal(at) {
			t.Fatalf("parsePush(%s) = %+v, %v, want quote %s seq %d", line, m, err, ch, seq)
		}
	})
}

// BenchmarkParse measures tickload's cost per message: what each client
// spends on every quote it reads, against which the servers' figures are
// set. Each op is one message; allocs/op should be 0.
func BenchmarkParse(b *testing.B) {
	var batch []string
	for i := range 20 {
		m, _ := json.Marshal(fanout.NewQuoteMessage(quote.Quote{Symbol: fmt.Sprintf("S%04d", i), Price: 100.25, Change: 0.5, ChangePct: 0.5,
			Volume: 1000, HasVolume: true, Time: at.Truncate(time.Second), CollectedAt: at, Seq: uint64(i + 1)}))
		batch = append(batch, string(m))
	}
	var push []string
	for i := range 20 {
		ch := fmt.Sprintf("S%04d", i)
		push = append(push, `{"push":{"channel":"`+ch+`","pub":{"data":`+string(appendQuoteData(nil, ch, 100.25, 0.5, at, uint64(i+1)))+`}}}`)
	}
	frames := []struct {
		name  string
		frame []byte
		n     int // messages in it
	}{
		{"tickerd_quote", []byte(quoteFull), 1},
		{"tickerd_batch20", []byte("[" + strings.Join(batch, ",") + "]"), 20},
		{"centrifugo_frame20", []byte(strings.Join(push, "\n")), 20},
	}
	for _, fr := range frames {
		b.Run(fr.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(fr.frame) / fr.n))
			var seqs uint64
			for i := 0; i < b.N; i += fr.n {
				if strings.HasPrefix(fr.name, "centrifugo") {
					for line := range lines(fr.frame) {
						m, err := parsePush(line)
						if err != nil {
							b.Fatal(err)
						}
						seqs += m.seq
					}
					continue
				}
				for m, err := range frameMessages(fr.frame) {
					if err != nil {
						b.Fatal(err)
					}
					seqs += m.seq
				}
			}
			if seqs == 0 {
				b.Fatal("no quote read")
			}
		})
	}
}

// TestQuoteDataLikeTickerd: the publisher's quotes have the keys, in the
// same order, of the quotes tickerd sends from its simulator (symbol to
// seq, with prev_close and market_status), so that a Centrifugo client
// reads as many fields per quote as a tickerd one.
func TestQuoteDataLikeTickerd(t *testing.T) {
	tk, err := json.Marshal(fanout.NewQuoteMessage(quote.Quote{Symbol: "S0001", Price: 101.5, Change: 0.25, ChangePct: 0.25,
		Volume: 9000, HasVolume: true, Time: at.Truncate(time.Second), PrevClose: 101.25, MarketStatus: "Open", CollectedAt: at, Seq: 9}))
	if err != nil {
		t.Fatalf("json.Marshal(quote) = %v", err)
	}
	keys := func(b []byte) []string {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		var out []string
		depth := 0
		for {
			tok, err := dec.Token()
			if err != nil {
				return out
			}
			switch v := tok.(type) {
			case json.Delim:
				if v == '{' {
					depth++
				} else if v == '}' {
					depth--
				}
			case string:
				if depth == 1 && dec.More() {
					out = append(out, v)
					dec.Token() //nolint:errcheck // the value, a scalar
				}
			}
		}
	}
	want := keys(tk)[1:] // without "type"
	got := keys(appendQuoteData(nil, "S0001", 101.5, 0.25, at, 9))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("appendQuoteData() keys = %v, want tickerd's %v", got, want)
	}
}
