package quote

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestKinds(t *testing.T) {
	want := []string{"alpaca", "binance", "coinbase", "finnhub", "json", "nasdaq", "stooq"}
	if got := Kinds(); !slices.Equal(got, want) {
		t.Fatalf("Kinds() = %v, want %v", got, want)
	}
	for _, kind := range []string{KindNasdaq, KindStooq, KindCoinbase, KindBinance} {
		if src, err := New(kind, nil); err != nil || src == nil {
			t.Errorf("New(%s, nil) = %v, %v, want a keyless source", kind, src, err)
		}
	}
	for _, kind := range []string{KindFinnhub, KindAlpaca, KindJSON, "yahoo", ""} {
		src, err := New(kind, nil)
		if !errors.Is(err, ErrInvalidOptions) || src != nil {
			t.Errorf("New(%q, nil) = %#v, %v, want a nil Source and %v", kind, src, err, ErrInvalidOptions)
		}
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		kind string
		o    *Options
		want string
	}{
		{KindNasdaq, nil, "https://api.nasdaq.com"},
		{KindStooq, nil, "https://stooq.com"},
		{KindCoinbase, nil, "https://api.exchange.coinbase.com"},
		{KindBinance, &Options{}, "https://api.binance.com"},
		{KindFinnhub, nil, "https://finnhub.io"},
		{KindAlpaca, nil, "https://data.alpaca.markets"},
		{KindJSON, marketDataOptions(), "https://api.marketdata.app"},
		{KindCoinbase, &Options{BaseURL: "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"},
	}
	for _, tt := range tests {
		if got, err := BaseURL(tt.kind, tt.o); err != nil || got != tt.want {
			t.Errorf("BaseURL(%s, %+v) = %q, %v, want %q", tt.kind, tt.o, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		kind string
		o    *Options
	}{{"yahoo", nil}, {KindJSON, nil}, {KindJSON, &Options{JSON: &JSONOptions{URL: "/x/{symbol}"}}}} {
		if _, err := BaseURL(tt.kind, tt.o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("BaseURL(%q, %+v) error = %v, want %v", tt.kind, tt.o, err, ErrInvalidOptions)
		}
	}
}

func TestCheckSymbol(t *testing.T) {
	tests := []struct {
		kind    string
		valid   []string
		invalid []string
	}{
		{KindNasdaq, []string{"AAPL", "aapl", "BRK.B", "BF-B", "^GSPC", "A", "ABCDEFGHIJKLMNOPQRST"},
			[]string{"", "A B", "AAPL!", "ÅPL", "A_B", ".", "..", "ABCDEFGHIJKLMNOPQRSTU", "aſpl", "\u212aO"}},
		{KindStooq, []string{"AAPL", "brk-b", "BRK.B"}, []string{"", "^GSPC", "A/B", "A B"}},
		{KindCoinbase, []string{"BTC-USD", "eth-usdc", "1INCH-USD"}, []string{"", "BTCUSD", "BTC-", "-USD", "BTC-USD-X", "BTC_USD", "ABCDEFGHIJK-USD"}},
		{KindBinance, []string{"BTCUSDT", "btcusdt", "1000SATSUSDT"}, []string{"", "BTC USDT", "BTC/USDT", "BTC&X", "BTC-USD", "BTC_USDT"}},
		{KindFinnhub, []string{"AAPL", "BRK.B", "ERE.UN.TO", "BINANCE:BTCUSDT", "^GSPC", "OANDA:EUR_USD"}, []string{"", "A B", "A?B", "A#B", "A&B"}},
		{KindAlpaca, []string{"AAPL", "brk.b", "A"}, []string{"", "1AB", "BRK-B", "BTC/USD", ".A", "ABCDEFGHIJKLM"}},
		{KindJSON, []string{"AAPL", "7203.T", "BTC-USD", "EUR/USD", "X:BTCUSD"}, []string{"", "A B", "A?B", "A#B", "A%20", strings.Repeat("A", 33)}},
	}
	for _, tt := range tests {
		for _, s := range tt.valid {
			if err := CheckSymbol(tt.kind, s); err != nil {
				t.Errorf("CheckSymbol(%s, %q) = %v, want nil", tt.kind, s, err)
			}
		}
		for _, s := range tt.invalid {
			if err := CheckSymbol(tt.kind, s); !errors.Is(err, ErrInvalidSymbol) {
				t.Errorf("CheckSymbol(%s, %q) = %v, want %v", tt.kind, s, err, ErrInvalidSymbol)
			}
		}
	}
	if err := CheckSymbol("yahoo", "AAPL"); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("CheckSymbol(yahoo, AAPL) = %v, want %v", err, ErrInvalidOptions)
	}
}

// TestNormalizeSymbol: the upper-case form, and errors that say the
// provider's own syntax with an example.
func TestNormalizeSymbol(t *testing.T) {
	tests := []struct {
		name, kind, sym string
		want            string // the normal form, or "" for an error
		msg             string // in the error
	}{
		{"coinbase_product", KindCoinbase, "btc-usd", "BTC-USD", ""},
		{"coinbase_binance_pair", KindCoinbase, "BTCUSDT", "", "such as BTC-USD"},
		{"binance_pair", KindBinance, "btcusdt", "BTCUSDT", ""},
		{"binance_coinbase_product", KindBinance, "BTC-USD", "", "such as BTCUSDT"},
		{"json_slash", KindJSON, "eur/usd", "EUR/USD", ""},
		{"finnhub_prefixed", KindFinnhub, "binance:btcusdt", "BINANCE:BTCUSDT", ""},
		{"alpaca_digit_first", KindAlpaca, "1AB", "", "starting with a letter"},
		{"long_s", KindJSON, "aſpl", "", "ASCII"},
		{"kelvin", KindStooq, "\u212a", "", "ASCII"},
		{"unknown_kind", "yahoo", "AAPL", "", "unknown source kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeSymbol(tt.kind, tt.sym)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeSymbol(%s, %q) = %q, %v, want %q", tt.kind, tt.sym, got, err, tt.want)
				}
				return
			}
			if err == nil || got != "" || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("NormalizeSymbol(%s, %q) = %q, %v, want an error saying %q", tt.kind, tt.sym, got, err, tt.msg)
			}
		})
	}
}

// TestSourceRejectsNonASCII: a source asks for no symbol that only
// strings.ToUpper turns into an ASCII one.
func TestSourceRejectsNonASCII(t *testing.T) {
	for _, kind := range []string{KindCoinbase, KindBinance, KindFinnhub, KindAlpaca} {
		src := mustNew(t, kind, &Options{APIKey: testKey, APISecret: testSecret})
		if req, err := src.NewRequest(t.Context(), "aſpl"); !errors.Is(err, ErrUnknownSymbol) {
			t.Errorf("%s NewRequest(aſpl) = %v, %v, want %v", kind, req, err, ErrUnknownSymbol)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"relative_base", Options{BaseURL: "/api"}},
		{"ftp_base", Options{BaseURL: "ftp://quotes.example"}},
		{"base_with_query", Options{BaseURL: "https://quotes.example/?k=" + testKey}},
		{"base_without_host", Options{BaseURL: "https://"}},
		{"agent_with_newline", Options{UserAgent: "tickerd\r\nX-Evil: 1"}},
		{"header_name", Options{Headers: map[string]string{"X Bad": "1"}}},
		{"header_value_newline", Options{Headers: map[string]string{"X-Token": testSecret + "\r\nX-Evil: 1"}}},
		{"key_newline", Options{APIKey: testKey + "\n"}},
		{"secret_in_substitution", Options{APISecret: testSecret + "\n", Headers: map[string]string{"Authorization": "Bearer {apisecret}"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(KindCoinbase, &tt.o)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("New(coinbase, %s) error = %v, want %v", tt.name, err, ErrInvalidOptions)
			}
			if msg := err.Error(); strings.Contains(msg, testKey) || strings.Contains(msg, testSecret) {
				t.Errorf("New(coinbase, %s) error = %v, holds a credential", tt.name, err)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	src := mustNew(t, KindCoinbase, &Options{
		UserAgent: "tickerd-test/1",
		APIKey:    testKey,
		Headers:   map[string]string{"Accept": "application/vnd.example+json", "Authorization": "Bearer {apikey}", "X-Pair": "{apikey}:{apisecret}"},
		APISecret: testSecret,
	})
	req, err := src.NewRequest(t.Context(), "BTC-USD")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"User-Agent":    "tickerd-test/1",
		"Accept":        "application/vnd.example+json", // Headers override the kind's own
		"Authorization": "Bearer " + testKey,
		"X-Pair":        testKey + ":" + testSecret,
	} {
		if got := req.Header.Get(k); got != want {
			t.Errorf("NewRequest header %s = %q, want %q", k, got, want)
		}
	}
	// Each request has its own header map.
	req.Header.Set("X-Changed", "1")
	if again, _ := src.NewRequest(t.Context(), "BTC-USD"); again.Header.Get("X-Changed") != "" {
		t.Errorf("a request's header change leaked into the next request")
	}
}

func TestRedact(t *testing.T) {
	var sec secrets
	sec.add(testKey, 1)
	sec.add("short", minSecret)
	sec.add("", 1)
	if len(sec) != 1 {
		t.Fatalf("secrets = %q, want only the key", sec)
	}
	long := strings.Repeat("x", 70) + testKey + strings.Repeat("y", 70)
	for in, want := range map[string]string{
		"token " + testKey + " rejected": `"token [REDACTED] rejected"`,
		"short stays":                    `"short stays"`,
		long:                             `"` + strings.Repeat("x", 70) + "[REDACTED]" + `"...`,
		"é" + strings.Repeat("é", 50):    `"` + strings.Repeat("é", 40) + `"...`,
	} {
		if got := sec.quote(in); got != want {
			t.Errorf("quote(%.30q...) = %s, want %s", in, got, want)
		}
	}
}

// TestKeysNotInURL: no built-in kind puts a credential in the request URL,
// where an HTTP client's error, a proxy or an access log would show it;
// only a json URL template that asks for {apikey} does.
func TestKeysNotInURL(t *testing.T) {
	for _, kind := range Kinds() {
		o := &Options{APIKey: testKey, APISecret: testSecret}
		if kind == KindJSON {
			o = marketDataOptions()
			o.APISecret = testSecret
		}
		sym := map[string]string{KindCoinbase: "BTC-USD", KindBinance: "BTCUSDT"}[kind]
		if sym == "" {
			sym = "AAPL"
		}
		req, err := mustNew(t, kind, o).NewRequest(t.Context(), sym)
		if err != nil {
			t.Fatalf("%s NewRequest(%s) = %v", kind, sym, err)
		}
		if u := req.URL.String(); strings.Contains(u, testKey) || strings.Contains(u, testSecret) {
			t.Errorf("%s NewRequest(%s).URL = %s, holds a credential", kind, sym, u)
		}
	}
}
