package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
)

// errConnEnding is what a request body's Read returns to the writer loop
// when the connection ends while the body is being written.
var errConnEnding = errors.New("httpx: connection ending")

// reqBody is a request body as the writer loop reads it. Its Reads are
// done by a goroutine of its own, so that the writer loop can give up on a
// Read that never returns, even one that ignores Close: it stops waiting
// when the connection ends or the request's caller gives up, and the
// goroutine exits as soon as the Read it is in returns.
//
// reqBody also records the body's own failure, so the writer loop can
// tell it from a failure of the connection, and never reads more than
// ContentLength bytes: a request is complete on the wire exactly when its
// last body byte is.
//
// Read and Close are called by the writer loop (through Request.Write)
// only; the goroutine owns nothing but the underlying body's Read.
type reqBody struct {
	rc     io.ReadCloser
	left   int64           // bytes still to read when the length is known; -1 if not
	ending <-chan struct{} // closed when the connection ends
	req    *http.Request   // the request; its context is its caller's

	asks    chan int       // read up to n bytes; closed by Close. Buffered.
	answers chan bodyChunk // one per ask. Buffered: the goroutine never waits on the writer.
	started bool

	err       error // the first failure Read returned; Read returns it again
	bodyErr   error // the body's own failure, or its caller's giving up: the request's fault
	closeOnce sync.Once
}

type bodyChunk struct {
	b   []byte
	err error
}

func newReqBody(req *http.Request, ending <-chan struct{}) *reqBody {
	left := int64(-1)
	if req.ContentLength > 0 {
		left = req.ContentLength
	}
	return &reqBody{rc: req.Body, left: left, ending: ending, req: req,
		asks: make(chan int, 1), answers: make(chan bodyChunk, 1)}
}

func (b *reqBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		return 0, io.EOF // the declared length is written: never read more
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	if !b.started {
		b.started = true
		// Exits when Close closes asks, once the Read it is in returns.
		// Nobody waits for it: Close closes the body, and a Read that
		// ignores that cannot be ended, only left behind.
		go b.pump()
	}
	b.asks <- len(p) // never blocks: one ask at a time, buffered
	select {
	case c := <-b.answers:
		n := copy(p, c.b)
		if b.left > 0 {
			b.left -= int64(n)
		}
		switch {
		case c.err == nil:
		case errors.Is(c.err, io.EOF):
			b.err = io.EOF
		default:
			b.err, b.bodyErr = c.err, c.err
		}
		return n, c.err
	case <-b.ending:
		b.err = errConnEnding
	case <-b.req.Context().Done():
		b.err = context.Cause(b.req.Context())
		b.bodyErr = b.err
	}
	return 0, b.err
}

// pump does the Reads the writer loop asks for, into a buffer of its own:
// the writer's buffer may be reused once the writer has given up.
func (b *reqBody) pump() {
	var buf []byte
	for n := range b.asks {
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		k, err := b.rc.Read(buf[:n])
		b.answers <- bodyChunk{buf[:k], err}
	}
}

// Close closes the body, which unblocks a Read in progress if the body
// honours Close, and lets the goroutine exit once no Read is in progress.
func (b *reqBody) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.asks)
		err = b.rc.Close()
	})
	return err
}
