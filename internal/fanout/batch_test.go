package fanout

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	// Exits after one Accept.
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("Accept() failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// TestBatchConnQueue checks that text frames wait in the queue until a
// flush, that a control frame written through Write goes out at once
// behind them, and that no text frame is queued after a close frame.
func TestBatchConnQueue(t *testing.T) {
	srv, cl := tcpPair(t)
	bc := newBatchConn(srv, nil, waitLimit, 0)
	// read reads exactly want from the client end.
	read := func(want []byte) {
		t.Helper()
		_ = cl.SetReadDeadline(time.Now().Add(waitLimit))
		got := make([]byte, len(want))
		if _, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("client read %q, %v, want %q", got, err, want)
		}
	}
	text := func(msg string) []byte { return append([]byte{0x81, byte(len(msg))}, msg...) }

	for _, m := range []string{"one", "two"} {
		if err := bc.appendText([]byte(m)); err != nil {
			t.Fatalf("appendText(%q) = %v", m, err)
		}
	}
	if got, want := bc.buffered(), len(text("one"))+len(text("two")); got != want {
		t.Fatalf("buffered() = %d, want %d", got, want)
	}
	// Nothing reached the socket: a marker written to it directly arrives
	// first.
	if _, err := srv.Write([]byte("marker.")); err != nil {
		t.Fatalf("socket Write() = %v", err)
	}
	read([]byte("marker."))
	if full, err := bc.tryFlush(); full || err != nil {
		t.Fatalf("tryFlush() = %v, %v, want false, nil", full, err)
	}
	read(append(text("one"), text("two")...))

	if err := bc.appendText([]byte("three")); err != nil {
		t.Fatalf("appendText() = %v", err)
	}
	ping := []byte{0x89, 0}
	if n, err := bc.Write(ping); n != len(ping) || err != nil {
		t.Fatalf("Write(ping) = %d, %v, want %d, nil", n, err, len(ping))
	}
	read(append(text("three"), ping...)) // sent by Write, in order

	closeFrame := []byte{0x88, 2, 0x03, 0xe8}
	if _, err := bc.Write(closeFrame); err != nil {
		t.Fatalf("Write(close) = %v", err)
	}
	read(closeFrame)
	if err := bc.appendText([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("appendText() after a close frame = %v, want %v", err, net.ErrClosed)
	}
}

// TestAppendTextHeader checks the three forms of the frame length.
func TestAppendTextHeader(t *testing.T) {
	tests := []struct {
		name string
		size int
		hdr  []byte
	}{
		{"empty", 0, []byte{0x81, 0}},
		{"short_max", 125, []byte{0x81, 125}},
		{"medium_min", 126, []byte{0x81, 126, 0, 126}},
		{"medium_max", 0xffff, []byte{0x81, 126, 0xff, 0xff}},
		{"long", 0x10000, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bc := newBatchConn(nil, nil, 0, 0)
			msg := bytes.Repeat([]byte{'x'}, tt.size)
			if err := bc.appendText(msg); err != nil {
				t.Fatalf("appendText() = %v", err)
			}
			got := *bc.buf
			if !bytes.HasPrefix(got, tt.hdr) || !bytes.Equal(got[len(tt.hdr):], msg) {
				t.Fatalf("appendText(%d bytes) queued header %x, want %x followed by the message", tt.size, got[:min(len(got), 10)], tt.hdr)
			}
			bc.drop()
		})
	}
}

func TestBatchConnReadAhead(t *testing.T) {
	srv, cl := tcpPair(t)
	bc := newBatchConn(srv, []byte("ahead."), waitLimit, 0)
	if _, err := cl.Write([]byte("socket.")); err != nil {
		t.Fatalf("client Write() = %v", err)
	}
	_ = srv.SetReadDeadline(time.Now().Add(waitLimit))
	got := make([]byte, len("ahead.socket."))
	if _, err := io.ReadFull(bufio.NewReaderSize(bc, 16), got); err != nil || string(got) != "ahead.socket." {
		t.Fatalf("Read() = %q, %v, want %q", got, err, "ahead.socket.")
	}
}

// TestPipelinedFirstMessage sends the handshake and the first message in
// one write, so that net/http reads the message ahead with the request:
// the Hub must still get it.
func TestPipelinedFirstMessage(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	conn, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	// A masked text frame, as clients send: the mask key is zero, so the
	// payload is sent as is.
	payload := `{"op":"list"}`
	frame := append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := conn.Write(append([]byte(req), frame...)); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake response = %v, %v, want 101", resp, err)
	}
	// The answer: an unmasked text frame holding "subscribed".
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatalf("read frame header = %v", err)
	}
	body := make([]byte, hdr[1]&0x7f)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatalf("read frame = %v", err)
	}
	if want := `{"type":"subscribed","symbols":[],"epoch":"E1"}`; hdr[0] != 0x81 || string(body) != want {
		t.Fatalf("first frame = %#x %s, want a text frame %s", hdr[0], body, want)
	}
}

// TestBatchedFramesIntact has one client subscribe to many symbols at once,
// so that their snapshots go out in batches, and checks every message
// arrives whole and in order.
func TestBatchedFramesIntact(t *testing.T) {
	var syms []string
	for i := range 300 {
		syms = append(syms, "S"+strings.Repeat("X", i%5)+string(rune('A'+i%26))+string(rune('A'+i/26)))
	}
	src := newFakeSource(syms...)
	for i, s := range syms {
		src.set(t, s, snapQuote(s, uint64(i+1)))
	}
	h := newHarness(t, src, nil, nil)
	c := h.dial(t, "many", "", nil)
	c.send(`{"op":"subscribe","symbols":["*"]}`)
	m := c.expect("subscribed")
	if len(m.Symbols) != len(syms) {
		t.Fatalf("subscribed to %d symbols, want %d", len(m.Symbols), len(syms))
	}
	for i, s := range syms {
		c.expectQuote(s, uint64(i+1))
	}
	if got := h.metric("tickerd_ws_messages_sent_total", "quote"); got != float64(len(syms)) {
		t.Fatalf("messages_sent_total{quote} = %v, want %d", got, len(syms))
	}
}

// TestBatchConnTryFlushFull fills a socket whose peer does not read:
// tryFlush must return instead of blocking, keep what the socket did not
// take, in order, ahead of what is queued later, and a blocking flush must
// send it all once the peer reads.
func TestBatchConnTryFlushFull(t *testing.T) {
	srv, cl := tcpPair(t)
	_ = srv.(*net.TCPConn).SetWriteBuffer(smallBuffers)
	bc := newBatchConn(srv, nil, waitLimit, 0)
	var want []byte
	msg := make([]byte, 1000)
	full := false
	for i := 0; !full; i++ {
		if i == 10000 {
			t.Fatal("tryFlush() took 10 MB without filling the socket")
		}
		for j := range msg {
			msg[j] = byte(i + j)
		}
		if err := bc.appendText(msg); err != nil {
			t.Fatalf("appendText() = %v", err)
		}
		want = append(want, 0x81, 126, byte(len(msg)>>8), byte(len(msg)))
		want = append(want, msg...)
		var err error
		if full, err = bc.tryFlush(); err != nil {
			t.Fatalf("tryFlush() = %v", err)
		}
	}
	if bc.buffered() == 0 {
		t.Fatal("tryFlush() reported full with nothing left")
	}
	if err := bc.appendText([]byte("last")); err != nil {
		t.Fatalf("appendText() = %v", err)
	}
	want = append(want, 0x81, 4, 'l', 'a', 's', 't')

	got := make(chan []byte, 1)
	// Exits once it has read everything, or on a read error.
	go func() {
		b := make([]byte, len(want))
		_ = cl.SetReadDeadline(time.Now().Add(waitLimit))
		n, _ := io.ReadFull(cl, b)
		got <- b[:n]
	}()
	if err := bc.flush(); err != nil {
		t.Fatalf("flush() = %v", err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, want the %d written, in order", len(b), len(want))
	}
}

// fillSocket queues 1000-byte text frames and tries to flush them until
// the socket, whose peer does not read, takes no more. It returns the
// bytes queued, in order.
func fillSocket(t *testing.T, bc *batchConn) []byte {
	t.Helper()
	var want []byte
	msg := make([]byte, 1000)
	for i := 0; ; i++ {
		if i == 10000 {
			t.Fatal("tryFlush() took 10 MB without filling the socket")
		}
		for j := range msg {
			msg[j] = 'a' + byte((i+j)%26)
		}
		if err := bc.appendText(msg); err != nil {
			t.Fatalf("appendText() = %v", err)
		}
		want = append(want, 0x81, 126, byte(len(msg)>>8), byte(len(msg)))
		want = append(want, msg...)
		full, err := bc.tryFlush()
		if err != nil {
			t.Fatalf("tryFlush() = %v", err)
		}
		if full {
			return want
		}
	}
}

// fillStuck fills the socket, then the peer's receive buffer behind it,
// until a blocking flush fails with errSlow. It returns the bytes queued,
// in order, and how long the failed flush took.
func fillStuck(t *testing.T, bc *batchConn) ([]byte, time.Duration) {
	t.Helper()
	var want []byte
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("flush() took 1000 socketfuls from a peer that does not read")
		}
		want = append(want, fillSocket(t, bc)...)
		start := time.Now()
		err := bc.flush()
		switch {
		case errors.Is(err, errSlow):
			return want, time.Since(start)
		case err != nil:
			t.Fatalf("flush() to a peer that does not read = %v, want nil or %v", err, errSlow)
		}
	}
}

// TestBatchConnNoProgress: a blocking flush to a socket that takes
// nothing fails with errSlow after the timeout, keeps the rest queued (so
// the stream still ends on a whole frame), and after makeRoom a close
// frame goes out behind it: the peer reads every frame, then the close.
func TestBatchConnNoProgress(t *testing.T) {
	const timeout = 200 * time.Millisecond
	srv, cl := tcpPair(t)
	bc := newBatchConn(srv, nil, timeout, 8<<10)
	want, d := fillStuck(t, bc)
	if d < timeout {
		t.Fatalf("flush() failed after %v, want after the %v timeout", d, timeout)
	}
	if bc.buffered() == 0 {
		t.Fatal("flush() failed with nothing left queued, want the rest kept")
	}

	bc.makeRoom()
	closeFrame := []byte{0x88, 2, 0x03, 0xf0} // 1008
	if n, err := bc.Write(closeFrame); err != nil || n != len(closeFrame) {
		t.Fatalf("Write(close frame) after makeRoom = %d, %v, want %d, nil", n, err, len(closeFrame))
	}
	want = append(want, closeFrame...)
	got := make([]byte, len(want))
	_ = cl.SetReadDeadline(time.Now().Add(waitLimit))
	if n, err := io.ReadFull(cl, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("peer read %d bytes (%v), want the %d queued then the close frame, in order", n, err, len(want))
	}
}

// TestBatchConnWriteNoFalseSuccess: a control frame written while the
// connection fails is reported as failed, whether its own flush or
// another goroutine's lost it; so is every later write.
func TestBatchConnWriteNoFalseSuccess(t *testing.T) {
	srv, cl := tcpPair(t)
	bc := newBatchConn(srv, nil, 100*time.Millisecond, 8<<10)
	fillStuck(t, bc)
	bc.timeout = waitLimit // from now on writes wait for the peer
	flushed := make(chan error, 1)
	// Exits when the flush fails: the peer resets the connection.
	go func() { flushed <- bc.flush() }()
	wrote := make(chan error, 1)
	// Exits when Write returns, after the flush above or its own.
	go func() {
		_, err := bc.Write([]byte{0x89, 0}) // a ping
		wrote <- err
	}()
	_ = cl.(*net.TCPConn).SetLinger(0)
	_ = cl.Close() // RST: every write fails
	for _, ch := range []chan error{flushed, wrote} {
		select {
		case err := <-ch:
			if err == nil {
				t.Fatal("flush() or Write() to a reset connection = nil, want an error")
			}
		case <-time.After(waitLimit):
			t.Fatal("flush() or Write() still blocked after the peer's reset")
		}
	}
	if _, err := bc.Write([]byte{0x89, 0}); err == nil {
		t.Fatal("Write() after a failed flush = nil, want the error")
	}
	if err := bc.appendText([]byte("x")); err == nil {
		t.Fatal("appendText() after a failed flush = nil, want the error")
	}
}

// TestBlockingWriteLeavesNoDeadline: a blocking write (a ping's frame
// goes that way) sets a write deadline; once done, it must not stay
// behind, or the next non-blocking write fails when it passes and a
// healthy client is cut write_timeout after each ping (seen at 10,000
// clients: every one cut at ping_interval + write_timeout).
func TestBlockingWriteLeavesNoDeadline(t *testing.T) {
	const ping, writeTimeout = 300 * time.Millisecond, 100 * time.Millisecond
	src := newFakeSource("AAPL")
	h := newHarness(t, src, &Options{PingInterval: ping, WriteTimeout: writeTimeout}, nil)
	c := h.dial(t, "client", "?symbols=AAPL", nil)
	c.expectSubscribed("AAPL")
	start := time.Now()
	for seq := uint64(1); time.Since(start) < 4*ping; seq++ {
		src.set(t, "AAPL", snapQuote("AAPL", seq))
		c.expectQuote("AAPL", seq)
		time.Sleep(ping / 10) // quotes spread over several pings, not a wait for an event
	}
}

// TestBufferSizerUnderTLS: under TLS the send buffer is sized on the TCP
// connection the *tls.Conn wraps (which has no SetWriteBuffer itself).
func TestBufferSizerUnderTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { // exits when Accept returns: one connection, or the listener closed
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if c, ok := <-accepted; ok {
		defer c.Close()
	}
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	b, ok := bufferSizer(tc)
	if !ok {
		t.Fatal("bufferSizer(*tls.Conn) = false, want the TCP connection under it")
	}
	if b != raw.(writeBufferSizer) {
		t.Errorf("bufferSizer(*tls.Conn) = %T, want the wrapped %T", b, raw)
	}
	if _, ok := bufferSizer(struct{ net.Conn }{raw}); ok {
		t.Error("bufferSizer(a conn hiding SetWriteBuffer) = true, want false")
	}
}
