package quote

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Credentials the tests configure; no error may contain them.
const (
	testKey    = "tk-KEY-0123456789"
	testSecret = "ts-SECRET-abcdef0123"
)

// testHeaders makes the test credentials secrets of a keyless source.
var testHeaders = map[string]string{"X-Key": testKey, "X-Secret": testSecret}

// addSeeds adds every testdata file, asked for as each symbol, to f's
// corpus, and the files with the test credentials spliced in, so the
// fuzzer starts from answers that echo them.
func addSeeds(f *testing.F, symbols ...string) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if fi, err := os.Stat(name); err != nil || fi.IsDir() {
			continue // testdata/fuzz holds the fuzzer's own corpus
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range symbols {
			f.Add(s, data)
		}
		f.Add(symbols[0], bytes.ReplaceAll(data, []byte("AAPL"), []byte(testKey)))
		f.Add(symbols[0], bytes.ReplaceAll(data, []byte("BTCUSDT"), []byte(testSecret)))
	}
}

// fuzzParse parses body for symbol and checks what every Parse promises for
// an in-memory 200 body: an error wraps one of the parse sentinels and holds
// no credential, and a quote is for symbol with a finite positive price,
// finite changes and optional fields that are 0 or finite and positive.
func fuzzParse(t *testing.T, src Source, symbol string, body []byte) {
	q, err := src.Parse(symbol, readerResponse(200, bytes.NewReader(body)))
	if err != nil {
		if !slicesContainsErr(err) {
			t.Fatalf("Parse(%q) error = %v, want one of the sentinels", symbol, err)
		}
		if msg := err.Error(); strings.Contains(msg, testKey) || strings.Contains(msg, testSecret) {
			t.Fatalf("Parse(%q) error = %v, holds a credential", symbol, err)
		}
		return
	}
	if q.Symbol != strings.ToUpper(symbol) || q.Symbol == "" {
		t.Fatalf("Parse(%q).Symbol = %q, want %q", symbol, q.Symbol, strings.ToUpper(symbol))
	}
	if math.IsNaN(q.Price) || math.IsInf(q.Price, 0) || q.Price <= 0 {
		t.Fatalf("Parse(%q).Price = %v, want finite > 0", symbol, q.Price)
	}
	for _, f := range []float64{q.Change, q.ChangePct} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("Parse(%q) = %+v, want finite changes", symbol, q)
		}
	}
	for _, f := range []float64{q.Open, q.High, q.Low, q.PrevClose, q.Bid, q.Ask} {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			t.Fatalf("Parse(%q) = %+v, want optional prices 0 or finite > 0", symbol, q)
		}
	}
	if q.Volume < 0 || (!q.HasVolume && q.Volume != 0) {
		t.Fatalf("Parse(%q) volume = %d, %v, want >= 0 and 0 when unknown", symbol, q.Volume, q.HasVolume)
	}
	if ms := q.MarketStatus; len(ms) > MaxMarketStatus || !utf8.ValidString(ms) || strings.ContainsAny(ms, "\x00\r\n") {
		t.Fatalf("Parse(%q).MarketStatus = %q, want at most %d bytes of printable UTF-8", symbol, ms, MaxMarketStatus)
	}
}

// slicesContainsErr reports whether err wraps one of the sentinels.
func slicesContainsErr(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// mustNew is New for a configuration the test knows is valid.
func mustNew(tb testing.TB, kind string, o *Options) Source {
	tb.Helper()
	src, err := New(kind, o)
	if err != nil {
		tb.Fatalf("New(%s) error = %v", kind, err)
	}
	return src
}

func FuzzNasdaq(f *testing.F) {
	addSeeds(f, "AAPL", "msft", "")
	src := mustNew(f, KindNasdaq, &Options{Headers: testHeaders})
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		fuzzParse(t, src, symbol, body)
	})
}

func FuzzStooq(f *testing.F) {
	addSeeds(f, "AAPL", "aaplx", "")
	src := mustNew(f, KindStooq, &Options{Headers: testHeaders})
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		fuzzParse(t, src, symbol, body)
	})
}

func FuzzCoinbase(f *testing.F) {
	addSeeds(f, "BTC-USD", "eth-usd", "")
	src := mustNew(f, KindCoinbase, &Options{Headers: testHeaders})
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		fuzzParse(t, src, symbol, body)
	})
}

func FuzzBinance(f *testing.F) {
	addSeeds(f, "BTCUSDT", "ethusdt", "")
	src := mustNew(f, KindBinance, &Options{Headers: testHeaders})
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		fuzzParse(t, src, symbol, body)
	})
}

func FuzzFinnhub(f *testing.F) {
	addSeeds(f, "AAPL", "msft", "")
	src := mustNew(f, KindFinnhub, &Options{APIKey: testKey, APISecret: testSecret})
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		fuzzParse(t, src, symbol, body)
	})
}

func FuzzAlpaca(f *testing.F) {
	addSeeds(f, "AAPL", "msft", "")
	src := mustNew(f, KindAlpaca, &Options{APIKey: testKey, APISecret: testSecret})
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		fuzzParse(t, src, symbol, body)
	})
}

// FuzzJSON fuzzes the json kind with the example configurations, and with
// a configuration that reads every field, so every conversion is reached.
func FuzzJSON(f *testing.F) {
	addSeeds(f, "AAPL", "IBM", "")
	av, md, kc := alphaVantageOptions(), marketDataOptions(), kuCoinOptions()
	av.APISecret, md.APISecret = testSecret, testSecret
	kc.APIKey, kc.APISecret = testKey, testSecret // keyless, but given the credentials the seeds hold, to redact
	srcs := []Source{
		mustNew(f, KindJSON, av),
		mustNew(f, KindJSON, md),
		mustNew(f, KindJSON, kc),
		mustNew(f, KindJSON, &Options{APIKey: testKey, APISecret: testSecret, JSON: &JSONOptions{
			URL: "https://quotes.example/q/{symbol}?k={apikey}", Symbol: "data.symbol", Price: "data.lastSalePrice",
			Change: "data.netChange", ChangePct: "data.percentageChange", Volume: "[0].volume", Time: "data.time",
			Open: "o", High: "h", Low: "l", PrevClose: "pc", Bid: "data.bid", Ask: "data.ask", MarketStatus: "data.marketStatus",
			ErrorIf: []string{"error", "status.rCode=400"}, UnknownIf: []string{"!data"},
		}}),
	}
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		for _, src := range srcs {
			fuzzParse(t, src, symbol, body)
		}
	})
}

// FuzzJSONPath checks that parsing a path never panics, and that a parsed
// path is within the syntax's bounds and addresses what it says on a
// document built for it.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"a", "a.b", "a[0].b", `["Global Quote"]["05. price"]`, "[0]", `["a\"b"]`, "a..b", "a[", "[x]", "a=b", "!a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePath(s)
		if err != nil {
			return
		}
		if len(p) == 0 || len(p) > maxPathSteps {
			t.Fatalf("parsePath(%q) = %d steps, want 1 to %d", s, len(p), maxPathSteps)
		}
		nulls := 0 // the elements buildDoc puts before those p names
		for _, st := range p {
			nulls += max(st.index, 0)
		}
		if nulls > 1<<16 {
			return // parsed; a document that long costs the fuzzer more than it finds
		}
		doc := buildDoc(p, `"found"`)
		vals, err := walkJSON(strings.NewReader(doc), []jsonPath{p})
		if err != nil || vals[0].kind != 's' || vals[0].text != "found" {
			t.Fatalf("walkJSON(%s, %q) = %+v, %v, want the string found", doc, s, vals, err)
		}
	})
}
