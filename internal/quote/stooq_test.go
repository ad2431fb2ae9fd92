package quote

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

func TestStooqParse(t *testing.T) {
	runParseCases(t, NewStooq("", ""), []parseCase{
		{name: "crlf_summer", file: "stooq_aapl_crlf.csv", symbol: "AAPL", want: Quote{
			Symbol: "AAPL", Price: 227.5, Change: 227.5 - 226.1, ChangePct: (227.5 - 226.1) / 226.1 * 100,
			Open: 226.1, High: 228, Low: 225.9,
			Volume: 41230111, HasVolume: true, Time: utc(2026, 10, 2, 20, 0, 0), // CEST, UTC+2
		}},
		{name: "lower_case_request", file: "stooq_aapl_crlf.csv", symbol: "aapl", want: Quote{
			Symbol: "AAPL", Price: 227.5, Change: 227.5 - 226.1, ChangePct: (227.5 - 226.1) / 226.1 * 100,
			Open: 226.1, High: 228, Low: 225.9,
			Volume: 41230111, HasVolume: true, Time: utc(2026, 10, 2, 20, 0, 0),
		}},
		{name: "lf_winter_down", file: "stooq_msft_lf.csv", symbol: "MSFT", want: Quote{
			Symbol: "MSFT", Price: 495, Change: -5, ChangePct: -1, Open: 500, High: 505.25, Low: 498,
			Volume: 18000000, HasVolume: true, Time: utc(2026, 12, 1, 21, 0, 0), // CET, UTC+1
		}},
		{name: "zero_open_nd_time_volume", file: "stooq_spy_partial.csv", symbol: "SPY", want: Quote{
			Symbol: "SPY", Price: 571.3, Time: utc(2026, 10, 1, 22, 0, 0), // midnight CEST
		}},
		{name: "nd_row", file: "stooq_unknown.csv", symbol: "AAPLX", wantErr: ErrUnknownSymbol},
		{name: "daily_limit", file: "stooq_limit.txt", symbol: "AAPL", wantErr: ErrUpstream},
		{name: "header_only", file: "stooq_header_only.csv", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "short_row", file: "stooq_short_row.csv", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "other_symbol", file: "stooq_other_symbol.csv", symbol: "AAPL", wantErr: ErrWrongSymbol},
		{name: "two_rows", file: "stooq_two_rows.csv", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "nan_close", file: "stooq_nan_close.csv", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "html", file: "wrong_content.html", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "challenge_page", file: "stooq_challenge.html", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "challenge_page_typed", file: "stooq_challenge.html", ct: "text/html; charset=UTF-8", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "csv_typed_html", file: "stooq_aapl_crlf.csv", ct: "text/html", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "csv_typed_csv", file: "stooq_aapl_crlf.csv", ct: "text/csv", symbol: "AAPL", want: Quote{
			Symbol: "AAPL", Price: 227.5, Change: 227.5 - 226.1, ChangePct: (227.5 - 226.1) / 226.1 * 100,
			Open: 226.1, High: 228, Low: 225.9, Volume: 41230111, HasVolume: true, Time: utc(2026, 10, 2, 20, 0, 0),
		}},
		{name: "json_typed", file: "nasdaq_aapl_premarket.json", ct: "application/json", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "json", file: "nasdaq_aapl_premarket.json", symbol: "AAPL", wantErr: ErrMalformed},
	})
}

func TestStooqNewRequest(t *testing.T) {
	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "mark")
	tests := []struct {
		name, base, ua, symbol string
		wantURL, wantUA        string
	}{
		{"defaults", "", "", "AAPL", "https://stooq.com/q/l/?s=aapl.us&f=sd2t2ohlcv&h&e=csv", defaultUserAgent},
		{"base_trailing_slash", "http://127.0.0.1:8080/", "tickerd/1", "BRK-B", "http://127.0.0.1:8080/q/l/?s=brk-b.us&f=sd2t2ohlcv&h&e=csv", "tickerd/1"},
		{"escaped", "http://127.0.0.1:8080", "", "A&B", "http://127.0.0.1:8080/q/l/?s=a%26b.us&f=sd2t2ohlcv&h&e=csv", defaultUserAgent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := NewStooq(tt.base, tt.ua).NewRequest(ctx, tt.symbol)
			if err != nil {
				t.Fatalf("NewRequest(%q) error = %v", tt.symbol, err)
			}
			if req.Method != http.MethodGet || req.URL.String() != tt.wantURL {
				t.Errorf("NewRequest(%q) = %s %s, want GET %s", tt.symbol, req.Method, req.URL, tt.wantURL)
			}
			if got := req.Header.Get("User-Agent"); got != tt.wantUA {
				t.Errorf("NewRequest(%q) User-Agent = %q, want %q", tt.symbol, got, tt.wantUA)
			}
			if req.Context().Value(ctxKey{}) != "mark" {
				t.Errorf("NewRequest(%q) context = %v, want the caller's", tt.symbol, req.Context())
			}
		})
	}
	if _, err := NewStooq("", "").NewRequest(ctx, ""); !errors.Is(err, ErrUnknownSymbol) {
		t.Errorf(`NewRequest("") error = %v, want %v`, err, ErrUnknownSymbol)
	}
}
