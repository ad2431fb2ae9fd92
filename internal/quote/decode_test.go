package quote

import (
	"errors"
	"strings"
	"testing"
)

// TestNumTextNamesKind checks that a value of the wrong JSON type fails
// with its type named and none of its text: an upstream echoing the
// request's key into a number field must not put the key in a log.
func TestNumTextNamesKind(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string // "" means no error
	}{
		{"number", `12.5`, ""},
		{"negative", `-1`, ""},
		{"string", `"0.10002000"`, ""},
		{"null", `null`, ""},
		{"array", `["` + testKey + `"]`, "an array"},
		{"object", `{"k":"` + testSecret + `"}`, "an object"},
		{"boolean", `true`, "a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n numText
			err := n.UnmarshalJSON([]byte(tt.raw))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("UnmarshalJSON(%s) error = %v, want nil", tt.raw, err)
				}
				return
			}
			if err == nil || !strings.HasSuffix(err.Error(), "got "+tt.want) {
				t.Fatalf("UnmarshalJSON(%s) error = %v, want one ending in %q", tt.raw, err, "got "+tt.want)
			}
			noCredential(t, "UnmarshalJSON("+tt.raw+")", err)
		})
	}
}

// TestParseDecodeErrorsHoldNoCredential gives sources answers that echo
// a credential where decoding fails on it: in a number field, after the
// document, in a date, in the media type. None of the errors holds the
// credential, whole or cut.
func TestParseDecodeErrorsHoldNoCredential(t *testing.T) {
	keyed := &Options{APIKey: testKey, APISecret: testSecret}
	headers := &Options{Headers: testHeaders}
	tests := []struct {
		name string
		kind string
		opts *Options
		sym  string
		ct   string
		body string
		want error // nil: any outcome
	}{
		{"finnhub_array_price", KindFinnhub, keyed, "AAPL", "", `{"c":["` + testKey + `"],"pc":1}`, ErrMalformed},
		{"finnhub_after_document", KindFinnhub, keyed, "AAPL", "", `{"c":1,"pc":1} "` + testKey + `"`, ErrMalformed},
		{"alpaca_object_price", KindAlpaca, keyed, "AAPL", "", `{"symbol":"AAPL","latestTrade":{"p":{"s":"` + testSecret + `"}}}`, ErrMalformed},
		{"binance_array_price", KindBinance, headers, "BTCUSDT", "", `{"symbol":"BTCUSDT","lastPrice":["` + testSecret + `"]}`, ErrMalformed},
		{"binance_after_document", KindBinance, headers, "BTCUSDT", "", `{"symbol":"BTCUSDT","lastPrice":"1"} ["` + testSecret + `"]`, ErrMalformed},
		{"coinbase_array_price", KindCoinbase, headers, "BTC-USD", "", `{"price":["` + testKey + `"]}`, ErrMalformed},
		{"coinbase_json_type", KindCoinbase, headers, "BTC-USD", "application/" + testKey + "+json", `{"price":"1"}`, nil},
		{"stooq_date", KindStooq, headers, "AAPL", "", "Symbol,Date,Time,Open,High,Low,Close,Volume\nAAPL.US," + testKey + ",22:00:00,1,1,1,1,1\n", ErrMalformed},
		{"stooq_json_type", KindStooq, headers, "AAPL", "application/" + testKey + "+json", `{}`, ErrNotQuote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := readerResponse(200, strings.NewReader(tt.body))
			if tt.ct != "" {
				resp.Header.Set("Content-Type", tt.ct)
			}
			_, err := mustNew(t, tt.kind, tt.opts).Parse(tt.sym, resp)
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Parse(%s) error = %v, want %v", tt.sym, err, tt.want)
			}
			noCredential(t, "Parse("+tt.sym+")", err)
			for _, cred := range []string{testKey, testSecret} {
				if err != nil && strings.Contains(err.Error(), cred[:8]) {
					t.Errorf("Parse(%s) error = %v, holds the start of a credential", tt.sym, err)
				}
			}
		})
	}
}

// TestBodyFailRedacts checks the limiter's last line of defence: a
// decoder's message that quotes a secret is redacted.
func TestBodyFailRedacts(t *testing.T) {
	l := newBodyLimiter(strings.NewReader(""), secrets{testKey})
	err := l.fail("src", "SYM", errors.New("bad token "+testKey))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), redacted) {
		t.Fatalf("fail(bad token) = %v, want %v with %s", err, ErrMalformed, redacted)
	}
	noCredential(t, "fail(bad token)", err)
}
