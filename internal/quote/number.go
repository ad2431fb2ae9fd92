package quote

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// parseDecimal parses a plain decimal such as "-12.5" or "1.5e-3". Unlike
// strconv.ParseFloat it refuses "NaN", "Inf", hex and underscores, and any
// result that is not finite.
func parseDecimal(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// cleanNumber strips the decoration a quote page puts around a number:
// spaces, "$", thousands commas and "%". "-$1,270.50%" becomes "-1270.50".
func cleanNumber(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '$', ',', '%', ' ', '\t':
			return -1
		}
		return r
	}, s)
}

// isUnknownNumber reports whether s is one of the ways a source says it has
// no number: "", "N/A", "NA", "--", "-".
func isUnknownNumber(s string) bool {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "", "N/A", "NA", "--", "-":
		return true
	}
	return false
}

// optionalPrice reads an optional price written as text ("$1,267.85",
// "N/A"): the price when it is finite and > 0, else 0 (unknown).
func optionalPrice(s string) float64 {
	f, ok := parseDecimal(cleanNumber(s))
	return positive(f, ok)
}

// positive returns f when ok and f is finite and > 0, else 0.
func positive(f float64, ok bool) float64 {
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return 0
	}
	return f
}

// roundVolume turns a volume given as a decimal (crypto volumes are
// fractional) into whole units, rounding to nearest; false when it is
// negative or does not fit an int64.
func roundVolume(f float64) (int64, bool) {
	if math.IsNaN(f) || f < 0 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(math.Round(f)), true
}

// cleanStatus makes a source's market status fit Quote.MarketStatus:
// trimmed, control characters and invalid UTF-8 dropped, cut to
// MaxMarketStatus bytes on a rune boundary.
func cleanStatus(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
	if len(s) > MaxMarketStatus {
		cut := MaxMarketStatus
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s
}
