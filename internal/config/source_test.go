package config_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/quote"
)

// TestParseSymbolsPerKind: symbols are checked in the syntax of the source
// kind, wherever the kind is in the file, at the symbol's own line, with
// the provider's syntax in the message.
func TestParseSymbolsPerKind(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string // the symbols, or nil for an error
		line int
		key  string
		msg  string // in the error
		is   error
	}{
		{"coinbase_product", "source:\n  kind: coinbase\nsymbols: [btc-usd, ETH-USD]\n", []string{"BTC-USD", "ETH-USD"}, 0, "", "", nil},
		{"binance_pair", "source:\n  kind: binance\nsymbols: [btcusdt]\n", []string{"BTCUSDT"}, 0, "", "", nil},
		{"json_slash", "source:\n  kind: json\n  json: {url: \"https://q.example/{symbol}\", price: p}\nsymbols: [eur/usd]\n", []string{"EUR/USD"}, 0, "", "", nil},
		{"finnhub_prefixed", "source:\n  kind: finnhub\n  api_key: k\nsymbols: [\"BINANCE:BTCUSDT\"]\n", []string{"BINANCE:BTCUSDT"}, 0, "", "", nil},
		{"binance_coinbase_product", "source:\n  kind: binance\nsymbols:\n  - BTCUSDT\n  - BTC-USD\n", nil, 5, "symbols[1]", "BTCUSDT", config.ErrInvalidSymbol},
		{"coinbase_binance_pair", "source:\n  kind: coinbase\nsymbols: [BTCUSDT]\n", nil, 3, "symbols[0]", "BTC-USD", config.ErrInvalidSymbol},
		{"kind_after_symbols", "symbols:\n  - BTC-USD\nsource:\n  kind: binance\n", nil, 2, "symbols[0]", "BTCUSDT", config.ErrInvalidSymbol},
		{"sim_slash", "symbols: [EUR/USD]\n", nil, 1, "symbols[0]", "EUR/USD", config.ErrInvalidSymbol},
		{"alpaca_digit_first", "source: {kind: alpaca, api_key: k, api_secret: s}\nsymbols: [1AB]\n", nil, 2, "symbols[0]", "starting with a letter", config.ErrInvalidSymbol},
		{"non_ascii", "source: {kind: json, json: {url: \"https://q.example/{symbol}\", price: p}}\nsymbols: [\"aſpl\"]\n", nil, 2, "symbols[0]", "ASCII", config.ErrInvalidSymbol},
		{"duplicate_after_upper_case", "source:\n  kind: coinbase\nsymbols: [BTC-USD, eth-usd, btc-usd]\n", nil, 3, "symbols[2]", "symbols[0]", config.ErrDuplicateSymbol},
		{"default_symbols_not_coinbase", "history: 5\nsource:\n  kind: coinbase\n", nil, 3, "source.kind", "BTC-USD", config.ErrInvalidSymbol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("t.yaml", []byte(tt.data))
			if tt.want != nil {
				if err != nil || !slices.Equal(cfg.Symbols, tt.want) {
					t.Fatalf("Parse(%q) = %v, %v, want symbols %v", tt.data, cfgSymbols(cfg), err, tt.want)
				}
				return
			}
			checkError(t, tt.data, err, tt.line, tt.key, tt.msg, tt.is)
		})
	}
}

func cfgSymbols(cfg *config.Config) []string {
	if cfg == nil {
		return nil
	}
	return cfg.Symbols
}

// checkError fails t unless err is an *config.Error at line and key,
// saying msg and wrapping is.
func checkError(t *testing.T, data string, err error, line int, key, msg string, is error) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Line != line || ce.Key != key {
		t.Fatalf("Parse(%q) = %v, want an error at line %d, key %s", data, err, line, key)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("Parse(%q) = %v, want it to say %q", data, err, msg)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("Parse(%q) = %v, want errors.Is %v", data, err, is)
	}
}

// TestSourceNormalizeSymbol: the check for symbols clients ask for at run
// time is the one Parse applies.
func TestSourceNormalizeSymbol(t *testing.T) {
	tests := []struct {
		kind, sym, want string // want "" for an error
	}{
		{config.KindSim, "aapl", "AAPL"},
		{config.KindSim, "EUR/USD", ""},
		{config.KindBinance, "btcusdt", "BTCUSDT"},
		{config.KindBinance, "BTC-USD", ""},
		{config.KindCoinbase, "btc-usd", "BTC-USD"},
		{config.KindCoinbase, "BTCUSD", ""},
		{config.KindJSON, "eur/usd", "EUR/USD"},
		{config.KindNasdaq, "A B", ""},
	}
	for _, tt := range tests {
		s := &config.Source{Kind: tt.kind}
		got, err := s.NormalizeSymbol(tt.sym)
		switch {
		case tt.want != "" && (err != nil || got != tt.want):
			t.Errorf("Source{Kind: %s}.NormalizeSymbol(%q) = %q, %v, want %q", tt.kind, tt.sym, got, err, tt.want)
		case tt.want == "" && !errors.Is(err, config.ErrInvalidSymbol):
			t.Errorf("Source{Kind: %s}.NormalizeSymbol(%q) = %q, %v, want %v", tt.kind, tt.sym, got, err, config.ErrInvalidSymbol)
		}
	}
}

// TestParseAssetClass: symbols entries {symbol, assetclass} set the nasdaq
// assetclass, checked at their line.
func TestParseAssetClass(t *testing.T) {
	ok := "source:\n  kind: nasdaq\nsymbols:\n  - AAPL\n  - {symbol: spy, assetclass: etf}\n  - symbol: \"^ndx\"\n    assetclass: index\n"
	cfg, err := config.Parse("t.yaml", []byte(ok))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", ok, err)
	}
	if want := []string{"AAPL", "SPY", "^NDX"}; !slices.Equal(cfg.Symbols, want) {
		t.Errorf("Parse(%q).Symbols = %v, want %v", ok, cfg.Symbols, want)
	}
	if want := map[string]string{"SPY": "etf", "^NDX": "index"}; !reflect.DeepEqual(cfg.Source.AssetClass, want) {
		t.Errorf("Parse(%q).Source.AssetClass = %v, want %v", ok, cfg.Source.AssetClass, want)
	}
	if o := cfg.Source.QuoteOptions(); !reflect.DeepEqual(o.AssetClass, cfg.Source.AssetClass) {
		t.Errorf("QuoteOptions().AssetClass = %v, want %v", o.AssetClass, cfg.Source.AssetClass)
	}
	tests := []struct {
		name, data string
		line       int
		key, msg   string
	}{
		{"unknown_class", "source: {kind: nasdaq}\nsymbols:\n  - {symbol: SPY, assetclass: etfs}\n", 3, "symbols[0].assetclass", "mutualfunds"},
		{"class_for_binance", "source: {kind: binance}\nsymbols:\n  - BTCUSDT\n  - {symbol: ETHUSDT, assetclass: etf}\n", 4, "symbols[1].assetclass", "nasdaq"},
		{"no_symbol", "symbols:\n  - {assetclass: etf}\n", 2, "symbols[0]", "symbol is required"},
		{"unknown_entry_key", "symbols:\n  - {symbol: SPY, class: etf}\n", 2, "symbols[0].class", "unknown key"},
		{"list_entry", "symbols:\n  - [SPY]\n", 2, "symbols[0]", "assetclass"},
		{"bad_symbol_in_entry", "symbols:\n  - AAPL\n  - symbol: \"A B\"\n    assetclass: etf\n", 3, "symbols[1]", "invalid symbol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(tt.data))
			checkError(t, tt.data, err, tt.line, tt.key, tt.msg, nil)
		})
	}
}

// TestParseJSONSource: source.json becomes quote.JSONOptions; every path,
// condition, URL and time setting is checked at its own line.
func TestParseJSONSource(t *testing.T) {
	ok := `source:
  kind: json
  api_key: k
  json:
    url: "https://q.example/v1/{symbol}?k={apikey}"
    symbol: data.sym
    price: data.last
    change: data.d
    change_pct: data.dp
    percent_is_fraction: true
    volume: '["day vol"]'
    time: data.t
    time_format: "2006-01-02 15:04"
    time_zone: America/New_York
    open: o
    high: h
    low: l
    prev_close: pc
    bid: b[0]
    ask: a[0]
    market_status: data.open
    error_if: [error, 'status=400']
    unknown_if: ['!data']
symbols: [AAPL]
`
	cfg, err := config.Parse("t.yaml", []byte(ok))
	if err != nil {
		t.Fatalf("Parse(json source) = %v", err)
	}
	want := &quote.JSONOptions{
		URL: "https://q.example/v1/{symbol}?k={apikey}", Symbol: "data.sym", Price: "data.last", Change: "data.d", ChangePct: "data.dp",
		PercentIsFraction: true, Volume: `["day vol"]`, Time: "data.t", TimeFormat: "2006-01-02 15:04", TimeZone: "America/New_York",
		Open: "o", High: "h", Low: "l", PrevClose: "pc", Bid: "b[0]", Ask: "a[0]", MarketStatus: "data.open",
		ErrorIf: []string{"error", "status=400"}, UnknownIf: []string{"!data"},
	}
	if !reflect.DeepEqual(cfg.Source.JSON, want) {
		t.Errorf("Parse(json source).Source.JSON = %+v, want %+v", cfg.Source.JSON, want)
	}
	if _, err := quote.New(cfg.Source.QuoteKind(), cfg.Source.QuoteOptions()); err != nil {
		t.Errorf("quote.New(the parsed source) = %v", err)
	}

	head := "symbols: [AAPL]\nsource:\n  kind: json\n  json:\n    url: \"https://q.example/{symbol}\"\n    price: p\n"
	tests := []struct {
		name, data string
		line       int
		key, msg   string
		is         error // nil: ErrInvalidValue
	}{
		{"bad_path", head + "    change: a..b\n", 7, "source.json.change", "empty member name at offset 2", nil},
		{"bad_quoted_path", head + "    volume: '[\"day vol]'\n", 7, "source.json.volume", "unterminated", nil},
		{"bad_index", head + "    bid: b[x]\n", 7, "source.json.bid", "not a number", nil},
		{"bad_condition", head + "    error_if:\n      - error\n      - '!a=b'\n", 9, "source.json.error_if[1]", "cannot be combined", nil},
		{"too_many_conditions", head + "    unknown_if: [a, b, c, d, e, f, g, h, i]\n", 7, "source.json.unknown_if", "at most 8", nil},
		{"condition_not_string", head + "    unknown_if: [{a: b}]\n", 7, "source.json.unknown_if[0]", "want string", config.ErrType},
		{"bad_time_format", head + "    time_format: iso\n", 7, "source.json.time_format", "Go time layout", nil},
		{"bad_zone", head + "    time_zone: Mars/Olympus\n", 7, "source.json.time_zone", "unknown zone", nil},
		{"unknown_json_key", head + "    last: p\n", 7, "source.json.last", "unknown key", config.ErrUnknownKey},
		{"url_without_symbol", "source:\n  kind: json\n  json:\n    url: \"https://q.example/AAPL\"\n    price: p\n", 4, "source.json.url", "lacks {symbol}", nil},
		{"no_price", "source:\n  kind: json\n  json:\n    url: \"https://q.example/{symbol}\"\n", 4, "source.json", "price is required", nil},
		{"no_url", "source:\n  kind: json\n  json: {price: p}\n", 3, "source.json", "url is required", nil},
		{"no_json_section", "symbols: [AAPL]\nsource:\n  kind: json\n", 3, "source.kind", "needs a source.json section", nil},
		{"json_for_coinbase", "symbols: [BTC-USD]\nsource:\n  kind: coinbase\n  json: {url: \"https://q.example/{symbol}\", price: p}\n", 4, "source.json", "not coinbase", nil},
		{"apikey_without_key", "source:\n  kind: json\n  json:\n    url: \"https://q.example/{symbol}?k={apikey}\"\n    price: p\n", 4, "source.json.url", "api_key_file", nil},
		{"finnhub_without_key", "symbols: [AAPL]\nsource:\n  kind: finnhub\n", 3, "source.kind", "needs api_key_file", nil},
		{"url_password_not_shown", "source:\n  url: \"http://u:s3cr3t@[::1\"\n", 2, "source.url", "invalid URL", nil},
		{"alpaca_without_secret", "symbols: [AAPL]\nsource:\n  api_key: k\n  kind: alpaca\n", 4, "source.kind", "needs api_secret_file", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(tt.data))
			is := tt.is
			if is == nil {
				is = config.ErrInvalidValue
			}
			checkError(t, tt.data, err, tt.line, tt.key, tt.msg, is)
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("Parse(%q) = %v, shows the password", tt.data, err)
			}
		})
	}
}

// TestExampleConfigs: every configuration in docs/examples loads, builds its
// source, and reads the provider's documented answer (the quote package's
// fixture) from a loopback server on the provider's own path and query.
func TestExampleConfigs(t *testing.T) {
	const examples, fixtures = "../../docs/examples", "../quote/testdata"
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("test-key-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file    string
		secret  string // the api_key_file the example names, replaced by keyFile
		symbol  string
		uri     string // the request URI expected for symbol
		header  [2]string
		fixture string
		price   float64
	}{
		{"kucoin.yaml", "", "BTC-USDT", "/api/v1/market/stats?symbol=BTC-USDT", [2]string{"Accept", "application/json"}, "json_kucoin_btc_usdt.json", 67215.41},
		{"alphavantage.yaml", "/run/secrets/alphavantage", "IBM", "/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=test-key-123",
			[2]string{"Accept", "application/json"}, "json_alphavantage_ibm.json", 232.99},
		{"marketdata.yaml", "/run/secrets/marketdata", "AAPL", "/v1/stocks/quotes/AAPL/",
			[2]string{"Authorization", "Bearer test-key-123"}, "json_marketdata_aapl.json", 227.52},
	}
	files, err := filepath.Glob(filepath.Join(examples, "*.yaml"))
	if err != nil || len(files) != len(tests) {
		t.Fatalf("Glob(%s/*.yaml) = %v, %v, want the %d examples this test knows", examples, files, err, len(tests))
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(examples, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if tt.secret != "" {
				if !strings.Contains(string(data), tt.secret) {
					t.Fatalf("%s does not name %s", tt.file, tt.secret)
				}
				data = []byte(strings.ReplaceAll(string(data), tt.secret, keyFile))
			}
			cfg, err := config.Parse(tt.file, data)
			if err != nil {
				t.Fatalf("Parse(%s) = %v", tt.file, err)
			}
			if !slices.Contains(cfg.Symbols, tt.symbol) {
				t.Errorf("Parse(%s).Symbols = %v, want %s among them", tt.file, cfg.Symbols, tt.symbol)
			}
			body, err := os.ReadFile(filepath.Join(fixtures, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.RequestURI() != tt.uri || r.Header.Get(tt.header[0]) != tt.header[1] {
					http.Error(w, "unexpected request "+r.URL.RequestURI(), http.StatusTeapot)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write(body)
			}))
			defer srv.Close()
			o := cfg.Source.QuoteOptions()
			o.BaseURL = srv.URL
			src, err := quote.New(cfg.Source.QuoteKind(), o)
			if err != nil {
				t.Fatalf("quote.New(%s) = %v", tt.file, err)
			}
			req, err := src.NewRequest(t.Context(), tt.symbol)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			q, err := src.Parse(tt.symbol, resp)
			if err != nil || q.Symbol != tt.symbol || q.Price != tt.price {
				t.Errorf("Parse(%s) = %+v, %v, want %s at %v", tt.symbol, q, err, tt.symbol, tt.price)
			}
		})
	}
}
