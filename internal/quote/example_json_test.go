package quote

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"
)

// alphaVantageOptions configures the json kind for Alpha Vantage's
// GLOBAL_QUOTE, as JSONOptions' doc shows in YAML.
func alphaVantageOptions() *Options {
	const q = `["Global Quote"]`
	return &Options{
		APIKey: testKey,
		JSON: &JSONOptions{
			URL:        "https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol={symbol}&apikey={apikey}",
			Symbol:     q + `["01. symbol"]`,
			Price:      q + `["05. price"]`,
			Change:     q + `["09. change"]`,
			ChangePct:  q + `["10. change percent"]`,
			Volume:     q + `["06. volume"]`,
			Open:       q + `["02. open"]`,
			High:       q + `["03. high"]`,
			Low:        q + `["04. low"]`,
			PrevClose:  q + `["08. previous close"]`,
			Time:       q + `["07. latest trading day"]`,
			TimeFormat: "2006-01-02",
			TimeZone:   "America/New_York",
			ErrorIf:    []string{"Information", "Note", `["Error Message"]`},
			UnknownIf:  []string{`!` + q + `["01. symbol"]`},
		},
	}
}

// marketDataOptions configures the json kind for Market Data's stock
// quotes, as JSONOptions' doc shows in YAML.
func marketDataOptions() *Options {
	return &Options{
		APIKey:  testKey,
		Headers: map[string]string{"Authorization": "Bearer {apikey}"},
		JSON: &JSONOptions{
			URL:               "https://api.marketdata.app/v1/stocks/quotes/{symbol}/",
			Symbol:            "symbol[0]",
			Price:             "last[0]",
			Change:            "change[0]",
			ChangePct:         "changepct[0]",
			PercentIsFraction: true,
			Volume:            "volume[0]",
			Bid:               "bid[0]",
			Ask:               "ask[0]",
			Time:              "updated[0]",
			ErrorIf:           []string{"s=error"},
			UnknownIf:         []string{"s=no_data"},
		},
	}
}

// kuCoinOptions configures the json kind for KuCoin's keyless 24 h
// statistics, GET /api/v1/market/stats?symbol=BTC-USDT, as
// docs/examples/kucoin.yaml does.
func kuCoinOptions() *Options {
	return &Options{
		JSON: &JSONOptions{
			URL:               "https://api.kucoin.com/api/v1/market/stats?symbol={symbol}",
			Symbol:            "data.symbol",
			Price:             "data.last",
			Change:            "data.changePrice",
			ChangePct:         "data.changeRate",
			PercentIsFraction: true,
			Volume:            "data.vol",
			High:              "data.high",
			Low:               "data.low",
			Bid:               "data.buy",
			Ask:               "data.sell",
			Time:              "data.time",
			TimeFormat:        "unixms",
			ErrorIf:           []string{"code=400100", "code=429000", "code=500000"},
			UnknownIf:         []string{"code=900001"},
		},
	}
}

// serveFile starts a loopback server answering path with testdata/name.
func serveFile(path, name string) *httptest.Server {
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	}))
}

// fetchOnce asks src for sym through srv and prints the quote.
func fetchOnce(src Source, srv *httptest.Server, sym string) {
	req, err := src.NewRequest(context.Background(), sym)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	q, err := src.Parse(sym, resp)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %.2f %+.2f %+.4f%% volume %d open %.2f high %.2f low %.2f prev %.2f bid %.2f ask %.2f at %s\n",
		q.Symbol, q.Price, q.Change, q.ChangePct, q.Volume, q.Open, q.High, q.Low, q.PrevClose, q.Bid, q.Ask, q.Time.Format(time.RFC3339))
}

// The json kind configured for Alpha Vantage's GLOBAL_QUOTE.
func ExampleJSONOptions_alphaVantage() {
	srv := serveFile("/query", "json_alphavantage_ibm.json")
	defer srv.Close()
	o := alphaVantageOptions()
	o.BaseURL = srv.URL // a stand-in for https://www.alphavantage.co
	src, err := New(KindJSON, o)
	if err != nil {
		fmt.Println(err)
		return
	}
	fetchOnce(src, srv, "ibm")
	// Output:
	// IBM 232.99 +1.47 +0.6349% volume 3124587 open 231.05 high 233.74 low 230.11 prev 231.52 bid 0.00 ask 0.00 at 2026-10-02T04:00:00Z
}

// The json kind configured for Market Data's stock quotes.
func ExampleJSONOptions_marketData() {
	srv := serveFile("/v1/stocks/quotes/AAPL/", "json_marketdata_aapl.json")
	defer srv.Close()
	o := marketDataOptions()
	o.BaseURL = srv.URL // a stand-in for https://api.marketdata.app
	src, err := New(KindJSON, o)
	if err != nil {
		fmt.Println(err)
		return
	}
	fetchOnce(src, srv, "AAPL")
	// Output:
	// AAPL 227.52 +1.42 +0.6300% volume 41230111 open 0.00 high 0.00 low 0.00 prev 0.00 bid 227.50 ask 227.55 at 2026-10-02T19:59:59Z
}

// The json kind configured for KuCoin's keyless 24 h statistics.
func ExampleJSONOptions_kuCoin() {
	srv := serveFile("/api/v1/market/stats", "json_kucoin_btc_usdt.json")
	defer srv.Close()
	o := kuCoinOptions()
	o.BaseURL = srv.URL // a stand-in for https://api.kucoin.com
	src, err := New(KindJSON, o)
	if err != nil {
		fmt.Println(err)
		return
	}
	fetchOnce(src, srv, "btc-usdt")
	// Output:
	// BTC-USDT 67215.41 -836.90 -1.2300% volume 2283 open 0.00 high 68310.00 low 66902.10 prev 0.00 bid 67215.40 ask 67215.50 at 2026-10-02T19:59:59Z
}
