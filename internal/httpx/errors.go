package httpx

import (
	"errors"
	"fmt"
)

var (
	// ErrClientClosed is returned by Client.Do once Close or Shutdown has
	// begun, and to requests that were queued but never written when it did.
	ErrClientClosed = errors.New("httpx: client closed")

	// ErrWrongOrigin is returned by Client.Do for a request whose URL names
	// another scheme or host than the client's origin.
	ErrWrongOrigin = errors.New("httpx: request for another origin")

	// ErrResponseTimeout is the cause of a connection reset because a
	// response head did not arrive within Options.ResponseTimeout.
	ErrResponseTimeout = errors.New("httpx: response timeout")

	// ErrDrainLimit is the cause of a connection reset because a response
	// body closed early had more than Options.DrainLimit bytes left.
	ErrDrainLimit = errors.New("httpx: unread body over drain limit")

	// ErrUnavailable wraps the last dial error while the client backs off
	// before dialling again: requests fail fast instead of queueing.
	ErrUnavailable = errors.New("httpx: quote source unavailable")
)

// ConnError reports a request that failed because its connection failed.
// Processed tells whether the server may have processed the request: false
// means it certainly did not (it was never fully written, or the dial
// failed), so sending it again is safe whatever its method.
type ConnError struct {
	Op        string // "dial", "write" or "read"
	Processed bool   // the server may have processed the request
	Retried   bool   // the request had already been retried once
	Err       error
}

func (e *ConnError) Error() string {
	s := fmt.Sprintf("httpx: %s: %v", e.Op, e.Err)
	if e.Processed {
		s += " (request may have been processed)"
	}
	return s
}

func (e *ConnError) Unwrap() error { return e.Err }
