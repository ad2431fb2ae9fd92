package quote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// defaultUserAgent is sent when a Source is configured without one: a current
// desktop Chrome, since api.nasdaq.com stalls requests that do not look like
// a browser's.
const defaultUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// Nasdaq error codes found in status.bCodeMessage.
const (
	nasdaqCodeUnknownSymbol = 1001 // "Symbol not exists."
	nasdaqCodeVendor        = 3004 // "Error while calling vendor"
)

// NasdaqURL is the Nasdaq source's default base URL.
const NasdaqURL = "https://api.nasdaq.com"

// Nasdaq is the Source for api.nasdaq.com's quote info endpoint,
// GET {base}/api/quote/{SYMBOL}/info?assetclass=stocks. It is immutable and
// safe for concurrent use.
//
// Parse uses data.primaryData for price and change, data.keyStats.Volume for
// volume, and maps status.bCodeMessage code 1001 to ErrUnknownSymbol and any
// other code (3004 "Error while calling vendor") to ErrUpstream.
type Nasdaq struct {
	base      string // without trailing slash
	userAgent string
}

// NewNasdaq returns a Nasdaq source that asks baseURL (https://api.nasdaq.com
// when "") and sends userAgent (a desktop Chrome's when "").
func NewNasdaq(baseURL, userAgent string) *Nasdaq {
	if baseURL == "" {
		baseURL = NasdaqURL
	}
	if userAgent == "" {
		userAgent = defaultUserAgent
	}
	return &Nasdaq{base: strings.TrimRight(baseURL, "/"), userAgent: userAgent}
}

// NewRequest builds the GET request for symbol, upper-cased, with the
// headers a browser would send. An empty symbol is ErrUnknownSymbol.
func (n *Nasdaq) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := strings.ToUpper(symbol)
	if sym == "" {
		return nil, fmt.Errorf("nasdaq: %w: empty symbol", ErrUnknownSymbol)
	}
	u := n.base + "/api/quote/" + url.PathEscape(sym) + "/info?assetclass=stocks"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("nasdaq %s: build request: %w", sym, err)
	}
	req.Header.Set("User-Agent", n.userAgent)
	req.Header.Set("Accept", "application/json, text/plain, */*")
	req.Header.Set("Accept-Language", "en-US,en;q=0.9")
	return req, nil
}

// nasdaqResponse is the part of the quote info document Parse reads.
type nasdaqResponse struct {
	Data   *nasdaqData `json:"data"`
	Status struct {
		RCode        int `json:"rCode"`
		BCodeMessage []struct {
			Code         int    `json:"code"`
			ErrorMessage string `json:"errorMessage"`
		} `json:"bCodeMessage"`
	} `json:"status"`
}

type nasdaqData struct {
	Symbol      string `json:"symbol"`
	PrimaryData *struct {
		LastSalePrice      string `json:"lastSalePrice"`
		NetChange          string `json:"netChange"`
		PercentageChange   string `json:"percentageChange"`
		LastTradeTimestamp string `json:"lastTradeTimestamp"`
		Volume             string `json:"volume"` // newer documents only
	} `json:"primaryData"`
	KeyStats *struct {
		Volume *struct {
			Value string `json:"value"`
		} `json:"Volume"`
	} `json:"keyStats"`
}

// Parse reads a quote info document for symbol from resp. It does not close
// resp.Body. A trade time it cannot read leaves Quote.Time zero rather than
// failing the quote; an unreadable price, change or volume is ErrMalformed.
func (n *Nasdaq) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := strings.ToUpper(symbol)
	if err := checkStatus(resp); err != nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w", sym, err)
	}
	body := newBodyLimiter(resp.Body)
	dec := json.NewDecoder(body)
	var doc nasdaqResponse
	if err := dec.Decode(&doc); err != nil {
		return Quote{}, body.fail("nasdaq", sym, err)
	}
	switch tok, err := dec.Token(); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return Quote{}, body.fail("nasdaq", sym, err)
	default:
		return Quote{}, fmt.Errorf("nasdaq %s: %w: data after document: %v", sym, ErrMalformed, tok)
	}
	return nasdaqQuote(sym, &doc)
}

// nasdaqQuote checks a decoded document and turns it into sym's Quote.
func nasdaqQuote(sym string, doc *nasdaqResponse) (Quote, error) {
	st := &doc.Status
	for _, m := range st.BCodeMessage {
		if m.Code == nasdaqCodeUnknownSymbol {
			return Quote{}, fmt.Errorf("nasdaq %s: %w: code %d %q", sym, ErrUnknownSymbol, m.Code, m.ErrorMessage)
		}
	}
	if len(st.BCodeMessage) > 0 {
		m := st.BCodeMessage[0]
		return Quote{}, fmt.Errorf("nasdaq %s: %w: code %d %q", sym, ErrUpstream, m.Code, m.ErrorMessage)
	}
	if st.RCode != 0 && st.RCode != http.StatusOK {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: rCode %d", sym, ErrUpstream, st.RCode)
	}
	d := doc.Data
	if d == nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: no data", sym, ErrMalformed)
	}
	if d.Symbol == "" || !strings.EqualFold(d.Symbol, sym) {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: answer is for symbol %q", sym, ErrMalformed, d.Symbol)
	}
	p := d.PrimaryData
	if p == nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: no primaryData", sym, ErrMalformed)
	}
	price, ok := parseDecimal(cleanNumber(p.LastSalePrice))
	if !ok || price <= 0 {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: lastSalePrice %q", sym, ErrMalformed, p.LastSalePrice)
	}
	q := Quote{Symbol: sym, Price: price}
	var err error
	if q.Change, err = nasdaqChange(p.NetChange); err != nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: netChange %q", sym, ErrMalformed, p.NetChange)
	}
	if q.ChangePct, err = nasdaqChange(p.PercentageChange); err != nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: percentageChange %q", sym, ErrMalformed, p.PercentageChange)
	}
	vol := p.Volume
	if d.KeyStats != nil && d.KeyStats.Volume != nil {
		vol = d.KeyStats.Volume.Value
	}
	if !isUnknownNumber(vol) {
		v, err := strconv.ParseInt(cleanNumber(vol), 10, 64)
		if err != nil || v < 0 {
			return Quote{}, fmt.Errorf("nasdaq %s: %w: volume %q", sym, ErrMalformed, vol)
		}
		q.Volume, q.HasVolume = v, true
	}
	q.Time, _ = parseNasdaqTime(p.LastTradeTimestamp)
	return q, nil
}

// errNoNumber is nasdaqChange's failure; callers replace it with detail.
var errNoNumber = errors.New("quote: not a number")

// nasdaqChange parses a net or percentage change such as "-0.99%" or "+1.5".
// Unknown ("N/A", "") and unchanged ("UNCH") are 0.
func nasdaqChange(s string) (float64, error) {
	if isUnknownNumber(s) || strings.EqualFold(strings.TrimSpace(s), "UNCH") {
		return 0, nil
	}
	f, ok := parseDecimal(cleanNumber(s))
	if !ok {
		return 0, errNoNumber
	}
	return f, nil
}

// nasdaqTimeLayouts are the ways nasdaq writes a trade time once prefixes
// ("DATA AS OF", "Closed at"), suffixes (" - PRE-MARKET") and the zone are
// cut off.
var nasdaqTimeLayouts = []string{
	"Jan 2, 2006 3:04 PM",
	"Jan 2, 2006 3:04:05 PM",
	"Jan 2, 2006",
}

// parseNasdaqTime reads a lastTradeTimestamp such as
// "DATA AS OF Nov 19, 2019 9:27 AM ET - PRE-MARKET", "Closed at Nov 18, 2019
// 4:00 PM ET", "Jul 27, 2026 12:51 PM ET" or "Jul 27, 2026" as New York time.
func parseNasdaqTime(s string) (time.Time, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	for _, p := range []string{"DATA AS OF ", "CLOSED AT ", "AS OF "} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			s = rest
			break
		}
	}
	if i := strings.Index(s, " - "); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	for _, z := range []string{" ET", " EST", " EDT"} {
		if rest, ok := strings.CutSuffix(s, z); ok {
			s = rest
			break
		}
	}
	for _, layout := range nasdaqTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, newYork); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
