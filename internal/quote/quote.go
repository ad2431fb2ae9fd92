// Package quote defines the Quote type and the Sources that ask an upstream
// for one symbol's quote and read its answer.
//
// A Source only builds requests and parses responses; sending them, pacing
// them and closing bodies belong to the caller:
//
//	src, err := quote.New(quote.KindNasdaq, &quote.Options{})
//	if err != nil { ... } // a configuration error
//	req, err := src.NewRequest(ctx, "AAPL")
//	if err != nil { ... }
//	resp, err := client.Do(req)
//	if err != nil { ... }
//	q, err := src.Parse("AAPL", resp)
//	resp.Body.Close()
//	var se *quote.StatusError
//	switch {
//	case errors.Is(err, quote.ErrUnknownSymbol): // back off this symbol
//	case errors.Is(err, quote.ErrWrongSymbol): // reset the connection
//	case errors.As(err, &se) && se.Wait(now) > 0: // pause the whole source
//	case err != nil: // fail this symbol for this pulse
//	}
//
// Errors never contain the API key, the API secret or the values of the
// configured extra headers, even when the upstream echoes them back.
package quote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Quote is one symbol's price at one moment.
//
// The optional prices (Open, High, Low, PrevClose, Bid, Ask) are 0 when the
// source did not give them, or gave them in a form the parser cannot read;
// otherwise they are finite and > 0. MarketStatus is "" when the source does
// not say. A source's fields are listed on its type.
type Quote struct {
	Symbol    string  // upper case, as requested
	Price     float64 // last sale; finite and > 0 in every parsed Quote
	Change    float64 // against the source's reference price (see the source); 0 when unknown
	ChangePct float64 // Change in percent of its reference price; 0 when unknown
	Volume    int64   // whole units (fractional volumes are rounded); 0 when unknown; HasVolume says
	HasVolume bool    // whether the source reported a volume

	Open      float64 // the session's (or the 24 h window's) opening price; 0 when unknown
	High      float64 // the session's high; 0 when unknown
	Low       float64 // the session's low; 0 when unknown
	PrevClose float64 // the previous session's close; 0 when unknown
	Bid       float64 // best bid; 0 when unknown
	Ask       float64 // best ask; 0 when unknown

	// MarketStatus is the source's own word for the market's state, such
	// as nasdaq's "Open", "Closed", "Pre Market" or "After Hours": at most
	// MaxMarketStatus bytes of printable UTF-8; "" when the source does
	// not say.
	MarketStatus string

	Time        time.Time // the source's trade time; zero when unknown
	CollectedAt time.Time // set by the collector, not the parser
	Seq         uint64    // set by the collector
}

// MaxMarketStatus is the longest Quote.MarketStatus a Source returns, in
// bytes; longer words are cut.
const MaxMarketStatus = 32

// Source knows how to ask one upstream for one symbol and how to read its
// answer. Implementations are safe for concurrent use. NewRequest does not
// block; Parse blocks while it reads the body, for as long as the context of
// the request that produced resp allows.
type Source interface {
	// NewRequest builds the GET request for symbol, bound to ctx.
	NewRequest(ctx context.Context, symbol string) (*http.Request, error)
	// Parse reads resp.Body as a stream, at most MaxBody bytes of it, and
	// returns symbol's quote. It does not close resp.Body; the caller does.
	// A non-2xx status is a wrapped *StatusError (also wrapping
	// ErrUnknownSymbol when it is the source's not-found answer); a body
	// that fails to read is that read error, wrapped; otherwise errors
	// wrap ErrUnknownSymbol, ErrWrongSymbol, ErrNotQuote, ErrUpstream,
	// ErrMalformed or ErrTooLarge.
	Parse(symbol string, resp *http.Response) (Quote, error)
}

// Errors returned by Sources, wrapped with detail; test for them with
// errors.Is.
var (
	// ErrUnknownSymbol means the upstream does not know the symbol: the
	// source's own not-found answer, or a symbol the source cannot ask for.
	ErrUnknownSymbol = errors.New("quote: unknown symbol")
	// ErrWrongSymbol means the answer names another symbol than the one
	// asked for: on a pipelined connection, a sign that answers and
	// requests are misaligned. The answer's values are never used.
	ErrWrongSymbol = errors.New("quote: answer is for another symbol")
	// ErrNotQuote means the answer is not the format the source speaks at
	// all: an HTML block, challenge or login page, or another content type.
	ErrNotQuote = errors.New("quote: answer is not a quote")
	// ErrUpstream means the upstream reported an error of its own.
	ErrUpstream = errors.New("quote: upstream error")
	// ErrMalformed means the response could not be understood.
	ErrMalformed = errors.New("quote: malformed response")
	// ErrTooLarge means the response body is longer than MaxBody.
	ErrTooLarge = errors.New("quote: response too large")
)

// StatusError reports a response whose HTTP status is not 2xx. Sources
// return it wrapped; get it back with errors.As.
//
// For 429 Too Many Requests, 503 Service Unavailable and 418 (binance's "IP
// banned" answer) it carries the answer's Retry-After header: delta-seconds
// as the relative RetryAfter, an HTTP-date as the absolute RetryAt; at most
// one of them is set, and a header that is absent, unreadable or negative
// sets neither. Wait turns either into a duration from a given now.
type StatusError struct {
	Code       int           // the HTTP status code
	RetryAfter time.Duration // Retry-After in delta-seconds, at most MaxRetryAfter; 0 if not given so
	RetryAt    time.Time     // Retry-After as an HTTP-date; zero if not given so
}

// MaxRetryAfter bounds the wait a Retry-After header can ask for, so that a
// hostile or broken upstream cannot pause a source for years.
const MaxRetryAfter = 24 * time.Hour

// Error returns the status code and its text, and the wait asked for.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("quote: http status %d %s", e.Code, http.StatusText(e.Code))
	switch {
	case e.RetryAfter > 0:
		msg += fmt.Sprintf(", retry after %s", e.RetryAfter)
	case !e.RetryAt.IsZero():
		msg += ", retry at " + e.RetryAt.UTC().Format(time.RFC3339)
	}
	return msg
}

// Wait returns how long from now the upstream asked its client to wait
// before asking again: RetryAfter, or the time left until RetryAt, at most
// MaxRetryAfter. It is 0 when the answer did not ask, or when RetryAt has
// passed.
func (e *StatusError) Wait(now time.Time) time.Duration {
	d := e.RetryAfter
	if !e.RetryAt.IsZero() {
		d = e.RetryAt.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}
