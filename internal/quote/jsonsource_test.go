package quote

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestJSONAlphaVantage(t *testing.T) {
	src := mustNew(t, KindJSON, alphaVantageOptions())
	ibm := Quote{Symbol: "IBM", Price: 232.99, Change: 1.47, ChangePct: 0.6349, Volume: 3124587, HasVolume: true,
		Open: 231.05, High: 233.74, Low: 230.11, PrevClose: 231.52, Time: time.Date(2026, 10, 2, 4, 0, 0, 0, time.UTC)}
	runParseCases(t, src, []parseCase{
		{name: "quote", file: "json_alphavantage_ibm.json", ct: "application/json", symbol: "IBM", want: ibm},
		{name: "lower_case_request", file: "json_alphavantage_ibm.json", symbol: "ibm", want: ibm},
		{name: "other_symbol", file: "json_alphavantage_ibm.json", symbol: "AAPL", wantErr: ErrWrongSymbol},
		{name: "unknown_symbol", file: "json_alphavantage_unknown.json", symbol: "IBMX", wantErr: ErrUnknownSymbol},
		{name: "rate_limit", file: "json_alphavantage_limit.json", symbol: "IBM", wantErr: ErrUpstream},
		{name: "html", file: "wrong_content.html", symbol: "IBM", wantErr: ErrNotQuote},
		{name: "other_api", file: "finnhub_aapl.json", symbol: "IBM", wantErr: ErrUnknownSymbol},
	})
	_, err := src.Parse("IBM", fileResponse(t, "json_alphavantage_limit.json"))
	if !strings.Contains(err.Error(), "rate limit") {
		t.Errorf("Parse(rate limit) error = %v, want Alpha Vantage's message quoted", err)
	}
}

func TestJSONMarketData(t *testing.T) {
	src := mustNew(t, KindJSON, marketDataOptions())
	aapl := Quote{Symbol: "AAPL", Price: 227.52, Change: 1.42, ChangePct: 0.63, Volume: 41230111, HasVolume: true,
		Bid: 227.5, Ask: 227.55, Time: time.Date(2026, 10, 2, 19, 59, 59, 0, time.UTC)}
	runParseCases(t, src, []parseCase{
		{name: "quote", file: "json_marketdata_aapl.json", ct: "application/json", symbol: "AAPL", want: aapl},
		{name: "other_symbol", file: "json_marketdata_aapl.json", symbol: "MSFT", wantErr: ErrWrongSymbol},
		{name: "no_data_200", file: "json_marketdata_no_data.json", symbol: "AAPLX", wantErr: ErrUnknownSymbol},
		{name: "no_data_404", file: "json_marketdata_no_data.json", status: http.StatusNotFound, symbol: "AAPLX", wantErr: ErrUnknownSymbol},
		{name: "csv", file: "stooq_aapl_crlf.csv", symbol: "AAPL", wantErr: ErrMalformed},
	})
}

func TestJSONKuCoin(t *testing.T) {
	src := mustNew(t, KindJSON, kuCoinOptions())
	btc := Quote{Symbol: "BTC-USDT", Price: 67215.41, Change: -836.9, ChangePct: -1.23, Volume: 2283, HasVolume: true,
		High: 68310, Low: 66902.1, Bid: 67215.4, Ask: 67215.5, Time: time.UnixMilli(1790971199123).UTC()}
	runParseCases(t, src, []parseCase{
		{name: "stats", file: "json_kucoin_btc_usdt.json", ct: "application/json", symbol: "BTC-USDT", want: btc},
		{name: "lower_case_request", file: "json_kucoin_btc_usdt.json", symbol: "btc-usdt", want: btc},
		{name: "other_symbol", file: "json_kucoin_btc_usdt.json", symbol: "ETH-USDT", wantErr: ErrWrongSymbol},
		{name: "unknown_symbol", file: "json_kucoin_unknown.json", symbol: "XYZ-USDT", wantErr: ErrUnknownSymbol},
		{name: "busy", file: "json_kucoin_busy.json", symbol: "BTC-USDT", wantErr: ErrUpstream},
		{name: "html", file: "wrong_content.html", symbol: "BTC-USDT", wantErr: ErrNotQuote},
	})
}

// generic is a json configuration reading every field from one flat
// document, for the value conversion tests.
func generic(mod func(*JSONOptions)) *Options {
	jo := &JSONOptions{
		URL: "https://quotes.example/v1/{symbol}", Symbol: "sym", Price: "p", Change: "d", ChangePct: "dp",
		Volume: "v", Time: "t", Open: "o", High: "h", Low: "l", PrevClose: "pc", Bid: "b", Ask: "a", MarketStatus: "ms",
	}
	if mod != nil {
		mod(jo)
	}
	return &Options{JSON: jo}
}

func TestJSONValues(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*JSONOptions)
		body    string
		want    Quote
		wantErr error
	}{
		{"strings_as_nasdaq", nil,
			`{"sym":"AAPL","p":"$1,267.85","d":"-0.99","dp":"-0.08%","v":"12,345","o":"$1,260.00","h":"1,270","l":"N/A","pc":"--","b":"1267.8","a":"1267.9","ms":"Open","t":"2026-10-02T19:59:59.5Z"}`,
			Quote{Symbol: "AAPL", Price: 1267.85, Change: -0.99, ChangePct: -0.08, Volume: 12345, HasVolume: true, Open: 1260, High: 1270,
				Bid: 1267.8, Ask: 1267.9, MarketStatus: "Open", Time: time.Date(2026, 10, 2, 19, 59, 59, 5e8, time.UTC)}, nil},
		{"numbers", nil, `{"sym":"AAPL","p":12.5,"d":0.5,"dp":4.1666,"v":8913.5,"t":1790971200,"ms":true}`,
			Quote{Symbol: "AAPL", Price: 12.5, Change: 0.5, ChangePct: 4.1666, Volume: 8914, HasVolume: true, MarketStatus: "Open",
				Time: time.Unix(1790971200, 0)}, nil},
		{"unix_ms_by_magnitude", nil, `{"sym":"AAPL","p":1,"t":1790971200123,"ms":false}`,
			Quote{Symbol: "AAPL", Price: 1, MarketStatus: "Closed", Time: time.UnixMilli(1790971200123)}, nil},
		{"nulls_and_unknowns", nil, `{"sym":"AAPL","p":1,"d":null,"dp":"UNCH","v":"N/A","t":null,"o":null,"ms":null}`,
			Quote{Symbol: "AAPL", Price: 1}, nil},
		{"long_status", nil, `{"sym":"AAPL","p":1,"ms":"` + strings.Repeat("é", 40) + `"}`,
			Quote{Symbol: "AAPL", Price: 1, MarketStatus: strings.Repeat("é", 16)}, nil},
		{"fraction", func(j *JSONOptions) { j.PercentIsFraction = true }, `{"sym":"AAPL","p":1,"dp":-0.0123}`,
			Quote{Symbol: "AAPL", Price: 1, ChangePct: -1.23}, nil},
		{"layout_in_zone", func(j *JSONOptions) { j.TimeFormat = "2006-01-02 15:04"; j.TimeZone = "America/New_York" },
			`{"sym":"AAPL","p":1,"t":"2026-10-02 15:59"}`, Quote{Symbol: "AAPL", Price: 1, Time: time.Date(2026, 10, 2, 19, 59, 0, 0, time.UTC)}, nil},
		{"unix_string", func(j *JSONOptions) { j.TimeFormat = "unix" }, `{"sym":"AAPL","p":1,"t":"1790971200.25"}`,
			Quote{Symbol: "AAPL", Price: 1, Time: time.Unix(1790971200, 25e7)}, nil},
		{"numeric_symbol", nil, `{"sym":7203,"p":1}`, Quote{Symbol: "7203", Price: 1}, nil},
		{"no_symbol_path", func(j *JSONOptions) { j.Symbol = "" }, `{"p":1}`, Quote{Symbol: "AAPL", Price: 1}, nil},
		{"wrong_symbol", nil, `{"sym":"MSFT","p":1}`, Quote{}, ErrWrongSymbol},
		{"no_symbol", nil, `{"p":1}`, Quote{}, ErrMalformed},
		{"symbol_object", nil, `{"sym":{},"p":1}`, Quote{}, ErrMalformed},
		{"no_price", nil, `{"sym":"AAPL"}`, Quote{}, ErrMalformed},
		{"price_na", nil, `{"sym":"AAPL","p":"N/A"}`, Quote{}, ErrMalformed},
		{"price_zero", nil, `{"sym":"AAPL","p":0}`, Quote{}, ErrMalformed},
		{"price_bool", nil, `{"sym":"AAPL","p":true}`, Quote{}, ErrMalformed},
		{"change_garbage", nil, `{"sym":"AAPL","p":1,"d":"up"}`, Quote{}, ErrMalformed},
		{"volume_negative", nil, `{"sym":"AAPL","p":1,"v":-2}`, Quote{}, ErrMalformed},
		{"volume_huge", nil, `{"sym":"AAPL","p":1,"v":1e30}`, Quote{}, ErrMalformed},
		{"bad_time", nil, `{"sym":"AAPL","p":1,"t":"yesterday"}`, Quote{}, ErrMalformed},
		{"bad_time_layout", func(j *JSONOptions) { j.TimeFormat = "2006-01-02" }, `{"sym":"AAPL","p":1,"t":"10/02/2026"}`, Quote{}, ErrMalformed},
		{"bad_optional_prices_omitted", nil, `{"sym":"AAPL","p":1,"o":"x","h":-1,"l":{},"b":0}`, Quote{Symbol: "AAPL", Price: 1}, nil},
		{"duplicate_price", nil, `{"sym":"AAPL","p":1,"p":2}`, Quote{}, ErrMalformed},
		{"root_array", func(j *JSONOptions) { j.Symbol, j.Price = "[0].s", "[0].p" }, `[{"s":"AAPL","p":3}]`, Quote{Symbol: "AAPL", Price: 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := mustNew(t, KindJSON, generic(tt.mod))
			sym := "AAPL"
			if tt.want.Symbol != "" {
				sym = tt.want.Symbol
			}
			q, err := src.Parse(sym, readerResponse(200, strings.NewReader(tt.body)))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse(%s) error = %v, want %v", tt.body, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) error = %v", tt.body, err)
			}
			checkQuote(t, "Parse("+tt.body+")", q, tt.want)
		})
	}
}

func TestJSONConditions(t *testing.T) {
	o := generic(func(j *JSONOptions) {
		j.Symbol = ""
		j.ErrorIf = []string{"error", "status=error", "code=429"}
		j.UnknownIf = []string{"!p", `["not found"]=true`, "code=null"}
	})
	src := mustNew(t, KindJSON, o)
	tests := []struct {
		body    string
		wantErr error
	}{
		{`{"p":1}`, nil},
		{`{"p":1,"error":null}`, nil},
		{`{"p":1,"error":"quota"}`, ErrUpstream},
		{`{"p":1,"error":{"msg":"quota"}}`, ErrUpstream},
		{`{"p":1,"status":"error"}`, ErrUpstream},
		{`{"p":1,"status":"ok"}`, nil},
		{`{"p":1,"code":429}`, ErrUpstream},
		{`{"p":1,"code":"429"}`, ErrUpstream},
		{`{"p":1,"code":null}`, ErrUnknownSymbol},
		{`{"p":1,"code":200}`, nil},
		{`{}`, ErrUnknownSymbol},
		{`{"p":null}`, ErrUnknownSymbol},
		{`{"error":"quota"}`, ErrUpstream}, // ErrorIf is tested first
		{`{"p":1,"not found":true}`, ErrUnknownSymbol},
		{`{"p":1,"not found":false}`, nil},
	}
	for _, tt := range tests {
		_, err := src.Parse("AAPL", readerResponse(200, strings.NewReader(tt.body)))
		if (tt.wantErr == nil && err != nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
			t.Errorf("Parse(%s) error = %v, want %v", tt.body, err, tt.wantErr)
		}
	}
}

// TestCheckJSON: the checks configuration loading calls field by field
// agree with New, and say what is wrong without the Options field names.
func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) error
		ok    []string
		bad   []string
	}{
		{"path", CheckJSONPath, []string{"a", "data.last", "[0].c", `["Global Quote"]["05. price"]`},
			[]string{"", "a..b", "[x]", "a[", `["a"`, "a=b", strings.Repeat("a.", 200) + "a"}},
		{"condition", CheckJSONCondition, []string{"a", "!a", "a=b", "s=no_data", "a.b=null"}, []string{"", "!a=b", "a[=", "!"}},
		{"url", CheckJSONURL, []string{"https://q.example/{symbol}", "http://q.example/q?s={symbol}&k={apikey}"},
			[]string{"", "/x/{symbol}", "https://q.example/AAPL", "https://{symbol}.example/", "https://q.example/{sym}"}},
		{"time_format", CheckJSONTimeFormat, []string{"", "unix", "unixms", "rfc3339", "2006-01-02"}, []string{"iso", "yyyy-mm-dd"}},
		{"time_zone", CheckJSONTimeZone, []string{"", "UTC", "America/New_York"}, []string{"Mars/Olympus", "../etc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.ok {
				if err := tt.check(s); err != nil {
					t.Errorf("Check %s(%q) = %v, want nil", tt.name, s, err)
				}
			}
			for _, s := range tt.bad {
				err := tt.check(s)
				if !errors.Is(err, ErrInvalidOptions) || strings.Contains(err.Error(), "Options.") {
					t.Errorf("Check %s(%q) = %v, want %v without an Options field name", tt.name, s, err, ErrInvalidOptions)
				}
			}
		})
	}
	if err := CheckJSONURL("https://q.example/{symbol}?k=" + testKey + "{"); err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("CheckJSONURL(a URL holding a key) = %v, want an error without the URL", err)
	}
}

func TestJSONOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		o    *Options
	}{
		{"no_json", &Options{}},
		{"no_url", generic(func(j *JSONOptions) { j.URL = "" })},
		{"relative_url", generic(func(j *JSONOptions) { j.URL = "/v1/{symbol}" })},
		{"ftp_url", generic(func(j *JSONOptions) { j.URL = "ftp://quotes.example/{symbol}" })},
		{"no_symbol_placeholder", generic(func(j *JSONOptions) { j.URL = "https://quotes.example/v1/AAPL" })},
		{"placeholder_in_host", generic(func(j *JSONOptions) { j.URL = "https://{symbol}.example/" })},
		{"user_info", generic(func(j *JSONOptions) { j.URL = "https://u:p@quotes.example/{symbol}" })},
		{"unknown_placeholder", generic(func(j *JSONOptions) { j.URL = "https://quotes.example/{SYMBOL}" })},
		{"apikey_without_key", generic(func(j *JSONOptions) { j.URL = "https://quotes.example/{symbol}?k={apikey}" })},
		{"control_character", generic(func(j *JSONOptions) { j.URL = "https://quotes.example/{symbol}\n" })},
		{"no_price", generic(func(j *JSONOptions) { j.Price = "" })},
		{"bad_price_path", generic(func(j *JSONOptions) { j.Price = "a..b" })},
		{"bad_bid_path", generic(func(j *JSONOptions) { j.Bid = "[x]" })},
		{"bad_time_format", generic(func(j *JSONOptions) { j.TimeFormat = "iso" })},
		{"bad_zone", generic(func(j *JSONOptions) { j.TimeZone = "Mars/Olympus" })},
		{"bad_condition", generic(func(j *JSONOptions) { j.ErrorIf = []string{"a[="} })},
		{"negated_equals", generic(func(j *JSONOptions) { j.UnknownIf = []string{"!a=b"} })},
		{"too_many_conditions", generic(func(j *JSONOptions) { j.UnknownIf = strings.Split("a b c d e f g h i", " ") })},
		{"json_for_other_kind", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := KindJSON
			if tt.o == nil {
				kind, tt.o = KindCoinbase, generic(nil)
			}
			if _, err := New(kind, tt.o); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("New(%s, %s) error = %v, want %v", kind, tt.name, err, ErrInvalidOptions)
			}
		})
	}
}

func TestJSONNewRequest(t *testing.T) {
	tests := []struct {
		url, base, symbol, want string
	}{
		{"https://quotes.example/v1/{symbol}", "", "brk.b", "https://quotes.example/v1/BRK.B"},
		{"https://quotes.example/v1/{symbol}/", "", "a/b", "https://quotes.example/v1/A%2FB/"},
		{"https://quotes.example/q?s={symbol}&k={apikey}&x=1", "", "^gspc", "https://quotes.example/q?s=%5EGSPC&k=k%26e+y&x=1"},
		{"https://quotes.example/{apikey}/q?s={symbol}", "", "A", "https://quotes.example/k&e%20y/q?s=A"},
		{"https://quotes.example:8443/q?s={symbol}", "http://127.0.0.1:9/prefix/", "A", "http://127.0.0.1:9/prefix/q?s=A"},
	}
	for _, tt := range tests {
		src := mustNew(t, KindJSON, &Options{APIKey: "k&e y", BaseURL: tt.base, JSON: &JSONOptions{URL: tt.url, Price: "p"}})
		req, err := src.NewRequest(t.Context(), tt.symbol)
		if err != nil || req.URL.String() != tt.want {
			t.Errorf("NewRequest(%s, %s) = %v, %v, want %s", tt.url, tt.symbol, req.URL, err, tt.want)
		}
		if base, err := BaseURL(KindJSON, &Options{BaseURL: tt.base, JSON: &JSONOptions{URL: tt.url}}); err != nil ||
			!strings.HasPrefix(tt.want, strings.TrimRight(base, "/")) {
			t.Errorf("BaseURL(json, %s) = %q, %v, want the start of %s", tt.url, base, err, tt.want)
		}
	}
	src := mustNew(t, KindJSON, generic(nil))
	for _, bad := range []string{"", "A B", "A?B", "A#B", strings.Repeat("A", 33)} {
		if _, err := src.NewRequest(t.Context(), bad); !errors.Is(err, ErrUnknownSymbol) {
			t.Errorf("NewRequest(%q) error = %v, want %v", bad, err, ErrUnknownSymbol)
		}
	}
}
