package quote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// JSONOptions describe a JSON quote API to the json kind, so that any REST
// API answering one symbol's quote with a JSON document can be used without
// code. Two examples, as the YAML a configuration might hold (the keys are
// this struct's fields):
//
// Alpha Vantage's GLOBAL_QUOTE (https://www.alphavantage.co/documentation/#latestprice);
// its member names hold spaces and dots, so they are quoted; it answers an
// unknown symbol with an empty "Global Quote" and its rate limit with an
// "Information" member, both with status 200:
//
//	kind: json
//	api_key_file: /run/secrets/alphavantage
//	json:
//	  url: https://www.alphavantage.co/query?function=GLOBAL_QUOTE&symbol={symbol}&apikey={apikey}
//	  symbol: '["Global Quote"]["01. symbol"]'
//	  price: '["Global Quote"]["05. price"]'
//	  change: '["Global Quote"]["09. change"]'
//	  change_pct: '["Global Quote"]["10. change percent"]'   # "2.3322%"
//	  volume: '["Global Quote"]["06. volume"]'
//	  open: '["Global Quote"]["02. open"]'
//	  high: '["Global Quote"]["03. high"]'
//	  low: '["Global Quote"]["04. low"]'
//	  prev_close: '["Global Quote"]["08. previous close"]'
//	  time: '["Global Quote"]["07. latest trading day"]'
//	  time_format: "2006-01-02"
//	  time_zone: America/New_York
//	  error_if: [Information, Note, '["Error Message"]']
//	  unknown_if: ['!["Global Quote"]["01. symbol"]']
//
// Market Data's stock quotes (https://www.marketdata.app/docs/api/stocks/quotes);
// every field is an array of one, the token goes in a header, the change
// percentage is a fraction, and an unknown symbol is status 404:
//
//	kind: json
//	api_key_file: /run/secrets/marketdata
//	headers: {Authorization: "Bearer {apikey}"}
//	json:
//	  url: https://api.marketdata.app/v1/stocks/quotes/{symbol}/
//	  symbol: symbol[0]
//	  price: last[0]
//	  change: change[0]
//	  change_pct: changepct[0]
//	  percent_is_fraction: true
//	  volume: volume[0]
//	  bid: bid[0]
//	  ask: ask[0]
//	  time: updated[0]                                     # unix seconds
//	  error_if: ['s=error']
//	  unknown_if: ['s=no_data']
//
// Both, and docs/examples/kucoin.yaml's keyless KuCoin configuration, are
// tested against their documented answers in this package.
//
// A key in the URL ({apikey}) is sent in the clear wherever URLs are
// logged (proxies, the provider's logs, an HTTP client's errors); prefer a
// header ({apikey} in Options.Headers) when the API takes one.
//
// # Paths
//
// A path names one value: member names joined by '.', array elements as
// [n], and member names holding '.', '[', ']', '=' (or any character) as a
// quoted JSON string in brackets: data.last, results[0].price, [0].c,
// ["Global Quote"]["05. price"]. A path is at most 256 bytes and 32 steps.
//
// # Values
//
// Numbers may be JSON numbers or strings, read as nasdaq's are: "$", ","
// and "%" are dropped ("$1,267.85", "12.3%"), and "N/A", "NA", "-", "--"
// and "" (and "UNCH" for changes) mean unknown. The volume is rounded to
// whole units. A path the answer lacks, or holds null at, leaves its field
// unknown (Price is required); a value that cannot be read is ErrMalformed
// for Price, Change, ChangePct, Volume and Time and leaves the optional
// prices unknown.
type JSONOptions struct {
	// URL is the request URL: an absolute http or https URL in which
	// {symbol} stands for the symbol (upper case) and {apikey} for
	// Options.APIKey, each escaped for the part of the URL it is in. They
	// may not stand in the scheme or host. Options.BaseURL, when set,
	// replaces the scheme and host.
	URL string

	Price     string // path to the last price; required
	Change    string // path to the change
	ChangePct string // path to the change in percent (see PercentIsFraction)
	Volume    string // path to the volume
	Time      string // path to the trade time (see TimeFormat)
	Open      string // path to the open
	High      string // path to the high
	Low       string // path to the low
	PrevClose string // path to the previous close
	Bid       string // path to the best bid
	Ask       string // path to the best ask
	// MarketStatus is the path to a string, or to a boolean "market is
	// open" (true is "Open", false "Closed").
	MarketStatus string
	// Symbol is the path to the symbol the answer names: when set, an
	// answer naming another symbol (case does not matter) is
	// ErrWrongSymbol, and one naming none ErrMalformed. Set it whenever
	// the API names the symbol.
	Symbol string

	// PercentIsFraction says the ChangePct value is a fraction (0.0123
	// for 1.23%).
	PercentIsFraction bool
	// TimeFormat is how the Time value is written: "unix" (seconds, a
	// fraction allowed), "unixms", "rfc3339", or a Go time layout such as
	// "2006-01-02 15:04:05". "" reads numbers (and numeric strings) as unix
	// seconds, or milliseconds when above 1e11, and other strings as RFC 3339.
	TimeFormat string
	// TimeZone is the IANA zone of times whose layout has no zone; "" is UTC.
	TimeZone string

	// ErrorIf and UnknownIf are conditions on the answer, tested in this
	// order before anything else is read: the first ErrorIf that holds
	// makes the answer ErrUpstream (quoting the value at its path when that
	// is a string), the first UnknownIf ErrUnknownSymbol. A condition is
	// "path" (a value other than null is there), "!path" (nothing or null
	// is there) or "path=text" (a string, number or boolean written text is
	// there; "path=null" for null). At most 8 of each. Status 404 is
	// ErrUnknownSymbol whatever they say.
	ErrorIf   []string
	UnknownIf []string
}

// The fields a JSON source reads, indexing its paths.
const (
	jPrice = iota
	jChange
	jChangePct
	jVolume
	jTime
	jOpen
	jHigh
	jLow
	jPrevClose
	jBid
	jAsk
	jStatus
	jSymbol
	jFields // the number of fields; condition paths follow
)

// maxConditions bounds ErrorIf and UnknownIf.
const maxConditions = 8

// JSON is the Source for any JSON quote API, described by JSONOptions; New
// builds it for KindJSON. It is immutable and safe for concurrent use.
type JSON struct {
	common
	tmpl       *urlTemplate
	apiKey     string          // for {apikey}
	fieldText  [jFields]string // the configured path texts, for errors
	paths      []jsonPath      // jFields field paths (nil when not configured), then the conditions'
	errorIf    []condition
	unknownIf  []condition
	fraction   bool
	timeFormat string
	loc        *time.Location
}

// condition is a parsed ErrorIf or UnknownIf entry.
type condition struct {
	text   string // as configured
	path   int    // index into JSON.paths
	absent bool   // "!path"
	equals bool   // "path=value"
	value  string
}

func newJSON(o *Options) (*JSON, error) {
	jo := o.JSON
	if jo == nil {
		return nil, fmt.Errorf("%w: json needs Options.JSON", ErrInvalidOptions)
	}
	tmpl, err := parseTemplate(jo.URL)
	if err != nil {
		return nil, err
	}
	if tmpl.usesKey && o.APIKey == "" {
		return nil, fmt.Errorf("%w: Options.JSON.URL uses {apikey} but Options.APIKey is empty", ErrInvalidOptions)
	}
	h := http.Header{}
	h.Set("Accept", "application/json")
	j := &JSON{
		common:     newCommon(KindJSON, tmpl.origin, apiUserAgent, h, o),
		tmpl:       tmpl,
		apiKey:     o.APIKey,
		paths:      make([]jsonPath, jFields),
		fraction:   jo.PercentIsFraction,
		timeFormat: jo.TimeFormat,
		loc:        time.UTC,
	}
	fields := [jFields]struct{ name, text string }{
		jPrice: {"Price", jo.Price}, jChange: {"Change", jo.Change}, jChangePct: {"ChangePct", jo.ChangePct},
		jVolume: {"Volume", jo.Volume}, jTime: {"Time", jo.Time}, jOpen: {"Open", jo.Open}, jHigh: {"High", jo.High},
		jLow: {"Low", jo.Low}, jPrevClose: {"PrevClose", jo.PrevClose}, jBid: {"Bid", jo.Bid}, jAsk: {"Ask", jo.Ask},
		jStatus: {"MarketStatus", jo.MarketStatus}, jSymbol: {"Symbol", jo.Symbol},
	}
	if jo.Price == "" {
		return nil, fmt.Errorf("%w: Options.JSON.Price is required", ErrInvalidOptions)
	}
	for i, f := range fields {
		if f.text == "" {
			continue
		}
		p, err := parsePath(f.text)
		if err != nil {
			return nil, fmt.Errorf("%w: Options.JSON.%s %.80q: %v", ErrInvalidOptions, f.name, f.text, err)
		}
		j.paths[i], j.fieldText[i] = p, f.text
	}
	if err := CheckJSONTimeFormat(jo.TimeFormat); err != nil {
		return nil, err
	}
	if jo.TimeZone != "" {
		loc, err := loadIANAZone(jo.TimeZone)
		if err != nil {
			return nil, err
		}
		j.loc = loc
	}
	if j.errorIf, err = j.addConditions("ErrorIf", jo.ErrorIf); err != nil {
		return nil, err
	}
	if j.unknownIf, err = j.addConditions("UnknownIf", jo.UnknownIf); err != nil {
		return nil, err
	}
	return j, nil
}

// addConditions parses the conditions of one list and appends their paths.
func (j *JSON) addConditions(name string, texts []string) ([]condition, error) {
	if len(texts) > maxConditions {
		return nil, fmt.Errorf("%w: Options.JSON.%s has more than %d conditions", ErrInvalidOptions, name, maxConditions)
	}
	var conds []condition
	for _, text := range texts {
		c, p, err := parseCondition(text)
		if err != nil {
			return nil, fmt.Errorf("%w: Options.JSON.%s %.80q: %v", ErrInvalidOptions, name, text, err)
		}
		c.path = len(j.paths)
		j.paths = append(j.paths, p)
		conds = append(conds, c)
	}
	return conds, nil
}

// parseCondition parses an ErrorIf or UnknownIf entry; the condition's
// path index is left for the caller.
func parseCondition(text string) (condition, jsonPath, error) {
	c := condition{text: text}
	s := text
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		c.absent, s = true, rest
	}
	p, rest, err := parsePathPrefix(s)
	if err == nil && rest != "" {
		if c.absent {
			err = errors.New("'!' and '=' cannot be combined")
		}
		c.equals, c.value = true, rest[1:]
	}
	return c, p, err
}

// CheckJSONPath reports whether path is in the path syntax JSONOptions
// describes: nil, or an error wrapping ErrInvalidOptions that says what is
// wrong and at which byte offset. New checks every path so; configuration
// loading calls it too, to report a bad path at its own line.
func CheckJSONPath(path string) error {
	if _, err := parsePath(path); err != nil {
		return fmt.Errorf("%w: JSON path %.80q: %v", ErrInvalidOptions, path, err)
	}
	return nil
}

// CheckJSONCondition reports whether cond is an ErrorIf or UnknownIf
// condition ("path", "!path" or "path=text"), as CheckJSONPath does for
// paths.
func CheckJSONCondition(cond string) error {
	if _, _, err := parseCondition(cond); err != nil {
		return fmt.Errorf("%w: JSON condition %.80q: %v", ErrInvalidOptions, cond, err)
	}
	return nil
}

// CheckJSONURL reports whether u is a JSONOptions.URL New accepts: an
// absolute http or https URL with {symbol}, and {symbol} and {apikey}
// only in its path and query. Its error never holds u, which may hold a
// key.
func CheckJSONURL(u string) error {
	_, err := parseTemplate(u)
	return err
}

// CheckJSONTimeFormat reports whether format is a JSONOptions.TimeFormat
// New accepts.
func CheckJSONTimeFormat(format string) error {
	switch format {
	case "", "unix", "unixms", "rfc3339":
		return nil
	}
	if !strings.Contains(format, "2006") && !strings.Contains(format, "15") {
		return fmt.Errorf("%w: JSON time format %.40q is not unix, unixms, rfc3339 or a Go time layout", ErrInvalidOptions, format)
	}
	return nil
}

// CheckJSONTimeZone reports whether zone is a JSONOptions.TimeZone New
// accepts: "" or an IANA zone name the system (or Go's embedded copy, when
// the program imports time/tzdata) knows.
func CheckJSONTimeZone(zone string) error {
	if zone == "" {
		return nil
	}
	_, err := loadIANAZone(zone)
	return err
}

// loadIANAZone loads an IANA zone.
func loadIANAZone(zone string) (*time.Location, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("%w: JSON time zone %.40q: unknown zone", ErrInvalidOptions, zone)
	}
	return loc, nil
}

// holds reports whether c holds for the values found.
func (c *condition) holds(vals []jsonValue) bool {
	v := vals[c.path]
	switch {
	case c.absent:
		return !v.present()
	case c.equals:
		return (v.kind == 'n' && c.value == "null") || ((v.kind == 's' || v.kind == 'd' || v.kind == 'b') && v.text == c.value)
	}
	return v.present()
}

// NewRequest builds the GET request for symbol, upper-cased, from the URL
// template. A symbol outside CheckSymbol's syntax is ErrUnknownSymbol.
func (j *JSON) NewRequest(ctx context.Context, symbol string) (*http.Request, error) {
	sym := upperSymbol(symbol)
	if err := checkJSONSymbol(sym); err != nil {
		return nil, j.invalidSymbol(sym, err)
	}
	return j.get(ctx, sym, j.base+j.tmpl.expand(sym, j.apiKey))
}

// Parse reads the answer for symbol from resp as JSONOptions describe it.
// It does not close resp.Body.
func (j *JSON) Parse(symbol string, resp *http.Response) (Quote, error) {
	sym := upperSymbol(symbol)
	if err := checkJSONSymbol(sym); err != nil {
		return Quote{}, j.invalidSymbol(sym, err)
	}
	if err := checkStatus(resp); err != nil {
		if resp.StatusCode == http.StatusNotFound {
			return Quote{}, fmt.Errorf("json %s: %w: %w", sym, ErrUnknownSymbol, err)
		}
		return Quote{}, statusFailure(j.name, sym, resp)
	}
	r, body, err := openBody(j.name, sym, "JSON", resp, j.secrets)
	if err != nil {
		return Quote{}, err
	}
	vals, err := walkJSON(r, j.paths)
	if err != nil {
		return Quote{}, body.fail(j.name, sym, err)
	}
	for i := range j.errorIf {
		if c := &j.errorIf[i]; c.holds(vals) {
			msg := ""
			if v := vals[c.path]; v.kind == 's' {
				msg = ": " + j.secrets.quote(v.text)
			}
			return Quote{}, fmt.Errorf("json %s: %w: %.80q holds%s", sym, ErrUpstream, c.text, msg)
		}
	}
	for i := range j.unknownIf {
		if c := &j.unknownIf[i]; c.holds(vals) {
			return Quote{}, fmt.Errorf("json %s: %w: %.80q holds", sym, ErrUnknownSymbol, c.text)
		}
	}
	return j.quote(sym, vals)
}

// quote turns the values found for sym into its Quote.
func (j *JSON) quote(sym string, vals []jsonValue) (Quote, error) {
	bad := func(f int) error {
		v := vals[f]
		what := v.text
		if v.kind != 's' && v.kind != 'd' {
			what = map[byte]string{'b': "boolean", '{': "object", '[': "array", 'n': "null", 0: "nothing"}[v.kind]
		}
		return fmt.Errorf("json %s: %w: %.80q: %s", sym, ErrMalformed, j.fieldText[f], j.secrets.quote(what))
	}
	if j.paths[jSymbol] != nil {
		v := vals[jSymbol]
		if v.kind != 's' && v.kind != 'd' && v.present() {
			return Quote{}, bad(jSymbol)
		}
		if err := j.checkAnswerSymbol(sym, sym, v.text); err != nil {
			return Quote{}, err
		}
	}
	price, ok := number(vals[jPrice])
	if !ok || price <= 0 {
		return Quote{}, bad(jPrice)
	}
	q := Quote{Symbol: sym, Price: price}
	for _, f := range []struct {
		field int
		dst   *float64
	}{{jChange, &q.Change}, {jChangePct, &q.ChangePct}} {
		v := vals[f.field]
		if !v.present() || isUnknownNumber(v.text) || strings.EqualFold(strings.TrimSpace(v.text), "UNCH") {
			continue
		}
		x, ok := number(v)
		if !ok {
			return Quote{}, bad(f.field)
		}
		*f.dst = x
	}
	if j.fraction {
		q.ChangePct *= 100
	}
	if v := vals[jVolume]; v.present() && !isUnknownNumber(v.text) {
		f, ok := number(v)
		n, fits := roundVolume(f)
		if !ok || !fits {
			return Quote{}, bad(jVolume)
		}
		q.Volume, q.HasVolume = n, true
	}
	if v := vals[jTime]; v.present() && !isUnknownNumber(v.text) {
		t, ok := j.parseTime(v)
		if !ok {
			return Quote{}, bad(jTime)
		}
		q.Time = t
	}
	for _, f := range []struct {
		field int
		dst   *float64
	}{{jOpen, &q.Open}, {jHigh, &q.High}, {jLow, &q.Low}, {jPrevClose, &q.PrevClose}, {jBid, &q.Bid}, {jAsk, &q.Ask}} {
		*f.dst = positive(number(vals[f.field]))
	}
	switch v := vals[jStatus]; v.kind {
	case 's':
		q.MarketStatus = cleanStatus(v.text)
	case 'b':
		q.MarketStatus = map[string]string{"true": "Open", "false": "Closed"}[v.text]
	}
	return q, nil
}

// number reads a JSON number, or a string holding one as nasdaq writes
// them ("$1,267.85", "-0.5%").
func number(v jsonValue) (float64, bool) {
	if v.kind != 's' && v.kind != 'd' {
		return 0, false
	}
	return parseDecimal(cleanNumber(v.text))
}

// parseTime reads the Time value as TimeFormat says.
func (j *JSON) parseTime(v jsonValue) (time.Time, bool) {
	if v.kind != 's' && v.kind != 'd' {
		return time.Time{}, false
	}
	s := strings.TrimSpace(v.text)
	switch j.timeFormat {
	case "unix":
		return parseUnixSeconds(s)
	case "unixms":
		return parseUnixMilli(s)
	case "rfc3339":
		return parseRFC3339(s)
	case "":
		if f, ok := parseDecimal(s); ok {
			if f > 1e11 {
				return parseUnixMilli(s)
			}
			return parseUnixSeconds(s)
		}
		return parseRFC3339(s)
	}
	t, err := time.ParseInLocation(j.timeFormat, s, j.loc)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// urlTemplate is a parsed JSONOptions.URL.
type urlTemplate struct {
	origin  string // scheme://host
	parts   []urlPart
	usesKey bool
}

// urlPart is a literal, or a placeholder with the escaping of its place.
type urlPart struct {
	literal string
	name    string // "symbol" or "apikey" for a placeholder
	query   bool   // the placeholder is in the query
}

// parseTemplate parses a JSONOptions.URL.
func parseTemplate(s string) (*urlTemplate, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: JSON URL %s", ErrInvalidOptions, why)
	}
	if s == "" {
		return nil, bad("is required")
	}
	if len(s) > 2048 || !validHeaderValue(s) {
		return nil, bad("is longer than 2048 bytes or has control characters")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return nil, bad("is not an absolute http or https URL")
	}
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	host := rest[:hostEnd]
	if host == "" || strings.ContainsAny(host, "{}@") {
		return nil, bad("needs a plain host, without placeholders or user info")
	}
	t := &urlTemplate{origin: scheme + "://" + host}
	tail := rest[hostEnd:]
	inQuery := false
	for tail != "" {
		i := strings.IndexByte(tail, '{')
		if i < 0 {
			t.parts = append(t.parts, urlPart{literal: tail})
			break
		}
		lit := tail[:i]
		inQuery = inQuery || strings.Contains(lit, "?")
		t.parts = append(t.parts, urlPart{literal: lit})
		tail = tail[i:]
		var name string
		switch {
		case strings.HasPrefix(tail, "{symbol}"):
			name = "symbol"
		case strings.HasPrefix(tail, "{apikey}"):
			name, t.usesKey = "apikey", true
		default:
			return nil, bad("has a '{' that is not {symbol} or {apikey}")
		}
		t.parts = append(t.parts, urlPart{name: name, query: inQuery})
		tail = tail[len(name)+2:]
	}
	if !slices.ContainsFunc(t.parts, func(p urlPart) bool { return p.name == "symbol" }) {
		return nil, bad("lacks {symbol}")
	}
	if _, err := url.Parse(t.origin + t.expand("X", "X")); err != nil {
		return nil, bad("is not a valid URL")
	}
	return t, nil
}

// expand returns the path and query of the URL for sym and key, each
// escaped for where it stands.
func (t *urlTemplate) expand(sym, key string) string {
	var b strings.Builder
	for _, p := range t.parts {
		v := p.literal
		switch p.name {
		case "symbol":
			v = sym
		case "apikey":
			v = key
		}
		if p.name != "" {
			if p.query {
				v = url.QueryEscape(v)
			} else {
				v = url.PathEscape(v)
			}
		}
		b.WriteString(v)
	}
	return b.String()
}
