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
// endpoint has no previous close. An all-N/D row is ErrUnknownSymbol; times
// are Europe/Warsaw.
type Stooq struct {
	base      string // without trailing slash
	userAgent string
}

// NewStooq returns a Stooq source that asks baseURL (https://stooq.com when
// "") and sends userAgent (a desktop Chrome's when "").
func NewStooq(baseURL, userAgent string) *Stooq {
	if baseURL == "" {
		baseURL = StooqURL
	}
	if userAgent == "" {
		userAgent = defaultUserAgent
	}
	return &Stooq{base: strings.TrimRight(baseURL, "/"), userAgent: userAgent}
}

// NewRequest builds the GET request for symbol, lower-cased with ".us"
// appended. An empty symbol is ErrUnknownSymbol.
func (s *Stooq) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := strings.ToLower(symbol)
	if sym == "" {
		return nil, fmt.Errorf("stooq: %w: empty symbol", ErrUnknownSymbol)
	}
	u := s.base + "/q/l/?s=" + url.QueryEscape(sym+".us") + "&f=sd2t2ohlcv&h&e=csv"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("stooq %s: build request: %w", strings.ToUpper(symbol), err)
	}
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set("Accept", "text/csv, text/plain, */*")
	return req, nil
}

// stooqLimitMessage starts the plain-text body stooq sends, with status 200,
// once a client has used up its daily requests.
const stooqLimitMessage = "exceeded the daily hits limit"

// Parse reads the CSV answer for symbol from resp: a header line naming at
// least Symbol and Close, then exactly one row. It does not close resp.Body.
func (s *Stooq) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := strings.ToUpper(symbol)
	if err := checkStatus(resp); err != nil {
		return Quote{}, fmt.Errorf("stooq %s: %w", sym, err)
	}
	body := newBodyLimiter(resp.Body)
	r := csv.NewReader(body)
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
			return Quote{}, fmt.Errorf("stooq %s: %w: %.80q", sym, ErrUpstream, first)
		}
		return Quote{}, fmt.Errorf("stooq %s: %w: header %.80q lacks Symbol or Close", sym, ErrMalformed, first)
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
	return stooqQuote(sym, cols, row)
}

// stooqColumns maps the lower-cased names in header to their index; names
// Parse uses but header lacks map to -1.
func stooqColumns(header []string) map[string]int {
	cols := map[string]int{"symbol": -1, "date": -1, "time": -1, "open": -1, "close": -1, "volume": -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if j, ok := cols[h]; ok && j < 0 {
			cols[h] = i
		}
	}
	return cols
}

// stooqQuote turns one CSV row into sym's Quote. csv.Reader has already
// checked that row has as many fields as the header.
func stooqQuote(sym string, cols map[string]int, row []string) (Quote, error) {
	field := func(name string) string {
		if i := cols[name]; i >= 0 {
			return strings.TrimSpace(row[i])
		}
		return ""
	}
	if got := field("symbol"); !strings.EqualFold(got, sym+".US") {
		return Quote{}, fmt.Errorf("stooq %s: %w: answer is for symbol %q", sym, ErrMalformed, got)
	}
	closeStr := field("close")
	if closeStr == stooqND {
		return Quote{}, fmt.Errorf("stooq %s: %w: no data (N/D)", sym, ErrUnknownSymbol)
	}
	price, ok := parseDecimal(closeStr)
	if !ok || price <= 0 {
		return Quote{}, fmt.Errorf("stooq %s: %w: close %q", sym, ErrMalformed, closeStr)
	}
	q := Quote{Symbol: sym, Price: price}
	if o := field("open"); o != "" && o != stooqND {
		open, ok := parseDecimal(o)
		if !ok || open < 0 {
			return Quote{}, fmt.Errorf("stooq %s: %w: open %q", sym, ErrMalformed, o)
		}
		if open > 0 {
			q.Change = price - open
			q.ChangePct = q.Change / open * 100
		}
	}
	if v := field("volume"); v != "" && v != stooqND {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return Quote{}, fmt.Errorf("stooq %s: %w: volume %q", sym, ErrMalformed, v)
		}
		q.Volume, q.HasVolume = n, true
	}
	t, err := stooqTime(field("date"), field("time"))
	if err != nil {
		return Quote{}, fmt.Errorf("stooq %s: %w: %v", sym, ErrMalformed, err)
	}
	q.Time = t
	return q, nil
}

// stooqTime reads a Date ("2026-10-02") and Time ("22:00:00") pair as Warsaw
// time. A missing or N/D date is the zero time; a missing or N/D time is
// midnight.
func stooqTime(date, clock string) (time.Time, error) {
	if date == "" || date == stooqND {
		return time.Time{}, nil
	}
	if clock == "" || clock == stooqND {
		t, err := time.ParseInLocation("2006-01-02", date, warsaw)
		if err != nil {
			return time.Time{}, fmt.Errorf("date %q", date)
		}
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05", date+" "+clock, warsaw)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q time %q", date, clock)
	}
	return t, nil
}
