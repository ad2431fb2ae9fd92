package quote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// CoinbaseURL is the Coinbase Exchange source's default base URL.
const CoinbaseURL = "https://api.exchange.coinbase.com"

// Coinbase is the Source for Coinbase Exchange's public product ticker,
// GET {base}/products/{PRODUCT-ID}/ticker (no key). It is immutable and safe
// for concurrent use.
//
// Parse uses price, bid, ask, volume (the last 24 hours, in the base
// currency, rounded to whole units) and time. The ticker has no change,
// open or previous close, and does not name the product, so an answer for
// the wrong product cannot be told. Status 404 (message "NotFound") is
// ErrUnknownSymbol.
type Coinbase struct {
	common
}

func newCoinbase(o *Options) (*Coinbase, error) {
	h := http.Header{}
	h.Set("Accept", "application/json")
	return &Coinbase{common: newCommon(KindCoinbase, CoinbaseURL, apiUserAgent, h, o)}, nil
}

// NewRequest builds the GET request for a product id such as BTC-USD,
// upper-cased. A symbol outside CheckSymbol's syntax is ErrUnknownSymbol.
func (c *Coinbase) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := upperSymbol(symbol)
	if err := checkCoinbaseSymbol(sym); err != nil {
		return nil, c.invalidSymbol(sym, err)
	}
	return c.get(ctx, sym, c.base+"/products/"+url.PathEscape(sym)+"/ticker")
}

// coinbaseTicker is the ticker document, and its error answer's message.
type coinbaseTicker struct {
	Price   numText `json:"price"`
	Bid     numText `json:"bid"`
	Ask     numText `json:"ask"`
	Volume  numText `json:"volume"`
	Time    string  `json:"time"`
	Message string  `json:"message"`
}

// Parse reads a product ticker for symbol from resp. It does not close
// resp.Body. An unreadable time leaves Quote.Time zero.
func (c *Coinbase) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := upperSymbol(symbol)
	if err := checkCoinbaseSymbol(sym); err != nil {
		return Quote{}, c.invalidSymbol(sym, err)
	}
	if err := checkStatus(resp); err != nil {
		var doc coinbaseTicker
		if !decodeErrorBody(resp, &doc) || doc.Message == "" {
			return Quote{}, statusFailure(c.name, sym, resp)
		}
		if resp.StatusCode == http.StatusNotFound {
			return Quote{}, fmt.Errorf("coinbase %s: %w: %w: %s", sym, ErrUnknownSymbol, err, c.secrets.quote(doc.Message))
		}
		return Quote{}, fmt.Errorf("coinbase %s: %w: %s", sym, err, c.secrets.quote(doc.Message))
	}
	r, body, err := openBody(c.name, sym, "JSON", resp, c.secrets)
	if err != nil {
		return Quote{}, err
	}
	var doc coinbaseTicker
	if err := decodeOne(r, &doc); err != nil {
		return Quote{}, body.fail(c.name, sym, err)
	}
	if doc.Price == "" && doc.Message != "" {
		return Quote{}, fmt.Errorf("coinbase %s: %w: %s", sym, ErrUpstream, c.secrets.quote(doc.Message))
	}
	price, ok := parseDecimal(string(doc.Price))
	if !ok || price <= 0 {
		return Quote{}, fmt.Errorf("coinbase %s: %w: price %s", sym, ErrMalformed, c.secrets.quote(string(doc.Price)))
	}
	q := Quote{Symbol: sym, Price: price}
	q.Bid, q.Ask = optionalPrice(string(doc.Bid)), optionalPrice(string(doc.Ask))
	if doc.Volume != "" {
		f, ok := parseDecimal(string(doc.Volume))
		v, fits := roundVolume(f)
		if !ok || !fits {
			return Quote{}, fmt.Errorf("coinbase %s: %w: volume %s", sym, ErrMalformed, c.secrets.quote(string(doc.Volume)))
		}
		q.Volume, q.HasVolume = v, true
	}
	if t, err := time.Parse(time.RFC3339Nano, doc.Time); err == nil {
		q.Time = t
	}
	return q, nil
}
