package httpx

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/tickerd/tickerd/internal/vanilla"
)

var (
	errSrvHeaderTooLarge = errors.New("httpx: request header too large")
	errSrvStopReading    = errors.New("httpx: connection reads no more requests")
	errSrvAborted        = errors.New("httpx: connection aborted")
	errSrvClientGone     = errors.New("httpx: client closed the connection")
	errSrvNotWritten     = errors.New("httpx: connection closed before the response could be written")
)

const (
	srvReadBufferSize  = 4 << 10
	srvWriteBufferSize = 8 << 10
	// srvLingerTimeout and srvLingerBytes bound how long and how much a closing
	// connection keeps reading after its last response (see srvConn.linger).
	srvLingerTimeout = 500 * time.Millisecond
	srvLingerBytes   = 1 << 20
)

// srvYields is how often the writer loop yields to the handler of the
// head response before it flushes the responses before it and waits: a
// handler that finishes meanwhile shares their write.
const srvYields = 3

// srvPastDeadline is a deadline that makes pending and later reads fail at once.
var srvPastDeadline = time.Unix(1, 0)

// srvConn is one server connection. Its goroutines are the connection
// goroutine (serve, which runs the reader loop), the writer loop and the
// workers that run handlers, the last two owned by a vanilla.Hub that serve
// waits for.
//
// The reader loop hands each response slot to the writer loop through the
// slots queue, in request order; the writer loop takes them in that order
// and writes each one completely before taking the next. The queue holds
// MaxConcurrent-1 slots and the writer the one it is writing, and a handler
// starts only once its slot is queued, so at most MaxConcurrent handlers run
// and at most MaxConcurrent responses are buffered per connection.
type srvConn struct {
	srv        *Server
	rwc        net.Conn
	remoteAddr string

	// lr and br are used by the reader loop, and by the handler of a request
	// with a body between the moment it starts and the moment its body hands
	// the connection back through bodyS (see srvBody).
	lr srvConnReader
	br *bufio.Reader

	// bw and date are owned by the writer loop, which lends them to the
	// response at the head of the queue while its handler streams it (see
	// srvResponse.mu).
	bw   *bufio.Writer
	date srvDateCache

	slotsS *vanilla.Sender[*srvResponse] // the reader loop's end
	slotsR *vanilla.Recver[*srvResponse] // the writer loop's end
	bodyS  *vanilla.Sender[bool]         // a request body's verdict: keep reading this connection?
	bodyR  *vanilla.Recver[bool]         // the reader loop's end
	jobsS  *vanilla.Sender[*srvResponse] // the reader loop deals requests to idle workers
	jobsR  *vanilla.Recver[*srvResponse] // shared by the workers

	// Set by serve before any other goroutine of the connection starts.
	abort    context.CancelCauseFunc // cancels the connection: its socket is closed
	stopReqs context.CancelCauseFunc // cancels the reader loop and handler contexts

	mu sync.Mutex
	// Everything below is guarded by mu. Read deadlines are set only with
	// mu held, so that one set by shutdown or stopReading is never undone.
	running      int           // handlers started and not yet returned
	idleWorkers  int           // workers waiting on jobs and not reserved
	quiet        chan struct{} // made by the reader loop waiting for running == 0
	outstanding  int           // responses queued and not yet written
	idleWait     bool          // the reader loop waits for the first byte of a request
	readerDone   bool          // the reader loop reads no more requests
	shuttingDown bool          // Server.Shutdown: read no more requests
	interrupted  bool          // the read deadline is in the past for good
	deadline     bool          // a read deadline (idle or header) is set
}

func newSrvConn(s *Server, rwc net.Conn) *srvConn {
	c := &srvConn{srv: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String()}
	c.lr.r = rwc
	c.lr.remain = math.MaxInt64
	c.br = bufio.NewReaderSize(&c.lr, srvReadBufferSize)
	c.bw = bufio.NewWriterSize(rwc, srvWriteBufferSize)
	c.slotsS, c.slotsR = vanilla.NewQueue[*srvResponse](s.maxConcurrent() - 1)
	c.bodyS, c.bodyR = vanilla.NewQueue[bool](1)
	c.jobsS, c.jobsR = vanilla.NewDealer[*srvResponse]()
	return c
}

// serve runs the connection until it is done. It exits once the reader
// loop, the writer loop and every handler have exited, and the socket is
// closed. ctx is cancelled by Server.Close.
func (c *srvConn) serve(ctx context.Context) error {
	defer c.srv.forget(c)
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	reqCtx, stopReqs := context.WithCancelCause(context.WithValue(ctx, http.LocalAddrContextKey, c.rwc.LocalAddr()))
	defer stopReqs(nil)
	c.abort, c.stopReqs = abort, stopReqs

	closed := make(chan struct{})
	stopCloser := context.AfterFunc(ctx, func() {
		// Runs once, when ctx ends (Close or an abort): closing the socket
		// fails every pending read and write on it, which is what makes the
		// loops and streaming handlers exit.
		c.rwc.Close()
		close(closed)
	})

	var hub vanilla.Hub
	// The writer loop gets ctx itself, not the Hub's child of it: ctx is
	// cancelled before the handler contexts below it, so a handler that
	// returns because of a Close is never written.
	hub.Go(ctx, func(context.Context) error { return c.writeLoop(ctx) })
	linger := c.readLoop(reqCtx, &hub)
	err := hub.Wait()
	if linger && ctx.Err() == nil {
		c.linger()
	}
	if stopCloser() {
		c.rwc.Close()
	} else {
		<-closed
	}
	return err
}

// linger half-closes the connection after its last response and discards
// what the client still sends, until it closes too (or for srvLingerTimeout,
// at most srvLingerBytes). Closing a socket with unread input makes the kernel
// send a reset, which can destroy responses the client has not read yet.
func (c *srvConn) linger() {
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	c.rwc.SetReadDeadline(time.Now().Add(srvLingerTimeout))
	io.CopyN(io.Discard, c.rwc, srvLingerBytes)
}

// shutdown makes the reader loop read no more requests; it interrupts it if
// it is waiting for one.
func (c *srvConn) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shuttingDown = true
	if c.idleWait {
		c.interruptLocked()
	}
}

func (c *srvConn) interruptLocked() {
	c.interrupted = true
	c.rwc.SetReadDeadline(srvPastDeadline)
}

// clearReadDeadline removes the idle or header deadline, if one is set and
// reads were not interrupted, so that it does not apply to the body.
func (c *srvConn) clearReadDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deadline && !c.interrupted {
		c.rwc.SetReadDeadline(time.Time{})
		c.deadline = false
	}
}

// readLoop reads requests, queues a response slot for each and starts its
// handler, until the connection reads no more requests. It closes the slot
// queue when it returns, so that the writer loop ends after the last
// response. It reports whether the client may have sent more than was read
// (so the connection should linger before it closes).
func (c *srvConn) readLoop(ctx context.Context, hub *vanilla.Hub) (linger bool) {
	defer func() {
		c.mu.Lock()
		c.readerDone = true
		c.mu.Unlock()
		c.slotsS.Close()
		c.jobsS.Close()
		c.bodyR.Close()
	}()
	s := c.srv
	maxReqs := s.maxRequests()
	barrier := false // the previous request was not safe: wait for its handler
	for n := 1; ; n++ {
		if err := c.awaitRequest(); err != nil {
			switch {
			case errors.Is(err, errSrvStopReading) || c.isInterrupted():
				return true
			case srvIsTimeout(err): // idle timeout
				return false
			default: // EOF or a broken connection
				c.stopReqs(errSrvClientGone)
				return false
			}
		}
		req, err := c.readRequest()
		if err != nil {
			if c.isInterrupted() {
				return true
			}
			code := srvReadErrorStatus(err, c.lr.hit)
			if code == 0 {
				return false
			}
			s.logger().Debug("httpx: bad request", "remote", c.remoteAddr, "status", code, "err", err)
			c.enqueue(ctx, newSrvErrorResponse(c, code))
			return true
		}
		if code := srvCheckRequest(req, s.maxBodyBytes()); code != 0 {
			c.enqueue(ctx, newSrvErrorResponse(c, code))
			return true
		}
		req.RemoteAddr = c.remoteAddr
		w := newSrvResponse(c, req)
		last := req.Close || n == maxReqs
		w.closeAfter = last
		safe := srvIsSafe(req.Method)
		if (!safe || barrier) && c.awaitHandlers(ctx) != nil {
			return true
		}
		barrier = !safe
		hasBody := req.Body != http.NoBody
		if hasBody {
			w.body = newSrvBody(c, w, req, s.maxBodyBytes())
			req.Body = w.body
		}

		c.mu.Lock()
		c.running++
		reuse := c.idleWorkers > 0 // reserve an idle worker
		if reuse {
			c.idleWorkers--
		}
		c.mu.Unlock()
		if !c.enqueue(ctx, w) {
			c.handlerReturned(reuse)
			return true
		}
		if !reuse {
			// Exits when the reader loop closes jobs; see worker.
			hub.Go(ctx, func(ctx context.Context) error { return c.worker(ctx, w) })
		} else if c.jobsS.Send(ctx, w) != nil {
			w.abandon()
			return true
		}

		if hasBody {
			// The handler reads the body from br: wait until it has
			// consumed or drained it, or given up on it.
			if keep, err := c.bodyR.Recv(ctx); err != nil || !keep {
				return true
			}
		}
		if last {
			return true
		}
	}
}

// awaitRequest waits for the first byte of the next request (at most
// IdleTimeout once no response is pending) and then arms the
// read-header timeout.
func (c *srvConn) awaitRequest() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shuttingDown || c.interrupted {
		return errSrvStopReading
	}
	// The header may be read with br's read-ahead on top; readRequest
	// checks the exact size.
	c.lr.remain = int64(c.srv.maxHeaderBytes()) + srvReadBufferSize
	c.lr.hit = false
	if c.br.Buffered() == 0 {
		c.idleWait = true
		if c.outstanding == 0 {
			c.rwc.SetReadDeadline(time.Now().Add(c.srv.idleTimeout()))
			c.deadline = true
		}
		c.mu.Unlock()
		_, err := c.br.Peek(1)
		c.mu.Lock()
		c.idleWait = false
		if err != nil {
			return err
		}
		if c.shuttingDown || c.interrupted {
			return errSrvStopReading
		}
	}
	// A header that is all in br cannot be slow: skip the timer.
	buffered, _ := c.br.Peek(c.br.Buffered())
	if !bytes.Contains(buffered, []byte("\r\n\r\n")) {
		c.rwc.SetReadDeadline(time.Now().Add(c.srv.readHeaderTimeout()))
		c.deadline = true
	}
	return nil
}

// readRequest parses the next request header, which awaitRequest has
// begun to read.
func (c *srvConn) readRequest() (*http.Request, error) {
	start := c.lr.n - int64(c.br.Buffered())
	req, err := http.ReadRequest(c.br)
	c.lr.remain = math.MaxInt64
	c.clearReadDeadline()
	if err != nil {
		return nil, err
	}
	if c.lr.n-int64(c.br.Buffered())-start > int64(c.srv.maxHeaderBytes()) {
		c.lr.hit = true
		return nil, errSrvHeaderTooLarge
	}
	return req, nil
}

// srvReadErrorStatus is the status to answer a request that could not be
// read with, or 0 to close the connection without an answer.
func srvReadErrorStatus(err error, limitHit bool) int {
	var oe *net.OpError
	switch {
	case limitHit:
		return http.StatusRequestHeaderFieldsTooLarge
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe),
		srvIsTimeout(err), errors.As(err, &oe):
		return 0 // the client is gone or too slow: nobody to answer
	}
	return http.StatusBadRequest
}

// srvCheckRequest returns the error status for a parsed request the server
// does not serve, or 0.
func srvCheckRequest(req *http.Request, maxBody int64) int {
	switch {
	case req.ProtoMajor != 1:
		return http.StatusHTTPVersionNotSupported
	case req.ProtoAtLeast(1, 1) && req.Host == "" && req.Method != http.MethodConnect:
		return http.StatusBadRequest // RFC 9112 section 3.2: Host is required
	case req.ContentLength > maxBody:
		return http.StatusRequestEntityTooLarge
	}
	return 0
}

func srvIsSafe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

func srvIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *srvConn) isInterrupted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.interrupted
}

// enqueue hands w to the writer loop, waiting while the queue is full. It
// reports false if the writer loop is gone or ctx ended.
func (c *srvConn) enqueue(ctx context.Context, w *srvResponse) bool {
	c.mu.Lock()
	c.outstanding++
	c.mu.Unlock()
	if err := c.slotsS.Send(ctx, w); err != nil {
		c.mu.Lock()
		c.outstanding--
		c.mu.Unlock()
		return false
	}
	return true
}

// awaitHandlers waits until no handler of the connection is running.
func (c *srvConn) awaitHandlers(ctx context.Context) error {
	c.mu.Lock()
	if c.running == 0 {
		c.mu.Unlock()
		return nil
	}
	if c.quiet == nil {
		c.quiet = make(chan struct{})
	}
	quiet := c.quiet
	c.mu.Unlock()
	select {
	case <-quiet:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// handlerReturned accounts for a handler that returned, and for its
// worker, which is idle from now on.
func (c *srvConn) handlerReturned(idle bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.running--
	if idle {
		c.idleWorkers++
	}
	if c.running == 0 && c.quiet != nil {
		close(c.quiet)
		c.quiet = nil
	}
}

// worker runs handlers: first that of w, then each one the reader loop
// deals it through jobs. Workers are started on demand and kept, at most
// MaxConcurrent (one per running handler). A worker exits when the reader
// loop closes jobs (it starts no more handlers) or ctx ends.
func (c *srvConn) worker(ctx context.Context, w *srvResponse) error {
	for {
		c.runHandler(ctx, w)
		var err error
		if w, err = c.jobsR.Recv(ctx); err != nil {
			return nil
		}
	}
}

// runHandler runs the handler of w with a request context derived from ctx
// and cancelled when it returns, recovers a panic, and completes w for the
// writer loop.
func (c *srvConn) runHandler(ctx context.Context, w *srvResponse) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.req = w.req.WithContext(ctx)
	c.serveHTTP(w)
	keep, tooLarge := true, false
	if w.body != nil {
		keep = w.body.finish()
		tooLarge = w.body.isTooLarge()
	}
	// The worker counts as idle before the writer loop can free the slot,
	// so the reader loop never starts more workers than MaxConcurrent.
	c.handlerReturned(true)
	w.finish(keep, tooLarge)
}

func (c *srvConn) serveHTTP(w *srvResponse) {
	defer func() {
		if v := recover(); v != nil {
			w.handlePanic(v)
		}
	}()
	c.srv.handler().ServeHTTP(w, w.req)
}

// writeLoop writes the queued responses in order. It exits when the reader
// loop has closed the queue and every response in it is written, when a
// response ends the connection (Connection: close, an aborted response),
// when writing fails, or when ctx ends. Unless it ends cleanly it aborts the
// connection, which closes the socket.
func (c *srvConn) writeLoop(ctx context.Context) error {
	clean := false
	defer func() {
		if !clean {
			c.abort(errSrvAborted)
		}
	}()
	for {
		w, err := c.slotsR.TryRecv()
		if errors.Is(err, vanilla.ErrWouldBlock) {
			// Nothing else is ready: send what is buffered first.
			if c.bw.Flush() != nil {
				return nil
			}
			w, err = c.slotsR.Recv(ctx)
		}
		if err != nil {
			// ErrClosed: the reader loop is done and every response is written.
			clean = errors.Is(err, vanilla.ErrClosed) && c.bw.Flush() == nil
			return nil
		}
		more, err := c.writeResponse(ctx, w)
		c.responseWritten()
		if err != nil {
			return nil
		}
		if !more {
			clean = c.bw.Flush() == nil
			c.stopReading()
			return nil
		}
	}
}

// responseWritten accounts for a response handed to bw, and arms the idle
// timeout if it was the last one while the reader loop waits for a request.
func (c *srvConn) responseWritten() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outstanding--
	if c.outstanding == 0 && c.idleWait && !c.interrupted {
		c.rwc.SetReadDeadline(time.Now().Add(c.srv.idleTimeout()))
		c.deadline = true
	}
}

// stopReading ends the connection after the response just written: the
// reader loop stops, later responses are dropped and their handlers'
// contexts cancelled.
func (c *srvConn) stopReading() {
	c.stopReqs(errSrvNotWritten)
	c.mu.Lock()
	c.interruptLocked()
	c.mu.Unlock()
	c.slotsR.Close()
}

// writeResponse makes w the head, waits for its handler to return (while it
// streams, if it does) and writes what remains. It reports whether the
// connection goes on.
func (c *srvConn) writeResponse(ctx context.Context, w *srvResponse) (more bool, err error) {
	// Until w is the head, bw is the writer loop's alone. A handler about
	// to finish saves a write: yield to it a little before flushing what
	// earlier responses left in bw; flush without holding w.mu, so that
	// the handler can go on buffering meanwhile.
	for i := 0; i < srvYields && c.bw.Buffered() > 0 && !w.isDone(); i++ {
		runtime.Gosched()
	}
	if !w.isDone() {
		if err := c.bw.Flush(); err != nil {
			return false, err
		}
	}
	w.mu.Lock()
	w.head = true
	if w.headCh != nil {
		close(w.headCh)
	}
	if !w.done {
		if w.flushWanted && !w.committed {
			w.commitLocked(false)
			if err := c.bw.Flush(); err != nil && w.err == nil {
				w.err = err
			}
		}
		// Wait for the handler; while it runs it may stream through bw.
		done := make(chan struct{})
		w.doneCh = done
		w.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
		w.mu.Lock()
	}
	defer w.mu.Unlock()
	if ctx.Err() != nil { // closed: what is left is not written
		return false, context.Cause(ctx)
	}
	return w.completeLocked()
}

// srvConnReader is what br reads from: the socket, with a byte budget that
// limits the size of a request header.
type srvConnReader struct {
	r      net.Conn
	n      int64 // bytes read so far
	remain int64 // bytes Read may still return
	hit    bool  // the header is too large: Read refused, or readRequest measured it
}

func (cr *srvConnReader) Read(p []byte) (int, error) {
	if cr.remain <= 0 {
		cr.hit = true
		return 0, errSrvHeaderTooLarge
	}
	if int64(len(p)) > cr.remain {
		p = p[:cr.remain]
	}
	n, err := cr.r.Read(p)
	cr.remain -= int64(n)
	cr.n += int64(n)
	return n, err
}

// srvBody is the Body of a request that has one. It reads from the
// connection with the body size limit, and hands the connection back to the
// reader loop exactly once: at EOF, on an error, or when it is closed (by
// the handler, or when the handler returns), after draining what is left.
type srvBody struct {
	c             *srvConn
	w             *srvResponse
	src           io.Reader // http.ReadRequest's body; read only until handedBack
	contentLength int64     // -1 when unknown (chunked)
	limit         int64

	mu sync.Mutex
	// Everything below is guarded by mu.
	expectContinue bool // 100 Continue is owed before the first read
	n              int64
	sawEOF         bool
	closed         bool
	tooLarge       bool
	err            error // sticky read error
	handedBack     bool  // br belongs to the reader loop again
	keep           bool  // the verdict handed back
}

func newSrvBody(c *srvConn, w *srvResponse, req *http.Request, limit int64) *srvBody {
	return &srvBody{
		c: c, w: w, src: req.Body, contentLength: req.ContentLength, limit: limit,
		expectContinue: req.ProtoAtLeast(1, 1) && srvHeaderHasToken(req.Header["Expect"], "100-continue"),
	}
}

func (b *srvBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.sawEOF:
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case len(p) == 0:
		return 0, nil
	}
	if b.expectContinue {
		b.expectContinue = false
		if err := b.w.sendContinue(); err != nil {
			b.err = err
			b.handBackLocked(false)
			return 0, err
		}
	}
	if rem := b.limit - b.n + 1; int64(len(p)) > rem {
		p = p[:rem] // one byte past the limit tells that it is exceeded
	}
	n, err := b.src.Read(p)
	b.n += int64(n)
	switch {
	case b.n > b.limit:
		n -= int(b.n - b.limit)
		b.n = b.limit
		b.tooLarge = true
		b.err = &http.MaxBytesError{Limit: b.limit}
		b.handBackLocked(false)
		return n, b.err
	case err == io.EOF:
		b.sawEOF = true
		b.handBackLocked(true)
	case err != nil:
		b.err = err
		b.handBackLocked(false)
	}
	return n, err
}

// Close drains the rest of the body (see Server) and hands the connection
// back to the reader loop. Later reads fail.
func (b *srvBody) Close() error {
	b.finish()
	return nil
}

// finish closes the body and reports whether the connection can go on.
func (b *srvBody) finish() (keep bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.handedBack {
		return b.keep
	}
	keep = false
	switch {
	case b.expectContinue:
		// The client waits for 100 Continue before sending the body we
		// did not read: it cannot be drained.
	case b.contentLength >= 0 && b.contentLength-b.n > srvMaxDrainBytes:
	default:
		limit := min(srvMaxDrainBytes, b.limit-b.n) + 1
		n, err := io.CopyN(io.Discard, b.src, limit)
		keep = err == io.EOF && n < limit
	}
	b.handBackLocked(keep)
	return keep
}

// handBackLocked gives br back to the reader loop with the verdict keep.
func (b *srvBody) handBackLocked(keep bool) {
	if b.handedBack {
		return
	}
	b.handedBack, b.keep = true, keep
	// The queue has room: the reader loop waits for one verdict per body
	// before it reads the next request. After it is gone this fails, fine.
	b.c.bodyS.TrySend(keep)
}

func (b *srvBody) isTooLarge() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tooLarge
}

// srvHeaderHasToken reports whether a comma-separated header has token.
func srvHeaderHasToken(vals []string, token string) bool {
	for _, v := range vals {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
