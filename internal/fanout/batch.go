package fanout

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Buffer sizes of a client connection. coder/websocket reads and writes
// through the bufio buffers the Hijacker hands it; net/http's are 4 KiB
// each, and every idle client would hold them. coder/websocket writes only
// control frames, of at most 127 bytes (a 2-byte header, unmasked, and at
// most 125 bytes of payload): each fits, so each reaches Write whole. It
// reads frame headers a byte at a time and payloads with reads at least as
// large as the buffer, which bufio passes straight to Read: 16 bytes, the
// smallest bufio.Reader, costs no more system calls on client messages
// than a larger one would on messages of a few hundred bytes.
const (
	readBufSize  = 16
	writeBufSize = 128
	maxBatch     = 32 << 10 // a writer flushes once this much is queued

	// maxArray is the largest payload of a batch frame (a JSON array of
	// messages): under 32 KiB, the read limit many websocket clients have
	// by default (coder/websocket's among them). A single message larger
	// than that still goes, alone.
	maxArray = 32<<10 - 256
)

// batchPool holds the buffers of batchConns that have bytes queued.
var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// batchConn is a client's socket with an ordered queue of outgoing bytes
// in front of it. The Hub's writers queue text frames with appendText and
// send the queue with tryFlush, which never blocks, or flush, which does:
// the frames of a batch go out in one socket write. coder/websocket writes
// its control frames (ping, pong, close) through Write, which sends them
// with whatever is queued before them at once, as coder/websocket expects
// (it may close the socket right after a close frame), and returns once
// their last byte is in the socket; so do the Hub's pings and the pongs
// that answer the pings the reads take off the stream (answerPing). Once
// a close frame is queued, Write refuses pings and pongs: nothing follows
// the close frame. Reads return the bytes net/http had
// read ahead first, and pass a frame gate that refuses a client message
// past readLimit at its header. A read returns the bytes of one frame at
// most (the rest waits in pre): bufio then never holds bytes past the
// frame coder/websocket is reading, so once it has read a message every
// byte not yet read is in pre or in the socket, where waitReadable looks.
//
// The text frames are framed here rather than by coder/websocket's Write:
// that takes the connection's frame lock, which a control frame's Write
// holds while the socket is full, and a pool writer must never wait on a
// client's socket. Server frames are unmasked and the connection has no
// extension (compression is off), so a text frame is a 2 to 10 byte header
// and the message (RFC 6455, section 5.2). coder/websocket's own writes are
// only control frames, each written whole by one Write call.
//
// It is safe for concurrent use. One goroutine at a time writes to the
// socket (flushing), and never with mu held, so no caller waits on a
// stuck socket unless it writes through Write or flush itself. Close does
// not block, and makes a blocked write return. Whoever hijacked the
// connection closes it (coder/websocket's Conn does).
type batchConn struct {
	net.Conn
	raw     syscall.RawConn        // Conn's descriptor, for writes that must not block; nil if it has none
	timeout time.Duration          // a blocking write that makes no progress for this long fails with errSlow
	sndbuf  int                    // the kernel send buffer asked for (SO_SNDBUF); 0 when left to the kernel
	pongs   atomic.Uint32          // pongs received: counted by waitReadable and readyNow and, for those coder/websocket reads, by onPong
	onClose atomic.Pointer[func()] // called by Close once the socket is closed, if set: the poller's reads, which no event would wake then

	// rmu is held by Read throughout, its socket read included, and by
	// waitReadable and readyNow while they take a ping or pong off the
	// stream themselves (they only try it: see readwait_unix.go).
	// coder/websocket reads from one goroutine at a time (its reader, or
	// its close handshake).
	rmu     sync.Mutex
	pre     []byte    // bytes not passed to coder/websocket yet (read ahead by net/http, or past a frame's end), returned by Read first; guarded by rmu
	gate    frameGate // follows the client's frame headers, refusing a message past readLimit; guarded by rmu
	pingDue []byte    // the payload of a ping taken off the stream (takeControlLocked), to be answered; nil: none; guarded by rmu

	mu sync.Mutex
	// Guarded by mu.
	idle     sync.Cond // signalled when flushing ends; uses mu
	flushing bool      // a goroutine is writing queued bytes to the socket, without mu
	closing  bool      // a close frame has been queued: no more text frames
	buf      *[]byte   // the queued bytes; from batchPool, nil when none
	queued   uint64    // bytes ever queued: the stream offset at the end of buf
	sent     uint64    // bytes the socket has taken: the stream offset at the start of buf
	err      error     // the first write error: what was queued then is lost, and every later write fails with it
}

// newBatchConn returns conn with a write queue. A blocking write fails
// with errSlow once the socket has taken nothing for timeout. sndbuf > 0
// sets the socket's kernel send buffer (SO_SNDBUF), which also turns off
// the kernel's autotuning of it: what the kernel holds for a client that
// does not read is then bounded (see the package doc).
func newBatchConn(conn net.Conn, pre []byte, timeout time.Duration, sndbuf int) *batchConn {
	c := new(batchConn)
	c.init(conn, pre, timeout, sndbuf)
	return c
}

// init sets up c, a zero batchConn, as newBatchConn does. (Hijack sets up
// the batchConn that ServeHTTP made before upgrading: its onPong is given
// to coder/websocket before the connection exists.)
func (c *batchConn) init(conn net.Conn, pre []byte, timeout time.Duration, sndbuf int) {
	c.Conn, c.pre, c.timeout, c.gate = conn, pre, timeout, frameGate{limit: readLimit}
	c.idle.L = &c.mu
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	if sndbuf > 0 {
		if b, ok := bufferSizer(conn); ok && b.SetWriteBuffer(sndbuf) == nil {
			c.sndbuf = sndbuf
		}
	}
}

// writeBufferSizer is a socket whose kernel send buffer can be set.
type writeBufferSizer interface{ SetWriteBuffer(int) error }

// bufferSizer returns the socket under conn whose send buffer bounds what
// the kernel holds for the client: conn itself, or under TLS (a
// *tls.Conn, which has no SetWriteBuffer) the connection it wraps. Only
// the buffer's size is set through it; bytes always go through conn.
func bufferSizer(conn net.Conn) (writeBufferSizer, bool) {
	if b, ok := conn.(writeBufferSizer); ok {
		return b, true
	}
	if w, ok := conn.(interface{ NetConn() net.Conn }); ok {
		b, ok := w.NetConn().(writeBufferSizer)
		return b, ok
	}
	return nil, false
}

// Read reads the client's bytes for coder/websocket: what is in pre (read
// ahead by net/http, or by an earlier Read), then the socket's, up to the
// end of the frame they are part of; what a socket read brings past it
// waits in pre. Every byte passes the frame gate: once a
// frame header announces a message past readLimit, Read returns the bytes
// before that header, then errTooBig for good, so the connection is
// refused (1009) before any of the payload is read or waited for. coder/websocket's own read limit would read readLimit bytes
// of it first.
func (c *batchConn) Read(p []byte) (n int, err error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if err := c.gate.err; err != nil {
		return 0, err
	}
	fromPre := len(c.pre) > 0
	if fromPre {
		n = copy(p, c.pre)
	} else {
		n, err = c.Conn.Read(p)
	}
	m := c.gate.scanFrame(p[:n])
	switch {
	case fromPre:
		c.pre = c.pre[m:]
		if len(c.pre) == 0 {
			c.pre = nil
		}
	case m < n && c.gate.err == nil:
		// Bytes of the next frame, for the next Read. An error that came
		// with them comes again from the socket's next read.
		c.pre, err = bytes.Clone(p[m:n]), nil
	}
	if c.gate.err != nil {
		return m, c.gate.err
	}
	return m, err
}

// Close closes the socket, then calls onClose, if set.
func (c *batchConn) Close() error {
	err := c.Conn.Close()
	if f := c.onClose.Load(); f != nil {
		(*f)()
	}
	return err
}

// onPong counts a pong that coder/websocket has read: it is the
// connection's AcceptOptions.OnPongReceived.
func (c *batchConn) onPong(context.Context, []byte) { c.pongs.Add(1) }

// onPing is the connection's AcceptOptions.OnPingReceived, for the pings
// that coder/websocket reads itself (those answerPing does not take off
// the stream first): it lets coder/websocket answer them until a close
// frame is queued, and has it drop them after. A pong may not follow the
// close frame, and coder/websocket, asked to send one then, fails the
// read it is in: in its close handshake, that ends the handshake (Close
// returns nil for it all the same) and closes the socket with the peer's
// answer to the close unread, which makes the kernel reset the
// connection instead of ending it.
func (c *batchConn) onPing(context.Context, []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closing
}

// errTooBig is the frame gate's error: a client's frame header announced a
// message of more than readLimit bytes.
var errTooBig = errors.New("fanout: client message too big")

// frameGate follows the frames of the stream a client sends (RFC 6455,
// section 5.2), header by header, to refuse a message past its limit at
// the header that announces it: a data frame whose length, with the
// message's earlier fragments, exceeds limit. It only counts: checking
// the frames is coder/websocket's job, and control frames are left to it
// (it refuses those over 125 bytes). It is not safe for concurrent use.
type frameGate struct {
	limit uint64   // the largest message accepted; set by newBatchConn
	hdr   [14]byte // the header being read
	hn    int      // bytes of it read so far
	skip  uint64   // payload bytes of the current frame still to pass
	msg   uint64   // payload bytes of the current data message so far
	err   error    // errTooBig once refused: nothing more passes
}

// scan follows b, the next bytes of the stream, and returns how many of
// them may pass: all of them, or, once a header announces too big a
// message, those before that header (g.err is set then), so that
// coder/websocket never acts on it.
func (g *frameGate) scan(b []byte) int { return g.pass(b, false) }

// scanFrame is scan, but passes no byte past the end of the frame that b
// starts in (or starts): the bytes after it are for the next scan.
func (g *frameGate) scanFrame(b []byte) int { return g.pass(b, true) }

// atBoundary reports whether the bytes passed so far end with a frame:
// the stream's next byte starts a frame header.
func (g *frameGate) atBoundary() bool { return g.hn == 0 && g.skip == 0 && g.err == nil }

// pass is scan; with one set, it stops at the end of a frame.
func (g *frameGate) pass(b []byte, one bool) int {
	i, start := 0, 0 // start: where the header being read began in b (0 if before b)
	for i < len(b) {
		if g.hn == 0 {
			start = i
		}
		if g.skip > 0 {
			k := uint64(len(b) - i)
			if k > g.skip {
				k = g.skip
			}
			i += int(k)
			g.skip -= k
			if one && g.skip == 0 {
				return i // the frame's last payload byte
			}
			continue
		}
		g.hdr[g.hn] = b[i]
		g.hn++
		i++
		if g.hn < 2 {
			continue
		}
		need := 2
		switch g.hdr[1] & 0x7f {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if g.hdr[1]&0x80 != 0 {
			need += 4 // the mask key
		}
		if g.hn < need {
			continue
		}
		var l uint64
		switch l = uint64(g.hdr[1] & 0x7f); l {
		case 126:
			l = uint64(binary.BigEndian.Uint16(g.hdr[2:]))
		case 127:
			l = binary.BigEndian.Uint64(g.hdr[2:])
		}
		g.hn = 0
		g.skip = l
		switch op := g.hdr[0] & 0x0f; op {
		case 0x1, 0x2: // text, binary: a new message
			g.msg = 0
			fallthrough
		case 0x0: // continuation
			if l > g.limit || g.msg+l > g.limit {
				g.err = fmt.Errorf("%w: a frame header announces %d bytes, more than the limit of %d", errTooBig, g.msg+l, g.limit)
				g.skip = 0
				return start
			}
			g.msg += l
		}
		if one && l == 0 {
			return i // a frame without payload ends with its header
		}
	}
	return i
}

// Write queues p, a control frame from coder/websocket, and sends the
// queue, blocking until the socket has taken the last byte of p (sent by
// another goroutine's flush, if one runs, or by its own). It succeeds
// only then: when the queue is dropped, or a flush stops with part of p
// unsent, it fails, and coder/websocket drops the connection. (What of
// p remains queued after errSlow still goes out, before the close frame,
// so the stream stays whole.)
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) > 0 && p[0]&0x0f == opClose {
		c.closing = true
	}
	if len(p) > 0 && (p[0]&0x0f == opPing || p[0]&0x0f == opPong) && c.closing {
		// The Hub's ping (see ping), or a pong (answerPing, or
		// coder/websocket's own, decided before the close frame was
		// queued): nothing goes after the close frame.
		return 0, errClosing
	}
	c.queueLocked(p)
	end := c.queued
	for c.flushing && c.sent < end && c.err == nil {
		c.idle.Wait()
	}
	switch {
	case c.sent >= end:
		return len(p), nil // a flush sent it
	case c.err != nil:
		return 0, c.err // p was dropped with the rest of the queue: never a false success
	}
	if _, err := c.flushLocked(true, end); err != nil && c.sent < end {
		return 0, err
	}
	if c.sent < end { // cannot happen: a blocking flush sends all or fails
		return 0, fmt.Errorf("fanout: write: %d of %d bytes sent", len(p)-int(end-c.sent), len(p))
	}
	return len(p), nil
}

// Opcodes of the control frames the Hub looks at (RFC 6455, section 5.2).
const (
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xa
)

// pingFrame is the Hub's ping: final, unmasked, without payload. A
// client's answer is a pong without payload, which it masks: 6 bytes.
var pingFrame = []byte{0x80 | opPing, 0}

// maxControlFrame is the longest control frame a client sends: a 2 byte
// header, a 4 byte mask key and at most 125 bytes of payload (RFC 6455,
// section 5.5).
const maxControlFrame = 2 + 4 + 125

// controlAt returns the length of the client's ping or pong that b starts
// with, whole: final, without RSV bits, masked, with at most 125 bytes of
// payload. It returns 0 when b starts with anything else, or with only a
// part of one: those are coder/websocket's to read.
func controlAt(b []byte) int {
	if len(b) < 6 || (b[0] != 0x80|opPing && b[0] != 0x80|opPong) || b[1]&0x80 == 0 || b[1]&0x7f > 125 {
		return 0
	}
	if l := 6 + int(b[1]&0x7f); len(b) >= l {
		return l
	}
	return 0
}

// takeControlLocked takes f, a whole ping or pong (controlAt), off the
// stream: a pong is counted; a ping's payload, unmasked, waits in
// pingDue for answerPing. It reports whether f was a ping. The callers
// stop at a ping until it is answered, so none replaces another. c.rmu
// must be held.
func (c *batchConn) takeControlLocked(f []byte) (ping bool) {
	if f[0]&0x0f == opPong {
		c.pongs.Add(1)
		return false
	}
	key, p := f[2:6], bytes.Clone(f[6:])
	for i := range p {
		p[i] ^= key[i%4]
	}
	if p == nil {
		p = []byte{}
	}
	c.pingDue = p
	return true
}

// answerPing answers the ping taken off the stream, if any, with a pong
// carrying its payload, sent as coder/websocket's control frames are
// (Write: queued behind the frames before it, by the socket's one
// writer). It reports whether there was one. Once a close frame is
// queued Write refuses the pong, and the ping goes unanswered: nothing
// may follow the close frame. A pong that cannot be sent otherwise is
// given up too: the socket has failed (the next read or write reports
// it), or took nothing for WriteTimeout (errSlow: the Hub's next ping or
// frames for the client then fail the same way and end the connection
// with 1008). Meanwhile the caller, a poller step or the reader, waits.
func (c *batchConn) answerPing() bool {
	c.rmu.Lock()
	p := c.pingDue
	c.pingDue = nil
	c.rmu.Unlock()
	if p == nil {
		return false
	}
	_, _ = c.Write(append([]byte{0x80 | opPong, byte(len(p))}, p...))
	return true
}

// ping sends a ping, as coder/websocket's control frames go (see Write),
// and returns the count of pongs before it: the ping has been answered
// once pongs exceeds it. It fails once a close frame is queued.
func (c *batchConn) ping() (before uint32, err error) {
	before = c.pongs.Load()
	_, err = c.Write(pingFrame)
	return before, err
}

// appendText queues a text frame holding msg. It fails once a close frame
// has been queued, or after a write error.
func (c *batchConn) appendText(msg []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.canAppendLocked(); err != nil {
		return err
	}
	c.headerLocked(len(msg))
	c.queueLocked(msg)
	return nil
}

// appendArray queues one text frame holding the JSON array of msgs, each a
// JSON value: [m1,m2,...]. msgs must not be empty. It fails as appendText.
func (c *batchConn) appendArray(msgs []frame) error {
	n := len(msgs) + 1 // the brackets and commas
	for _, m := range msgs {
		n += len(m.b)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.canAppendLocked(); err != nil {
		return err
	}
	c.headerLocked(n)
	sep := byte('[')
	for _, m := range msgs {
		*c.buf = append(*c.buf, sep)
		*c.buf = append(*c.buf, m.b...)
		sep = ','
	}
	*c.buf = append(*c.buf, ']')
	c.queued += uint64(n)
	return nil
}

func (c *batchConn) canAppendLocked() error {
	switch {
	case c.err != nil:
		return c.err
	case c.closing:
		return errClosing
	}
	return nil
}

// errClosing is appendText's error once a close frame is queued: the
// connection is ending, and what is queued (the close frame last) must
// still go out, so the caller stops without dropping the queue.
var errClosing = fmt.Errorf("fanout: close frame queued: %w", net.ErrClosed)

// headerLocked queues the header of an unmasked final text frame of l
// bytes (RFC 6455, section 5.2).
func (c *batchConn) headerLocked(l int) {
	var hdr [10]byte
	hdr[0] = 0x80 | 0x1 // FIN, text
	n := 2
	switch {
	case l < 126:
		hdr[1] = byte(l)
	case l <= 0xffff:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(l))
		n = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(l))
		n = 10
	}
	c.queueLocked(hdr[:n])
}

func (c *batchConn) queueLocked(p []byte) {
	if c.buf == nil {
		c.buf = batchPool.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	c.queued += uint64(len(p))
}

// buffered returns how many bytes are queued.
func (c *batchConn) buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return 0
	}
	return len(*c.buf)
}

// tryFlush writes the queue as far as the socket takes it without
// blocking, and reports whether bytes remain (full), as they do while
// another goroutine flushes.
func (c *batchConn) tryFlush() (full bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil:
		return false, c.err
	case c.flushing:
		return c.buf != nil, nil
	}
	return c.flushLocked(false, 0)
}

// flush writes the whole queue, blocking until the socket has taken it
// (after another goroutine's flush, if one runs).
func (c *batchConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.flushing {
		c.idle.Wait()
	}
	if c.err != nil {
		return c.err // what was queued is lost
	}
	_, err := c.flushLocked(true, 0)
	return err
}

// drop discards the queue: the connection has failed. Later writes fail.
func (c *batchConn) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.releaseLocked()
}

// makeRoom grows the kernel send buffer by what is queued and a close
// frame, so that a client cut off for not reading still gets its close
// frame behind the frames it was sent (1008 rather than a connection
// that just ends). The bytes were held in user space already; the kernel
// now holds them instead, until it gives up on the peer. A no-op when the
// send buffer is the kernel's to size.
func (c *batchConn) makeRoom() {
	c.mu.Lock()
	queued := 0
	if c.buf != nil {
		queued = len(*c.buf)
	}
	c.mu.Unlock()
	if c.sndbuf > 0 {
		if b, ok := bufferSizer(c.Conn); ok {
			_ = b.SetWriteBuffer(4*c.sndbuf + queued + 4096) // best effort: without it the close just ends the connection
		}
	}
}

// flushLocked writes the queue, blocking or not, with mu released around
// the socket writes; bytes queued meanwhile go too, unless until > 0:
// then it stops once the stream up to offset until is sent (a Write's
// control frame), leaving what was queued behind it to whoever queued
// it, so that a stream of frames queued meanwhile cannot hold the
// control frame's writer for ever. It reports whether
// bytes remain (full: a write that must not block could not finish). It
// must not be called while another goroutine flushes.
func (c *batchConn) flushLocked(block bool, until uint64) (full bool, err error) {
	c.flushing = true
	defer c.idle.Broadcast()
	for c.buf != nil && err == nil && (until == 0 || c.sent < until) {
		b := c.buf
		c.buf = nil
		c.mu.Unlock()
		var n int
		if block {
			n, err = c.writeBlocking(*b)
		} else {
			n, err = c.writeNow(*b)
		}
		c.mu.Lock()
		c.sent += uint64(n)
		c.idle.Broadcast() // a Write whose bytes are out returns
		if (err == nil || errors.Is(err, errSlow)) && n < len(*b) {
			// Full, or no progress: the rest goes back in front of what
			// was queued meanwhile.
			*b = (*b)[:copy(*b, (*b)[n:])]
			if c.buf != nil {
				*b = append(*b, *c.buf...)
				c.releaseLocked()
			}
			c.buf = b
			full = true
			break
		}
		*b = (*b)[:0]
		c.put(b)
	}
	if err != nil && !errors.Is(err, errSlow) {
		c.err = err
		c.releaseLocked() // the connection has failed: nothing more goes
	}
	c.flushing = false
	return full, err
}

// writeBlocking writes b, blocking while the socket makes progress: each
// write may wait up to timeout for the socket to take at least one byte.
// When it takes nothing for timeout, writeBlocking returns what was
// written and an error wrapping errSlow; the rest stays queued, so the
// stream still ends on a whole frame (a close frame may follow it).
func (c *batchConn) writeBlocking(b []byte) (n int, err error) {
	if c.timeout > 0 {
		// Cleared on the way out: a deadline left behind would fail the
		// next non-blocking write (writeNow) once it passed, and cut a
		// healthy client write_timeout after the last blocking write.
		defer c.Conn.SetWriteDeadline(time.Time{}) //nolint:errcheck // fails only on a closed conn
	}
	for n < len(b) {
		if c.timeout > 0 {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)) // fails only on a closed conn, which Write reports
		}
		m, werr := c.Conn.Write(b[n:])
		n += m
		switch {
		case werr == nil:
		case errors.Is(werr, os.ErrDeadlineExceeded) && m > 0:
			// Progress, then a pause: the client reads slowly; wait again.
		case errors.Is(werr, os.ErrDeadlineExceeded):
			return n, fmt.Errorf("%w: socket took nothing for %v", errSlow, c.timeout)
		default:
			return n, werr
		}
	}
	return n, nil
}

// releaseLocked discards the queue.
func (c *batchConn) releaseLocked() {
	if c.buf != nil {
		*c.buf = (*c.buf)[:0]
		c.put(c.buf)
		c.buf = nil
	}
}

// put gives an empty buffer back to the pool; a rare huge one is not kept.
func (c *batchConn) put(b *[]byte) {
	if cap(*b) <= 4*maxBatch {
		batchPool.Put(b)
	}
}

// hijackWriter is the ResponseWriter given to websocket.Accept. It records
// the status written, so ServeHTTP can tell why Accept refused, and its
// Hijack hands coder/websocket a batchConn with small buffers instead of
// net/http's, which then become garbage once ServeHTTP returns.
type hijackWriter struct {
	http.ResponseWriter
	timeout time.Duration // the batchConn's: Options.WriteTimeout
	sndbuf  int           // the batchConn's: Options.SendBuffer, 0 for the kernel's default
	status  int
	conn    *batchConn    // made by ServeHTTP; set up by a successful Hijack
	br      *bufio.Reader // the reader Hijack gave coder/websocket
}

func (w *hijackWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap gives http.ResponseController the underlying ResponseWriter.
func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection over from net/http. The response header
// has been flushed by then, so net/http's write buffer is empty; what its
// read buffer holds is read first.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var pre []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n) // cannot fail: n bytes are buffered
		pre = bytes.Clone(b)
	}
	bc := w.conn
	bc.init(conn, pre, w.timeout, w.sndbuf)
	w.br = bufio.NewReaderSize(bc, readBufSize)
	return bc, bufio.NewReadWriter(w.br, bufio.NewWriterSize(bc, writeBufSize)), nil
}

// unwrapReader makes the bufio.Reader handed to coder/websocket read from
// the batchConn itself again. coder/websocket's Accept resets it to read
// from an io.MultiReader of what it had buffered (nothing: the bytes
// net/http read ahead are in the batchConn's pre) and the connection,
// which every idle client would hold for good. Called once Accept has
// returned, before anything is read; a no-op if anything is buffered.
func (w *hijackWriter) unwrapReader() {
	if w.br != nil && w.br.Buffered() == 0 {
		w.br.Reset(w.conn)
	}
}
