package quote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// BinanceURL is the Binance source's default base URL.
const BinanceURL = "https://api.binance.com"

// Binance error codes found in the error answer's code.
const (
	binanceCodeIllegalChars  = -1100 // "Illegal characters found in parameter 'symbol'"
	binanceCodeInvalidSymbol = -1121 // "Invalid symbol."
)

// Binance is the Source for Binance's spot 24 h rolling ticker,
// GET {base}/api/v3/ticker/24hr?symbol={SYMBOL} (no key). It is immutable
// and safe for concurrent use.
//
// Parse uses lastPrice, priceChange and priceChangePercent (over the
// rolling 24 hours, so against openPrice), openPrice, highPrice, lowPrice,
// prevClosePrice, bidPrice, askPrice, volume (in the base asset, rounded to
// whole units) and closeTime (milliseconds). An answer for another symbol
// is ErrWrongSymbol; error code -1121 ("Invalid symbol.") or -1100 is
// ErrUnknownSymbol. Binance sends Retry-After with 429 and with 418 (an IP
// banned for ignoring 429s); both are in the StatusError.
type Binance struct {
	common
}

func newBinance(o *Options) (*Binance, error) {
	h := http.Header{}
	h.Set("Accept", "application/json")
	return &Binance{common: newCommon(KindBinance, BinanceURL, apiUserAgent, h, o)}, nil
}

// NewRequest builds the GET request for a symbol such as BTCUSDT,
// upper-cased. A symbol outside CheckSymbol's syntax is ErrUnknownSymbol.
func (b *Binance) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := upperSymbol(symbol)
	if err := checkBinanceSymbol(sym); err != nil {
		return nil, b.invalidSymbol(sym, err)
	}
	return b.get(ctx, sym, b.base+"/api/v3/ticker/24hr?symbol="+url.QueryEscape(sym))
}

// binanceTicker is the 24 h ticker document, and the error answer's fields.
type binanceTicker struct {
	Symbol             string  `json:"symbol"`
	PriceChange        numText `json:"priceChange"`
	PriceChangePercent numText `json:"priceChangePercent"`
	PrevClosePrice     numText `json:"prevClosePrice"`
	LastPrice          numText `json:"lastPrice"`
	BidPrice           numText `json:"bidPrice"`
	AskPrice           numText `json:"askPrice"`
	OpenPrice          numText `json:"openPrice"`
	HighPrice          numText `json:"highPrice"`
	LowPrice           numText `json:"lowPrice"`
	Volume             numText `json:"volume"`
	CloseTime          numText `json:"closeTime"`
	Code               int     `json:"code"`
	Msg                string  `json:"msg"`
}

// Parse reads a 24 h ticker for symbol from resp. It does not close
// resp.Body. An unreadable closeTime leaves Quote.Time zero.
func (b *Binance) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := upperSymbol(symbol)
	if err := checkBinanceSymbol(sym); err != nil {
		return Quote{}, b.invalidSymbol(sym, err)
	}
	if err := checkStatus(resp); err != nil {
		var doc binanceTicker
		if !decodeErrorBody(resp, &doc) || doc.Code == 0 {
			return Quote{}, statusFailure(b.name, sym, resp)
		}
		if doc.Code == binanceCodeInvalidSymbol || doc.Code == binanceCodeIllegalChars {
			return Quote{}, fmt.Errorf("binance %s: %w: %w: code %d %s", sym, ErrUnknownSymbol, err, doc.Code, b.secrets.quote(doc.Msg))
		}
		return Quote{}, fmt.Errorf("binance %s: %w: code %d %s", sym, err, doc.Code, b.secrets.quote(doc.Msg))
	}
	r, body, err := openBody(b.name, sym, "JSON", resp, b.secrets)
	if err != nil {
		return Quote{}, err
	}
	var doc binanceTicker
	if err := decodeOne(r, &doc); err != nil {
		return Quote{}, body.fail(b.name, sym, err)
	}
	if doc.Code != 0 {
		return Quote{}, fmt.Errorf("binance %s: %w: code %d %s", sym, ErrUpstream, doc.Code, b.secrets.quote(doc.Msg))
	}
	if err := b.checkAnswerSymbol(sym, sym, doc.Symbol); err != nil {
		return Quote{}, err
	}
	price, ok := parseDecimal(string(doc.LastPrice))
	if !ok || price <= 0 {
		return Quote{}, fmt.Errorf("binance %s: %w: lastPrice %s", sym, ErrMalformed, b.secrets.quote(string(doc.LastPrice)))
	}
	q := Quote{Symbol: sym, Price: price}
	for _, f := range []struct {
		name string
		text numText
		dst  *float64
	}{{"priceChange", doc.PriceChange, &q.Change}, {"priceChangePercent", doc.PriceChangePercent, &q.ChangePct}} {
		if f.text == "" {
			continue
		}
		v, ok := parseDecimal(string(f.text))
		if !ok {
			return Quote{}, fmt.Errorf("binance %s: %w: %s %s", sym, ErrMalformed, f.name, b.secrets.quote(string(f.text)))
		}
		*f.dst = v
	}
	if doc.Volume != "" {
		f, ok := parseDecimal(string(doc.Volume))
		v, fits := roundVolume(f)
		if !ok || !fits {
			return Quote{}, fmt.Errorf("binance %s: %w: volume %s", sym, ErrMalformed, b.secrets.quote(string(doc.Volume)))
		}
		q.Volume, q.HasVolume = v, true
	}
	q.Open, q.High, q.Low = optionalPrice(string(doc.OpenPrice)), optionalPrice(string(doc.HighPrice)), optionalPrice(string(doc.LowPrice))
	q.PrevClose = optionalPrice(string(doc.PrevClosePrice))
	q.Bid, q.Ask = optionalPrice(string(doc.BidPrice)), optionalPrice(string(doc.AskPrice))
	q.Time, _ = parseUnixMilli(string(doc.CloseTime))
	return q, nil
}

// parseUnixMilli reads a time in milliseconds since the epoch; false when
// it is not a plain integer or lies outside the years 1970 to 9999.
func parseUnixMilli(s string) (time.Time, bool) {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 || ms > maxUnixMilli {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// maxUnixMilli is 9999-12-31T23:59:59.999Z in milliseconds.
const maxUnixMilli = 253402300799999
