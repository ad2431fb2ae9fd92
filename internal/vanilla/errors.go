package vanilla

import "errors"

var (
	// ErrClosed is returned by an operation on an end that has been closed,
	// and by Recv once every sender has closed without an error and the
	// buffer is drained (it plays the role of io.EOF).
	ErrClosed = errors.New("vanilla: closed")

	// ErrAbandoned is returned by Send once every recver has closed: nobody
	// will ever receive what is sent.
	ErrAbandoned = errors.New("vanilla: abandoned")

	// ErrStopped is the cause with which a Hub cancels the contexts of the
	// goroutines it spawned; operations parked on such a context return it.
	ErrStopped = errors.New("vanilla: stopped")

	// ErrWouldBlock is returned by the Try forms when the operation is not
	// ready now.
	ErrWouldBlock = errors.New("vanilla: would block")

	// ErrNotShared is returned by Clone on an end that the primitive allows
	// only one of (the sender of a Pipe, Queue, Dealer or State; the recver
	// of a Pipe, Queue, Router or State).
	ErrNotShared = errors.New("vanilla: end cannot be shared")

	// ErrBadInterval is the error of a Pulse with a non-positive interval.
	ErrBadInterval = errors.New("vanilla: pulse interval must be positive")
)
