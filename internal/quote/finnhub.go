package quote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// FinnhubURL is the Finnhub source's default base URL.
const FinnhubURL = "https://finnhub.io"

// Finnhub is the Source for Finnhub's quote endpoint,
// GET {base}/api/v1/quote?symbol={SYMBOL}. It needs Options.APIKey, which
// it sends in the X-Finnhub-Token header, the alternative to the token
// query parameter that Finnhub documents (https://finnhub.io/docs/api/authentication):
// so the URL holds no secret, and no error or log line that shows a URL
// (an HTTP client's, a proxy's) can show the key. It also redacts the key
// from anything the upstream says. It is immutable and safe for concurrent
// use.
//
// Parse uses c (price), d and dp (change against pc, the previous close),
// o, h, l, pc and t (seconds). Finnhub's answer for a symbol it does not
// know is all zeros with d and dp null: that is ErrUnknownSymbol. (Finnhub
// has also sent all zeros for known symbols when overloaded.) The answer
// does not name the symbol, so an answer for the wrong symbol cannot be
// told. There is no volume, bid or ask.
type Finnhub struct {
	common
}

func newFinnhub(o *Options) (*Finnhub, error) {
	if o.APIKey == "" {
		return nil, fmt.Errorf("%w: finnhub needs Options.APIKey", ErrInvalidOptions)
	}
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("X-Finnhub-Token", o.APIKey)
	return &Finnhub{common: newCommon(KindFinnhub, FinnhubURL, apiUserAgent, h, o)}, nil
}

// NewRequest builds the GET request for symbol, upper-cased. A symbol
// outside CheckSymbol's syntax is ErrUnknownSymbol.
func (f *Finnhub) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := upperSymbol(symbol)
	if err := checkFinnhubSymbol(sym); err != nil {
		return nil, f.invalidSymbol(sym, err)
	}
	return f.get(ctx, sym, f.base+"/api/v1/quote?symbol="+url.QueryEscape(sym))
}

// finnhubQuote is the quote document, and the error answer's message.
type finnhubQuote struct {
	C     numText `json:"c"`
	D     numText `json:"d"`
	DP    numText `json:"dp"`
	H     numText `json:"h"`
	L     numText `json:"l"`
	O     numText `json:"o"`
	PC    numText `json:"pc"`
	T     numText `json:"t"`
	Error string  `json:"error"`
}

// Parse reads a quote for symbol from resp. It does not close resp.Body. An
// unreadable t leaves Quote.Time zero.
func (f *Finnhub) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := upperSymbol(symbol)
	if err := checkFinnhubSymbol(sym); err != nil {
		return Quote{}, f.invalidSymbol(sym, err)
	}
	if err := checkStatus(resp); err != nil {
		var doc finnhubQuote
		if !decodeErrorBody(resp, &doc) || doc.Error == "" {
			return Quote{}, statusFailure(f.name, sym, resp)
		}
		return Quote{}, fmt.Errorf("finnhub %s: %w: %s", sym, err, f.secrets.quote(doc.Error))
	}
	r, body, err := openBody(f.name, sym, "JSON", resp, f.secrets)
	if err != nil {
		return Quote{}, err
	}
	var doc finnhubQuote
	if err := decodeOne(r, &doc); err != nil {
		return Quote{}, body.fail(f.name, sym, err)
	}
	if doc.Error != "" {
		return Quote{}, fmt.Errorf("finnhub %s: %w: %s", sym, ErrUpstream, f.secrets.quote(doc.Error))
	}
	price, ok := parseDecimal(string(doc.C))
	if ok && price == 0 && isZero(doc.T) && isZero(doc.PC) {
		return Quote{}, fmt.Errorf("finnhub %s: %w: all-zero quote", sym, ErrUnknownSymbol)
	}
	if !ok || price <= 0 {
		return Quote{}, fmt.Errorf("finnhub %s: %w: c %s", sym, ErrMalformed, f.secrets.quote(string(doc.C)))
	}
	q := Quote{Symbol: sym, Price: price}
	for _, fld := range []struct {
		name string
		text numText
		dst  *float64
	}{{"d", doc.D, &q.Change}, {"dp", doc.DP, &q.ChangePct}} {
		if fld.text == "" {
			continue // null: unknown
		}
		v, ok := parseDecimal(string(fld.text))
		if !ok {
			return Quote{}, fmt.Errorf("finnhub %s: %w: %s %s", sym, ErrMalformed, fld.name, f.secrets.quote(string(fld.text)))
		}
		*fld.dst = v
	}
	q.Open, q.High, q.Low = optionalPrice(string(doc.O)), optionalPrice(string(doc.H)), optionalPrice(string(doc.L))
	q.PrevClose = optionalPrice(string(doc.PC))
	q.Time, _ = parseUnixSeconds(string(doc.T))
	return q, nil
}

// isZero reports whether a JSON number is absent, null or zero.
func isZero(n numText) bool {
	f, ok := parseDecimal(string(n))
	return n == "" || (ok && f == 0)
}

// parseUnixSeconds reads a time in seconds since the epoch (a fraction
// allowed); false when it is not a number or lies outside the years 1970
// to 9999.
func parseUnixSeconds(s string) (time.Time, bool) {
	f, ok := parseDecimal(s)
	if !ok || f <= 0 || f > maxUnixMilli/1000 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
}
