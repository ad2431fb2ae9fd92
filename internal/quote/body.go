package quote

import (
	"errors"
	"fmt"
	"io"
)

// MaxBody is the most bytes a Source reads from one response body; a longer
// body fails with ErrTooLarge.
const MaxBody = 1 << 20

// errBodyTooLarge is what a bodyLimiter's Read returns past MaxBody.
var errBodyTooLarge = fmt.Errorf("%w: body over %d bytes", ErrTooLarge, MaxBody)

// bodyLimiter hands out at most MaxBody bytes of a body and fails with
// errBodyTooLarge once the body turns out to hold more: it reads MaxBody+1
// bytes to tell "exactly MaxBody" from "more". It remembers the first read
// error other than io.EOF so a parser can tell a broken or oversized body
// from a malformed one. Not safe for concurrent use.
type bodyLimiter struct {
	r   io.Reader // io.LimitReader(body, MaxBody+1)
	n   int64     // bytes read from r so far
	err error     // first read error other than io.EOF
	sec secrets   // redacted from the decoder's error by fail
}

// newBodyLimiter limits body; sec are the secrets fail keeps out of its
// error (a decoder's message may quote the body, and a body may echo them).
func newBodyLimiter(body io.Reader, sec secrets) *bodyLimiter {
	return &bodyLimiter{r: io.LimitReader(body, MaxBody+1), sec: sec}
}

// Read implements io.Reader.
func (l *bodyLimiter) Read(p []byte) (int, error) {
	if l.n > MaxBody {
		return 0, errBodyTooLarge
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > MaxBody {
		l.err = errBodyTooLarge
		return n - int(l.n-MaxBody), errBodyTooLarge
	}
	if err != nil && !errors.Is(err, io.EOF) && l.err == nil {
		l.err = err
	}
	return n, err
}

// fail turns a decoder's error into the parser's: the body's own read error
// when there was one (ErrTooLarge, a broken connection), else ErrMalformed
// with the decoder's detail, its secrets redacted. source and symbol prefix
// the message.
func (l *bodyLimiter) fail(source, symbol string, decodeErr error) error {
	if l.err != nil {
		return fmt.Errorf("%s %s: read body: %w", source, symbol, l.err)
	}
	return fmt.Errorf("%s %s: %w: %s", source, symbol, ErrMalformed, l.sec.redact(decodeErr.Error()))
}
