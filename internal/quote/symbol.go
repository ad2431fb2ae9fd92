package quote

import (
	"errors"
	"fmt"
	"strings"
)

// checkChars checks that sym (already upper case) is 1 to max ASCII
// letters, digits or bytes of extra; want describes the kind's syntax with
// an example, for the error.
func checkChars(sym string, max int, extra, want string) error {
	if sym == "" || len(sym) > max {
		return fmt.Errorf("want 1 to %d characters: %s", max, want)
	}
	for i := 0; i < len(sym); i++ {
		c := sym[i]
		if ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte(extra, c) >= 0 {
			continue
		}
		return fmt.Errorf("character %q not allowed: %s", c, want)
	}
	if sym == "." || sym == ".." {
		return errors.New("not a symbol")
	}
	return nil
}

// The syntax of each kind, as said in errors.
const (
	nasdaqSyntax   = "want letters, digits or . - ^ / such as AAPL, BRK.B or ^GSPC"
	stooqSyntax    = "want a US symbol of letters, digits, '.' or '-' such as AAPL or BRK-B"
	coinbaseSyntax = "want a Coinbase product id BASE-QUOTE such as BTC-USD"
	binanceSyntax  = "want a Binance pair, base and quote joined without separator, such as BTCUSDT"
	finnhubSyntax  = "want letters, digits or . - ^ / : = _ such as AAPL, BINANCE:BTCUSDT or OANDA:EUR_USD"
	alpacaSyntax   = "want a US stock symbol starting with a letter, letters, digits or '.', such as AAPL or BRK.B"
	jsonSyntax     = "want letters, digits or . - ^ / : = _ such as AAPL, BTC-USD or EUR/USD"
)

func checkNasdaqSymbol(sym string) error  { return checkChars(sym, 20, ".-^/", nasdaqSyntax) }
func checkStooqSymbol(sym string) error   { return checkChars(sym, 20, ".-", stooqSyntax) }
func checkFinnhubSymbol(sym string) error { return checkChars(sym, 20, ".-^/:=_", finnhubSyntax) }
func checkJSONSymbol(sym string) error    { return checkChars(sym, 32, ".-^/:=_", jsonSyntax) }

// checkBinanceSymbol checks a spot pair as Binance writes it: base and
// quote asset joined (BTCUSDT). The API documents the wider pattern
// ^[A-Z0-9-_.]{1,20}$ for all its products, but no spot pair holds a
// separator, so one (BTC-USD, BTC_USDT) is another provider's spelling.
func checkBinanceSymbol(sym string) error { return checkChars(sym, 20, "", binanceSyntax) }

// checkCoinbaseSymbol checks a product id: BASE-QUOTE.
func checkCoinbaseSymbol(sym string) error {
	base, quote, ok := strings.Cut(sym, "-")
	if !ok || checkChars(base, 10, "", "") != nil || checkChars(quote, 10, "", "") != nil {
		return errors.New(coinbaseSyntax)
	}
	return nil
}

// checkAlpacaSymbol checks a US stock symbol as alpaca writes it (BRK.B).
func checkAlpacaSymbol(sym string) error {
	if err := checkChars(sym, 12, ".", alpacaSyntax); err != nil {
		return err
	}
	if c := sym[0]; c < 'A' || c > 'Z' {
		return errors.New(alpacaSyntax)
	}
	return nil
}

// upperASCII returns s upper-cased if it is all ASCII; ok is false when it
// is not, so that no non-ASCII letter ('ſ', 'K' KELVIN SIGN) can
// upper-case to an ASCII one and pass for another symbol.
func upperASCII(s string) (upper string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", false
		}
	}
	return strings.ToUpper(s), true
}

// upperSymbol returns symbol upper-cased for a source's check and request:
// an ASCII symbol upper-cased, any other as it is, so that the check
// rejects it instead of seeing what strings.ToUpper maps it to.
func upperSymbol(symbol string) string {
	if upper, ok := upperASCII(symbol); ok {
		return upper
	}
	return symbol
}
