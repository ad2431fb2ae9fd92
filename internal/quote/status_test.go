package quote

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	date := time.Date(2026, 10, 2, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		in        string
		wantAfter time.Duration
		wantAt    time.Time
	}{
		{"120", 2 * time.Minute, time.Time{}},
		{" 7 ", 7 * time.Second, time.Time{}},
		{"0", 0, time.Time{}},
		{"86400", 24 * time.Hour, time.Time{}},
		{"86401", MaxRetryAfter, time.Time{}},
		{"99999999999999999999999", MaxRetryAfter, time.Time{}},
		{"Fri, 02 Oct 2026 20:00:00 GMT", 0, date},  // IMF-fixdate
		{"Friday, 02-Oct-26 20:00:00 GMT", 0, date}, // RFC 850
		{"Fri Oct  2 20:00:00 2026", 0, date},       // asctime
		{"", 0, time.Time{}},
		{"-5", 0, time.Time{}},
		{"1.5", 0, time.Time{}},
		{"soon", 0, time.Time{}},
		{"2026-10-02T20:00:00Z", 0, time.Time{}},
	}
	for _, tt := range tests {
		after, at := parseRetryAfter(tt.in)
		if after != tt.wantAfter || !at.Equal(tt.wantAt) {
			t.Errorf("parseRetryAfter(%q) = %v, %v, want %v, %v", tt.in, after, at, tt.wantAfter, tt.wantAt)
		}
	}
}

func TestStatusErrorWait(t *testing.T) {
	now := time.Date(2026, 10, 2, 19, 59, 0, 0, time.UTC)
	tests := []struct {
		se   StatusError
		want time.Duration
	}{
		{StatusError{Code: 429, RetryAfter: 30 * time.Second}, 30 * time.Second},
		{StatusError{Code: 503, RetryAt: now.Add(90 * time.Second)}, 90 * time.Second},
		{StatusError{Code: 503, RetryAt: now.Add(-time.Second)}, 0},
		{StatusError{Code: 503, RetryAt: now.Add(48 * time.Hour)}, MaxRetryAfter},
		{StatusError{Code: 429}, 0},
	}
	for _, tt := range tests {
		if got := tt.se.Wait(now); got != tt.want {
			t.Errorf("%v.Wait(now) = %v, want %v", &tt.se, got, tt.want)
		}
	}
	for se, want := range map[*StatusError]string{
		{Code: 429, RetryAfter: 30 * time.Second}: "quote: http status 429 Too Many Requests, retry after 30s",
		{Code: 503, RetryAt: now}:                 "quote: http status 503 Service Unavailable, retry at 2026-10-02T19:59:00Z",
		{Code: 502}:                               "quote: http status 502 Bad Gateway",
	} {
		if got := se.Error(); got != want {
			t.Errorf("StatusError.Error() = %q, want %q", got, want)
		}
	}
}

// allKinds builds one Source of every kind, with test credentials.
func allKinds(t *testing.T) map[string]Source {
	t.Helper()
	srcs := map[string]Source{}
	for _, kind := range Kinds() {
		o := &Options{APIKey: testKey, APISecret: testSecret, Headers: testHeaders}
		if kind == KindJSON {
			o = marketDataOptions()
			o.APISecret = testSecret
		}
		srcs[kind] = mustNew(t, kind, o)
	}
	return srcs
}

// symbolFor is a valid symbol of kind.
func symbolFor(kind string) string {
	switch kind {
	case KindCoinbase:
		return "BTC-USD"
	case KindBinance:
		return "BTCUSDT"
	}
	return "AAPL"
}

func TestStatusErrorEveryKind(t *testing.T) {
	for kind, src := range allKinds(t) {
		sym := symbolFor(kind)
		for _, tt := range []struct {
			code       int
			retryAfter string
			wantAfter  time.Duration
		}{
			{http.StatusTooManyRequests, "30", 30 * time.Second},
			{http.StatusServiceUnavailable, "Fri, 02 Oct 2026 20:00:00 GMT", 0},
			{http.StatusTeapot, "120", 2 * time.Minute},
			{http.StatusForbidden, "30", 0}, // Retry-After means nothing with 403
			{http.StatusBadGateway, "", 0},
			{http.StatusNotModified, "", 0},
		} {
			resp := readerResponse(tt.code, strings.NewReader(`{"message":"slow down","error":"slow down","code":-1003,"msg":"slow down"}`))
			if tt.retryAfter != "" {
				resp.Header.Set("Retry-After", tt.retryAfter)
			}
			_, err := src.Parse(sym, resp)
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.code || se.RetryAfter != tt.wantAfter {
				t.Errorf("%s Parse(status %d, Retry-After %q) error = %v, want *StatusError{%d, %v}", kind, tt.code, tt.retryAfter, err, tt.code, tt.wantAfter)
				continue
			}
			if tt.code == http.StatusServiceUnavailable && se.RetryAt.IsZero() {
				t.Errorf("%s Parse(503 with a date) RetryAt is zero, want the date", kind)
			}
			if errors.Is(err, ErrUnknownSymbol) {
				t.Errorf("%s Parse(status %d) error = %v, want no %v", kind, tt.code, err, ErrUnknownSymbol)
			}
		}
	}
}

func TestNotQuoteEveryKind(t *testing.T) {
	for kind, src := range allKinds(t) {
		sym := symbolFor(kind)
		for _, tt := range []struct {
			name, ct, file string
		}{
			{"challenge_untyped", "", "stooq_challenge.html"},
			{"challenge_typed", "text/html; charset=utf-8", "stooq_challenge.html"},
			{"access_denied", "", "wrong_content.html"},
			{"xml_typed", "application/xml", "nasdaq_aapl_2026.json"},
			{"image_typed", "image/png", "nasdaq_aapl_2026.json"},
		} {
			_, err := src.Parse(sym, statusFileResponse(t, http.StatusOK, tt.ct, tt.file))
			if !errors.Is(err, ErrNotQuote) || !strings.Contains(err.Error(), "(a block or challenge page?)") {
				t.Errorf("%s Parse(%s) error = %v, want %v with the hint", kind, tt.name, err, ErrNotQuote)
			}
		}
		// An HTML page with an error status is the status, with the hint.
		_, err := src.Parse(sym, statusFileResponse(t, http.StatusForbidden, "text/html", "wrong_content.html"))
		if se := (*StatusError)(nil); !errors.As(err, &se) || !strings.Contains(err.Error(), "text/html: a block or challenge page?") {
			t.Errorf("%s Parse(403 text/html) error = %v, want a *StatusError with the hint", kind, err)
		}
	}
}
