package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	quotesrc "github.com/tickerd/tickerd/internal/quote"
)

// NormalizeSymbol returns sym upper-cased if it is in the symbol syntax of
// s.Kind: for KindSim the package's [NormalizeSymbol] syntax, for the
// other kinds the provider's own, as quote.CheckSymbol states it
// (binance BTCUSDT, coinbase BTC-USD, json EUR/USD, ...). Otherwise it
// returns an error wrapping [ErrInvalidSymbol] that says the provider's
// syntax. Parse checks the configured symbols with it; symbols that clients
// ask for at run time must be checked with it too, so that both accept the
// same. It is safe to call from any goroutine, and s.NormalizeSymbol (a
// method value) holds a copy of s.
func (s Source) NormalizeSymbol(sym string) (string, error) {
	n, err := s.normalizeSymbol(sym)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return n, nil
}

// normalizeSymbol is NormalizeSymbol without the package prefix.
func (s Source) normalizeSymbol(sym string) (string, error) {
	if s.Kind == KindSim {
		return normalizeSymbol(sym)
	}
	n, err := quotesrc.NormalizeSymbol(s.Kind, sym)
	if err != nil {
		return "", &detail{sentinel: ErrInvalidSymbol, cause: err}
	}
	return n, nil
}

// QuoteOptions returns the options to build the source with:
// quotesrc.New(s.QuoteKind(), s.QuoteOptions()). BaseURL is s.URL, which is
// "" for the kind's default; for KindSim without a URL the caller sets it
// to its embedded simulator's.
func (s Source) QuoteOptions() *quotesrc.Options {
	return &quotesrc.Options{
		BaseURL:    s.URL,
		UserAgent:  s.UserAgent,
		APIKey:     s.APIKey,
		APISecret:  s.APISecret,
		Headers:    s.Headers,
		AssetClass: s.AssetClass,
		JSON:       s.JSON,
	}
}

// QuoteKind returns the [quote] kind that speaks to s: s.Kind, or
// quotesrc.KindNasdaq for KindSim, whose simulator answers as nasdaq does.
func (s Source) QuoteKind() string {
	if s.Kind == KindSim {
		return quotesrc.KindNasdaq
	}
	return s.Kind
}

// maxConditions bounds source.json.error_if and unknown_if, as quote does.
const maxConditions = 8

// jsonSection decodes source.json into a new JSONOptions, checking every
// path, condition, URL and time setting at its own line with quote's own
// checks; url and price are required.
func jsonSection(dst **quotesrc.JSONOptions) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		jo := &quotesrc.JSONOptions{}
		path := func(p *string) decodeFunc { return str(p, checkQuote(quotesrc.CheckJSONPath)) }
		fields := []field{
			{"url", str(&jo.URL, checkQuote(quotesrc.CheckJSONURL))},
			{"symbol", path(&jo.Symbol)},
			{"price", path(&jo.Price)},
			{"change", path(&jo.Change)},
			{"change_pct", path(&jo.ChangePct)},
			{"percent_is_fraction", boolean(&jo.PercentIsFraction)},
			{"volume", path(&jo.Volume)},
			{"time", path(&jo.Time)},
			{"time_format", str(&jo.TimeFormat, checkQuote(quotesrc.CheckJSONTimeFormat))},
			{"time_zone", str(&jo.TimeZone, checkQuote(quotesrc.CheckJSONTimeZone))},
			{"open", path(&jo.Open)},
			{"high", path(&jo.High)},
			{"low", path(&jo.Low)},
			{"prev_close", path(&jo.PrevClose)},
			{"bid", path(&jo.Bid)},
			{"ask", path(&jo.Ask)},
			{"market_status", path(&jo.MarketStatus)},
			{"error_if", conditions(&jo.ErrorIf)},
			{"unknown_if", conditions(&jo.UnknownIf)},
		}
		if err := d.mapping(n, key, fields); err != nil {
			return err
		}
		for _, req := range []struct{ name, v string }{{"url", jo.URL}, {"price", jo.Price}} {
			if req.v == "" {
				return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: req.name + " is required"})
			}
		}
		*dst = jo
		return nil
	}
}

// checkQuote adapts one of quote's checks to str's.
func checkQuote(check func(string) error) func(string) error {
	return func(s string) error {
		if err := check(s); err != nil {
			return &detail{sentinel: ErrInvalidValue, cause: err}
		}
		return nil
	}
}

// conditions decodes a list of at most maxConditions json conditions, each
// checked at its line.
func conditions(dst *[]string) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		seq := resolve(n)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return d.errAt(n, key, typeErr("list", seq))
		}
		if len(seq.Content) > maxConditions {
			return d.errAt(n, key, &detail{sentinel: ErrInvalidValue, msg: fmt.Sprintf("at most %d conditions", maxConditions)})
		}
		out := make([]string, 0, len(seq.Content))
		for i, e := range seq.Content {
			ek := key + "[" + strconv.Itoa(i) + "]"
			var c string
			if err := str(&c, checkQuote(quotesrc.CheckJSONCondition))(d, e, ek); err != nil {
				return err
			}
			out = append(out, c)
		}
		*dst = out
		return nil
	}
}

// symbolEntry is one entry of the symbols list, kept for the checks that
// need the whole file (the source kind may come after the list).
type symbolEntry struct {
	node       *yaml.Node // the entry, for its line
	key        string     // symbols[i]
	symbol     string     // as written
	assetClass string     // "" unless given
	classNode  *yaml.Node // the assetclass value; nil unless given
}

// symbols decodes a non-empty list of symbols, each a string or a mapping
// {symbol: SPY, assetclass: etf}. Their syntax depends on the source kind,
// so d.checkSymbols checks them once the whole file is read.
func symbols(dst *[]string) decodeFunc {
	return func(d *decoder, n *yaml.Node, key string) error {
		seq := resolve(n)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			return d.errAt(n, key, typeErr("list", seq))
		}
		if len(seq.Content) == 0 {
			return d.errAt(n, key, &detail{sentinel: ErrNoSymbols, msg: "no symbols: list at least one"})
		}
		entries := make([]symbolEntry, 0, len(seq.Content))
		for i, e := range seq.Content {
			ent := symbolEntry{node: e, key: key + "[" + strconv.Itoa(i) + "]"}
			if e.Kind == yaml.MappingNode { // not an alias to one, whose errors would be at another line
				var symNode *yaml.Node
				fields := []field{
					{"symbol", func(d *decoder, n *yaml.Node, key string) error {
						symNode = n
						return str(&ent.symbol, nil)(d, n, key)
					}},
					{"assetclass", func(d *decoder, n *yaml.Node, key string) error {
						ent.classNode = n
						return str(&ent.assetClass, checkAssetClass)(d, n, key)
					}},
				}
				if err := d.mapping(e, ent.key, fields); err != nil {
					return err
				}
				if symNode == nil {
					return d.errAt(e, ent.key, &detail{sentinel: ErrInvalidSymbol, msg: "symbol is required, as in {symbol: SPY, assetclass: etf}"})
				}
				ent.node = symNode
			} else if err := str(&ent.symbol, nil)(d, e, ent.key); err != nil {
				return d.errAt(e, ent.key, typeErr("string or {symbol: ..., assetclass: ...}", resolve(e)))
			}
			entries = append(entries, ent)
		}
		d.symbols, d.symbolsDst = entries, dst
		return nil
	}
}

func checkAssetClass(s string) error {
	if err := quotesrc.CheckAssetClass(s); err != nil {
		return &detail{sentinel: ErrInvalidValue, cause: err}
	}
	return nil
}

// checkSymbols checks the symbols list against the source kind now that
// both are read, and stores it and the asset classes in cfg.
func (d *decoder) checkSymbols(cfg *Config) error {
	src := &cfg.Source
	if d.symbolsDst == nil {
		// The list is not in the file: Default's, which may not be in the
		// kind's syntax.
		for _, sym := range cfg.Symbols {
			if _, err := src.normalizeSymbol(sym); err != nil {
				n, k := d.sourceKey("source.kind")
				return d.errAt(n, k, &detail{sentinel: ErrInvalidSymbol,
					msg: "the default symbols are not all " + src.Kind + " symbols: list the symbols to collect", cause: err})
			}
		}
		return nil
	}
	out := make([]string, 0, len(d.symbols))
	seen := make(map[string]int, len(d.symbols)) // symbol -> index
	var classes map[string]string
	for i, e := range d.symbols {
		sym, err := src.normalizeSymbol(e.symbol)
		if err != nil {
			return d.errAt(e.node, e.key, err)
		}
		if j, dup := seen[sym]; dup {
			return d.errAt(e.node, e.key, &detail{sentinel: ErrDuplicateSymbol, msg: fmt.Sprintf("duplicate symbol %s, already listed as symbols[%d]", quote(sym), j)})
		}
		seen[sym] = i
		out = append(out, sym)
		if e.classNode == nil {
			continue
		}
		if src.Kind != KindNasdaq && src.Kind != KindSim {
			return d.errAt(e.classNode, e.key+".assetclass", &detail{sentinel: ErrInvalidValue,
				msg: "assetclass is for source kind nasdaq (and sim, which answers as nasdaq), not " + src.Kind})
		}
		if classes == nil {
			classes = make(map[string]string)
		}
		classes[sym] = e.assetClass
	}
	*d.symbolsDst = out
	src.AssetClass = classes
	return nil
}

// checkSource checks what no single key of the source section can: the
// keys a kind needs, the json section with kind json only, and then
// everything quotesrc.New checks, so that a loaded Config always builds its
// source. Errors are at the line of source.kind, or of the key concerned.
func (d *decoder) checkSource(cfg *Config) error {
	s := &cfg.Source
	fail := func(key, msg string) error {
		n, k := d.sourceKey(key)
		return d.errAt(n, k, &detail{sentinel: ErrInvalidValue, msg: msg})
	}
	switch {
	case s.Kind == KindJSON && s.JSON == nil:
		return fail("source.kind", "source kind json needs a source.json section (url, price, ...)")
	case s.Kind != KindJSON && s.JSON != nil:
		return fail("source.json", "source.json is for source kind json, not "+s.Kind)
	case (s.Kind == KindFinnhub || s.Kind == KindAlpaca) && s.APIKey == "":
		return fail("source.kind", "source kind "+s.Kind+" needs api_key_file (or api_key)")
	case s.Kind == KindAlpaca && s.APISecret == "":
		return fail("source.kind", "source kind alpaca needs api_secret_file (or api_secret)")
	case s.Kind == KindJSON && s.APIKey == "" && strings.Contains(s.JSON.URL, "{apikey}"):
		return fail("source.json.url", "the url uses {apikey}: set api_key_file (or api_key)")
	}
	if _, err := quotesrc.New(s.QuoteKind(), s.QuoteOptions()); err != nil {
		n, k := d.sourceKey("source.kind")
		return d.errAt(n, k, &detail{sentinel: ErrInvalidValue, cause: err})
	}
	return nil
}

// sourceKey returns the key node of key, else of source.kind, else of
// source, with its dotted path, for an error about the source section;
// line 1 when the file has none of them (a Default source always builds,
// so that is not expected).
func (d *decoder) sourceKey(key string) (*yaml.Node, string) {
	for _, k := range []string{key, "source.kind", "source"} {
		if n := d.keys[k]; n != nil {
			return n, k
		}
	}
	return &yaml.Node{Line: 1}, "source"
}
