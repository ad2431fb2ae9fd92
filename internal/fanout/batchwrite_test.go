package fanout

import (
	"bytes"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestBatchConnWriteReturnsOnceSent: a control frame's Write returns as
// soon as its own bytes are in the socket, and leaves the frames queued
// behind it meanwhile to whoever queued them. (It used to flush until the
// queue was empty, which a steady stream of frames queued while it writes
// can put off for ever: a ping's Write then outlived its context, and
// coder/websocket dropped the connection.)
func TestBatchConnWriteReturnsOnceSent(t *testing.T) {
	ping := []byte{0x89, 0}
	text := []byte("behind the ping")
	sc := &scriptConn{}
	bc := newBatchConn(sc, nil, time.Second, 0)
	sc.onWrite = func() { // while Write's flush writes, with bc.mu released
		if err := bc.appendText(text); err != nil {
			t.Errorf("appendText() = %v", err)
		}
	}
	if n, err := bc.Write(ping); n != len(ping) || err != nil {
		t.Fatalf("Write(ping) = %d, %v, want %d, nil", n, err, len(ping))
	}
	if !bytes.Equal(sc.got, ping) {
		t.Fatalf("socket took %x, want the ping %x alone", sc.got, ping)
	}
	if got, want := bc.buffered(), 2+len(text); got != want {
		t.Fatalf("buffered() = %d, want %d: the frame queued behind the ping", got, want)
	}
	if err := bc.flush(); err != nil || !bytes.Equal(sc.got[len(ping):], append([]byte{0x81, byte(len(text))}, text...)) {
		t.Fatalf("flush() = %v, socket took %q after the ping, want the text frame", err, sc.got[len(ping):])
	}
}

// scriptConn is a net.Conn whose writes follow a script: each takes at
// most the next step's n bytes, then returns its err. Past the script,
// writes take everything. It records what was taken. Not a syscall.Conn:
// a batchConn writes to it only by blocking writes.
type scriptConn struct {
	net.Conn // nil: only Write and SetWriteDeadline are called
	steps    []scriptStep
	got      []byte
	onWrite  func() // when not nil, called at the first Write, then cleared
}

type scriptStep struct {
	n   int
	err error
}

func (c *scriptConn) Write(p []byte) (int, error) {
	if f := c.onWrite; f != nil {
		c.onWrite = nil
		f()
	}
	if len(c.steps) == 0 {
		c.got = append(c.got, p...)
		return len(p), nil
	}
	s := c.steps[0]
	c.steps = c.steps[1:]
	n := min(s.n, len(p))
	c.got = append(c.got, p[:n]...)
	return n, s.err
}

func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// TestBatchConnPartialWrites: a Write succeeds only once the socket took
// every byte of the frame, however the socket splits it, and a write
// failing part way fails the Write and every later one: no false success.
func TestBatchConnPartialWrites(t *testing.T) {
	ping := []byte{0x89, 4, 'a', 'b', 'c', 'd'}
	timeout := os.ErrDeadlineExceeded
	tests := []struct {
		name  string
		steps []scriptStep
		ok    bool
		sent  int // bytes the socket took
	}{
		{"whole", nil, true, len(ping)},
		{"short_then_rest", []scriptStep{{2, timeout}, {1, timeout}}, true, len(ping)},
		{"short_then_reset", []scriptStep{{3, syscall.ECONNRESET}}, false, 3},
		{"nothing_then_timeout", []scriptStep{{0, timeout}}, false, 0},
		{"short_then_stuck", []scriptStep{{2, timeout}, {0, timeout}}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scriptConn{steps: tt.steps}
			bc := newBatchConn(sc, nil, time.Second, 0)
			n, err := bc.Write(ping)
			switch {
			case tt.ok && (err != nil || n != len(ping)):
				t.Fatalf("Write() = %d, %v, want %d, nil", n, err, len(ping))
			case !tt.ok && err == nil:
				t.Fatalf("Write() = %d, nil with %d of %d bytes taken, want an error", n, len(sc.got), len(ping))
			case !bytes.Equal(sc.got, ping[:tt.sent]):
				t.Fatalf("socket took %x, want %x", sc.got, ping[:tt.sent])
			}
			if tt.ok {
				return
			}
			if errors.Is(err, errSlow) {
				// No progress: the rest stays queued so the stream still
				// ends on a whole frame (a close frame may follow it).
				if got := bc.buffered(); got != len(ping)-tt.sent {
					t.Fatalf("buffered() after errSlow = %d, want the %d bytes not taken", got, len(ping)-tt.sent)
				}
				return
			}
			if _, err := bc.Write(ping); err == nil {
				t.Fatal("Write() after a failed write = nil, want the error")
			}
			if err := bc.appendText([]byte("x")); err == nil {
				t.Fatal("appendText() after a failed write = nil, want the error")
			}
		})
	}
}

// TestFailKeepsQueuedClose: a writer that finds the close frame queued
// (appendText fails with errClosing) stops the connection without
// dropping the queue, so the close frame still goes out behind the frames
// before it; any other write error drops it.
func TestFailKeepsQueuedClose(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		kept bool
	}{
		{"closing", errClosing, true},
		{"slow", errSlow, true},
		{"reset", syscall.ECONNRESET, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bc := newBatchConn(&scriptConn{}, nil, time.Second, 0)
			if err := bc.appendText([]byte("queued")); err != nil {
				t.Fatalf("appendText() = %v", err)
			}
			var cause error
			c := &client{bc: bc, stop: func(err error) { cause = err }}
			c.fail(tt.err)
			if !errors.Is(cause, tt.err) {
				t.Fatalf("fail(%v) stopped with %v, want it wrapped", tt.err, cause)
			}
			if kept := bc.buffered() > 0; kept != tt.kept {
				t.Fatalf("fail(%v): queue kept %v, want %v", tt.err, kept, tt.kept)
			}
		})
	}
}
