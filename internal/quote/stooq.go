package quote

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// stooqND is how stooq writes a value it does not have.
const stooqND = "N/D"

// StooqURL is the Stooq source's default base URL.
const StooqURL = "https://stooq.com"

// Stooq is the Source for stooq.com's CSV quote endpoint,
// GET {base}/q/l/?s={symbol}.us&f=sd2t2ohlcv&h&e=csv, for US listings. It is
// immutable and safe for concurrent use.
//
// Parse takes Close as the price and measures the change from Open, since the
// endpoint has no previous close; it fills Open, High and Low. An all-N/D row
// is ErrUnknownSymbol, a row for another symbol ErrWrongSymbol, and an HTML
// page (stooq's JavaScript challenge, sent with status 200) ErrNotQuote;
// times are Europe/Warsaw.
type Stooq struct {
	common
}

// NewStooq returns a Stooq source that asks baseURL (https://stooq.com when
// "") and sends userAgent (a desktop Chrome's when "").
func NewStooq(baseURL, userAgent string) *Stooq {
	return newStooq(&Options{BaseURL: baseURL, UserAgent: userAgent})
}

func newStooq(o *Options) *Stooq {
	h := http.Header{}
	h.Set("Accept", "text/csv, text/plain, */*")
	return &Stooq{common: newCommon(KindStooq, StooqURL, defaultUserAgent, h, o)}
}

// NewRequest builds the GET request for symbol, lower-cased with ".us"
// appended. An empty symbol is ErrUnknownSymbol.
func (s *Stooq) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := strings.ToLower(symbol)
	if sym == "" {
		return nil, fmt.Errorf("stooq: %w: empty symbol", ErrUnknownSymbol)
	}
	return s.get(ctx, strings.ToUpper(symbol), s.base+"/q/l/?s="+url.QueryEscape(sym+".us")+"&f=sd2t2ohlcv&h&e=csv")
}

// stooqLimitMessage starts the plain-text body stooq sends, with status 200,
// once a client has used up its daily requests.
const stooqLimitMessage = "exceeded the daily hits limit"

// Parse reads the CSV answer for symbol from resp: a header line naming at
// least Symbol and Close, then exactly one row. It does not close resp.Body.
func (s *Stooq) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := strings.ToUpper(symbol)
	if err := checkStatus(resp); err != nil {
		return Quote{}, statusFailure("stooq", sym, resp)
	}
	br, body, err := openBody("stooq", sym, "CSV", resp, s.secrets)
	if err != nil {
		return Quote{}, err
	}
	r := csv.NewReader(br)
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return Quote{}, fmt.Errorf("stooq %s: %w: empty body", sym, ErrMalformed)
	}
	if err != nil {
		return Quote{}, body.fail("stooq", sym, err)
	}
	cols := stooqColumns(header)
	if cols["symbol"] < 0 || cols["close"] < 0 {
		first := strings.Join(header, ",")
		if strings.HasPrefix(strings.ToLower(first), stooqLimitMessage) {
			return Quote{}, fmt.Errorf("stooq %s: %w: %s", sym, ErrUpstream, s.secrets.quote(first))
		}
		return Quote{}, fmt.Errorf("stooq %s: %w: header %s lacks Symbol or Close", sym, ErrMalformed, s.secrets.quote(first))
	}
	row, err := r.Read()
	if errors.Is(err, io.EOF) {
		return Quote{}, fmt.Errorf("stooq %s: %w: no data row", sym, ErrMalformed)
	}
	if err != nil {
		return Quote{}, body.fail("stooq", sym, err)
	}
	switch _, err := r.Read(); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return Quote{}, body.fail("stooq", sym, err)
	default:
		return Quote{}, fmt.Errorf("stooq %s: %w: more than one row", sym, ErrMalformed)
	}
	return s.quote(sym, cols, row)
}

// stooqColumns maps the lower-cased names in header to their index; names
// Parse uses but header lacks map to -1.
func stooqColumns(header []string) map[string]int {
	cols := map[string]int{"symbol": -1, "date": -1, "time": -1, "open": -1, "high": -1, "low": -1, "close": -1, "volume": -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if j, ok := cols[h]; ok && j < 0 {
			cols[h] = i
		}
	}
	return cols
}

// quote turns one CSV row into sym's Quote. csv.Reader has already
// checked that row has as many fields as the header.
func (s *Stooq) quote(sym string, cols map[string]int, row []string) (Quote, error) {
	field := func(name string) string {
		if i := cols[name]; i >= 0 {
			return strings.TrimSpace(row[i])
		}
		return ""
	}
	if err := s.checkAnswerSymbol(sym, sym+".US", field("symbol")); err != nil {
		return Quote{}, err
	}
	closeStr := field("close")
	if closeStr == stooqND {
		return Quote{}, fmt.Errorf("stooq %s: %w: no data (N/D)", sym, ErrUnknownSymbol)
	}
	price, ok := parseDecimal(closeStr)
	if !ok || price <= 0 {
		return Quote{}, fmt.Errorf("stooq %s: %w: close %s", sym, ErrMalformed, s.secrets.quote(closeStr))
	}
	q := Quote{Symbol: sym, Price: price}
	if o := field("open"); o != "" && o != stooqND {
		open, ok := parseDecimal(o)
		if !ok || open < 0 {
			return Quote{}, fmt.Errorf("stooq %s: %w: open %s", sym, ErrMalformed, s.secrets.quote(o))
		}
		if open > 0 {
			q.Open = open
			q.Change = price - open
			q.ChangePct = q.Change / open * 100
		}
	}
	if v := field("volume"); v != "" && v != stooqND {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return Quote{}, fmt.Errorf("stooq %s: %w: volume %s", sym, ErrMalformed, s.secrets.quote(v))
		}
		q.Volume, q.HasVolume = n, true
	}
	q.High, q.Low = optionalPrice(field("high")), optionalPrice(field("low"))
	t, ok := stooqTime(field("date"), field("time"))
	if !ok {
		return Quote{}, fmt.Errorf("stooq %s: %w: date %s time %s", sym, ErrMalformed, s.secrets.quote(field("date")), s.secrets.quote(field("time")))
	}
	q.Time = t
	return q, nil
}

// stooqTime reads a Date ("2026-10-02") and Time ("22:00:00") pair as Warsaw
// time. A missing or N/D date is the zero time; a missing or N/D time is
// midnight. false when they are neither.
func stooqTime(date, clock string) (time.Time, bool) {
	if date == "" || date == stooqND {
		return time.Time{}, true
	}
	if clock == "" || clock == stooqND {
		t, err := time.ParseInLocation("2006-01-02", date, warsaw)
		return t, err == nil
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05", date+" "+clock, warsaw)
	return t, err == nil
}
