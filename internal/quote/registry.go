package quote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The source kinds New builds.
const (
	KindNasdaq   = "nasdaq"   // api.nasdaq.com quote info (keyless)
	KindStooq    = "stooq"    // stooq.com CSV quotes (keyless)
	KindCoinbase = "coinbase" // Coinbase Exchange product ticker (keyless)
	KindBinance  = "binance"  // Binance spot 24 h ticker (keyless)
	KindFinnhub  = "finnhub"  // Finnhub quote (APIKey)
	KindAlpaca   = "alpaca"   // Alpaca market data snapshot (APIKey and APISecret)
	KindJSON     = "json"     // any JSON quote API, described by Options.JSON
)

// Errors from New and CheckSymbol, wrapped with detail; test for them with
// errors.Is. Their messages name the Options field (Options.APIKey,
// Options.JSON.Price, ...) and never contain a key, secret or header value.
var (
	// ErrInvalidOptions means New cannot build the kind from the Options:
	// an unknown kind, a missing key, a bad URL, header or JSON path.
	ErrInvalidOptions = errors.New("quote: invalid source options")
	// ErrInvalidSymbol means a symbol is not in the kind's symbol syntax.
	ErrInvalidSymbol = errors.New("quote: invalid symbol")
)

// Options configure a Source built by New. A nil *Options means defaults,
// which is enough for the keyless kinds. Options are read by New only; the
// Source keeps its own copies.
type Options struct {
	// BaseURL is the scheme and host (and optional path prefix) requests
	// go to; "" means the kind's default (see BaseURL). For the json kind
	// it replaces the scheme and host of JSON.URL.
	BaseURL string
	// UserAgent is sent as User-Agent; "" means a desktop Chrome's for
	// nasdaq and stooq (which stall other clients), and tickerd's own for
	// the API kinds.
	UserAgent string
	// APIKey is the finnhub token (sent as the token query parameter),
	// the alpaca key id (APCA-API-KEY-ID), and {apikey} in the json kind's
	// URL and in header values. It never appears in errors.
	APIKey string
	// APISecret is the alpaca secret key (APCA-API-SECRET-KEY) and
	// {apisecret} in header values. It never appears in errors.
	APISecret string
	// Headers are extra request headers, set after (and so overriding) the
	// kind's own. Values may use {apikey} and {apisecret}. Values of 8
	// bytes or more are treated as secrets: they never appear in errors.
	Headers map[string]string
	// AssetClass maps a symbol (any case) to the nasdaq assetclass to ask
	// it with: "stocks" (the default for every symbol not listed), "etf",
	// "index" or "mutualfunds". www.nasdaq.com asks ETFs as etf and funds
	// as mutualfunds, and the stocks class may answer them with its
	// not-found code (1001), so list ETFs, indexes and funds here. Other
	// kinds reject a non-empty AssetClass.
	AssetClass map[string]string
	// JSON describes the json kind's API; required for that kind and
	// rejected by the others.
	JSON *JSONOptions
}

// kind is one entry of the registry.
type kind struct {
	defaultURL string                           // BaseURL when Options.BaseURL is ""; "" for json
	check      func(sym string) error           // the symbol syntax; nil error when valid
	build      func(o *Options) (Source, error) // o is never nil and has been checked by checkCommon
}

// kinds is the registry New, CheckSymbol and BaseURL read; it is never
// written after init.
var kinds = map[string]kind{
	KindNasdaq:   {NasdaqURL, checkNasdaqSymbol, build(newNasdaq)},
	KindStooq:    {StooqURL, checkStooqSymbol, func(o *Options) (Source, error) { return newStooq(o), nil }},
	KindCoinbase: {CoinbaseURL, checkCoinbaseSymbol, build(newCoinbase)},
	KindBinance:  {BinanceURL, checkBinanceSymbol, build(newBinance)},
	KindFinnhub:  {FinnhubURL, checkFinnhubSymbol, build(newFinnhub)},
	KindAlpaca:   {AlpacaURL, checkAlpacaSymbol, build(newAlpaca)},
	KindJSON:     {"", checkJSONSymbol, build(newJSON)},
}

// build adapts a constructor of a concrete Source to the registry, so a
// failed construction is a nil Source, not a typed nil.
func build[T Source](newT func(*Options) (T, error)) func(*Options) (Source, error) {
	return func(o *Options) (Source, error) {
		src, err := newT(o)
		if err != nil {
			return nil, err
		}
		return src, nil
	}
}

// Kinds returns the names of the kinds New builds, sorted.
func Kinds() []string {
	names := make([]string, 0, len(kinds))
	for name := range kinds {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// New builds the Source of the named kind from o. It does no I/O, so
// config loading can call it to validate a configuration; its errors wrap
// ErrInvalidOptions. The Source returned is safe for concurrent use.
func New(kindName string, o *Options) (Source, error) {
	k, ok := kinds[kindName]
	if !ok {
		return nil, fmt.Errorf("%w: unknown source kind %q, want one of %s", ErrInvalidOptions, kindName, strings.Join(Kinds(), ", "))
	}
	if o == nil {
		o = &Options{}
	}
	if err := checkCommon(kindName, o); err != nil {
		return nil, err
	}
	return k.build(o)
}

// CheckSymbol reports whether sym is in the symbol syntax of the named kind
// (case does not matter: every source upper-cases): nil, or an error
// wrapping ErrInvalidSymbol that says the kind's syntax with an example
// (or ErrInvalidOptions for an unknown kind). The syntaxes:
//
//   - nasdaq, finnhub: 1 to 20 ASCII letters, digits and . - ^ / (finnhub
//     also : = _ for exchange-prefixed and foreign symbols);
//   - stooq: 1 to 20 ASCII letters, digits and . - (".us" is appended);
//   - coinbase: a product id, BASE-QUOTE, each 1 to 10 letters or digits
//     ("BTC-USD");
//   - binance: 1 to 20 letters and digits, base and quote joined
//     ("BTCUSDT");
//   - alpaca: a US stock, 1 to 12 letters, digits and '.', starting with
//     a letter ("BRK.B");
//   - json: 1 to 32 ASCII letters, digits and . - ^ / : = _ ("EUR/USD").
//
// It is safe to call from any goroutine; configuration loading and the
// checks of symbols that websocket clients ask for both call it (through
// NormalizeSymbol), so that both accept the same symbols.
func CheckSymbol(kindName, sym string) error {
	_, err := NormalizeSymbol(kindName, sym)
	return err
}

// NormalizeSymbol returns sym upper-cased, the form every Source asks for
// and names its Quotes with, if CheckSymbol accepts it; otherwise
// CheckSymbol's error. Only ASCII symbols are accepted, checked before any
// case mapping.
func NormalizeSymbol(kindName, sym string) (string, error) {
	k, ok := kinds[kindName]
	if !ok {
		return "", fmt.Errorf("%w: unknown source kind %q", ErrInvalidOptions, kindName)
	}
	upper, ok := upperASCII(sym)
	var err error
	if !ok {
		err = errors.New("want ASCII only")
	} else {
		err = k.check(upper)
	}
	if err != nil {
		return "", &SymbolError{Symbol: sym, Kind: kindName, Reason: err.Error()}
	}
	return upper, nil
}

// SymbolError is NormalizeSymbol's (and CheckSymbol's) error for a
// symbol not in its kind's syntax. It wraps ErrInvalidSymbol; Reason says
// the kind's syntax with an example, in words a client can be shown
// ("want a Binance pair, base and quote joined without separator, such as
// BTCUSDT").
type SymbolError struct {
	Symbol string // as given
	Kind   string // the source kind
	Reason string
}

func (e *SymbolError) Error() string {
	return fmt.Sprintf("%v %.40q for %s: %s", ErrInvalidSymbol, e.Symbol, e.Kind, e.Reason)
}

// Unwrap returns ErrInvalidSymbol.
func (e *SymbolError) Unwrap() error { return ErrInvalidSymbol }

// BaseURL returns the URL a Source built by New(kind, o) sends its
// requests to, for the caller's connection: o.BaseURL, else the kind's
// default (for json, the scheme and host of o.JSON.URL).
func BaseURL(kindName string, o *Options) (string, error) {
	k, ok := kinds[kindName]
	if !ok {
		return "", fmt.Errorf("%w: unknown source kind %q", ErrInvalidOptions, kindName)
	}
	if o != nil && o.BaseURL != "" {
		return o.BaseURL, nil
	}
	if kindName == KindJSON {
		if o == nil || o.JSON == nil {
			return "", fmt.Errorf("%w: json needs Options.JSON", ErrInvalidOptions)
		}
		t, err := parseTemplate(o.JSON.URL)
		if err != nil {
			return "", err
		}
		return t.origin, nil
	}
	return k.defaultURL, nil
}

// checkCommon checks the Options every kind reads.
func checkCommon(kindName string, o *Options) error {
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			// Without the value, which could hold a credential.
			return fmt.Errorf("%w: Options.BaseURL is not an absolute http or https URL without query or fragment", ErrInvalidOptions)
		}
	}
	if !validHeaderValue(o.UserAgent) {
		return fmt.Errorf("%w: Options.UserAgent has a character not allowed in a header", ErrInvalidOptions)
	}
	for name := range o.Headers {
		if !validHeaderName(name) {
			return fmt.Errorf("%w: Options.Headers: %.40q is not a header name", ErrInvalidOptions, name)
		}
		if v := substitute(o.Headers[name], o); !validHeaderValue(v) {
			return fmt.Errorf("%w: Options.Headers[%q]: value has a character not allowed in a header", ErrInvalidOptions, name)
		}
	}
	if !validHeaderValue(o.APIKey) || !validHeaderValue(o.APISecret) {
		return fmt.Errorf("%w: Options.APIKey or APISecret has a character not allowed in a header", ErrInvalidOptions)
	}
	if len(o.AssetClass) > 0 && kindName != KindNasdaq {
		return fmt.Errorf("%w: Options.AssetClass is for nasdaq, not %s", ErrInvalidOptions, kindName)
	}
	if o.JSON != nil && kindName != KindJSON {
		return fmt.Errorf("%w: Options.JSON is for the json kind, not %s", ErrInvalidOptions, kindName)
	}
	return nil
}

// substitute replaces {apikey} and {apisecret} in a header value.
func substitute(v string, o *Options) string {
	if !strings.Contains(v, "{") {
		return v
	}
	return strings.NewReplacer("{apikey}", o.APIKey, "{apisecret}", o.APISecret).Replace(v)
}

// apiUserAgent is the User-Agent of the API kinds when none is configured.
const apiUserAgent = "tickerd (+https://github.com/tickerd/tickerd)"

// common is what every Source built from Options shares. It is immutable
// after construction.
type common struct {
	name    string      // the kind, prefixing every error
	base    string      // without trailing slash
	header  http.Header // sent with every request; cloned, never written
	secrets secrets     // what no error may contain
}

// newCommon builds the shared part of a name source from o: the base URL,
// User-Agent (ua when o has none), the kind's own headers, then o.Headers.
func newCommon(name, defaultURL, ua string, own http.Header, o *Options) common {
	c := common{name: name, base: strings.TrimRight(defaultURL, "/"), header: http.Header{}}
	if o.BaseURL != "" {
		c.base = strings.TrimRight(o.BaseURL, "/")
	}
	if o.UserAgent != "" {
		ua = o.UserAgent
	}
	c.header.Set("User-Agent", ua)
	for k, v := range own {
		c.header[k] = v
	}
	c.secrets.add(o.APIKey, 1)
	c.secrets.add(o.APISecret, 1)
	for k, v := range o.Headers {
		v = substitute(v, o)
		c.header.Set(k, v)
		c.secrets.add(v, minSecret)
	}
	return c
}

// get builds the GET request for u with the source's headers. Its error
// never holds u, which may carry a key.
func (c *common) get(ctx context.Context, sym, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return nil, fmt.Errorf("%s %s: build request: invalid URL", c.name, sym)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: build request: %s", c.name, sym, c.secrets.redact(err.Error()))
	}
	req.Header = c.header.Clone()
	return req, nil
}

// invalidSymbol is NewRequest's error for a symbol outside the kind's
// syntax: the upstream cannot know it.
func (c *common) invalidSymbol(sym string, err error) error {
	return fmt.Errorf("%s %.40q: %w: %w: %v", c.name, sym, ErrUnknownSymbol, ErrInvalidSymbol, err)
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s can be sent as a header value: no
// control characters but tab, so no CR or LF to split the header.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// checkAnswerSymbol checks the symbol an answer for sym names, got,
// against want, the source's spelling of sym (case does not matter): no
// symbol is ErrMalformed, another is ErrWrongSymbol.
func (c *common) checkAnswerSymbol(sym, want, got string) error {
	switch {
	case got == "":
		return fmt.Errorf("%s %s: %w: answer names no symbol", c.name, sym, ErrMalformed)
	case !strings.EqualFold(got, want):
		return fmt.Errorf("%s %s: %w: answer names %s", c.name, sym, ErrWrongSymbol, c.secrets.quote(got))
	}
	return nil
}
