package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/fanout"
	"github.com/tickerd/tickerd/internal/quote"
)

var at = time.Date(2026, 11, 21, 15, 4, 5, 123456789, time.UTC)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    message
		wantErr bool
	}{
		{"quote", `{"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,"volume":111677,"time":"2026-11-21T15:04:00.000000000Z","collected_at":"2026-11-21T15:04:05.123456789Z","seq":17}`,
			message{typ: "quote", symbol: []byte("AAPL"), collectedAt: at, seq: 17}, false},
		{"quote_without_volume_and_time", `{"type":"quote","symbol":"BRK.B","price":1,"change":0,"change_pct":0,"collected_at":"2026-11-21T15:04:05.123456789Z","seq":1}`,
			message{typ: "quote", symbol: []byte("BRK.B"), collectedAt: at, seq: 1}, false},
		{"subscribed", `{"type":"subscribed","symbols":["AAPL"]}`, message{typ: "subscribed"}, false},
		{"status", `{"type":"status","symbol":"AAPL","stale":true,"failures":1}`, message{typ: "status"}, false},
		{"error", `{"type":"error","code":"invalid_symbol","message":"x"}`, message{typ: "error"}, false},
		{"other_type", `{"type":"news"}`, message{}, false},
		{"no_type", `{"symbol":"AAPL"}`, message{}, true},
		{"quote_without_seq", `{"type":"quote","symbol":"AAPL","collected_at":"2026-11-21T15:04:05.123456789Z"}`, message{typ: "quote"}, true},
		{"quote_bad_time", `{"type":"quote","symbol":"AAPL","collected_at":"yesterday","seq":3}`, message{typ: "quote"}, true},
		{"quote_empty_symbol", `{"type":"quote","symbol":"","collected_at":"2026-11-21T15:04:05.123456789Z","seq":3}`, message{typ: "quote"}, true},
		{"truncated", `{"type":"quo`, message{}, true},
		{"quote_keys_reordered", `{"type":"quote","seq":5,"collected_at":"2026-11-21T15:04:05.123456789Z","symbol":"AAPL"}`,
			message{typ: "quote", symbol: []byte("AAPL"), collectedAt: at, seq: 5}, false},
		{"quote_offset_time", `{"type":"quote","symbol":"AAPL","collected_at":"2026-11-21T16:04:05.123456789+01:00","seq":7}`,
			message{typ: "quote", symbol: []byte("AAPL"), collectedAt: at, seq: 7}, false},
		{"quote_bad_month", `{"type":"quote","symbol":"AAPL","collected_at":"2026-13-21T15:04:05.123456789Z","seq":7}`, message{typ: "quote"}, true},
		{"quote_seq_overflow", `{"type":"quote","symbol":"AAPL","collected_at":"2026-11-21T15:04:05.123456789Z","seq":99999999999999999999}`, message{typ: "quote"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMessage([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMessage(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if got.typ != tt.want.typ || string(got.symbol) != string(tt.want.symbol) ||
				!got.collectedAt.Equal(tt.want.collectedAt) || got.seq != tt.want.seq {
				t.Errorf("parseMessage(%s) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParseMessage checks that parseMessage never panics, and that it
// reads back any quote the server's encoder makes.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"type":"quote","symbol":"AAPL","price":1,"change":0,"change_pct":0,"collected_at":"2026-11-21T15:04:05.123456789Z","seq":17}`), "AAPL", uint64(17), int64(0), 1.5)
	f.Add([]byte(`{"type":"subscribed","symbols":[]}`), "^GSPC", uint64(1), int64(-1), -0.25)
	f.Add([]byte(`{"type":"quote","seq":`), "X", uint64(1<<63), int64(1<<40), 0.0)
	f.Fuzz(func(t *testing.T, raw []byte, sym string, seq uint64, nanos int64, price float64) {
		_, _ = parseMessage(raw) // must not panic

		if sym == "" || seq == 0 {
			return
		}
		q := quote.Quote{Symbol: sym, Price: price, CollectedAt: at.Add(time.Duration(nanos)), Seq: seq}
		b, err := json.Marshal(fanout.NewQuoteMessage(q))
		if err != nil {
			return // a non-finite price: the server leaves such quotes out
		}
		if jsonEscapes(sym) {
			return // the fast path does not unescape; the server's symbols never need it
		}
		m, err := parseMessage(b)
		want, _ := time.Parse(time.RFC3339Nano, fanout.NewQuoteMessage(q).CollectedAt)
		if err != nil || m.typ != "quote" || string(m.symbol) != sym || m.seq != seq || !m.collectedAt.Equal(want) {
			t.Errorf("parseMessage(%s) = %+v, %v, want quote %q seq %d at %v", b, m, err, sym, seq, want)
		}
	})
}

// jsonEscapes reports whether encoding/json would escape or replace
// anything in s.
func jsonEscapes(s string) bool {
	b, _ := json.Marshal(s)
	return string(b) != `"`+s+`"`
}
