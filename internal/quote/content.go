package quote

import (
	"bufio"
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// mediaType returns resp's Content-Type without parameters, lower case; ""
// when there is none.
func mediaType(resp *http.Response) string {
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// isPageType reports whether mt is a type that carries a page for people
// (or a document format no quote source speaks) rather than data.
func isPageType(mt string) bool {
	switch mt {
	case "text/html", "application/xhtml+xml", "text/xml", "application/xml":
		return true
	}
	for _, p := range []string{"image/", "audio/", "video/", "font/"} {
		if strings.HasPrefix(mt, p) {
			return true
		}
	}
	return false
}

// sniffLen is how many bytes of a body are looked at to tell markup from
// data, and the buffer of the reader that does it.
const sniffLen = 512

// openBody checks resp's Content-Type and the start of its body against
// format ("JSON" or "CSV") and returns the limited body to parse and the
// limiter (for its read error). A page type, a JSON answer to a CSV source
// or the other way round, or a body whose first non-space byte is '<',
// wraps ErrNotQuote: such answers are block, challenge and login pages, and
// deserve a clearer word than "malformed".
func openBody(name, sym, format string, resp *http.Response, sec secrets) (*bufio.Reader, *bodyLimiter, error) {
	mt := mediaType(resp)
	wrongType := isPageType(mt) ||
		(format == "JSON" && mt == "text/csv") ||
		(format == "CSV" && (mt == "application/json" || strings.HasSuffix(mt, "+json")))
	if wrongType {
		return nil, nil, fmt.Errorf("%s %s: answered %s, not %s (a block or challenge page?): %w", name, sym, sec.redact(mt), format, ErrNotQuote)
	}
	body := resp.Body
	if body == nil {
		body = http.NoBody
	}
	lim := newBodyLimiter(body, sec)
	br := bufio.NewReaderSize(lim, sniffLen)
	if firstByte(br) == '<' {
		return nil, nil, fmt.Errorf("%s %s: answered markup %s, not %s (a block or challenge page?): %w",
			name, sym, sec.quote(firstLine(br)), format, ErrNotQuote)
	}
	return br, lim, nil
}

// firstLine returns the first non-blank line of what br holds buffered,
// without reading more.
func firstLine(br *bufio.Reader) string {
	b, _ := br.Peek(br.Buffered())
	b = bytes.TrimLeft(b, " \t\r\n")
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// firstByte returns the first byte of br that is not white space, among
// the first sniffLen, without consuming anything; 0 when there is none
// (an empty, blank or failing body, which the parser then reports).
func firstByte(br *bufio.Reader) byte {
	for n := 1; n <= sniffLen; n++ {
		b, err := br.Peek(n)
		if len(b) < n || err != nil {
			return 0
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}
