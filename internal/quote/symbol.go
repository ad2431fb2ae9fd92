package quote

import (
	"errors"
	"fmt"
	"strings"
)

// checkChars checks that sym (already upper case) is 1 to max ASCII
// letters, digits or bytes of extra.
func checkChars(sym string, max int, extra string) error {
	if sym == "" || len(sym) > max {
		return fmt.Errorf("want 1 to %d characters", max)
	}
	for i := 0; i < len(sym); i++ {
		c := sym[i]
		if ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte(extra, c) >= 0 {
			continue
		}
		return fmt.Errorf("character %q not allowed, want letters, digits or %q", c, extra)
	}
	if sym == "." || sym == ".." {
		return errors.New("not a symbol")
	}
	return nil
}

func checkNasdaqSymbol(sym string) error  { return checkChars(sym, 20, ".-^/") }
func checkStooqSymbol(sym string) error   { return checkChars(sym, 20, ".-") }
func checkBinanceSymbol(sym string) error { return checkChars(sym, 20, ".-_") }
func checkFinnhubSymbol(sym string) error { return checkChars(sym, 20, ".-^/:=_") }
func checkJSONSymbol(sym string) error    { return checkChars(sym, 32, ".-^/:=_") }

// checkCoinbaseSymbol checks a product id: BASE-QUOTE.
func checkCoinbaseSymbol(sym string) error {
	base, quote, ok := strings.Cut(sym, "-")
	if !ok || checkChars(base, 10, "") != nil || checkChars(quote, 10, "") != nil {
		return errors.New("want a product id BASE-QUOTE such as BTC-USD")
	}
	return nil
}

// checkAlpacaSymbol checks a US stock symbol as alpaca writes it (BRK.B).
func checkAlpacaSymbol(sym string) error {
	if err := checkChars(sym, 12, "."); err != nil {
		return err
	}
	if c := sym[0]; c < 'A' || c > 'Z' {
		return errors.New("want a symbol starting with a letter")
	}
	return nil
}
