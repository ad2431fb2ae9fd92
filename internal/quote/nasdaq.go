package quote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
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
// GET {base}/api/quote/{SYMBOL}/info?assetclass={class}, where class is
// "stocks" unless Options.AssetClass names another for the symbol. It sends
// the headers www.nasdaq.com's own web client sends (Origin, Referer,
// Accept, sec-fetch-*; sec-ch-ua-* with the default User-Agent). It is
// immutable and safe for concurrent use.
//
// Parse uses data.primaryData for price, change, bid and ask,
// data.keyStats for volume, previous close and the day's high and low
// (dayrange, "low - high"), and data.marketStatus. It maps
// status.bCodeMessage code 1001 to ErrUnknownSymbol and any other code
// (3004 "Error while calling vendor") to ErrUpstream, and an answer for
// another data.symbol to ErrWrongSymbol. Change is against the previous
// close; there is no open.
type Nasdaq struct {
	common
	assetClass map[string]string // upper-case symbol -> assetclass; read-only
}

// nasdaqAssetClasses are the assetclass values Options.AssetClass may name.
var nasdaqAssetClasses = []string{"stocks", "etf", "index", "mutualfunds"}

// ErrInvalidAssetClass means an assetclass is not one nasdaq knows.
var ErrInvalidAssetClass = errors.New("quote: invalid nasdaq assetclass")

// CheckAssetClass reports whether class is an assetclass Options.AssetClass
// may name: nil, or an error wrapping ErrInvalidAssetClass that lists them.
func CheckAssetClass(class string) error {
	if slices.Contains(nasdaqAssetClasses, class) {
		return nil
	}
	return fmt.Errorf("%w %.40q, want one of %s", ErrInvalidAssetClass, class, strings.Join(nasdaqAssetClasses, ", "))
}

// NewNasdaq returns a Nasdaq source that asks baseURL (https://api.nasdaq.com
// when "") and sends userAgent (a desktop Chrome's when ""). It is
// New(KindNasdaq, ...) without the checks, for callers that have no
// options to check.
func NewNasdaq(baseURL, userAgent string) *Nasdaq {
	n, _ := newNasdaq(&Options{BaseURL: baseURL, UserAgent: userAgent}) // fails only on AssetClass
	return n
}

func newNasdaq(o *Options) (*Nasdaq, error) {
	h := http.Header{}
	h.Set("Accept", "application/json, text/plain, */*")
	h.Set("Accept-Language", "en-US,en;q=0.9")
	h.Set("Origin", "https://www.nasdaq.com")
	h.Set("Referer", "https://www.nasdaq.com/")
	h.Set("Sec-Fetch-Dest", "empty")
	h.Set("Sec-Fetch-Mode", "cors")
	h.Set("Sec-Fetch-Site", "same-site")
	if o.UserAgent == "" {
		// Client hints that match defaultUserAgent; a configured agent
		// would contradict them, so they go only with the default.
		h.Set("Sec-Ch-Ua", `"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"`)
		h.Set("Sec-Ch-Ua-Mobile", "?0")
		h.Set("Sec-Ch-Ua-Platform", `"Windows"`)
	}
	n := &Nasdaq{common: newCommon(KindNasdaq, NasdaqURL, defaultUserAgent, h, o)}
	for sym, class := range o.AssetClass {
		if err := CheckAssetClass(class); err != nil {
			return nil, fmt.Errorf("%w: Options.AssetClass[%.40q]: %w", ErrInvalidOptions, sym, err)
		}
		if n.assetClass == nil {
			n.assetClass = make(map[string]string, len(o.AssetClass))
		}
		n.assetClass[strings.ToUpper(sym)] = class
	}
	return n, nil
}

// NewRequest builds the GET request for symbol, upper-cased, with the
// headers a browser would send. An empty symbol is ErrUnknownSymbol.
func (n *Nasdaq) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := strings.ToUpper(symbol)
	if sym == "" || sym == "." || sym == ".." {
		return nil, fmt.Errorf("nasdaq %q: %w: not a symbol", sym, ErrUnknownSymbol)
	}
	class := n.assetClass[sym]
	if class == "" {
		class = "stocks"
	}
	return n.get(ctx, sym, n.base+"/api/quote/"+url.PathEscape(sym)+"/info?assetclass="+class)
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

// nasdaqLabelValue is a keyStats entry.
type nasdaqLabelValue struct {
	Value string `json:"value"`
}

type nasdaqData struct {
	Symbol      string `json:"symbol"`
	PrimaryData *struct {
		LastSalePrice      string `json:"lastSalePrice"`
		NetChange          string `json:"netChange"`
		PercentageChange   string `json:"percentageChange"`
		LastTradeTimestamp string `json:"lastTradeTimestamp"`
		Volume             string `json:"volume"`   // newer documents only
		BidPrice           string `json:"bidPrice"` // newer documents only; "N/A" outside hours
		AskPrice           string `json:"askPrice"`
	} `json:"primaryData"`
	KeyStats *struct {
		Volume        *nasdaqLabelValue `json:"Volume"`
		PreviousClose *nasdaqLabelValue `json:"PreviousClose"`
		DayRange      *nasdaqLabelValue `json:"dayrange"` // "low - high" or "NA"
	} `json:"keyStats"`
	MarketStatus string `json:"marketStatus"`
}

// Parse reads a quote info document for symbol from resp. It does not close
// resp.Body. A trade time it cannot read leaves Quote.Time zero rather than
// failing the quote; an unreadable price, change or volume is ErrMalformed;
// unreadable optional prices are left 0.
func (n *Nasdaq) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := strings.ToUpper(symbol)
	if err := checkStatus(resp); err != nil {
		return Quote{}, statusFailure("nasdaq", sym, resp)
	}
	r, body, err := openBody("nasdaq", sym, "JSON", resp, n.secrets)
	if err != nil {
		return Quote{}, err
	}
	var doc nasdaqResponse
	if err := decodeOne(r, &doc); err != nil {
		return Quote{}, body.fail("nasdaq", sym, err)
	}
	return n.quote(sym, &doc)
}

// quote checks a decoded document and turns it into sym's Quote.
func (n *Nasdaq) quote(sym string, doc *nasdaqResponse) (Quote, error) {
	st := &doc.Status
	for _, m := range st.BCodeMessage {
		if m.Code == nasdaqCodeUnknownSymbol {
			return Quote{}, fmt.Errorf("nasdaq %s: %w: code %d %s", sym, ErrUnknownSymbol, m.Code, n.secrets.quote(m.ErrorMessage))
		}
	}
	if len(st.BCodeMessage) > 0 {
		m := st.BCodeMessage[0]
		return Quote{}, fmt.Errorf("nasdaq %s: %w: code %d %s", sym, ErrUpstream, m.Code, n.secrets.quote(m.ErrorMessage))
	}
	if st.RCode != 0 && st.RCode != http.StatusOK {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: rCode %d", sym, ErrUpstream, st.RCode)
	}
	d := doc.Data
	if d == nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: no data", sym, ErrMalformed)
	}
	if err := n.checkAnswerSymbol(sym, sym, d.Symbol); err != nil {
		return Quote{}, err
	}
	p := d.PrimaryData
	if p == nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: no primaryData", sym, ErrMalformed)
	}
	price, ok := parseDecimal(cleanNumber(p.LastSalePrice))
	if !ok || price <= 0 {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: lastSalePrice %s", sym, ErrMalformed, n.secrets.quote(p.LastSalePrice))
	}
	q := Quote{Symbol: sym, Price: price}
	var err error
	if q.Change, err = nasdaqChange(p.NetChange); err != nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: netChange %s", sym, ErrMalformed, n.secrets.quote(p.NetChange))
	}
	if q.ChangePct, err = nasdaqChange(p.PercentageChange); err != nil {
		return Quote{}, fmt.Errorf("nasdaq %s: %w: percentageChange %s", sym, ErrMalformed, n.secrets.quote(p.PercentageChange))
	}
	vol := p.Volume
	if d.KeyStats != nil && d.KeyStats.Volume != nil {
		vol = d.KeyStats.Volume.Value
	}
	if !isUnknownNumber(vol) {
		v, err := strconv.ParseInt(cleanNumber(vol), 10, 64)
		if err != nil || v < 0 {
			return Quote{}, fmt.Errorf("nasdaq %s: %w: volume %s", sym, ErrMalformed, n.secrets.quote(vol))
		}
		q.Volume, q.HasVolume = v, true
	}
	q.Bid, q.Ask = optionalPrice(p.BidPrice), optionalPrice(p.AskPrice)
	if ks := d.KeyStats; ks != nil {
		if ks.PreviousClose != nil {
			q.PrevClose = optionalPrice(ks.PreviousClose.Value)
		}
		if ks.DayRange != nil {
			q.Low, q.High = parseRange(ks.DayRange.Value)
		}
	}
	q.MarketStatus = cleanStatus(d.MarketStatus)
	q.Time, _ = parseNasdaqTime(p.LastTradeTimestamp)
	return q, nil
}

// parseRange reads a "low - high" range such as "334.53 - 341.67" (either
// order); 0, 0 when it is not two prices ("NA").
func parseRange(s string) (low, high float64) {
	a, b, ok := strings.Cut(s, " - ")
	if !ok {
		return 0, 0
	}
	x, y := optionalPrice(a), optionalPrice(b)
	if x == 0 || y == 0 {
		return 0, 0
	}
	return min(x, y), max(x, y)
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
