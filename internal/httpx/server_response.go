package httpx

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

var errSrvHandlerDone = errors.New("httpx: write after the handler returned")

const (
	srvSniffLen     = 512 // how many body bytes http.DetectContentType looks at
	srvInlineBuffer = 512 // the storage of a response's buf inside it
)

// srvResponse is one response slot: the http.ResponseWriter (and
// http.Flusher) of one request, and what the writer loop writes for it.
//
// Until the writer loop reaches the slot, the handler's writes are
// buffered, up to Server.ResponseBuffer bytes; a write past that waits
// until the slot is the head. At the head the handler may stream: once the
// buffer overflows or it flushes, the header is committed and its writes go
// to the connection's bw, which the writer loop lends to it until it
// returns (done). After that the writer loop completes the response.
type srvResponse struct {
	c *srvConn

	// Set by the reader loop before the slot is queued; read-only after.
	isHEAD  bool
	proto10 bool     // HTTP/1.0: no chunked encoding; keep-alive only if asked
	body    *srvBody // nil if the request has no body

	// Used by the handler's goroutine only.
	req           *http.Request // with the handler's context
	handlerHeader http.Header

	mu sync.Mutex
	// Everything below is guarded by mu.
	status        int
	wroteHeader   bool
	hdr           srvHeaderInfo // what WriteHeader found in the handler's header
	contentLength int64         // declared by the handler; -1 if none
	written       int64         // body bytes the handler wrote
	// buf holds the handler's header fields as rendered by WriteHeader
	// (buf[:hdr.n], until committed), then the body bytes not sent yet
	// (HEAD: the first ones, to sniff the type).
	buf         []byte
	head        bool // the writer loop has reached this slot
	headCh      chan struct{}
	done        bool // the handler has returned
	doneCh      chan struct{}
	committed   bool // status line and header are in bw
	chunked     bool
	flushWanted bool  // Flush before the head: commit and flush on reaching it
	closeAfter  bool  // the connection ends after this response
	aborted     bool  // the response cannot be completed: end the connection after what was sent
	err         error // writing to the connection failed

	inline [srvInlineBuffer]byte // buf's first storage: a header and a small body need no allocation
}

func newSrvResponse(c *srvConn, req *http.Request) *srvResponse {
	return &srvResponse{
		c:             c,
		req:           req,
		isHEAD:        req.Method == http.MethodHead,
		proto10:       !req.ProtoAtLeast(1, 1),
		contentLength: -1,
	}
}

// newSrvErrorResponse is a complete response with status code that ends the
// connection, for a request the reader loop rejects.
func newSrvErrorResponse(c *srvConn, code int) *srvResponse {
	w := &srvResponse{c: c, contentLength: -1, closeAfter: true, done: true}
	w.resetLocked(code)
	return w
}

// srvHeaderInfo is what the server needs to know of a handler's header,
// which WriteHeader renders into the response's buf (that is its snapshot:
// later changes to the map have no effect).
type srvHeaderInfo struct {
	n               int  // rendered length, at the start of buf
	hasDate         bool // the handler set these
	hasContentType  bool
	hasConnection   bool
	connectionClose bool
}

// srvErrorHeader is the header of the server's own error responses.
const srvErrorHeader = "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"

// resetLocked replaces whatever the handler wrote with a plain error
// response. The header must not be committed.
func (w *srvResponse) resetLocked(code int) {
	w.status, w.wroteHeader = code, true
	w.hdr = srvHeaderInfo{n: len(srvErrorHeader), hasContentType: true}
	w.contentLength = -1
	w.flushWanted = false
	w.buf = append(w.buf[:0], srvErrorHeader...)
	w.buf = append(w.buf, http.StatusText(code)...)
	w.buf = append(w.buf, '\n')
	w.written = int64(len(w.buf) - w.hdr.n)
}

// Header returns the header map that WriteHeader (or the first Write) sends.
// Changes after that have no effect.
func (w *srvResponse) Header() http.Header {
	if w.handlerHeader == nil {
		w.handlerHeader = make(http.Header)
	}
	return w.handlerHeader
}

// WriteHeader sets the status code; the header is sent when the response's
// turn comes. Informational (1xx) codes are ignored.
func (w *srvResponse) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("httpx: invalid WriteHeader code " + strconv.Itoa(code)) // as net/http
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(code)
}

// writeHeaderLocked records the status and renders the handler's header
// into buf, which must hold nothing else yet.
func (w *srvResponse) writeHeaderLocked(code int) {
	log := w.c.srv.logger()
	switch {
	case w.wroteHeader:
		log.Warn("httpx: superfluous WriteHeader call", "code", code)
		return
	case code < 200:
		log.Debug("httpx: informational response not supported", "code", code)
		return
	}
	w.wroteHeader, w.status = true, code
	h := w.handlerHeader
	exclude := srvExcludedHeaders
	if cl := h.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			log.Warn("httpx: invalid Content-Length from handler", "value", cl)
			exclude = srvExcludedWithLength
		}
	}
	_, w.hdr.hasDate = h["Date"]
	_, w.hdr.hasContentType = h["Content-Type"]
	_, w.hdr.hasConnection = h["Connection"]
	w.hdr.connectionClose = srvHeaderHasToken(h["Connection"], "close")
	if w.buf == nil {
		w.buf = w.inline[:0]
	}
	b := srvAppender{b: w.buf[:0]}
	h.WriteSubset(&b, exclude)
	w.buf = b.b
	w.hdr.n = len(w.buf)
}

// srvAppender is an io.Writer that appends to b.
type srvAppender struct{ b []byte }

func (a *srvAppender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

func (a *srvAppender) WriteString(s string) (int, error) {
	a.b = append(a.b, s...)
	return len(s), nil
}

// Write buffers p, or sends it if the response streams; past
// Server.ResponseBuffer it waits until every earlier response is written.
func (w *srvResponse) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return 0, errSrvHandlerDone
	}
	if !w.wroteHeader {
		w.writeHeaderLocked(http.StatusOK)
	}
	switch {
	case len(p) == 0:
		return 0, nil
	case !srvBodyAllowed(w.status):
		return 0, http.ErrBodyNotAllowed
	case w.contentLength >= 0 && w.written+int64(len(p)) > w.contentLength:
		return 0, http.ErrContentLength
	case w.err != nil:
		return 0, w.err
	case w.isHEAD: // counted, not sent
		w.written += int64(len(p))
		if n := len(w.buf) - w.hdr.n; n < srvSniffLen {
			w.buf = append(w.buf, p[:min(len(p), srvSniffLen-n)]...)
		}
		return len(p), nil
	case !w.committed && len(w.buf)-w.hdr.n+len(p) <= w.c.srv.responseBuffer():
		w.written += int64(len(p))
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if err := w.waitHeadLocked(); err != nil {
		return 0, err
	}
	switch { // changed by another goroutine meanwhile
	case w.done:
		return 0, errSrvHandlerDone
	case w.err != nil:
		return 0, w.err
	}
	w.written += int64(len(p))
	if !w.committed {
		w.commitLocked(false)
	}
	w.writeBodyLocked(p)
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// Flush sends what is buffered if the response is at the head; before
// that, it makes the response stream as soon as it gets there.
func (w *srvResponse) Flush() { w.FlushError() }

// FlushError is Flush with the write error, for http.ResponseController.
func (w *srvResponse) FlushError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errSrvHandlerDone
	}
	if !w.wroteHeader {
		w.writeHeaderLocked(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	if !w.head {
		w.flushWanted = true
		return nil
	}
	if !w.committed {
		w.commitLocked(false)
	}
	if err := w.c.bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// waitHeadLocked waits, with mu released, until the writer loop reaches w
// or the request context ends.
func (w *srvResponse) waitHeadLocked() error {
	for !w.head {
		if w.headCh == nil {
			w.headCh = make(chan struct{})
		}
		head := w.headCh
		ctx := w.req.Context()
		w.mu.Unlock()
		select {
		case <-head:
		case <-ctx.Done():
			w.mu.Lock()
			return context.Cause(ctx)
		}
		w.mu.Lock()
	}
	return nil
}

// sendContinue writes "100 Continue" once w is at the head and nothing of
// it is sent, for a request with "Expect: 100-continue".
func (w *srvResponse) sendContinue() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.waitHeadLocked(); err != nil {
		return err
	}
	if w.committed || w.done || w.err != nil {
		return w.err
	}
	w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	if err := w.c.bw.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// handlePanic turns a handler panic into a 500, or into the end of the
// connection if part of the response was sent (or for http.ErrAbortHandler).
func (w *srvResponse) handlePanic(v any) {
	if v != http.ErrAbortHandler {
		w.c.srv.logger().Error("httpx: handler panic", "remote", w.c.remoteAddr,
			"method", w.req.Method, "url", w.req.URL.String(), "panic", v, "stack", string(debug.Stack()))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.committed || v == http.ErrAbortHandler {
		w.aborted = true
		return
	}
	w.resetLocked(http.StatusInternalServerError)
}

// finish hands the response to the writer loop once the handler has
// returned and its body is closed: keep is false if the connection cannot
// go on, tooLarge if the body was over the limit.
func (w *srvResponse) finish(keep, tooLarge bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.wroteHeader {
		w.writeHeaderLocked(http.StatusOK)
	}
	if tooLarge && !w.committed && !w.aborted {
		w.resetLocked(http.StatusRequestEntityTooLarge)
	}
	if !keep {
		w.closeAfter = true
	}
	w.done = true
	if w.doneCh != nil {
		close(w.doneCh)
	}
}

func (w *srvResponse) isDone() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

// abandon completes a response whose handler will never run: the
// connection ends before it.
func (w *srvResponse) abandon() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.aborted, w.done = true, true
	if w.doneCh != nil {
		close(w.doneCh)
	}
}

// completeLocked writes what remains of w once its handler has returned,
// and reports whether the connection goes on. Run by the writer loop.
func (w *srvResponse) completeLocked() (more bool, err error) {
	switch {
	case w.err != nil:
		return false, w.err
	case w.aborted:
		return false, nil // the client sees a truncated response, or none
	case !w.committed:
		w.commitLocked(true)
	case w.chunked:
		w.c.bw.WriteString("0\r\n\r\n")
	case w.contentLength >= 0 && w.written < w.contentLength && w.sendsBody():
		w.closeAfter = true // short body: only closing can end it
	}
	if _, err := w.c.bw.Write(nil); err != nil { // bw's sticky error
		return false, err
	}
	return !w.closeAfter, nil
}

func (w *srvResponse) sendsBody() bool { return !w.isHEAD && srvBodyAllowed(w.status) }

// commitLocked writes the status line, the header and the buffered body to
// bw. final means the handler has returned, so the length is known.
func (w *srvResponse) commitLocked(final bool) {
	c := w.c
	sendsBody := w.sendsBody()
	if w.hdr.connectionClose {
		w.closeAfter = true
	}
	setLength := int64(-1)
	switch {
	case w.contentLength >= 0: // declared by the handler, and in h
		if final && sendsBody && w.written < w.contentLength {
			w.closeAfter = true
		}
	case final:
		if srvBodyAllowed(w.status) && (!w.isHEAD || w.written > 0) {
			setLength = w.written
		}
	case sendsBody && !w.proto10:
		w.chunked = true
	case sendsBody:
		w.closeAfter = true // HTTP/1.0: the body ends with the connection
	}
	if !w.closeAfter && c.lastBeforeShutdown() {
		w.closeAfter = true
	}

	bw := c.bw
	body := w.buf[w.hdr.n:]
	bw.WriteString(srvStatusLine(w.status))
	bw.Write(w.buf[:w.hdr.n])
	if !w.hdr.hasDate {
		bw.WriteString("Date: ")
		bw.Write(c.date.get())
		bw.WriteString("\r\n")
	}
	if !w.hdr.hasContentType && srvBodyAllowed(w.status) && len(body) > 0 {
		bw.WriteString("Content-Type: ")
		bw.WriteString(http.DetectContentType(body[:min(len(body), srvSniffLen)]))
		bw.WriteString("\r\n")
	}
	if setLength >= 0 {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(c.date.scratch[:0], setLength, 10))
		bw.WriteString("\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter && !w.hdr.connectionClose:
		bw.WriteString("Connection: close\r\n")
	case !w.closeAfter && w.proto10 && !w.hdr.hasConnection:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
	w.committed = true
	if sendsBody && len(body) > 0 {
		w.writeBodyLocked(body)
	}
	w.buf, w.hdr.n = nil, 0
}

// writeBodyLocked writes p to bw, framed as a chunk if the response is
// chunked, and records a write error.
func (w *srvResponse) writeBodyLocked(p []byte) {
	bw := w.c.bw
	if w.chunked {
		bw.Write(strconv.AppendInt(w.c.date.scratch[:0], int64(len(p)), 16))
		bw.WriteString("\r\n")
		bw.Write(p)
		bw.WriteString("\r\n")
	} else {
		bw.Write(p)
	}
	if _, err := bw.Write(nil); err != nil && w.err == nil {
		w.err = err
	}
}

// lastBeforeShutdown reports whether the response being written is the
// last one of a connection that Server.Shutdown is closing.
func (c *srvConn) lastBeforeShutdown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shuttingDown && c.readerDone && c.outstanding == 1
}

// The server frames bodies itself: it does not send these from handlers.
var (
	srvExcludedHeaders    = map[string]bool{"Transfer-Encoding": true, "Trailer": true}
	srvExcludedWithLength = map[string]bool{"Transfer-Encoding": true, "Trailer": true, "Content-Length": true}
)

func srvBodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// srvStatusLines holds "HTTP/1.1 200 OK\r\n" and the like for known codes.
var srvStatusLines = func() (lines [600]string) {
	for code := range lines {
		if text := http.StatusText(code); text != "" {
			lines[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + text + "\r\n"
		}
	}
	return lines
}()

func srvStatusLine(code int) string {
	if code < len(srvStatusLines) && srvStatusLines[code] != "" {
		return srvStatusLines[code]
	}
	return "HTTP/1.1 " + strconv.Itoa(code) + " status code " + strconv.Itoa(code) + "\r\n"
}

// srvDateCache formats the Date header once per second. It belongs with bw.
type srvDateCache struct {
	sec     int64
	b       []byte
	scratch [24]byte // for numbers
}

func (d *srvDateCache) get() []byte {
	now := time.Now()
	if s := now.Unix(); s != d.sec || d.b == nil {
		d.sec = s
		d.b = now.UTC().AppendFormat(d.b[:0], http.TimeFormat)
	}
	return d.b
}

var _ interface {
	http.ResponseWriter
	http.Flusher
} = (*srvResponse)(nil)
