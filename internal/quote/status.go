package quote

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// newStatusError returns the *StatusError for resp's non-2xx status, with
// the Retry-After it carries when the status is one that asks clients to
// wait.
func newStatusError(resp *http.Response) *StatusError {
	se := &StatusError{Code: resp.StatusCode}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusTeapot:
		se.RetryAfter, se.RetryAt = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return se
}

// checkStatus returns a *StatusError for a non-2xx resp.
func checkStatus(resp *http.Response) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newStatusError(resp)
	}
	return nil
}

// statusFailure is the error for a non-2xx resp that the source does not
// read further: the *StatusError, with a hint when the answer is a page.
func statusFailure(name, sym string, resp *http.Response) error {
	se := newStatusError(resp)
	if ct := mediaType(resp); isPageType(ct) {
		return fmt.Errorf("%s %s: %w (%s: a block or challenge page?)", name, sym, se, ct)
	}
	return fmt.Errorf("%s %s: %w", name, sym, se)
}

// parseRetryAfter reads a Retry-After value (RFC 9110, section 10.2.3):
// delta-seconds give a relative wait, capped at MaxRetryAfter; an HTTP-date
// gives an absolute time. Anything else, and "0", gives neither.
func parseRetryAfter(v string) (time.Duration, time.Time) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, time.Time{}
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, time.Time{} // err is only ever an overflow here
		}
		return time.Duration(n) * time.Second, time.Time{}
	}
	if t, err := http.ParseTime(v); err == nil {
		return 0, t
	}
	return 0, time.Time{}
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
