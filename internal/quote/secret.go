package quote

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxQuoted is the most bytes of upstream text an error message quotes.
const maxQuoted = 80

// minSecret is the shortest extra-header value treated as a secret: shorter
// values ("1", "en") would mangle messages and are no credentials.
const minSecret = 8

// redacted replaces a secret in an error message.
const redacted = "[REDACTED]"

// secrets are the strings no error may contain: API key and secret and the
// values of configured extra headers. Read-only after construction.
type secrets []string

// add adds s unless it is empty (or, for a header value, too short to be a
// credential).
func (sec *secrets) add(s string, min int) {
	if s != "" && len(s) >= min {
		*sec = append(*sec, s)
	}
}

// redact returns text with every secret replaced.
func (sec secrets) redact(text string) string {
	for _, s := range sec {
		text = strings.ReplaceAll(text, s, redacted)
	}
	return text
}

// quote returns upstream text for an error message: secrets redacted first,
// then cut to maxQuoted bytes on a rune boundary, then quoted.
func (sec secrets) quote(text string) string {
	text = sec.redact(text)
	if len(text) <= maxQuoted {
		return strconv.Quote(text)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return strconv.Quote(text[:cut]) + "..."
}
