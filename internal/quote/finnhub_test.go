package quote

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFinnhubParse(t *testing.T) {
	src := mustNew(t, KindFinnhub, &Options{APIKey: testKey})
	aapl := Quote{Symbol: "AAPL", Price: 227.52, Change: 1.42, ChangePct: 0.6281, Open: 226.3, High: 228.1, Low: 225.87,
		PrevClose: 226.1, Time: time.Date(2026, 10, 2, 20, 0, 0, 0, time.UTC)}
	runParseCases(t, src, []parseCase{
		{name: "quote", file: "finnhub_aapl.json", ct: "application/json; charset=utf-8", symbol: "AAPL", want: aapl},
		{name: "lower_case_request", file: "finnhub_aapl.json", symbol: "aapl", want: aapl},
		{name: "all_zeros", file: "finnhub_unknown.json", symbol: "AAPLX", wantErr: ErrUnknownSymbol},
		{name: "html", file: "wrong_content.html", symbol: "AAPL", wantErr: ErrNotQuote},
		{name: "other_api", file: "binance_btcusdt.json", symbol: "AAPL", wantErr: ErrMalformed},
		{name: "error_with_200", file: "finnhub_invalid_key.json", symbol: "AAPL", wantErr: ErrUpstream},
	})
	tests := []struct {
		name, body string
		wantErr    error
	}{
		{"null_changes", `{"c":10,"d":null,"dp":null,"h":0,"l":0,"o":0,"pc":0,"t":1790971200}`, nil},
		{"price_zero_with_time", `{"c":0,"d":null,"dp":null,"h":0,"l":0,"o":0,"pc":0,"t":1790971200}`, ErrMalformed},
		{"price_string", `{"c":"10","t":1}`, nil},
		{"price_object", `{"c":{},"t":1}`, ErrMalformed},
		{"price_negative", `{"c":-1,"t":1}`, ErrMalformed},
		{"change_string_garbage", `{"c":10,"d":"x","t":1}`, ErrMalformed},
		{"bad_time", `{"c":10,"t":-5}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := src.Parse("AAPL", readerResponse(200, strings.NewReader(tt.body)))
			if tt.wantErr == nil {
				if err != nil || q.Price != 10 {
					t.Fatalf("Parse(%s) = %+v, %v, want a quote at 10", tt.body, q, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%s) error = %v, want %v", tt.body, err, tt.wantErr)
			}
		})
	}
}

func TestFinnhubNewRequest(t *testing.T) {
	src := mustNew(t, KindFinnhub, &Options{APIKey: "k&y=1 2"})
	req, err := src.NewRequest(t.Context(), "brk.b")
	if want := "https://finnhub.io/api/v1/quote?symbol=BRK.B"; err != nil || req.URL.String() != want {
		t.Fatalf("NewRequest(brk.b) = %v, %v, want %s (the token in a header, not the URL)", req.URL, err, want)
	}
	if got := req.Header.Get("X-Finnhub-Token"); got != "k&y=1 2" {
		t.Errorf("NewRequest X-Finnhub-Token = %q, want the key", got)
	}
	if _, err := New(KindFinnhub, nil); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New(finnhub without key) error = %v, want %v", err, ErrInvalidOptions)
	}
	// A URL that fails to parse must not put the token in the error.
	f, err := newFinnhub(&Options{APIKey: testKey, BaseURL: "http://bad host"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewRequest(t.Context(), "AAPL"); err == nil || strings.Contains(err.Error(), testKey) {
		t.Errorf("NewRequest(bad base URL) error = %v, want an error without the key", err)
	}
	resp := statusFileResponse(t, http.StatusUnauthorized, "application/json", "finnhub_invalid_key.json")
	if _, err := src.Parse("AAPL", resp); !errors.As(err, new(*StatusError)) || !strings.Contains(err.Error(), "Invalid API key.") {
		t.Errorf("Parse(401) error = %v, want a *StatusError with Finnhub's message", err)
	}
}
