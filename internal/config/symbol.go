package config

import (
	"fmt"
	"strconv"
)

// MaxSymbolLen is the longest symbol [NormalizeSymbol] accepts, in bytes.
const MaxSymbolLen = 12

// NormalizeSymbol returns s upper-cased if it is a valid symbol: 1 to
// [MaxSymbolLen] ASCII letters, digits, '.', '-' or '^' ("aapl" -> "AAPL",
// "brk.b" -> "BRK.B", "^gspc" -> "^GSPC"). Otherwise it returns an error
// wrapping [ErrInvalidSymbol] that quotes s. It never trims or otherwise
// rewrites s. It is safe to call from any goroutine.
//
// This is the syntax of the sim kind; the other kinds have their
// provider's, which [Source.NormalizeSymbol] checks: check symbols with
// cfg.Source.NormalizeSymbol to accept what the configured source serves.
func NormalizeSymbol(s string) (string, error) {
	n, err := normalizeSymbol(s)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return n, nil
}

// normalizeSymbol is NormalizeSymbol with an error message that lacks the
// package prefix, for use inside an *Error.
func normalizeSymbol(s string) (string, error) {
	if len(s) == 0 || len(s) > MaxSymbolLen {
		return "", &detail{sentinel: ErrInvalidSymbol, msg: "invalid symbol " + quote(s) + ": want 1 to " + strconv.Itoa(MaxSymbolLen) + " characters"}
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '^':
		default:
			// Checked byte by byte, before any case mapping, so that
			// non-ASCII letters such as 'ſ' cannot upper-case to ASCII.
			return "", &detail{sentinel: ErrInvalidSymbol, msg: "invalid symbol " + quote(s)}
		}
	}
	return string(b), nil
}

// quote returns s quoted for an error message, shortened if long.
func quote(s string) string {
	const maxLen = 40
	if len(s) > maxLen {
		// Cut on a rune boundary so the quoted form stays readable.
		cut := maxLen
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}
