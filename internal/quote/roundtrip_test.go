package quote

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// answer is what the test upstream sends for one request URI.
type answer struct {
	status int    // 0 means 200
	ct     string // Content-Type
	file   string // testdata file, or
	body   string // a literal body
	header http.Header
}

// upstream is a loopback HTTP server that answers the exact request URIs
// it is given, and only requests that carry every header in want.
type upstream struct {
	*httptest.Server
	t *testing.T
}

func newUpstream(t *testing.T, want http.Header, answers map[string]answer) *upstream {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range want {
			if got := r.Header.Get(k); got != want.Get(k) {
				http.Error(w, "header "+k+" is "+got, http.StatusBadRequest)
				return
			}
		}
		a, ok := answers[r.RequestURI]
		if !ok {
			http.Error(w, "unexpected request "+r.RequestURI, http.StatusTeapot)
			return
		}
		body := []byte(a.body)
		if a.file != "" {
			var err error
			if body, err = os.ReadFile(filepath.Join("testdata", a.file)); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		for k, v := range a.header {
			w.Header()[k] = v
		}
		if a.ct != "" {
			w.Header().Set("Content-Type", a.ct)
		}
		if a.status != 0 {
			w.WriteHeader(a.status)
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &upstream{Server: srv, t: t}
}

// fetch asks src for sym through u and parses the real response.
func (u *upstream) fetch(src Source, sym string) (Quote, error) {
	u.t.Helper()
	req, err := src.NewRequest(u.t.Context(), sym)
	if err != nil {
		u.t.Fatalf("NewRequest(%s) error = %v", sym, err)
	}
	resp, err := u.Client().Do(req)
	if err != nil {
		u.t.Fatalf("Do(%s) error = %v", sym, err)
	}
	defer resp.Body.Close()
	return src.Parse(sym, resp)
}

// roundTripKind is one kind's exchange with its upstream: the exact request
// URIs and headers, and the provider's answers served on them.
type roundTripKind struct {
	name      string
	kind      string
	opts      func() *Options // BaseURL is set by the test
	header    http.Header     // what every request must carry
	sym       string
	uri       string // the request URI for sym
	ok        answer
	wantPrice float64
	other     string // a symbol asked for but answered with sym's answer; "" when the answer does not name the symbol
	otherURI  string
	unknown   string // a symbol the upstream does not know, answered with its not-found answer
	unknownA  answer
	unknownU  string
}

func roundTripKinds() []roundTripKind {
	keyed := func() *Options { return &Options{APIKey: testKey, APISecret: testSecret} }
	none := func() *Options { return &Options{} }
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	json := "application/json; charset=utf-8"
	return []roundTripKind{
		{name: "nasdaq", kind: KindNasdaq, opts: none,
			header: hdr("User-Agent", defaultUserAgent, "Origin", "https://www.nasdaq.com", "Referer", "https://www.nasdaq.com/",
				"Accept", "application/json, text/plain, */*", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Site", "same-site", "Sec-Fetch-Dest", "empty"),
			sym: "aapl", uri: "/api/quote/AAPL/info?assetclass=stocks", ok: answer{ct: json, file: "nasdaq_aapl_2026.json"}, wantPrice: 227.52,
			other: "MSFT", otherURI: "/api/quote/MSFT/info?assetclass=stocks",
			unknown: "AAPLX", unknownU: "/api/quote/AAPLX/info?assetclass=stocks", unknownA: answer{ct: json, file: "nasdaq_error_1001.json"}},
		{name: "nasdaq_etf", kind: KindNasdaq, opts: func() *Options { return &Options{AssetClass: map[string]string{"SPY": "etf", "QQQ": "etf"}} },
			sym: "SPY", uri: "/api/quote/SPY/info?assetclass=etf", ok: answer{ct: json, file: "nasdaq_spy_etf.json"}, wantPrice: 571.30,
			other: "QQQ", otherURI: "/api/quote/QQQ/info?assetclass=etf",
			unknown: "SPYX", unknownU: "/api/quote/SPYX/info?assetclass=stocks", unknownA: answer{ct: json, file: "nasdaq_error_1001.json"}},
		{name: "stooq", kind: KindStooq, opts: none, header: hdr("User-Agent", defaultUserAgent),
			sym: "AAPL", uri: "/q/l/?s=aapl.us&f=sd2t2ohlcv&h&e=csv", ok: answer{ct: "text/csv", file: "stooq_aapl_crlf.csv"}, wantPrice: 227.5,
			other: "MSFT", otherURI: "/q/l/?s=msft.us&f=sd2t2ohlcv&h&e=csv",
			unknown: "AAPLX", unknownU: "/q/l/?s=aaplx.us&f=sd2t2ohlcv&h&e=csv", unknownA: answer{ct: "text/csv", file: "stooq_unknown.csv"}},
		{name: "coinbase", kind: KindCoinbase, opts: none, header: hdr("User-Agent", apiUserAgent, "Accept", "application/json"),
			sym: "btc-usd", uri: "/products/BTC-USD/ticker", ok: answer{ct: json, file: "coinbase_btc_usd.json"}, wantPrice: 67215.41,
			unknown: "XYZ-USD", unknownU: "/products/XYZ-USD/ticker", unknownA: answer{status: 404, ct: json, file: "coinbase_not_found.json"}},
		{name: "binance", kind: KindBinance, opts: none, header: hdr("User-Agent", apiUserAgent),
			sym: "BTCUSDT", uri: "/api/v3/ticker/24hr?symbol=BTCUSDT", ok: answer{ct: json, file: "binance_btcusdt.json"}, wantPrice: 67220.71,
			other: "ETHUSDT", otherURI: "/api/v3/ticker/24hr?symbol=ETHUSDT",
			unknown: "BTCUSDX", unknownU: "/api/v3/ticker/24hr?symbol=BTCUSDX", unknownA: answer{status: 400, ct: json, file: "binance_invalid_symbol.json"}},
		{name: "finnhub", kind: KindFinnhub, opts: keyed, header: hdr("User-Agent", apiUserAgent, "X-Finnhub-Token", testKey),
			sym: "AAPL", uri: "/api/v1/quote?symbol=AAPL", ok: answer{ct: json, file: "finnhub_aapl.json"}, wantPrice: 227.52,
			unknown: "AAPLX", unknownU: "/api/v1/quote?symbol=AAPLX", unknownA: answer{ct: json, file: "finnhub_unknown.json"}},
		{name: "alpaca", kind: KindAlpaca, opts: keyed, header: hdr("APCA-API-KEY-ID", testKey, "APCA-API-SECRET-KEY", testSecret),
			sym: "AAPL", uri: "/v2/stocks/AAPL/snapshot", ok: answer{ct: json, file: "alpaca_aapl_snapshot.json"}, wantPrice: 227.52,
			other: "MSFT", otherURI: "/v2/stocks/MSFT/snapshot",
			unknown: "AAPLX", unknownU: "/v2/stocks/AAPLX/snapshot", unknownA: answer{status: 404, ct: json, file: "alpaca_not_found.json"}},
		{name: "json_alphavantage", kind: KindJSON, opts: alphaVantageOptions,
			sym: "IBM", uri: "/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=" + testKey, ok: answer{ct: json, file: "json_alphavantage_ibm.json"}, wantPrice: 232.99,
			other: "AAPL", otherURI: "/query?function=GLOBAL_QUOTE&symbol=AAPL&apikey=" + testKey,
			unknown: "IBMX", unknownU: "/query?function=GLOBAL_QUOTE&symbol=IBMX&apikey=" + testKey, unknownA: answer{ct: json, file: "json_alphavantage_unknown.json"}},
		{name: "json_marketdata", kind: KindJSON, opts: marketDataOptions, header: hdr("Authorization", "Bearer "+testKey),
			sym: "AAPL", uri: "/v1/stocks/quotes/AAPL/", ok: answer{ct: json, file: "json_marketdata_aapl.json"}, wantPrice: 227.52,
			other: "MSFT", otherURI: "/v1/stocks/quotes/MSFT/",
			unknown: "AAPLX", unknownU: "/v1/stocks/quotes/AAPLX/", unknownA: answer{status: 404, ct: json, file: "json_marketdata_no_data.json"}},
		{name: "json_kucoin", kind: KindJSON, opts: kuCoinOptions, header: hdr("Accept", "application/json"),
			sym: "btc-usdt", uri: "/api/v1/market/stats?symbol=BTC-USDT", ok: answer{ct: json, file: "json_kucoin_btc_usdt.json"}, wantPrice: 67215.41,
			other: "ETH-USDT", otherURI: "/api/v1/market/stats?symbol=ETH-USDT",
			unknown: "XYZ-USDT", unknownU: "/api/v1/market/stats?symbol=XYZ-USDT", unknownA: answer{ct: json, file: "json_kucoin_unknown.json"}},
	}
}

// noCredential fails t if err's message holds a test credential.
func noCredential(t *testing.T, call string, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), testSecret) ||
		strings.Contains(err.Error(), url.QueryEscape(testKey))) {
		t.Errorf("%s error = %v, holds a credential", call, err)
	}
}

// TestRoundTrip sends each kind's requests to a real loopback server that
// checks the exact path, query and headers, and answers with the
// provider's documented answers: a quote, its not-found answer, another
// symbol's answer, an HTML challenge page, and a 429 with Retry-After.
func TestRoundTrip(t *testing.T) {
	for _, rk := range roundTripKinds() {
		t.Run(rk.name, func(t *testing.T) {
			answers := map[string]answer{rk.uri: rk.ok, rk.unknownU: rk.unknownA}
			if rk.other != "" {
				answers[rk.otherURI] = rk.ok
			}
			up := newUpstream(t, rk.header, answers)
			o := rk.opts()
			o.BaseURL = up.URL
			src := mustNew(t, rk.kind, o)

			q, err := up.fetch(src, rk.sym)
			if err != nil || q.Price != rk.wantPrice || q.Symbol != strings.ToUpper(rk.sym) {
				t.Fatalf("fetch(%s) = %+v, %v, want %s at %v", rk.sym, q, err, strings.ToUpper(rk.sym), rk.wantPrice)
			}

			_, err = up.fetch(src, rk.unknown)
			if !errors.Is(err, ErrUnknownSymbol) {
				t.Errorf("fetch(%s) error = %v, want %v", rk.unknown, err, ErrUnknownSymbol)
			}
			noCredential(t, "fetch("+rk.unknown+")", err)

			if rk.other != "" {
				_, err = up.fetch(src, rk.other)
				if !errors.Is(err, ErrWrongSymbol) {
					t.Errorf("fetch(%s) answered for %s: error = %v, want %v", rk.other, rk.sym, err, ErrWrongSymbol)
				}
				noCredential(t, "fetch("+rk.other+")", err)
			}

			answers[rk.uri] = answer{ct: "text/html; charset=UTF-8", file: "stooq_challenge.html"}
			_, err = up.fetch(src, rk.sym)
			if !errors.Is(err, ErrNotQuote) || !strings.Contains(err.Error(), "answered text/html") {
				t.Errorf("fetch(%s) of a challenge page: error = %v, want %v saying text/html", rk.sym, err, ErrNotQuote)
			}

			answers[rk.uri] = answer{status: http.StatusTooManyRequests, ct: "application/json", body: `{}`, header: http.Header{"Retry-After": {"17"}}}
			_, err = up.fetch(src, rk.sym)
			var se *StatusError
			if !errors.As(err, &se) || se.Code != http.StatusTooManyRequests || se.Wait(time.Now()) != 17*time.Second {
				t.Errorf("fetch(%s) of a 429: error = %v, want a *StatusError waiting 17s", rk.sym, err)
			}
		})
	}
}

// TestRoundTripEchoedCredentials has upstreams that echo the key or the
// secret back, as error pages quoting the request URL do: no error may
// hold them.
func TestRoundTripEchoedCredentials(t *testing.T) {
	tests := []struct {
		name string
		kind string
		opts func() *Options
		sym  string
		uri  string
		ans  answer
	}{
		{"finnhub_401", KindFinnhub, func() *Options { return &Options{APIKey: testKey} }, "AAPL",
			"/api/v1/quote?symbol=AAPL",
			answer{status: 401, ct: "application/json", body: `{"error":"Invalid API key: ` + testKey + `"}`}},
		{"finnhub_200_error", KindFinnhub, func() *Options { return &Options{APIKey: testKey} }, "AAPL",
			"/api/v1/quote?symbol=AAPL",
			answer{ct: "application/json", body: `{"error":"token ` + testKey + ` has no access"}`}},
		{"alpaca_403", KindAlpaca, func() *Options { return &Options{APIKey: testKey, APISecret: testSecret} }, "AAPL",
			"/v2/stocks/AAPL/snapshot",
			answer{status: 403, ct: "application/json", body: `{"message":"forbidden for key ` + testKey + ` secret ` + testSecret + `"}`}},
		{"alpaca_wrong_symbol", KindAlpaca, func() *Options { return &Options{APIKey: testKey, APISecret: testSecret} }, "AAPL",
			"/v2/stocks/AAPL/snapshot",
			answer{ct: "application/json", body: `{"symbol":"` + testSecret + `","latestTrade":{"p":1}}`}},
		{"json_page_quoting_url", KindJSON, alphaVantageOptions, "IBM",
			"/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=" + testKey,
			answer{ct: "text/plain; charset=utf-8", body: `<p>Denied: "/query?apikey=` + testKey + `&function=GLOBAL_QUOTE" is not yours.</p>`}},
		{"json_error_message", KindJSON, alphaVantageOptions, "IBM",
			"/query?function=GLOBAL_QUOTE&symbol=IBM&apikey=" + testKey,
			answer{ct: "application/json", body: `{"Error Message": "Invalid API call for apikey=` + testKey + `"}`}},
		{"nasdaq_error_message", KindNasdaq, func() *Options { return &Options{Headers: map[string]string{"X-Api-Key": testSecret}} }, "AAPL",
			"/api/quote/AAPL/info?assetclass=stocks",
			answer{ct: "application/json", body: `{"data":null,"message":null,"status":{"rCode":400,"bCodeMessage":[{"code":3004,"errorMessage":"vendor refused key ` + testSecret + `"}],"developerMessage":null}}`}},
		{"header_secret", KindCoinbase, func() *Options { return &Options{Headers: map[string]string{"CB-Access-Key": testSecret}} }, "BTC-USD",
			"/products/BTC-USD/ticker",
			answer{status: 401, ct: "application/json", body: `{"message":"invalid CB-Access-Key ` + testSecret + `"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, nil, map[string]answer{tt.uri: tt.ans})
			o := tt.opts()
			o.BaseURL = up.URL
			_, err := up.fetch(mustNew(t, tt.kind, o), tt.sym)
			if err == nil || strings.Contains(err.Error(), "Teapot") {
				t.Fatalf("fetch(%s) error = %v, want the upstream's failure", tt.sym, err)
			}
			noCredential(t, "fetch("+tt.sym+")", err)
			if !strings.Contains(err.Error(), redacted) {
				t.Errorf("fetch(%s) error = %v, want the echoed credential shown as %s", tt.sym, err, redacted)
			}
		})
	}
}
