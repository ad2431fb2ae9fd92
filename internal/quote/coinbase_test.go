package quote

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestCoinbaseParse(t *testing.T) {
	src := mustNew(t, KindCoinbase, nil)
	btc := Quote{Symbol: "BTC-USD", Price: 67215.41, Bid: 67215.41, Ask: 67215.42, Volume: 8413, HasVolume: true,
		Time: time.Date(2026, 10, 2, 14, 3, 11, 482917000, time.UTC)}
	runParseCases(t, src, []parseCase{
		{name: "ticker", file: "coinbase_btc_usd.json", ct: "application/json", symbol: "BTC-USD", want: btc},
		{name: "lower_case_request", file: "coinbase_btc_usd.json", symbol: "btc-usd", want: btc},
		{name: "not_found", file: "coinbase_not_found.json", status: http.StatusNotFound, ct: "application/json", symbol: "XYZ-USD", wantErr: ErrUnknownSymbol},
		{name: "html", file: "wrong_content.html", symbol: "BTC-USD", wantErr: ErrNotQuote},
		{name: "html_typed", file: "coinbase_btc_usd.json", ct: "text/html", symbol: "BTC-USD", wantErr: ErrNotQuote},
		{name: "other_api", file: "binance_btcusdt.json", symbol: "BTC-USD", wantErr: ErrMalformed},
		{name: "csv", file: "stooq_aapl_crlf.csv", symbol: "BTC-USD", wantErr: ErrMalformed},
		{name: "invalid_symbol", file: "coinbase_btc_usd.json", symbol: "BTCUSD", wantErr: ErrUnknownSymbol},
	})
	// A 404 is both the unknown symbol and the status.
	resp := statusFileResponse(t, http.StatusNotFound, "application/json", "coinbase_not_found.json")
	_, err := src.Parse("XYZ-USD", resp)
	if se := (*StatusError)(nil); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Errorf("Parse(404 NotFound) error = %v, want a *StatusError 404 too", err)
	}
	// Another status with Coinbase's error body keeps its message.
	resp = statusFileResponse(t, http.StatusBadRequest, "application/json", "coinbase_not_found.json")
	if _, err := src.Parse("BTC-USD", resp); errors.Is(err, ErrUnknownSymbol) || !errors.As(err, new(*StatusError)) {
		t.Errorf("Parse(400) error = %v, want a *StatusError and not %v", err, ErrUnknownSymbol)
	}
}

func TestCoinbaseNewRequest(t *testing.T) {
	src := mustNew(t, KindCoinbase, nil)
	req, err := src.NewRequest(t.Context(), "eth-usdc")
	if err != nil || req.URL.String() != "https://api.exchange.coinbase.com/products/ETH-USDC/ticker" {
		t.Fatalf("NewRequest(eth-usdc) = %v, %v, want the ETH-USDC ticker", req.URL, err)
	}
	if ua := req.Header.Get("User-Agent"); ua != apiUserAgent {
		t.Errorf("NewRequest User-Agent = %q, want %q (Coinbase refuses requests without one)", ua, apiUserAgent)
	}
	for _, bad := range []string{"", "BTC", "BTC-", "-USD", "BTC-USD-X", "../x-y", "BTC/USD", "BTC-US D"} {
		if _, err := src.NewRequest(t.Context(), bad); !errors.Is(err, ErrUnknownSymbol) || !errors.Is(err, ErrInvalidSymbol) {
			t.Errorf("NewRequest(%q) error = %v, want %v and %v", bad, err, ErrUnknownSymbol, ErrInvalidSymbol)
		}
	}
}
