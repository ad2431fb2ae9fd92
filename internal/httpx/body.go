package httpx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// body is a response body that streams from the shared connection. The
// reader loop hands it to a caller and then waits, on done, until the
// caller has read it to the end or closed it (or the caller's context
// ended, or the body's deadline passed); after a Close it drains the rest
// itself, so the responses behind it stay in step.
type body struct {
	cn *conn // the connection it streams from

	mu sync.Mutex
	// Guarded by mu; r is only read while mu is held.
	r        io.Reader // the response body on the connection
	finished bool      // done has been sent; r is the reader loop's again
	err      error     // returned by Read once finished

	kickMu sync.Mutex
	// Guarded by kickMu: an abort kicks only while the body still owns the
	// connection, so a late kick never spoils the next response.
	released bool  // set by finishLocked before done is sent
	kickErr  error // why a Read in progress was kicked; that Read returns it

	done *vanilla.Sender[bodyEnd] // State: never blocks the caller
	stop func() bool              // stops the context watch; nil until watch
	kick func()                   // interrupts a Read blocked on the connection
}

// bodyEnd tells the reader loop how the caller finished with a body.
type bodyEnd struct {
	how endHow
	err error // for endFailed: what the Read returned
}

type endHow int

const (
	endEOF    endHow = iota // read to the end: nothing left to drain
	endClosed               // closed early: the reader loop drains the rest
	endGone                 // the caller's context ended first: the rest is not waited for
	endFailed               // a Read failed or the body's deadline passed: the connection is spoiled
)

var errBodyClosed = errors.New("httpx: read on closed response body")

func newBody(cn *conn, r io.Reader, done *vanilla.Sender[bodyEnd], kick func()) *body {
	return &body{cn: cn, r: r, done: done, kick: kick}
}

// watch ties the body to the caller's ctx: when it ends before the body is
// finished, a Read in progress is interrupted and it and later Reads
// return the context's cause; the reader loop then resets the connection
// rather than wait for the rest of a body nobody wants.
func (b *body) watch(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.stop = context.AfterFunc(ctx, func() { b.abort(context.Cause(ctx), endGone) })
}

// abort finishes the body with err, interrupting a Read in progress.
func (b *body) abort(err error, how endHow) {
	if !b.mu.TryLock() {
		b.kickMu.Lock()
		if !b.released {
			b.kickErr = err
			b.kick()
		}
		b.kickMu.Unlock()
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	b.finishLocked(err, how)
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
		b.finishLocked(io.EOF, endEOF)
	} else if err != nil {
		b.kickMu.Lock()
		kicked := b.kickErr
		b.kickMu.Unlock()
		if kicked != nil {
			err = kicked // not the deadline error of the kick
		} else if cause := b.cn.cause(); cause != nil {
			err = cause // the connection was reset under the body
		}
		b.finishLocked(err, endFailed)
	}
	return n, err
}

// Close hands the rest of the body to the reader loop, which discards it.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finishLocked(errBodyClosed, endClosed)
	return nil
}

func (b *body) finishLocked(err error, how endHow) {
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
	b.done.Send(context.Background(), bodyEnd{how: how, err: err}) // a State: never blocks
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

// upgraded is the Body of a 101 Switching Protocols response: the
// connection itself, handed to the caller, who now owns it and must Close
// it. Reads return first what the server sent after the 101 head and the
// client had already buffered.
type upgraded struct {
	br *bufio.Reader
	nc net.Conn
}

func (u *upgraded) Read(p []byte) (int, error)  { return u.br.Read(p) }
func (u *upgraded) Write(p []byte) (int, error) { return u.nc.Write(p) }
func (u *upgraded) Close() error                { return u.nc.Close() }
