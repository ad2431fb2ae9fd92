package httpx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// errServerClose ends a connection cleanly after a response that said
// Connection: close (or switched protocols).
var errServerClose = errors.New("httpx: server closed the connection")

var aLongTimeAgo = time.Unix(1, 0)

// conn is one connection's writer and reader loops. Its fields are set
// before the loops start and not changed after.
type conn struct {
	c        *Client
	nc       net.Conn
	br       *bufio.Reader
	limit    *headLimit            // reset by the reader loop around each response head
	answered *vanilla.Value[int64] // responses received; set by the reader, watched by the writer
	fail     context.CancelCauseFunc
	// stopWrite ends the writer loop alone: the reader loop calls it as
	// soon as a response head says the connection closes after it.
	stopWrite context.CancelFunc
}

// connResult is what a finished connection leaves behind.
type connResult struct {
	unanswered []*call // written but not answered, in order, then unwritten ones
	err        error   // what broke the connection; nil for a clean end
	op         string  // "write" or "read": where err happened
	answered   bool    // at least one response arrived
	closing    bool    // the request queue is closed: do not reconnect
}

func (r connResult) cause() error {
	if r.err != nil {
		return r.err
	}
	return errServerClose
}

// runConn runs the writer and reader loops on nc until the connection ends,
// then closes nc. retry are requests to write first, in order.
func (c *Client) runConn(ctx context.Context, nc net.Conn, retry []*call) connResult {
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	// Any end of the connection unblocks the loops' reads and writes.
	stopKick := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	defer stopKick()

	wctx, stopWrite := context.WithCancel(ctx)
	defer stopWrite()
	limit := &headLimit{r: nc}
	cn := &conn{c: c, nc: nc, br: bufio.NewReaderSize(limit, 16<<10), limit: limit,
		answered: vanilla.NewValue[int64](), fail: fail, stopWrite: stopWrite}
	in, out := vanilla.NewQueue[*call](c.opts.MaxInFlight)

	var w writeResult
	var r readResult
	var h vanilla.Hub
	h.Go(wctx, func(wctx context.Context) error { w = cn.writeLoop(wctx, ctx, retry, in); return nil })
	h.Go(ctx, func(ctx context.Context) error { r = cn.readLoop(ctx, out); return nil })
	h.Wait()
	nc.Close()

	res := connResult{answered: r.answered, closing: w.closing}
	// The first failure recorded is the cause; the other loop's error is
	// usually just the kick that followed it.
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, errServerClose) {
		res.err, res.op = cause, "read"
		if w.err != nil && errors.Is(cause, w.err) {
			res.op = "write"
		}
	}
	if r.current != nil {
		res.unanswered = append(res.unanswered, r.current)
	}
	for {
		cl, err := out.TryRecv()
		if err != nil {
			break
		}
		res.unanswered = append(res.unanswered, cl)
	}
	c.stats.inFlight.Add(-int64(len(res.unanswered)))
	out.Close()
	res.unanswered = append(res.unanswered, w.unwritten...)
	return res
}

type writeResult struct {
	unwritten []*call // taken from the queue but not written, in order
	err       error
	closing   bool
}

// writeLoop writes requests in order: first retry, then from the client's
// queue. The first request on a connection, and any non-idempotent or
// upgrade request, is written alone: the loop waits for its response before
// writing more. It takes a request only when fewer than MaxInFlight are
// unanswered, so a request waiting for room stays in the client's queue,
// where its caller can withdraw it. It exits when the queue is closed
// (closing), when ctx ends (connCtx, the connection's, or stopWrite), on a
// write error, or after an upgrade request. It closes in, so the reader
// loop ends once it has read every response.
func (cn *conn) writeLoop(ctx, connCtx context.Context, retry []*call, in *vanilla.Sender[*call]) (res writeResult) {
	defer in.Close()
	bw := bufio.NewWriterSize(cn.nc, 16<<10)
	var written int64
	alone := true // the first request on a new connection goes alone
	for {
		if ctx.Err() != nil { // the connection is ending: write nothing more
			res.unwritten = retry
			return res
		}
		// Flush before waiting for room: the responses that would make
		// room answer requests still in bw.
		if answered, _, _ := cn.answered.Load(); written-answered >= int64(cn.c.opts.MaxInFlight) {
			if err := bw.Flush(); err != nil {
				res.unwritten = retry
				return cn.writeFailed(err, res)
			}
			if err := cn.waitAnswered(ctx, written-int64(cn.c.opts.MaxInFlight)+1); err != nil {
				res.unwritten = retry
				return res
			}
		}
		var cl *call
		if len(retry) > 0 {
			cl, retry = retry[0], retry[1:]
		} else {
			var err error
			cl, err = cn.c.calls.TryRecv()
			if errors.Is(err, vanilla.ErrWouldBlock) && bw.Buffered() > 0 {
				// Let callers that are about to queue do so, so one write
				// carries several requests instead of one each.
				runtime.Gosched()
				cl, err = cn.c.calls.TryRecv()
			}
			if errors.Is(err, vanilla.ErrWouldBlock) {
				if err := bw.Flush(); err != nil {
					return cn.writeFailed(err, res)
				}
				cl, err = cn.c.calls.Recv(ctx)
			}
			if err != nil {
				res.closing = errors.Is(err, vanilla.ErrClosed)
				if err := bw.Flush(); err != nil { // requests written since the last flush
					return cn.writeFailed(err, res)
				}
				return res
			}
		}
		select {
		case <-cl.gone:
			continue // the caller gave up while it was queued: never written
		default:
		}
		// Never blocks: in holds only unanswered requests, fewer than
		// MaxInFlight, its size.
		if err := in.Send(ctx, cl); err != nil {
			res.unwritten = append([]*call{cl}, retry...)
			return res
		}
		cn.c.stats.inFlight.Add(1)
		cl.written = true
		written++
		if err := cn.writeRequest(connCtx, bw, cl.req); err != nil {
			res.unwritten = retry
			return cn.writeFailed(err, res)
		}
		upgrade := cl.req.Header.Get("Upgrade") != ""
		if !alone && idempotent(cl.req.Method) && !upgrade {
			continue
		}
		if err := bw.Flush(); err != nil {
			res.unwritten = retry
			return cn.writeFailed(err, res)
		}
		if upgrade {
			res.unwritten = retry // nothing more may be written on this connection
			return res
		}
		if err := cn.waitAnswered(ctx, written); err != nil {
			res.unwritten = retry
			return res
		}
		alone = false
	}
}

// writeRequest writes req to bw. A body that blocks is closed when the
// connection ends, so that the writer loop (and Close) never waits on it.
func (cn *conn) writeRequest(connCtx context.Context, bw *bufio.Writer, req *http.Request) error {
	if req.Body != nil && req.Body != http.NoBody {
		body := req.Body
		defer context.AfterFunc(connCtx, func() { body.Close() })()
	}
	return req.Write(bw)
}

func (cn *conn) writeFailed(err error, res writeResult) writeResult {
	cn.fail(err)
	res.err = err
	return res
}

// waitAnswered waits until n responses have arrived.
func (cn *conn) waitAnswered(ctx context.Context, n int64) error {
	w := cn.answered.Watch()
	defer w.Close()
	for {
		got, err := w.Recv(ctx)
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
	}
}

type readResult struct {
	current  *call // the request whose response failed to arrive
	err      error
	answered bool
}

// readLoop reads responses in order and hands each to its caller, waiting
// until the caller is done with the body. It exits when the writer loop has
// closed in and every response is read, when ctx ends, on a read error, or
// after a response that closes the connection.
func (cn *conn) readLoop(ctx context.Context, out *vanilla.Recver[*call]) (res readResult) {
	var n int64
	for {
		cl, err := out.Recv(ctx)
		if err != nil {
			return res
		}
		resp, err := cn.readResponse(ctx, cl.req)
		if err != nil {
			cn.fail(err)
			res.current, res.err = cl, err
			return res
		}
		cn.c.stats.inFlight.Add(-1)
		n++
		cn.answered.Set(n)
		res.answered = true
		closes := resp.Close || resp.StatusCode == http.StatusSwitchingProtocols
		if closes {
			cn.stopWrite() // write nothing more, even while the body streams
		}
		if err := cn.deliver(ctx, cl, resp); err != nil {
			cn.fail(err)
			res.err = err
			return res
		}
		if closes {
			cn.fail(errServerClose)
			return res
		}
	}
}

// readResponse reads the next final response head, skipping 1xx interim
// responses, within the response timeout and the header size limit.
func (cn *conn) readResponse(ctx context.Context, req *http.Request) (*http.Response, error) {
	if err := cn.setReadDeadline(ctx); err != nil {
		return nil, err
	}
	defer cn.nc.SetReadDeadline(time.Time{})
	for {
		cn.limit.n = cn.c.opts.MaxHeaderBytes + int64(cn.br.Size())
		resp, err := http.ReadResponse(cn.br, req)
		cn.limit.n = -1
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, ErrResponseTimeout
		case errors.Is(err, errHeadTooLarge):
			return nil, errHeadTooLarge
		case err != nil:
			return nil, err
		case resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols:
			continue
		}
		return resp, nil
	}
}

// deliver hands resp to its caller and waits until the caller is done with
// the body, draining what the caller left unread. A caller that gave up
// gets nothing and its response is discarded.
//
// The hand-off ignores the end of the connection: the caller is about to
// take the response or has abandoned it, so it never waits long, and the
// caller must not be left without either.
func (cn *conn) deliver(ctx context.Context, cl *call, resp *http.Response) error {
	handOff := context.WithoutCancel(ctx)
	raw := resp.Body
	if raw == http.NoBody {
		cl.resp.Send(handOff, resp) // an abandoned response needs no draining
		return nil
	}
	if n := resp.ContentLength; n >= 0 && n <= int64(cn.br.Buffered()) {
		// The whole body has arrived with the head, as small responses
		// do: hand it over read, and go on to the next response at once
		// instead of waiting for the caller to read it.
		body := make([]byte, n)
		if _, err := io.ReadFull(raw, body); err != nil {
			return err
		}
		resp.Body = &readBody{r: bytes.NewReader(body)}
		cl.resp.Send(handOff, resp) // an abandoned response is already consumed
		return nil
	}
	ds, dr := vanilla.NewState[bodyEnd]()
	b := newBody(raw, ds, func() { cn.nc.SetReadDeadline(aLongTimeAgo) })
	resp.Body = b
	if err := cl.resp.Send(handOff, resp); err != nil {
		b.Close() // the caller gave up: discard the response
	}
	end, err := dr.Recv(ctx)
	if err != nil {
		return err
	}
	if end.eof {
		return nil
	}
	if err := cn.setReadDeadline(ctx); err != nil {
		return err
	}
	defer cn.nc.SetReadDeadline(time.Time{})
	n, err := io.CopyN(io.Discard, raw, cn.c.opts.DrainLimit+1)
	switch {
	case n > cn.c.opts.DrainLimit:
		cn.c.stats.drainResets.Add(1)
		return ErrDrainLimit
	case err != nil && !errors.Is(err, io.EOF):
		return err
	}
	return nil
}

// setReadDeadline arms the response timeout for a read by the reader loop.
// It fails if the connection is ending: the kick that ends it (a deadline in
// the past) may have come just before, and must not be overridden.
func (cn *conn) setReadDeadline(ctx context.Context) error {
	cn.nc.SetReadDeadline(time.Now().Add(cn.c.opts.ResponseTimeout))
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return nil
}

var errHeadTooLarge = errors.New("httpx: response head over MaxHeaderBytes")

// headLimit fails reads once n bytes have been read, while n >= 0; the
// reader loop arms it only while a response head is being read.
type headLimit struct {
	r io.Reader
	n int64 // bytes left; -1 means no limit. Owned by the reader loop.
}

func (l *headLimit) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
