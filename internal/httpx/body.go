package httpx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// body is a response body that streams from the shared connection. The
// reader loop hands it to a caller and then waits, on done, until the
// caller has read it to the end or closed it (or the caller's context
// ended); after a Close it drains the rest itself, so the responses behind
// it stay in step.
type body struct {
	mu sync.Mutex
	// Guarded by mu; r is only read while mu is held.
	r        io.Reader // the response body on the connection
	finished bool      // done has been sent; r is the reader loop's again
	err      error     // returned by Read once finished

	kickMu sync.Mutex
	// Guarded by kickMu: watch's callback kicks only while the body still
	// owns the connection, so a late kick never spoils the next response.
	released bool  // set by finishLocked before done is sent
	kickErr  error // why a Read in progress was kicked; that Read returns it

	done *vanilla.Sender[bodyEnd] // State: never blocks the caller
	stop func() bool              // stops the context watch; nil until watch
	kick func()                   // interrupts a Read blocked on the connection
}

// bodyEnd tells the reader loop how the caller finished with a body.
type bodyEnd struct {
	eof bool // read to the end: nothing left to drain
}

var errBodyClosed = errors.New("httpx: read on closed response body")

func newBody(r io.Reader, done *vanilla.Sender[bodyEnd], kick func()) *body {
	return &body{r: r, done: done, kick: kick}
}

// watch ties the body to the caller's ctx: when it ends before the body is
// finished, a Read in progress is interrupted with kick (which spoils the
// connection: the reader loop then resets it) and later Reads return the
// context's cause.
func (b *body) watch(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.stop = context.AfterFunc(ctx, func() {
		cause := context.Cause(ctx)
		if !b.mu.TryLock() {
			b.kickMu.Lock()
			if !b.released {
				b.kickErr = cause
				b.kick()
			}
			b.kickMu.Unlock()
			b.mu.Lock()
		}
		defer b.mu.Unlock()
		b.finishLocked(cause, false)
	})
}

// Read reads from the connection until the end of this response's body.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		b.finishLocked(io.EOF, true)
	} else if err != nil {
		b.kickMu.Lock()
		if b.kickErr != nil {
			err = b.kickErr // the deadline error of the kick
		}
		b.kickMu.Unlock()
		b.finishLocked(err, false)
	}
	return n, err
}

// Close hands the rest of the body to the reader loop, which discards it.
func (b *body) Close() error {
	b.finish(errBodyClosed)
	return nil
}

func (b *body) finish(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finishLocked(err, false)
}

func (b *body) finishLocked(err error, eof bool) {
	if b.finished {
		return
	}
	b.finished, b.err = true, err
	b.kickMu.Lock()
	b.released = true
	b.kickMu.Unlock()
	if b.stop != nil {
		b.stop()
	}
	b.done.Send(context.Background(), bodyEnd{eof: eof}) // a State: never blocks
	b.done.Close()
}

// readBody is a response body the reader loop has already read off the
// connection. Like body, it fails reads once closed. It is not safe for
// concurrent use, as no response body is.
type readBody struct {
	r      *bytes.Reader
	closed bool
}

func (b *readBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyClosed
	}
	return b.r.Read(p)
}

func (b *readBody) Close() error {
	b.closed = true
	return nil
}
