package quote

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAlpacaParse(t *testing.T) {
	src := mustNew(t, KindAlpaca, &Options{APIKey: testKey, APISecret: testSecret})
	aapl := Quote{Symbol: "AAPL", Price: 227.52, Change: 227.52 - 226.1, ChangePct: (227.52 - 226.1) / 226.1 * 100,
		Open: 226.3, High: 228.1, Low: 225.87, PrevClose: 226.1, Bid: 227.5, Ask: 227.55, Volume: 2476100, HasVolume: true,
		Time: time.Date(2026, 10, 2, 19, 59, 59, 812345678, time.UTC)}
	runParseCases(t, src, []parseCase{
		{name: "snapshot", file: "alpaca_aapl_snapshot.json", ct: "application/json; charset=UTF-8", symbol: "AAPL", want: aapl},
		{name: "lower_case_request", file: "alpaca_aapl_snapshot.json", symbol: "aapl", want: aapl},
		// Before Monday's open the last daily bar is Friday's: its close is
		// the reference, and its open, high, low and volume are not today's.
		{name: "pre_market", file: "alpaca_aapl_premarket.json", symbol: "AAPL", want: Quote{
			Symbol: "AAPL", Price: 228.4, Change: 228.4 - 227.52, ChangePct: (228.4 - 227.52) / 227.52 * 100,
			PrevClose: 227.52, Bid: 228.3, Time: time.Date(2026, 10, 5, 12, 31, 7, 500000000, time.UTC),
		}},
		{name: "other_symbol", file: "alpaca_aapl_snapshot.json", symbol: "MSFT", wantErr: ErrWrongSymbol},
		{name: "not_found", file: "alpaca_not_found.json", status: http.StatusNotFound, ct: "application/json", symbol: "AAPLX", wantErr: ErrUnknownSymbol},
		{name: "invalid_symbol_422", file: "alpaca_not_found.json", status: http.StatusUnprocessableEntity, symbol: "AAPLX", wantErr: ErrUnknownSymbol},
		{name: "null", file: "alpaca_null.json", symbol: "KUBTY", wantErr: ErrUnknownSymbol},
		{name: "html", file: "wrong_content.html", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "other_api", file: "finnhub_aapl.json", symbol: "AAPL", wantErr: ErrMalformed},
	})
	tests := []struct {
		name, body string
		want       float64
		wantErr    error
	}{
		{"daily_bar_only", `{"symbol":"AAPL","dailyBar":{"t":"2026-10-02T04:00:00Z","o":1,"h":3,"l":1,"c":2,"v":5}}`, 2, nil},
		{"nothing", `{"symbol":"AAPL"}`, 0, ErrUnknownSymbol},
		{"bad_trade_price", `{"symbol":"AAPL","latestTrade":{"t":"2026-10-02T04:00:00Z","p":"x"}}`, 0, ErrMalformed},
		{"bad_volume", `{"symbol":"AAPL","latestTrade":{"p":2},"dailyBar":{"c":2,"v":-3}}`, 0, ErrMalformed},
		{"message_only", `{"message":"forbidden"}`, 0, ErrUpstream},
		{"no_symbol", `{"latestTrade":{"p":2}}`, 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := src.Parse("AAPL", readerResponse(200, strings.NewReader(tt.body)))
			if tt.wantErr == nil {
				if err != nil || q.Price != tt.want {
					t.Fatalf("Parse(%s) = %+v, %v, want a quote at %v", tt.body, q, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%s) error = %v, want %v", tt.body, err, tt.wantErr)
			}
		})
	}
}

func TestAlpacaNewRequest(t *testing.T) {
	src := mustNew(t, KindAlpaca, &Options{APIKey: testKey, APISecret: testSecret})
	req, err := src.NewRequest(t.Context(), "brk.b")
	if err != nil || req.URL.String() != "https://data.alpaca.markets/v2/stocks/BRK.B/snapshot" {
		t.Fatalf("NewRequest(brk.b) = %v, %v, want the BRK.B snapshot", req.URL, err)
	}
	if req.Header.Get("APCA-API-KEY-ID") != testKey || req.Header.Get("APCA-API-SECRET-KEY") != testSecret {
		t.Errorf("NewRequest headers = %v, want the key id and secret", req.Header)
	}
	for _, o := range []*Options{nil, {APIKey: testKey}, {APISecret: testSecret}} {
		if _, err := New(KindAlpaca, o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(alpaca, %+v) error = %v, want %v", o, err, ErrInvalidOptions)
		}
	}
	for _, bad := range []string{"", "1AB", "BRK-B", "BTC/USD", "..", strings.Repeat("A", 13)} {
		if _, err := src.NewRequest(t.Context(), bad); !errors.Is(err, ErrUnknownSymbol) {
			t.Errorf("NewRequest(%q) error = %v, want %v", bad, err, ErrUnknownSymbol)
		}
	}
}
