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

	// ErrResponseTimeout is the cause of a connection reset because the
	// response at the head of the line did not arrive (its head complete,
	// after any 1xx responses) within Options.ResponseTimeout of becoming
	// the head. The request it answers fails with it, without a retry.
	ErrResponseTimeout = errors.New("httpx: response timeout")

	// ErrBodyTimeout is the cause of a connection reset because a response
	// body was not finished (read to its end, or closed and drained) within
	// Options.BodyTimeout of its head. Reads of that body return it.
	ErrBodyTimeout = errors.New("httpx: response body timeout")

	// ErrProtocol is the cause of a connection reset because the server
	// broke the request-response order: bytes arrived with no request
	// outstanding, a request got more 1xx responses than allowed, or a
	// 101 answered a request that did not ask to upgrade.
	ErrProtocol = errors.New("httpx: protocol error")

	// ErrRequestBody is wrapped, with the body's own error, in the
	// *ConnError of a request whose body failed before it was written
	// whole: its Read returned an error, it was shorter than its
	// ContentLength, or its caller gave up while it was being written.
	ErrRequestBody = errors.New("httpx: request body failed")

	// ErrDrainLimit is the cause of a connection reset because a response
	// body closed early had more than Options.DrainLimit bytes left.
	ErrDrainLimit = errors.New("httpx: unread body over drain limit")

	// ErrUnavailable wraps the last dial error while the client backs off
	// before dialling again: requests fail fast instead of queueing.
	ErrUnavailable = errors.New("httpx: quote source unavailable")
)

// ConnError reports a request that failed because it, or its connection,
// failed before it was answered. Its fields say how far the request got,
// which is all a caller needs to decide whether sending it again is safe:
//
//   - never written, or not written whole (Processed false): the server
//     cannot have processed it. This covers dial failures, a connection
//     that failed before the request's last byte went out, and a request
//     whose own body failed (Err wraps ErrRequestBody and the body's
//     error; errors.Is finds both).
//   - written whole but not answered (Processed true): the server may
//     have processed it. This covers a connection that failed after the
//     request went out, a head of the line that did not answer in time
//     (Err is ErrResponseTimeout), and requests the client did not send
//     again (non-idempotent, a body it cannot rewind, or already retried).
//
// A request that was answered never gets a ConnError from Do: its
// response was delivered, and a failure after that is reported by the
// reads of its Body.
type ConnError struct {
	Op        string // "dial", "write" or "read": where the failure happened
	Processed bool   // the whole request was written: the server may have processed it
	Retried   bool   // the request had already been sent again once, after an earlier failure
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
