package httpx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// Causes that end a connection without blame: nothing was lost, and the
// client reconnects without backing off.
var (
	// errServerClose: a response said Connection: close.
	errServerClose = errors.New("httpx: server closed the connection")
	// errIdleClose: the server closed the connection with nothing outstanding.
	errIdleClose = errors.New("httpx: server closed the idle connection")
	// errWriteAborted: a request's own body failed after part of the
	// request had gone out; the responses owed before it were read.
	errWriteAborted = errors.New("httpx: request abandoned while being written")
	// errUpgraded: a 101 response handed the connection to its caller.
	errUpgraded = errors.New("httpx: connection handed over after 101 Switching Protocols")
)

// errCallerGone is the cause of a reset because the caller of the
// response at the head of the line gave up before the rest of it arrived.
var errCallerGone = errors.New("httpx: head of the line abandoned by its caller")

// errReset wraps the cause given to Client.Reset.
var errReset = errors.New("httpx: connection reset by the client's user")

// maxInterim is how many 1xx responses may precede a final one (as in
// net/http's Transport).
const maxInterim = 5

var aLongTimeAgo = time.Unix(1, 0)

// conn is one connection's writer and reader loops. Its fields are set
// before the loops start and not changed after, except those under the
// mutexes and answered.
type conn struct {
	c        *Client
	nc       net.Conn
	br       *bufio.Reader
	limit    *headLimit               // reset by the reader loop around each response head
	progress *vanilla.Value[progress] // set by the reader, watched by the writer
	fail     context.CancelCauseFunc  // ends the connection; the first cause wins
	// stopWrite ends the writer loop alone: the reader loop calls it as
	// soon as a response head says the connection closes after it.
	stopWrite  context.CancelFunc
	cause      func() error  // why the connection ended (see connCause), nil while it runs
	stopKick   func() bool   // stops the kick of nc when the connection ends
	writerDone chan struct{} // closed when the writer loop has returned
	answered   atomic.Bool   // a response head has arrived; set by the reader loop

	idleMu sync.Mutex
	// Guarded by idleMu: the reader loop's watch of the socket while no
	// request is outstanding, and the writer's wake-up of it.
	idle  bool
	woken bool

	headMu sync.Mutex
	// Guarded by headMu: the caller's giving up kicks the read of its
	// response head only while that read is in progress.
	headArmed *call // the call whose head is being read, if its caller can give up
	headGone  bool  // its caller gave up and the read was kicked
}

// progress counts a connection's responses: heads received, and responses
// finished (body read or drained).
type progress struct{ heads, done int64 }

// connResult is what a finished connection leaves behind.
type connResult struct {
	unanswered []*call // on the line (partly or wholly written) and not answered, in order
	unwritten  []*call // none of their bytes reached the socket, in order
	flushed    int64   // bytes of requests that reached the socket
	err        error   // what broke the connection; nil for a clean end
	op         string  // "write" or "read": where err happened
	// blamed: err is the fault of the response at the head of the line
	// (late, abandoned, over its deadline or drain limit, or a protocol
	// error in it), so the other requests are bystanders. culprit is that
	// request if it was still unanswered.
	blamed   bool
	culprit  *call
	answered bool // at least one response arrived
	closing  bool // the request queue is closed: do not reconnect
}

func (r connResult) cause() error {
	if r.err != nil {
		return r.err
	}
	return errServerClose
}

// connCause translates the cause of a connection's end for a caller.
func connCause(ctx context.Context) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, vanilla.ErrStopped) {
		return ErrClientClosed
	}
	return cause
}

func clean(cause error) bool {
	return cause == errServerClose || cause == errIdleClose || cause == errWriteAborted || cause == errUpgraded
}

// runConn runs the writer and reader loops on nc until the connection ends,
// then closes nc (unless a 101 handed it to a caller). retry are requests
// to write first, in order.
func (c *Client) runConn(ctx context.Context, nc net.Conn, retry []*call) connResult {
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	// Any end of the connection unblocks the loops' reads and writes.
	stopKick := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	defer stopKick()

	wctx, stopWrite := context.WithCancel(ctx)
	defer stopWrite()
	limit := &headLimit{r: nc, n: -1}
	cn := &conn{c: c, nc: nc, br: bufio.NewReaderSize(limit, 16<<10), limit: limit,
		progress: vanilla.NewValue[progress](), fail: fail, stopWrite: stopWrite,
		cause: func() error {
			if ctx.Err() == nil {
				return nil
			}
			return connCause(ctx)
		},
		stopKick: stopKick, writerDone: make(chan struct{})}
	c.current.Store(cn)
	defer c.current.CompareAndSwap(cn, nil)
	in, out := vanilla.NewQueue[*call](c.opts.MaxInFlight)

	var w writeResult
	var r readResult
	var h vanilla.Hub
	h.Go(wctx, func(wctx context.Context) error {
		defer close(cn.writerDone)
		w = cn.writeLoop(wctx, ctx, retry, in)
		return nil
	})
	h.Go(ctx, func(ctx context.Context) error { r = cn.readLoop(ctx, out); return nil })
	h.Wait()
	if !r.upgraded {
		nc.Close()
	}

	res := connResult{op: "read", answered: r.answered, closing: w.closing, flushed: w.flushed}
	// The first failure recorded is the cause; the other loop's error is
	// usually just the kick that followed it.
	if cause := context.Cause(ctx); cause != nil && !clean(cause) {
		res.err = connCause(ctx)
		if w.err != nil && errors.Is(cause, w.err) {
			res.op = "write"
		}
		if r.blamed && cause == r.err {
			res.blamed, res.culprit = true, r.current
		}
		if (res.blamed || errors.Is(cause, ErrProtocol) || errors.Is(cause, errReset)) && !errors.Is(cause, ErrDrainLimit) {
			c.stats.resets.Add(1)
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
	res.unwritten = w.unwritten
	return res
}

type writeResult struct {
	unwritten []*call // taken but none of their bytes sent, in order
	flushed   int64   // bytes that reached the socket
	err       error   // the socket's write error
	closing   bool
}

// lineWriter is what the writer loop's buffer writes to. It puts each
// request on the line (hands it to the reader loop) just before the first
// of its bytes goes to the socket, so a byte from the server with nothing
// on the line is always a protocol error, and a request that fails before
// any of its bytes went out can be dropped without trace. It counts the
// bytes the socket took, which tells for each request whether it went out
// whole. Owned by the writer loop.
type lineWriter struct {
	cn      *conn
	in      *vanilla.Sender[*call]
	pending []*call // written to the buffer, none of their bytes sent yet, in order
	open    []*call // on the line and not yet known to be sent whole, in order
	whole   int64   // requests on the line that went out whole
	n       int64   // bytes the socket took
	err     error   // the socket's write error
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	if lw.err != nil {
		return 0, lw.err
	}
	end := lw.n + int64(len(p))
	for len(lw.pending) > 0 && lw.pending[0].start < end {
		cl := lw.pending[0]
		// Never fails: in holds only requests on the line and unanswered,
		// at most MaxInFlight, its size, and its recver is closed last.
		if err := lw.in.TrySend(cl); err != nil {
			lw.err = fmt.Errorf("httpx: put request on the line: %w", err)
			return 0, lw.err
		}
		lw.pending = lw.pending[1:]
		lw.open = append(lw.open, cl)
		lw.cn.c.stats.inFlight.Add(1)
		lw.cn.wake()
	}
	n, err := lw.cn.nc.Write(p)
	lw.n += int64(n)
	if err != nil {
		lw.err = err
	}
	lw.trim()
	return n, err
}

// trim counts the requests on the line that have gone out whole.
func (lw *lineWriter) trim() {
	for len(lw.open) > 0 && lw.open[0].end >= 0 && lw.open[0].end <= lw.n {
		lw.open = lw.open[1:]
		lw.whole++
	}
}

// offset is the position in the connection's byte stream of the next byte
// written to bw.
func (lw *lineWriter) offset(bw *bufio.Writer) int64 { return lw.n + int64(bw.Buffered()) }

// writeLoop writes requests in order: first retry, then from the client's
// queue. The first request on a connection, and any non-idempotent or
// upgrade request, is written alone: the loop waits for its response before
// writing more. It takes a request only when fewer than MaxInFlight are
// unanswered, so a request waiting for room stays in the client's queue,
// where its caller can withdraw it. It exits when the queue is closed
// (closing), when ctx ends (connCtx, the connection's, or stopWrite), on a
// write error, when a request fails mid-write, or after an upgrade request.
// It closes in, so the reader loop ends once it has read every response.
func (cn *conn) writeLoop(ctx, connCtx context.Context, retry []*call, in *vanilla.Sender[*call]) (res writeResult) {
	lw := &lineWriter{cn: cn, in: in}
	defer func() {
		res.flushed = lw.n
		res.unwritten = append(lw.pending, res.unwritten...)
		in.Close()
		cn.wake() // the reader loop may be watching an idle line
	}()
	bw := bufio.NewWriterSize(lw, 16<<10)
	var written int64
	alone := true // the first request on a new connection goes alone
	room := int64(cn.c.opts.MaxInFlight)
	for {
		if ctx.Err() != nil { // the connection is ending: write nothing more
			res.unwritten = retry
			return res
		}
		// Flush before waiting for room: the responses that would make
		// room answer requests still in bw.
		if written-cn.heads() >= room {
			if err := bw.Flush(); err != nil {
				res.unwritten = retry
				return cn.writeFailed(lw.err, res)
			}
			if err := cn.waitProgress(ctx, func(p progress) bool { return p.heads > written-room }); err != nil {
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
					return cn.writeFailed(lw.err, res)
				}
				cl, err = cn.c.calls.Recv(ctx)
			}
			if err != nil {
				res.closing = errors.Is(err, vanilla.ErrClosed)
				if err := bw.Flush(); err != nil { // requests written since the last flush
					return cn.writeFailed(lw.err, res)
				}
				return res
			}
		}
		if cl.abandoned() {
			continue // the caller gave up while it was queued: never written
		}
		cl.start, cl.end = lw.offset(bw), -1
		lw.pending = append(lw.pending, cl)
		written++
		err, bodyErr := cn.writeRequest(connCtx, bw, cl)
		switch {
		case err == nil:
			cl.end = lw.offset(bw)
			lw.trim()
		case lw.err != nil: // the socket failed
			res.unwritten = retry
			return cn.writeFailed(lw.err, res)
		case connCtx.Err() != nil: // the connection ended under the body
			res.unwritten = retry
			return res
		default: // the request failed on its own: its body, or its head
			reqErr := fmt.Errorf("httpx: write request: %w", err)
			if bodyErr != nil {
				reqErr = fmt.Errorf("%w: %w", ErrRequestBody, bodyErr)
			}
			cl.aborted = true
			cn.c.stats.failures.Add(1)
			cl.fail(&ConnError{Op: "write", Processed: cl.processed, Retried: cl.retried, Err: reqErr})
			written--
			if lw.n <= cl.start { // none of it went out
				lw.pending = lw.pending[:len(lw.pending)-1]
				if lw.n == cl.start { // and bw holds nothing else: carry on
					bw.Reset(lw)
					continue
				}
				if lw.offset(bw) == cl.start { // nothing of it was buffered either
					continue
				}
			}
			// Part of it went out (or its bytes cannot be told from others
			// in bw): write nothing more, read the responses owed for what
			// went out whole before it, then end the connection. What is
			// still buffered never goes out; those requests are sent again
			// on the next connection as never written.
			res.unwritten = retry
			cn.abortWrite(ctx, lw.whole)
			return res
		}
		upgrade := cl.req.Header.Get("Upgrade") != ""
		if !alone && idempotent(cl.req.Method) && !upgrade {
			continue
		}
		if err := bw.Flush(); err != nil {
			res.unwritten = retry
			return cn.writeFailed(lw.err, res)
		}
		if upgrade {
			res.unwritten = retry // nothing more may be written on this connection
			return res
		}
		if err := cn.waitProgress(ctx, func(p progress) bool { return p.heads >= written }); err != nil {
			res.unwritten = retry
			return res
		}
		alone = false
	}
}

// writeRequest writes cl's request to bw. A body is read through a
// reqBody, so a Read that blocks never holds up the writer loop once the
// connection ends or the caller gives up; bodyErr is the body's own
// failure, if it had one.
func (cn *conn) writeRequest(connCtx context.Context, bw *bufio.Writer, cl *call) (err, bodyErr error) {
	req := cl.req
	if req.Body == nil || req.Body == http.NoBody {
		return req.Write(bw), nil
	}
	b := newReqBody(req, connCtx.Done())
	w := *req // the same request, reading its body through b
	w.Body = b
	err = w.Write(bw)
	if err != nil && b.bodyErr == nil && errors.Is(b.err, io.EOF) {
		return err, err // the body ended before its ContentLength
	}
	return err, b.bodyErr
}

func (cn *conn) writeFailed(err error, res writeResult) writeResult {
	cn.fail(err)
	res.err = err
	return res
}

// abortWrite waits until the reader loop has finished the first owed
// responses (those of the requests that went out whole), then ends the
// connection.
func (cn *conn) abortWrite(ctx context.Context, owed int64) {
	if err := cn.waitProgress(ctx, func(p progress) bool { return p.done >= owed }); err != nil {
		return // the connection ended meanwhile
	}
	cn.fail(errWriteAborted)
}

func (cn *conn) heads() int64 {
	p, _, _ := cn.progress.Load()
	return p.heads
}

// waitProgress waits until ok holds for the connection's progress.
func (cn *conn) waitProgress(ctx context.Context, ok func(progress) bool) error {
	if p, _, _ := cn.progress.Load(); ok(p) {
		return nil
	}
	w := cn.progress.Watch()
	defer w.Close()
	for {
		p, err := w.Recv(ctx)
		if err != nil {
			return err
		}
		if ok(p) {
			return nil
		}
	}
}

// wake interrupts the reader loop's watch of an idle line, if it is in
// one, so that it takes the request just put on the line (or sees the line
// closed).
func (cn *conn) wake() {
	cn.idleMu.Lock()
	if cn.idle && !cn.woken {
		cn.woken = true
		cn.nc.SetReadDeadline(aLongTimeAgo)
	}
	cn.idleMu.Unlock()
}

type readResult struct {
	current  *call // the request whose response had not arrived when the connection failed
	err      error // what the reader loop failed the connection with
	blamed   bool  // err is the fault of the response at the head of the line
	answered bool
	upgraded bool // a 101 handed nc to its caller
}

// readLoop reads responses in order and hands each to its caller, waiting
// until the caller is done with the body. It exits when the writer loop has
// closed in and every response is read, when ctx ends, on a read error or
// protocol error, after a response that closes the connection, or when the
// response at the head of the line is late or abandoned.
func (cn *conn) readLoop(ctx context.Context, out *vanilla.Recver[*call]) (res readResult) {
	var p progress
	fail := func(cl *call, err error, blamed bool) readResult {
		cn.fail(err)
		res.current, res.err, res.blamed = cl, err, blamed
		return res
	}
	for {
		cl, err := cn.next(ctx, out)
		switch {
		case errors.Is(err, vanilla.ErrClosed):
			return res // the writer is done and every response is read
		case err != nil:
			return fail(cl, err, false)
		}
		resp, gone, err := cn.readResponse(ctx, cl)
		if err != nil {
			return fail(cl, err, errors.Is(err, ErrResponseTimeout) || errors.Is(err, ErrProtocol) || err == errCallerGone)
		}
		cn.c.stats.inFlight.Add(-1)
		p.heads++
		cn.progress.Set(p)
		cn.answered.Store(true)
		res.answered = true
		if resp.StatusCode == http.StatusSwitchingProtocols {
			if !cn.handOff(ctx, cl, resp) {
				err := connCause(ctx)
				cn.c.stats.failures.Add(1)
				cl.fail(&ConnError{Op: "read", Processed: true, Retried: cl.retried, Err: err})
				return fail(nil, err, false)
			}
			cn.fail(errUpgraded)
			res.upgraded = true
			return res
		}
		closes := resp.Close
		if closes {
			cn.stopWrite() // write nothing more, even while the body streams
		}
		if err := cn.deliver(ctx, cl, resp, gone); err != nil {
			blamed := errors.Is(err, ErrBodyTimeout) || errors.Is(err, ErrDrainLimit) || err == errCallerGone
			return fail(nil, err, blamed)
		}
		p.done++
		cn.progress.Set(p)
		if closes {
			cn.fail(errServerClose)
			return res
		}
	}
}

// next returns the next request on the line, or vanilla.ErrClosed once the
// writer loop is done and every request is answered. While nothing is
// outstanding it watches the socket: a byte arriving then answers nothing,
// and is a protocol error.
func (cn *conn) next(ctx context.Context, out *vanilla.Recver[*call]) (*call, error) {
	for {
		cn.idleMu.Lock()
		cl, err := out.TryRecv()
		if !errors.Is(err, vanilla.ErrWouldBlock) {
			cn.idleMu.Unlock()
			return cl, err
		}
		cn.nc.SetReadDeadline(time.Time{})
		cn.idle, cn.woken = true, false
		cn.idleMu.Unlock()
		var perr error
		if ctx.Err() == nil { // else the kick that ends it may have come before the deadline was cleared
			_, perr = cn.br.Peek(1)
		}
		cn.idleMu.Lock()
		cn.idle = false
		woken := cn.woken
		cn.idleMu.Unlock()
		if ctx.Err() != nil {
			return nil, connCause(ctx)
		}
		wake := woken && errors.Is(perr, os.ErrDeadlineExceeded)
		if cl, err := out.TryRecv(); err == nil {
			if wake {
				return cl, nil
			}
			return cl, perr // put on the line as the bytes, or the failure, came
		}
		switch {
		case wake:
			continue
		case perr == nil:
			return nil, fmt.Errorf("%w: response bytes with no request outstanding", ErrProtocol)
		case errors.Is(perr, io.EOF):
			return nil, errIdleClose
		}
		return nil, perr
	}
}

// readResponse reads the next final response head, skipping up to
// maxInterim 1xx responses, within the response timeout and the header
// size limit. If cl's caller gives up first, the read stops at once with
// errCallerGone; if it gave up as the head arrived, gone is set.
func (cn *conn) readResponse(ctx context.Context, cl *call) (resp *http.Response, gone bool, err error) {
	if err := cn.setReadDeadline(ctx, time.Now().Add(cn.c.opts.ResponseTimeout)); err != nil {
		return nil, false, err
	}
	stop := cn.armGone(cl)
	resp, err = cn.readHead(cl.req)
	gone = cn.disarmGone(stop)
	switch {
	case ctx.Err() != nil:
		return nil, false, connCause(ctx)
	case err != nil && gone:
		return nil, false, errCallerGone
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, false, ErrResponseTimeout
	}
	return resp, gone, err
}

func (cn *conn) readHead(req *http.Request) (*http.Response, error) {
	for n := 0; ; n++ {
		cn.limit.n = cn.c.opts.MaxHeaderBytes + int64(cn.br.Size())
		resp, err := http.ReadResponse(cn.br, req)
		cn.limit.n = -1
		switch {
		case errors.Is(err, errHeadTooLarge):
			return nil, errHeadTooLarge
		case err != nil:
			return nil, err
		case resp.StatusCode == http.StatusSwitchingProtocols:
			if req.Header.Get("Upgrade") == "" {
				return nil, fmt.Errorf("%w: 101 Switching Protocols for a request that did not ask to upgrade", ErrProtocol)
			}
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			if n >= maxInterim {
				return nil, fmt.Errorf("%w: more than %d 1xx responses", ErrProtocol, maxInterim)
			}
			continue
		}
		return resp, nil
	}
}

// armGone makes cl's caller giving up interrupt the read of its response
// head; disarmGone undoes it and reports whether it happened.
func (cn *conn) armGone(cl *call) (stop func() bool) {
	if cl.gone == nil {
		return nil // a context that never ends
	}
	cn.headMu.Lock()
	cn.headArmed, cn.headGone = cl, false
	cn.headMu.Unlock()
	return context.AfterFunc(cl.req.Context(), func() {
		cn.headMu.Lock()
		defer cn.headMu.Unlock()
		if cn.headArmed == cl { // not a late kick meant for an earlier head
			cn.headGone = true
			cn.nc.SetReadDeadline(aLongTimeAgo)
		}
	})
}

func (cn *conn) disarmGone(stop func() bool) bool {
	if stop == nil {
		return false
	}
	stop()
	cn.headMu.Lock()
	defer cn.headMu.Unlock()
	cn.headArmed = nil
	return cn.headGone
}

// deliver hands resp to its caller and waits until the caller is done with
// the body, draining what the caller left unread, all within the body
// deadline. A caller that gave up gets nothing; its response is discarded
// if it is all here, and otherwise the connection is reset (errCallerGone)
// rather than kept waiting for bytes nobody wants.
//
// The hand-off ignores the end of the connection: the caller is about to
// take the response or has abandoned it, so it never waits long, and the
// caller must not be left without either.
func (cn *conn) deliver(ctx context.Context, cl *call, resp *http.Response, gone bool) error {
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
	if gone {
		return errCallerGone
	}
	deadline := time.Now().Add(cn.c.opts.BodyTimeout)
	// The caller's Reads are not timed by the socket: the wait below ends
	// them at the deadline, also for a caller that is not reading.
	if err := cn.setReadDeadline(ctx, time.Time{}); err != nil {
		return err
	}
	ds, dr := vanilla.NewState[bodyEnd]()
	b := newBody(cn, raw, ds, func() { cn.nc.SetReadDeadline(aLongTimeAgo) })
	resp.Body = b
	if err := cl.resp.Send(handOff, resp); err != nil {
		return errCallerGone // it gave up just now
	}
	bctx, cancel := context.WithDeadline(ctx, deadline)
	end, err := dr.Recv(bctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return connCause(ctx)
		}
		b.abort(ErrBodyTimeout, endFailed)
		if end, _ = dr.Recv(ctx); end.how != endEOF { // it may have finished just before
			return ErrBodyTimeout
		}
	}
	switch end.how {
	case endEOF:
		return nil
	case endGone:
		return errCallerGone
	case endFailed:
		return end.err
	}
	if err := cn.setReadDeadline(ctx, deadline); err != nil {
		return err
	}
	n, err := io.CopyN(io.Discard, raw, cn.c.opts.DrainLimit+1)
	switch {
	case n > cn.c.opts.DrainLimit:
		cn.c.stats.drainResets.Add(1)
		return ErrDrainLimit
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrBodyTimeout
	case err != nil && !errors.Is(err, io.EOF):
		return err
	}
	return nil
}

// handOff gives the connection to the caller of a 101 response: the
// response's Body becomes the connection, with what the client has already
// buffered after the 101 head. It reports false if the connection is
// ending, in which case it is not handed over.
func (cn *conn) handOff(ctx context.Context, cl *call, resp *http.Response) bool {
	cn.stopWrite()
	select {
	case <-cn.writerDone: // it wrote nothing after the upgrade request
	case <-ctx.Done():
		return false
	}
	if !cn.stopKick() {
		return false // the kick of a connection ending is on its way
	}
	cn.nc.SetDeadline(time.Time{})
	resp.Body = &upgraded{br: cn.br, nc: cn.nc}
	if err := cl.resp.Send(context.WithoutCancel(ctx), resp); err != nil {
		cn.nc.Close() // its caller gave up: nobody owns it
	}
	return true
}

// setReadDeadline arms a deadline for a read by the reader loop. It fails
// if the connection is ending: the kick that ends it (a deadline in the
// past) may have come just before, and must not be overridden.
func (cn *conn) setReadDeadline(ctx context.Context, t time.Time) error {
	cn.nc.SetReadDeadline(t)
	if ctx.Err() != nil {
		return connCause(ctx)
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
