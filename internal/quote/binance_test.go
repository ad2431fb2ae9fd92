package quote

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBinanceParse(t *testing.T) {
	src := mustNew(t, KindBinance, nil)
	btc := Quote{Symbol: "BTCUSDT", Price: 67220.71, Change: -1250.31, ChangePct: -1.826, Volume: 21345, HasVolume: true,
		Open: 68471.02, High: 68890, Low: 66805.5, PrevClose: 68471.01, Bid: 67220.70, Ask: 67220.71,
		Time: time.UnixMilli(1790948991482)}
	runParseCases(t, src, []parseCase{
		{name: "ticker", file: "binance_btcusdt.json", ct: "application/json;charset=UTF-8", symbol: "BTCUSDT", want: btc},
		{name: "lower_case_request", file: "binance_btcusdt.json", symbol: "btcusdt", want: btc},
		{name: "other_symbol", file: "binance_btcusdt.json", symbol: "ETHUSDT", wantErr: ErrWrongSymbol},
		{name: "invalid_symbol", file: "binance_invalid_symbol.json", status: http.StatusBadRequest, ct: "application/json", symbol: "BTCUSDX", wantErr: ErrUnknownSymbol},
		{name: "html", file: "wrong_content.html", symbol: "BTCUSDT", wantErr: ErrNotQuote},
		{name: "other_api", file: "coinbase_btc_usd.json", symbol: "BTCUSDT", wantErr: ErrMalformed},
	})
}

func TestBinanceParseErrors(t *testing.T) {
	src := mustNew(t, KindBinance, nil)
	tests := []struct {
		name, body string
		status     int
		wantErr    error
	}{
		{"illegal_characters", `{"code":-1100,"msg":"Illegal characters found in parameter 'symbol'"}`, 400, ErrUnknownSymbol},
		{"other_code", `{"code":-1003,"msg":"Too many requests"}`, 429, nil},
		{"error_body_with_200", `{"code":-1000,"msg":"An unknown error occurred"}`, 200, ErrUpstream},
		{"change_garbage", strings.Replace(readFixture(t, "binance_btcusdt.json"), `"-1250.31000000"`, `"lots"`, 1), 200, ErrMalformed},
		{"volume_negative", strings.Replace(readFixture(t, "binance_btcusdt.json"), `"21344.62857000"`, `"-1"`, 1), 200, ErrMalformed},
		{"price_zero", strings.Replace(readFixture(t, "binance_btcusdt.json"), `"67220.71000000",
  "lastQty"`, `"0", "lastQty"`, 1), 200, ErrMalformed},
		{"no_symbol", strings.Replace(readFixture(t, "binance_btcusdt.json"), `"symbol": "BTCUSDT",`, ``, 1), 200, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := src.Parse("BTCUSDT", readerResponse(tt.status, strings.NewReader(tt.body)))
			if tt.wantErr == nil {
				if se := (*StatusError)(nil); !errors.As(err, &se) || errors.Is(err, ErrUnknownSymbol) {
					t.Fatalf("Parse(%s) error = %v, want only a *StatusError", tt.name, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%s) error = %v, want %v", tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestBinanceNewRequest(t *testing.T) {
	src := mustNew(t, KindBinance, nil)
	req, err := src.NewRequest(t.Context(), "btcusdt")
	if err != nil || req.URL.String() != "https://api.binance.com/api/v3/ticker/24hr?symbol=BTCUSDT" {
		t.Fatalf("NewRequest(btcusdt) = %v, %v, want the BTCUSDT 24hr ticker", req.URL, err)
	}
	for _, bad := range []string{"", "BTC USDT", "BTC&x=1", strings.Repeat("A", 21)} {
		if _, err := src.NewRequest(t.Context(), bad); !errors.Is(err, ErrUnknownSymbol) {
			t.Errorf("NewRequest(%q) error = %v, want %v", bad, err, ErrUnknownSymbol)
		}
	}
}
