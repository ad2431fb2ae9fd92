package quote

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// kindFixtures are one source of each kind and an answer it parses.
func kindFixtures(tb testing.TB) []struct {
	name, sym, file string
	src             Source
} {
	keyed := &Options{APIKey: testKey, APISecret: testSecret}
	return []struct {
		name, sym, file string
		src             Source
	}{
		{"nasdaq", "AAPL", "nasdaq_aapl_2026.json", mustNew(tb, KindNasdaq, nil)},
		{"stooq", "AAPL", "stooq_aapl_crlf.csv", mustNew(tb, KindStooq, nil)},
		{"coinbase", "BTC-USD", "coinbase_btc_usd.json", mustNew(tb, KindCoinbase, nil)},
		{"binance", "BTCUSDT", "binance_btcusdt.json", mustNew(tb, KindBinance, nil)},
		{"finnhub", "AAPL", "finnhub_aapl.json", mustNew(tb, KindFinnhub, keyed)},
		{"alpaca", "AAPL", "alpaca_aapl_snapshot.json", mustNew(tb, KindAlpaca, keyed)},
		{"json_alphavantage", "IBM", "json_alphavantage_ibm.json", mustNew(tb, KindJSON, alphaVantageOptions())},
		{"json_marketdata", "AAPL", "json_marketdata_aapl.json", mustNew(tb, KindJSON, marketDataOptions())},
	}
}

// TestConcurrentUse uses one source of each kind from many goroutines at
// once; under -race it shows the sources share nothing mutable.
func TestConcurrentUse(t *testing.T) {
	for _, kf := range kindFixtures(t) {
		doc, err := os.ReadFile(filepath.Join("testdata", kf.file))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8*20)
		for range 8 {
			wg.Go(func() { // exits after its 20 round trips
				for range 20 {
					req, err := kf.src.NewRequest(t.Context(), kf.sym)
					if err != nil {
						errs <- err
						return
					}
					req.Header.Set("X-Mutated", "1")
					if _, err := kf.src.Parse(kf.sym, readerResponse(http.StatusOK, bytes.NewReader(doc))); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: concurrent use error = %v", kf.name, err)
		}
	}
}

// BenchmarkParse measures parsing one answer of each kind from memory.
func BenchmarkParse(b *testing.B) {
	for _, kf := range kindFixtures(b) {
		doc, err := os.ReadFile(filepath.Join("testdata", kf.file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(kf.name, func(b *testing.B) {
			r := bytes.NewReader(doc)
			resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(doc)
				resp.Body = readerResponse(http.StatusOK, r).Body
				if _, err := kf.src.Parse(kf.sym, resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseMaxBody measures the worst a hostile upstream can make one
// answer cost within MaxBody: a 1 MiB array of small numbers, the most
// tokens per byte, for the struct-decoding and the token-walking parsers.
func BenchmarkParseMaxBody(b *testing.B) {
	doc := append([]byte("["), bytes.Repeat([]byte("0,"), MaxBody/2-1)...)
	doc[len(doc)-1] = ']'
	for _, kf := range kindFixtures(b) {
		if kf.name != "nasdaq" && kf.name != "json_marketdata" {
			continue
		}
		b.Run(kf.name, func(b *testing.B) {
			r := bytes.NewReader(doc)
			resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(doc)
				resp.Body = readerResponse(http.StatusOK, r).Body
				if _, err := kf.src.Parse(kf.sym, resp); err == nil {
					b.Fatal("Parse(1 MiB array) = nil error, want an error")
				}
			}
		})
	}
}
