//go:build unix

package fanout

import "syscall"

// writeNow writes as much of b as the socket takes without blocking: Go's
// sockets are non-blocking on unix, so write(2) on the descriptor returns
// EAGAIN once the send buffer is full. Without a descriptor it writes
// nothing, and the caller's blocking path does.
func (c *batchConn) writeNow(b []byte) (n int, err error) {
	if c.raw == nil {
		return 0, nil
	}
	rerr := c.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, e := syscall.Write(int(fd), b[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
			case e == syscall.EAGAIN:
				return true // full: the rest is for the blocking path
			case e != nil:
				err = e
				return true
			case m <= 0:
				return true // no progress and no error: leave the rest too
			}
		}
		return true
	})
	if err == nil {
		err = rerr
	}
	return n, err
}
