//go:build !unix

package fanout

// writeNow writes nothing where a socket cannot be written without
// blocking from Go (on Windows a socket write is an overlapped operation,
// with no EAGAIN): every batch then reports full and goes to the client's
// slowLoop, whose blocking writes are bounded by WriteTimeout like
// everywhere else. Correct, at the cost of a goroutine per batch.
func (c *batchConn) writeNow([]byte) (int, error) { return 0, nil }
