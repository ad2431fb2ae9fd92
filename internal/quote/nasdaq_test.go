package quote

import (
	"context"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// utc is a shorthand for expected instants.
func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func TestNasdaqParse(t *testing.T) {
	runParseCases(t, NewNasdaq("", ""), []parseCase{
		{name: "pre_market", file: "nasdaq_aapl_premarket.json", symbol: "AAPL", want: Quote{
			Symbol: "AAPL", Price: 267.85, Change: 0.75, ChangePct: 0.28, Volume: 111677, HasVolume: true,
			PrevClose: 267.10, MarketStatus: "Pre Market", Time: utc(2019, 11, 19, 14, 27, 0), // EST, UTC-5
		}},
		{name: "lower_case_request", file: "nasdaq_aapl_premarket.json", symbol: "aapl", want: Quote{
			Symbol: "AAPL", Price: 267.85, Change: 0.75, ChangePct: 0.28, Volume: 111677, HasVolume: true,
			PrevClose: 267.10, MarketStatus: "Pre Market", Time: utc(2019, 11, 19, 14, 27, 0),
		}},
		{name: "regular_hours", file: "nasdaq_msft_regular.json", symbol: "MSFT", want: Quote{
			Symbol: "MSFT", Price: 512.34, Change: -3.21, ChangePct: -0.62, Volume: 12345678, HasVolume: true,
			PrevClose: 515.55, MarketStatus: "Open", Time: utc(2026, 7, 27, 16, 51, 0), // EDT, UTC-4
		}},
		{name: "after_hours_plus_signs_na_volume", file: "nasdaq_tsla_afterhours.json", symbol: "TSLA", want: Quote{
			Symbol: "TSLA", Price: 301.02, Change: 1.5, ChangePct: 0.5,
			PrevClose: 303.62, MarketStatus: "After Hours", Time: utc(2026, 7, 27, 23, 59, 0),
		}},
		{name: "closed_thousands_separator", file: "nasdaq_bkng_closed.json", symbol: "BKNG", want: Quote{
			Symbol: "BKNG", Price: 1270.50, Change: -12.70, ChangePct: -0.99, Volume: 1204311, HasVolume: true,
			PrevClose: 1283.20, MarketStatus: "Closed", Time: utc(2026, 7, 24, 20, 0, 0),
		}},
		{name: "bare_date_unch_no_keystats", file: "nasdaq_qqq_bare_date.json", symbol: "QQQ", want: Quote{
			Symbol: "QQQ", Price: 560.01, MarketStatus: "Closed", Time: utc(2026, 7, 27, 4, 0, 0),
		}},
		{name: "unreadable_timestamp_empty_volume", file: "nasdaq_xyz_odd_timestamp.json", symbol: "XYZ", want: Quote{
			Symbol: "XYZ", Price: 71.20, Change: 0.10, ChangePct: 0.14,
		}},
		{name: "current_shape_bid_ask_dayrange", file: "nasdaq_aapl_2026.json", symbol: "AAPL", want: Quote{
			Symbol: "AAPL", Price: 227.52, Change: 1.42, ChangePct: 0.63, Volume: 41230111, HasVolume: true,
			High: 228.10, Low: 225.87, Bid: 227.50, Ask: 227.55, MarketStatus: "Open", Time: utc(2026, 10, 2, 19, 59, 0),
		}},
		{name: "etf_na_bid_ask_na_dayrange", file: "nasdaq_spy_etf.json", symbol: "SPY", want: Quote{
			Symbol: "SPY", Price: 571.30, Change: -2.15, ChangePct: -0.37, Volume: 52001348, HasVolume: true,
			MarketStatus: "Closed", Time: utc(2026, 10, 2, 4, 0, 0),
		}},
		{name: "error_1001", file: "nasdaq_error_1001.json", symbol: "AAPLX", wantErr: ErrUnknownSymbol},
		{name: "error_3004", file: "nasdaq_error_3004.json", symbol: "AAPL", wantErr: ErrUpstream},
		{name: "data_null_rcode_400", file: "nasdaq_data_null.json", symbol: "AAPL", wantErr: ErrUpstream},
		{name: "data_null_rcode_200", file: "nasdaq_data_null_ok.json", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "other_symbol", file: "nasdaq_other_symbol.json", symbol: "AAPL", wantErr: ErrWrongSymbol},
		{name: "other_symbol_current_shape", file: "nasdaq_aapl_2026.json", symbol: "MSFT", wantErr: ErrWrongSymbol},
		{name: "price_na", file: "nasdaq_price_na.json", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "bad_volume", file: "nasdaq_bad_volume.json", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "wrong_json_type", file: "nasdaq_wrong_type.json", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "trailing_document", file: "nasdaq_trailing.json", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "truncated", file: "nasdaq_truncated.json", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "html", file: "wrong_content.html", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "html_content_type", file: "nasdaq_aapl_2026.json", ct: "text/html; charset=utf-8", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "challenge_page", file: "stooq_challenge.html", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "csv", file: "stooq_aapl_crlf.csv", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "empty", file: "stooq_limit.txt", symbol: "AAPL", wantErr: ErrMalformed},
	})
}

func TestNasdaqParseNumbers(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "nasdaq_aapl_premarket.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, field, value string
		want               float64 // of the field's Quote counterpart
		wantErr            bool
	}{
		{"price_plain", "lastSalePrice", "12.5", 12.5, false},
		{"price_thousands", "lastSalePrice", "$12,345.67", 12345.67, false},
		{"price_zero", "lastSalePrice", "$0.00", 0, true},
		{"price_negative", "lastSalePrice", "-$1.00", 0, true},
		{"price_empty", "lastSalePrice", "", 0, true},
		{"price_nan", "lastSalePrice", "NaN", 0, true},
		{"price_inf", "lastSalePrice", "+Inf", 0, true},
		{"price_hex", "lastSalePrice", "0x1p4", 0, true},
		{"price_overflow", "lastSalePrice", "1e999", 0, true},
		{"change_minus", "netChange", "-0.99", -0.99, false},
		{"change_plus", "netChange", "+0.5", 0.5, false},
		{"change_na", "netChange", "N/A", 0, false},
		{"change_unch", "netChange", "unch", 0, false},
		{"change_garbage", "netChange", "up a bit", 0, true},
		{"pct_minus", "percentageChange", "-0.99%", -0.99, false},
		{"pct_plus", "percentageChange", "+1.5%", 1.5, false},
		{"pct_empty", "percentageChange", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old string
			switch tt.field {
			case "lastSalePrice":
				old = `"lastSalePrice":"$267.85"`
			case "netChange":
				old = `"netChange":"0.75"`
			case "percentageChange":
				old = `"percentageChange":"0.28%"`
			}
			body := strings.Replace(string(doc), old, `"`+tt.field+`":"`+tt.value+`"`, 1)
			q, err := NewNasdaq("", "").Parse("AAPL", readerResponse(200, strings.NewReader(body)))
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(%s %q) error = %v, want %v", tt.field, tt.value, err, ErrMalformed)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s %q) error = %v, want nil", tt.field, tt.value, err)
			}
			got := map[string]float64{"lastSalePrice": q.Price, "netChange": q.Change, "percentageChange": q.ChangePct}[tt.field]
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Parse(%s %q) = %v, want %v", tt.field, tt.value, got, tt.want)
			}
		})
	}
}

func TestParseNasdaqTime(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Time // zero: unreadable
	}{
		{"regular", "Jul 27, 2026 12:51 PM ET", utc(2026, 7, 27, 16, 51, 0)},
		{"single_digit_day", "Jul 7, 2026 9:05 AM ET", utc(2026, 7, 7, 13, 5, 0)},
		{"with_seconds", "Jul 27, 2026 12:51:30 PM ET", utc(2026, 7, 27, 16, 51, 30)},
		{"bare_date", "Jul 27, 2026", utc(2026, 7, 27, 4, 0, 0)},
		{"pre_market", "DATA AS OF Nov 19, 2019 9:27 AM ET - PRE-MARKET", utc(2019, 11, 19, 14, 27, 0)},
		{"after_hours", "DATA AS OF Jul 27, 2026 7:59 PM ET - AFTER HOURS", utc(2026, 7, 27, 23, 59, 0)},
		{"closed_at", "Closed at Nov 18, 2019 4:00 PM ET", utc(2019, 11, 18, 21, 0, 0)},
		{"as_of_lower_case", "as of nov 18, 2019 4:00 pm et", utc(2019, 11, 18, 21, 0, 0)},
		{"dst_ends", "Nov 1, 2026 1:30 AM ET", utc(2026, 11, 1, 5, 30, 0)},
		{"empty", "", time.Time{}},
		{"na", "N/A", time.Time{}},
		{"iso", "2026-07-27T12:51:00Z", time.Time{}},
		{"bad_day", "Feb 30, 2026", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseNasdaqTime(tt.in)
			if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
				t.Errorf("parseNasdaqTime(%q) = %v, %v, want %v", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestNasdaqNewRequest(t *testing.T) {
	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "mark")
	tests := []struct {
		name, base, ua, symbol string
		wantURL, wantUA        string
	}{
		{"defaults", "", "", "AAPL", "https://api.nasdaq.com/api/quote/AAPL/info?assetclass=stocks", defaultUserAgent},
		{"lower_case", "", "", "msft", "https://api.nasdaq.com/api/quote/MSFT/info?assetclass=stocks", defaultUserAgent},
		{"base_trailing_slash", "http://127.0.0.1:8080/", "tickerd/1", "BRK.B", "http://127.0.0.1:8080/api/quote/BRK.B/info?assetclass=stocks", "tickerd/1"},
		{"escaped", "http://127.0.0.1:8080", "", "A/B ^C", "http://127.0.0.1:8080/api/quote/A%2FB%20%5EC/info?assetclass=stocks", defaultUserAgent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := NewNasdaq(tt.base, tt.ua).NewRequest(ctx, tt.symbol)
			if err != nil {
				t.Fatalf("NewRequest(%q) error = %v", tt.symbol, err)
			}
			if req.Method != http.MethodGet || req.URL.String() != tt.wantURL {
				t.Errorf("NewRequest(%q) = %s %s, want GET %s", tt.symbol, req.Method, req.URL, tt.wantURL)
			}
			want := http.Header{
				"User-Agent":      {tt.wantUA},
				"Accept":          {"application/json, text/plain, */*"},
				"Accept-Language": {"en-US,en;q=0.9"},
				"Origin":          {"https://www.nasdaq.com"},
				"Referer":         {"https://www.nasdaq.com/"},
				"Sec-Fetch-Dest":  {"empty"},
				"Sec-Fetch-Mode":  {"cors"},
				"Sec-Fetch-Site":  {"same-site"},
			}
			if tt.ua == "" {
				want["Sec-Ch-Ua-Mobile"] = []string{"?0"}
				want["Sec-Ch-Ua-Platform"] = []string{`"Windows"`}
			} else if got := req.Header.Get("Sec-Ch-Ua"); got != "" {
				t.Errorf("NewRequest(%q) with User-Agent %q sends Sec-Ch-Ua %q, want none", tt.symbol, tt.ua, got)
			}
			for k, v := range want {
				if got := req.Header.Values(k); len(got) != 1 || got[0] != v[0] {
					t.Errorf("NewRequest(%q) header %s = %q, want %q", tt.symbol, k, got, v)
				}
			}
			if req.Context().Value(ctxKey{}) != "mark" {
				t.Errorf("NewRequest(%q) context = %v, want the caller's", tt.symbol, req.Context())
			}
		})
	}
	if _, err := NewNasdaq("", "").NewRequest(ctx, ""); !errors.Is(err, ErrUnknownSymbol) {
		t.Errorf(`NewRequest("") error = %v, want %v`, err, ErrUnknownSymbol)
	}
	if _, err := NewNasdaq("://bad", "").NewRequest(ctx, "AAPL"); err == nil {
		t.Errorf(`NewNasdaq("://bad").NewRequest error = nil, want an error`)
	}
}

func TestNasdaqAssetClass(t *testing.T) {
	src, err := New(KindNasdaq, &Options{AssetClass: map[string]string{"spy": "etf", "QQQ": "etf", "^IXIC": "index"}})
	if err != nil {
		t.Fatalf("New(nasdaq with AssetClass) error = %v", err)
	}
	for sym, want := range map[string]string{
		"SPY":   "/api/quote/SPY/info?assetclass=etf",
		"qqq":   "/api/quote/QQQ/info?assetclass=etf",
		"^ixic": "/api/quote/%5EIXIC/info?assetclass=index",
		"AAPL":  "/api/quote/AAPL/info?assetclass=stocks",
	} {
		req, err := src.NewRequest(t.Context(), sym)
		if err != nil || req.URL.RequestURI() != want {
			t.Errorf("NewRequest(%s) = %v, %v, want %s", sym, req.URL.RequestURI(), err, want)
		}
	}
	for _, bad := range []map[string]string{{"SPY": "ETF"}, {"SPY": "etfs"}, {"SPY": ""}} {
		if _, err := New(KindNasdaq, &Options{AssetClass: bad}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(nasdaq, AssetClass %v) error = %v, want %v", bad, err, ErrInvalidOptions)
		}
	}
	if _, err := New(KindStooq, &Options{AssetClass: map[string]string{"SPY": "etf"}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New(stooq, AssetClass) error = %v, want %v", err, ErrInvalidOptions)
	}
	for _, sym := range []string{".", ".."} {
		if _, err := src.NewRequest(t.Context(), sym); !errors.Is(err, ErrUnknownSymbol) {
			t.Errorf("NewRequest(%q) error = %v, want %v", sym, err, ErrUnknownSymbol)
		}
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in        string
		low, high float64
	}{
		{"225.87 - 228.10", 225.87, 228.10},
		{"$228.10 - $225.87", 225.87, 228.10},
		{"1,001.5 - 1,010", 1001.5, 1010},
		{"NA", 0, 0},
		{"", 0, 0},
		{"N/A - 2", 0, 0},
		{"1-2", 0, 0},
	}
	for _, tt := range tests {
		if low, high := parseRange(tt.in); low != tt.low || high != tt.high {
			t.Errorf("parseRange(%q) = %v, %v, want %v, %v", tt.in, low, high, tt.low, tt.high)
		}
	}
}
