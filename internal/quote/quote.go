// Package quote defines the Quote type and the Sources that ask an upstream
// for one symbol's quote and read its answer.
//
// A Source only builds requests and parses responses; sending them, pacing
// them and closing bodies belong to the caller:
//
//	req, err := src.NewRequest(ctx, "AAPL")
//	if err != nil { ... }
//	resp, err := client.Do(req)
//	if err != nil { ... }
//	q, err := src.Parse("AAPL", resp)
//	resp.Body.Close()
//	switch {
//	case errors.Is(err, quote.ErrUnknownSymbol): // drop the symbol
//	case err != nil: // fail this symbol for this pulse
//	}
package quote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Quote is one symbol's price at one moment.
type Quote struct {
	Symbol      string    // upper case, as requested
	Price       float64   // last sale; finite and > 0 in every parsed Quote
	Change      float64   // against the previous close (nasdaq) or the open (stooq)
	ChangePct   float64   // Change in percent of its reference price
	Volume      int64     // 0 when unknown; HasVolume says
	HasVolume   bool      // whether the source reported a volume
	Time        time.Time // the source's trade time; zero when unknown
	CollectedAt time.Time // set by the collector, not the parser
	Seq         uint64    // set by the collector
}

// Source knows how to ask one upstream for one symbol and how to read its
// answer. Implementations are safe for concurrent use. NewRequest does not
// block; Parse blocks while it reads the body, for as long as the context of
// the request that produced resp allows.
type Source interface {
	// NewRequest builds the GET request for symbol, bound to ctx.
	NewRequest(ctx context.Context, symbol string) (*http.Request, error)
	// Parse reads resp.Body as a stream, at most MaxBody bytes of it, and
	// returns symbol's quote. It does not close resp.Body; the caller does.
	// A non-2xx status is a wrapped *StatusError; a body that fails to read
	// is that read error, wrapped; otherwise errors wrap ErrUnknownSymbol,
	// ErrUpstream, ErrMalformed or ErrTooLarge.
	Parse(symbol string, resp *http.Response) (Quote, error)
}

// Errors returned by Sources, wrapped with detail; test for them with
// errors.Is.
var (
	// ErrUnknownSymbol means the upstream does not know the symbol.
	ErrUnknownSymbol = errors.New("quote: unknown symbol")
	// ErrUpstream means the upstream reported an error of its own.
	ErrUpstream = errors.New("quote: upstream error")
	// ErrMalformed means the response could not be understood.
	ErrMalformed = errors.New("quote: malformed response")
	// ErrTooLarge means the response body is longer than MaxBody.
	ErrTooLarge = errors.New("quote: response too large")
)

// StatusError reports a response whose HTTP status is not 2xx. Sources
// return it wrapped; get it back with errors.As.
type StatusError struct {
	Code int // the HTTP status code
}

// Error returns the status code and its text.
func (e *StatusError) Error() string {
	return fmt.Sprintf("quote: http status %d %s", e.Code, http.StatusText(e.Code))
}

// checkStatus returns a *StatusError for a non-2xx resp.
func checkStatus(resp *http.Response) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}
