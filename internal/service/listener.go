package service

import (
	"errors"
	"net"
	"sync"
	"syscall"
)

// limitListener caps the connections open at once from a listener: Accept
// waits while n are open, so the excess waits in the kernel's accept
// queue instead of costing descriptors and buffers here. A connection
// counts until it is closed, hijacked ones (websockets) included. The
// same idea as golang.org/x/net/netutil.LimitListener, without the
// dependency. Safe for concurrent use; Close unblocks a waiting Accept.
type limitListener struct {
	net.Listener
	sem       chan struct{} // one token per open connection
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

// Close closes the listener and wakes a waiting Accept.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its slot back on the first Close, then runs the
// functions given to afterClose. It passes SyscallConn and SetWriteBuffer
// through, so that the websocket hub can bound the socket's send buffer.
type limitConn struct {
	net.Conn
	release func()

	mu     sync.Mutex
	closed bool     // guarded by mu
	after  []func() // guarded by mu; run by the first Close
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	after := c.after
	c.after = nil
	c.mu.Unlock()
	if first {
		c.release()
		for _, f := range after {
			f()
		}
	}
	return err
}

// afterClose arranges for f to run once c is closed: at the first Close,
// or now if that has happened.
func (c *limitConn) afterClose(f func()) {
	c.mu.Lock()
	if !c.closed {
		c.after = append(c.after, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// SyscallConn is the underlying connection's, when it has one.
func (c *limitConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// SetWriteBuffer is the underlying connection's, when it has one.
func (c *limitConn) SetWriteBuffer(n int) error {
	if b, ok := c.Conn.(interface{ SetWriteBuffer(int) error }); ok {
		return b.SetWriteBuffer(n)
	}
	return errors.ErrUnsupported
}
