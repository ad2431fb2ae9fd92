package quote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// AlpacaURL is the Alpaca source's default base URL.
const AlpacaURL = "https://data.alpaca.markets"

// Alpaca is the Source for Alpaca's market data snapshot of one stock,
// GET {base}/v2/stocks/{SYMBOL}/snapshot, with Options.APIKey and APISecret
// sent as APCA-API-KEY-ID and APCA-API-SECRET-KEY (both required). The feed
// is Alpaca's default for the account (IEX without a SIP subscription). It
// is immutable and safe for concurrent use.
//
// Parse takes the price and time from latestTrade (else dailyBar's close),
// bid and ask from latestQuote, and open, high, low and volume from
// dailyBar when that bar is the trade's New York day. Change is against
// the previous session's close: prevDailyBar's, or dailyBar's when the
// trade is on a later day (before the open). An answer for another symbol
// is ErrWrongSymbol; status 404 or 422 (invalid symbol), a null snapshot or
// one without trades or bars is ErrUnknownSymbol.
type Alpaca struct {
	common
}

func newAlpaca(o *Options) (*Alpaca, error) {
	if o.APIKey == "" || o.APISecret == "" {
		return nil, fmt.Errorf("%w: alpaca needs Options.APIKey (key id) and Options.APISecret (secret key)", ErrInvalidOptions)
	}
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("APCA-API-KEY-ID", o.APIKey)
	h.Set("APCA-API-SECRET-KEY", o.APISecret)
	return &Alpaca{common: newCommon(KindAlpaca, AlpacaURL, apiUserAgent, h, o)}, nil
}

// NewRequest builds the GET request for a stock symbol such as BRK.B,
// upper-cased. A symbol outside CheckSymbol's syntax is ErrUnknownSymbol.
func (a *Alpaca) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := upperSymbol(symbol)
	if err := checkAlpacaSymbol(sym); err != nil {
		return nil, a.invalidSymbol(sym, err)
	}
	return a.get(ctx, sym, a.base+"/v2/stocks/"+url.PathEscape(sym)+"/snapshot")
}

// alpacaBar is a snapshot's bar.
type alpacaBar struct {
	T string  `json:"t"`
	O numText `json:"o"`
	H numText `json:"h"`
	L numText `json:"l"`
	C numText `json:"c"`
	V numText `json:"v"`
}

// alpacaSnapshot is the snapshot document, and the error answer's message.
type alpacaSnapshot struct {
	Symbol      string `json:"symbol"`
	LatestTrade *struct {
		T string  `json:"t"`
		P numText `json:"p"`
	} `json:"latestTrade"`
	LatestQuote *struct {
		BP numText `json:"bp"`
		AP numText `json:"ap"`
	} `json:"latestQuote"`
	DailyBar     *alpacaBar `json:"dailyBar"`
	PrevDailyBar *alpacaBar `json:"prevDailyBar"`
	Message      string     `json:"message"`
}

// Parse reads a snapshot for symbol from resp. It does not close resp.Body.
func (a *Alpaca) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := upperSymbol(symbol)
	if err := checkAlpacaSymbol(sym); err != nil {
		return Quote{}, a.invalidSymbol(sym, err)
	}
	if err := checkStatus(resp); err != nil {
		var doc alpacaSnapshot
		msg := ""
		if decodeErrorBody(resp, &doc) {
			msg = ": " + a.secrets.quote(doc.Message)
		}
		switch {
		case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusUnprocessableEntity:
			return Quote{}, fmt.Errorf("alpaca %s: %w: %w%s", sym, ErrUnknownSymbol, err, msg)
		case msg == "":
			return Quote{}, statusFailure(a.name, sym, resp)
		}
		return Quote{}, fmt.Errorf("alpaca %s: %w%s", sym, err, msg)
	}
	r, body, err := openBody(a.name, sym, "JSON", resp, a.secrets)
	if err != nil {
		return Quote{}, err
	}
	var doc *alpacaSnapshot
	if err := decodeOne(r, &doc); err != nil {
		return Quote{}, body.fail(a.name, sym, err)
	}
	if doc == nil {
		return Quote{}, fmt.Errorf("alpaca %s: %w: null snapshot", sym, ErrUnknownSymbol)
	}
	if doc.Message != "" && doc.Symbol == "" {
		return Quote{}, fmt.Errorf("alpaca %s: %w: %s", sym, ErrUpstream, a.secrets.quote(doc.Message))
	}
	if err := a.checkAnswerSymbol(sym, sym, doc.Symbol); err != nil {
		return Quote{}, err
	}
	return a.quote(sym, doc)
}

// quote turns a snapshot for sym into its Quote.
func (a *Alpaca) quote(sym string, doc *alpacaSnapshot) (Quote, error) {
	q := Quote{Symbol: sym}
	day := doc.DailyBar
	switch {
	case doc.LatestTrade != nil && doc.LatestTrade.P != "":
		p, ok := parseDecimal(string(doc.LatestTrade.P))
		if !ok || p <= 0 {
			return Quote{}, fmt.Errorf("alpaca %s: %w: latestTrade.p %s", sym, ErrMalformed, a.secrets.quote(string(doc.LatestTrade.P)))
		}
		q.Price = p
		q.Time, _ = parseRFC3339(doc.LatestTrade.T)
	case day != nil && day.C != "":
		p, ok := parseDecimal(string(day.C))
		if !ok || p <= 0 {
			return Quote{}, fmt.Errorf("alpaca %s: %w: dailyBar.c %s", sym, ErrMalformed, a.secrets.quote(string(day.C)))
		}
		q.Price = p
		q.Time, _ = parseRFC3339(day.T)
	default:
		return Quote{}, fmt.Errorf("alpaca %s: %w: no trade and no daily bar", sym, ErrUnknownSymbol)
	}
	var ref float64
	if doc.PrevDailyBar != nil {
		ref = optionalPrice(string(doc.PrevDailyBar.C))
	}
	if day != nil {
		if barDay, ok := parseRFC3339(day.T); ok && !q.Time.IsZero() && nyDate(q.Time) > nyDate(barDay) {
			// The trade is after the last daily bar's day (pre-market):
			// that bar is the previous session, and says nothing of today.
			ref = optionalPrice(string(day.C))
		} else {
			q.Open, q.High, q.Low = optionalPrice(string(day.O)), optionalPrice(string(day.H)), optionalPrice(string(day.L))
			if day.V != "" {
				f, ok := parseDecimal(string(day.V))
				v, fits := roundVolume(f)
				if !ok || !fits {
					return Quote{}, fmt.Errorf("alpaca %s: %w: dailyBar.v %s", sym, ErrMalformed, a.secrets.quote(string(day.V)))
				}
				q.Volume, q.HasVolume = v, true
			}
		}
	}
	if ref > 0 {
		q.PrevClose = ref
		q.Change = q.Price - ref
		q.ChangePct = q.Change / ref * 100
	}
	if lq := doc.LatestQuote; lq != nil {
		q.Bid, q.Ask = optionalPrice(string(lq.BP)), optionalPrice(string(lq.AP))
	}
	return q, nil
}

// parseRFC3339 reads an RFC 3339 time (with or without fraction) as UTC.
func parseRFC3339(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// nyDate returns t's New York calendar date as yyyymmdd, for ordering days.
func nyDate(t time.Time) int {
	y, m, d := t.In(newYork).Date()
	return y*10000 + int(m)*100 + d
}
