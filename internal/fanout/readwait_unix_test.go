//go:build unix

package fanout

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestWaitReadable: waitReadable returns once something is there for
// coder/websocket to read, in pre or in the socket, and not before; it
// takes the whole pings and pongs at the head of the stream off, counts
// the pongs and answers each ping with a pong carrying its payload, and
// leaves every other frame, and any part of a ping or pong, whole for
// Read.
func TestWaitReadable(t *testing.T) {
	text := maskedFrame(wsOpText, `{"op":"list"}`)
	pong := maskedFrame(wsOpPong, "")
	ping := keyedFrame(wsOpPing, "are you there?", [4]byte{1, 2, 3, 4})
	tests := []struct {
		name   string
		pre    []byte // in pre before the wait
		sent   []byte // sent by the client once the wait runs; nil: nothing
		pongs  uint32 // counted by the wait
		answer string // the payload of the pong the client gets; "" for none
		next   []byte // what Read returns next
	}{
		{"frame_sent", nil, text, 0, "", text},
		{"pongs_then_frame", nil, concat(pong, pong, text), 2, "", text},
		{"pong_with_payload", nil, concat(keyedFrame(wsOpPong, "p", [4]byte{9, 8, 7, 6}), text), 1, "", text},
		{"ping", nil, concat(ping, text), 0, "are you there?", text},
		{"empty_ping_then_pong", nil, concat(maskedFrame(wsOpPing, ""), pong, text), 1, "-", text},
		{"half_a_pong", nil, pong[:3], 0, "", pong[:3]},
		{"half_a_ping", nil, ping[:8], 0, "", ping[:8]},
		{"unmasked_ping", nil, concat([]byte{0x80 | wsOpPing, 0}, text), 0, "", []byte{0x80 | wsOpPing, 0}},
		{"frame_in_pre", text, nil, 0, "", text},
		{"pong_in_pre_then_sent", pong, text, 1, "", text},
		{"ping_in_pre_then_sent", ping, text, 0, "are you there?", text},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cl := tcpPair(t)
			bc := newBatchConn(srv, bytes.Clone(tt.pre), waitLimit, 0)
			done := make(chan struct{})
			// Exits when waitReadable returns: at the latest when the
			// test's cleanup closes the sockets.
			go func() {
				defer close(done)
				bc.waitReadable()
			}()
			if tt.sent != nil {
				if tt.pre == nil || controlAt(tt.pre) != 0 {
					select {
					case <-done:
						t.Fatal("waitReadable() returned before the client sent anything")
					default:
					}
				}
				if _, err := cl.Write(tt.sent); err != nil {
					t.Fatalf("client Write() = %v", err)
				}
			}
			select {
			case <-done:
			case <-time.After(waitLimit):
				t.Fatalf("waitReadable() still waits %v after the client sent %x", waitLimit, tt.sent)
			}
			if got := bc.pongs.Load(); got != tt.pongs {
				t.Fatalf("waitReadable() counted %d pongs, want %d", got, tt.pongs)
			}
			if tt.answer != "" {
				want := tt.answer
				if want == "-" {
					want = ""
				}
				_ = cl.SetReadDeadline(time.Now().Add(waitLimit))
				f, err := readRawFrame(cl)
				if err != nil || f.op != wsOpPong || !f.fin || string(f.payload) != want {
					t.Fatalf("client got op %d fin %v %q, %v; want a pong %q", f.op, f.fin, f.payload, err, want)
				}
			}
			_ = srv.SetReadDeadline(time.Now().Add(waitLimit))
			got := make([]byte, len(tt.next))
			if _, err := io.ReadFull(bc, got); err != nil || !bytes.Equal(got, tt.next) {
				t.Fatalf("Read() after the wait = %x, %v, want %x", got, err, tt.next)
			}
		})
	}
}

// TestWaitReadableEnds: the wait ends when the peer closes its end or the
// connection is closed here (the closer's CloseNow), and Read then reports
// it; it does not wait at all while coder/websocket is inside a frame.
func TestWaitReadableEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(srv, cl net.Conn) // ends the wait; nil: it must not wait
		mid  bool                   // the gate is inside a frame
	}{
		{"peer_closes", func(_, cl net.Conn) { cl.Close() }, false},
		{"closed_here", func(srv, _ net.Conn) { srv.Close() }, false},
		{"inside_a_frame", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cl := tcpPair(t)
			bc := newBatchConn(srv, nil, waitLimit, 0)
			if tt.mid {
				bc.gate.scan(header7(wsOpText, true, 10)) // a header, its payload still to come
			}
			done := make(chan struct{})
			// Exits when waitReadable returns: at the latest when the
			// test's cleanup closes the sockets.
			go func() {
				defer close(done)
				bc.waitReadable()
			}()
			if tt.end != nil {
				select {
				case <-done:
					t.Fatal("waitReadable() returned before the connection ended")
				default:
				}
				tt.end(srv, cl)
			}
			select {
			case <-done:
			case <-time.After(waitLimit):
				t.Fatalf("waitReadable() still waits %v after the end", waitLimit)
			}
			if tt.mid {
				return
			}
			if n, err := bc.Read(make([]byte, 16)); err == nil {
				t.Fatalf("Read() after the end = %d, nil; want an error", n)
			}
		})
	}
}

// TestReadOneFrame: a Read returns the bytes of one frame at most, however
// many the socket holds; the rest waits in pre, and waitReadable sees it.
func TestReadOneFrame(t *testing.T) {
	a := maskedFrame(wsOpText, `{"op":"list"}`)
	b := maskedFrame(wsOpText, `{"op":"subscribe","symbols":["AAPL"]}`)
	srv, cl := tcpPair(t)
	bc := newBatchConn(srv, nil, waitLimit, 0)
	if _, err := cl.Write(concat(a, b)); err != nil {
		t.Fatalf("client Write() = %v", err)
	}
	_ = srv.SetReadDeadline(time.Now().Add(waitLimit))
	for i, want := range [][]byte{a, b} {
		bc.waitReadable() // returns at once: the frame is in the socket, then in pre
		got := make([]byte, 256)
		n, err := bc.Read(got)
		if err != nil || !bytes.Equal(got[:n], want) {
			t.Fatalf("Read() %d = %x, %v, want %x (one frame)", i, got[:n], err, want)
		}
	}
}

// TestPingAfterCloseQueued: a ping the reads take off the socket once a
// close frame is queued (here behind a socketful of frames the client
// has not read yet) is not answered, since nothing may follow the close
// frame: the client reads every frame queued, the close frame last, then
// the end of the stream. The reads take pings either way: waitReadable
// (a reader goroutine) and readyNow (a poller step); each returns once
// the text frame behind the ping is at the head of the stream.
func TestPingAfterCloseQueued(t *testing.T) {
	tests := []struct {
		name string
		take func(bc *batchConn) // takes the ping off, returning at the text frame
	}{
		{"wait_readable", (*batchConn).waitReadable},
		{"ready_now", func(bc *batchConn) {
			for !bc.readyNow() {
				runtime.Gosched() // nothing to wait on: readyNow never waits
			}
		}},
	}
	closeFrame := []byte{0x80 | opClose, 2, 0x03, 0xe9} // 1001
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cl := tcpPair(t)
			bc := newBatchConn(srv, nil, waitLimit, 8<<10)
			want := append(fillSocket(t, bc), closeFrame...)
			wrote := make(chan error, 1)
			// Exits once the close frame is in the socket: the client reads
			// below.
			go func() {
				_, err := bc.Write(closeFrame)
				wrote <- err
			}()
			for !closingQueued(bc) {
				runtime.Gosched() // the queue has no event to wait on
			}
			ping := keyedFrame(wsOpPing, "after close", [4]byte{1, 2, 3, 4})
			text := maskedFrame(wsOpText, `{"op":"list"}`)
			if _, err := cl.Write(concat(ping, text)); err != nil {
				t.Fatalf("client Write() = %v", err)
			}
			took := make(chan struct{})
			// Exits once the ping is taken off, and answered or not.
			go func() {
				defer close(took)
				tt.take(bc)
			}()
			select {
			case <-took:
			case <-time.After(waitLimit):
				t.Fatal("the ping is not taken off, or its answer waits behind the close frame")
			}
			_ = cl.SetReadDeadline(time.Now().Add(waitLimit))
			got := make([]byte, len(want))
			if n, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("client read %d bytes (%v), want the %d queued, the close frame last", n, err, len(want))
			}
			if err := <-wrote; err != nil {
				t.Fatalf("Write(close frame) = %v", err)
			}
			// Read to its end (a socket closed with bytes unread resets
			// the connection), then closed.
			_ = srv.SetReadDeadline(time.Now().Add(waitLimit))
			next := make([]byte, len(text))
			if _, err := io.ReadFull(bc, next); err != nil || !bytes.Equal(next, text) {
				t.Fatalf("Read() after the ping = %x, want the text frame %x", next, text)
			}
			_ = bc.Close()
			if rest, err := io.ReadAll(cl); err != nil || len(rest) > 0 {
				t.Fatalf("client read %x, %v after the close frame, want nothing", rest, err)
			}
		})
	}
}

// closingQueued reports whether a close frame is queued on bc.
func closingQueued(bc *batchConn) bool {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	return bc.closing
}

// FuzzAheadReady: whatever a client sent ahead of its first read,
// aheadReady takes off only whole pings and pongs at its head, stopping
// at the first ping (to be answered) or at anything else, which it
// leaves whole for coder/websocket; it never panics.
func FuzzAheadReady(f *testing.F) {
	f.Add(concat(maskedFrame(wsOpPong, ""), maskedFrame(wsOpText, "x")))
	f.Add(concat(keyedFrame(wsOpPong, "p", [4]byte{1, 2, 3, 4}), keyedFrame(wsOpPing, "q", [4]byte{5, 6, 7, 8}), maskedFrame(wsOpText, "x")))
	f.Add([]byte{0x80 | wsOpPing, 0x80 | 125, 1, 2, 3, 4})
	f.Add([]byte{0x80 | wsOpPing, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		bc := &batchConn{pre: bytes.Clone(data), gate: frameGate{limit: readLimit}}
		ready := bc.aheadReady()
		rest := bc.pre
		taken := data[:len(data)-len(rest)]
		pongs, pings := 0, 0
		for len(taken) > 0 {
			l := controlAt(taken)
			if l == 0 {
				t.Fatalf("aheadReady(%x) took %x, not whole pings and pongs", data, data[:len(data)-len(rest)])
			}
			if taken[0]&0x0f == wsOpPong {
				pongs++
			} else {
				pings++
			}
			taken = taken[l:]
		}
		if got := int(bc.pongs.Load()); got != pongs {
			t.Fatalf("aheadReady(%x) counted %d pongs, want %d", data, got, pongs)
		}
		if pings > 1 || (pings == 1) != (bc.pingDue != nil) {
			t.Fatalf("aheadReady(%x) took %d pings, pingDue %v; want at most one, due", data, pings, bc.pingDue)
		}
		if pings == 0 && controlAt(rest) != 0 {
			t.Fatalf("aheadReady(%x) left %x, which starts with a whole ping or pong", data, rest)
		}
		if ready != (len(rest) > 0) {
			t.Fatalf("aheadReady(%x) = %v with %d bytes left", data, ready, len(rest))
		}
	})
}
