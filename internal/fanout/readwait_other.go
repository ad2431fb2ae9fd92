//go:build !unix

package fanout

// waitReadable returns at once where the socket's descriptor cannot be
// polled for readability from Go (on Windows a read is an overlapped
// operation): the reader then waits inside coder/websocket's read, on the
// deeper stack that takes, the pongs are counted as coder/websocket
// reads them (onPong) and the pings answered by coder/websocket (until a
// close frame is queued: onPing). Correct, at the cost of a few KiB per
// idle client.
func (c *batchConn) waitReadable() {}

// readyNow reports true: where there is no waiting for readability there
// is no poller either, and coder/websocket's read waits.
func (c *batchConn) readyNow() bool { return true }
