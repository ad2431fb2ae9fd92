//go:build unix

package fanout

import (
	"bytes"
	"syscall"
)

// waitReadable waits until the client has sent bytes for coder/websocket
// to read: a frame that starts in pre, or in the socket. It waits in the
// runtime's poller, on a shallow stack (see readLoop). The pings and pongs
// at the head of the stream it takes off itself: it counts the pongs (the
// answers to the Hub's pings) and answers the pings (pong), as
// coder/websocket would. A reader that went into coder/websocket for them
// would stay there, blocked with its deep stack, until the client's next
// message. It returns at once when what comes next is not at a frame
// boundary (coder/websocket is reading a frame), when another read runs
// (coder/websocket's close handshake), when the socket has failed or
// reached its end (coder/websocket's read reports it), and without a
// descriptor (TLS): coder/websocket's read waits then.
//
// It is called by the reader only, between two messages.
func (c *batchConn) waitReadable() {
	for c.raw != nil && !c.aheadReady() {
		// Read calls f until it returns true, waiting for the socket to
		// be readable each time it returns false; its error (a closed
		// socket) is for coder/websocket's read to report.
		_ = c.raw.Read(c.peekFrame)
		if !c.answerPing() {
			return
		}
	}
}

// readyNow is waitReadable without the wait, for the poller's steps: it
// reports whether coder/websocket has something to read (or to report: a
// closed or failed socket), taking the pings and pongs at the head of the
// stream off first; false when the socket holds nothing for it yet.
func (c *batchConn) readyNow() bool {
	for c.raw != nil && !c.aheadReady() {
		ready := true
		if err := c.raw.Control(func(fd uintptr) { ready = c.peekFrame(fd) }); err != nil {
			return true // closed: coder/websocket's read reports it
		}
		if !c.answerPing() {
			return ready
		}
	}
	return true
}

// aheadReady takes the pings and pongs at the head of pre off, and
// reports whether coder/websocket has something to read without the
// socket: the rest of pre, or the rest of a frame it is reading. A ping
// taken off waits in pingDue for answerPing.
func (c *batchConn) aheadReady() bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for c.gate.atBoundary() && c.pingDue == nil {
		l := controlAt(c.pre)
		if l == 0 {
			break
		}
		c.takeControlLocked(c.pre[:l])
		c.pre = c.pre[l:]
	}
	ready := len(c.pre) > 0 || !c.gate.atBoundary()
	if len(c.pre) == 0 {
		c.pre = nil
	}
	return ready
}

// peekFrame is waitReadable's function for RawConn.Read: it reports
// whether the socket holds something for coder/websocket, taking the
// pongs at its head off first, and a ping (then it reports true, for
// answerPing to answer it). A socket with nothing to read makes it return
// false: Read waits then.
func (c *batchConn) peekFrame(fd uintptr) bool {
	if !c.rmu.TryLock() {
		return true // a Read of coder/websocket's runs (the close handshake): it is reading, not the reader
	}
	defer c.rmu.Unlock()
	if !c.gate.atBoundary() || len(c.pre) > 0 || c.pingDue != nil {
		return true
	}
	var b [maxControlFrame]byte
	for {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false // nothing to read yet
		case err != nil:
			return true // the socket's end or an error: coder/websocket's
		}
		l := controlAt(b[:n])
		if l == 0 {
			return true // a frame, or a part of one: coder/websocket's
		}
		// A whole ping or pong heads the stream: take it off.
		m, _, err := syscall.Recvfrom(int(fd), b[:l], 0)
		if err != nil || m < l {
			// Cannot happen (its bytes were there): what was taken goes
			// first to coder/websocket, which finds the rest.
			if m > 0 {
				c.pre = bytes.Clone(b[:m])
			}
			return true
		}
		if c.takeControlLocked(b[:l]) {
			return true // a ping, for answerPing
		}
	}
}
