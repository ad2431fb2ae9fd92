package fanout

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// This file is a websocket client written from RFC 6455 for the tests: it
// reads the server's bytes straight off the TCP stream with a strict frame
// parser, so that it sees every frame as sent, not as a library would
// repair or hide it.

// Opcodes (RFC 6455, section 5.2).
const (
	wsOpCont   = 0x0
	wsOpText   = 0x1
	wsOpBinary = 0x2
	wsOpClose  = 0x8
	wsOpPing   = 0x9
	wsOpPong   = 0xa
)

// rawClient is a websocket connection over a raw TCP socket. Its writes
// are serialised by mu; reads belong to one goroutine.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
	resp *http.Response // the handshake's answer

	mu sync.Mutex // serialises writes
}

// dialRaw does the opening handshake by hand, with the extra request
// header lines hdr (each "Name: value"), and returns the connection once
// the server has answered 101.
func (h *harness) dialRaw(t *testing.T, query string, hdr ...string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", h.srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	req := "GET /ws" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, l := range hdr {
		req += l + "\r\n"
	}
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatalf("write handshake = %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake response = %v, %v, want 101", resp, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return &rawClient{conn: conn, br: br, resp: resp}
}

// writeFrame sends one masked frame, as a client must (section 5.3).
func (c *rawClient) writeFrame(op byte, fin bool, payload []byte) error {
	var b []byte
	first := op
	if fin {
		first |= 0x80
	}
	b = append(b, first)
	switch l := len(payload); {
	case l < 126:
		b = append(b, 0x80|byte(l))
	case l <= 0xffff:
		b = append(b, 0x80|126, byte(l>>8), byte(l))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(l))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	b = append(b, key[:]...)
	for i, x := range payload {
		b = append(b, x^key[i%4])
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitLimit))
	_, err := c.conn.Write(b)
	return err
}

// rawFrame is one frame as read off the wire.
type rawFrame struct {
	fin     bool
	op      byte
	payload []byte
}

// errStrict marks a frame or a sequence of frames that breaks RFC 6455 or
// the Hub's framing invariants.
var errStrict = errors.New("frame violates RFC 6455")

// readRawFrame reads one server frame, strictly (section 5.2): no RSV bit
// (no extension was negotiated), a defined opcode, no mask (a server
// never masks), a length in its shortest form with the top bit of the
// 64-bit form clear, and control frames final and of at most 125 bytes.
// io errors are returned as they are.
func readRawFrame(r io.Reader) (rawFrame, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
		return rawFrame{}, err
	}
	f := rawFrame{fin: hdr[0]&0x80 != 0, op: hdr[0] & 0x0f}
	if rsv := hdr[0] & 0x70; rsv != 0 {
		return f, fmt.Errorf("%w: RSV bits %#x set without an extension", errStrict, rsv)
	}
	switch f.op {
	case wsOpCont, wsOpText, wsOpBinary, wsOpClose, wsOpPing, wsOpPong:
	default:
		return f, fmt.Errorf("%w: reserved opcode %#x", errStrict, f.op)
	}
	if hdr[1]&0x80 != 0 {
		return f, fmt.Errorf("%w: masked frame from the server", errStrict)
	}
	l := uint64(hdr[1] & 0x7f)
	switch l {
	case 126:
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return f, err
		}
		if l = uint64(binary.BigEndian.Uint16(hdr[:2])); l < 126 {
			return f, fmt.Errorf("%w: 16-bit length %d, which fits in 7 bits", errStrict, l)
		}
	case 127:
		if _, err := io.ReadFull(r, hdr[:8]); err != nil {
			return f, err
		}
		switch l = binary.BigEndian.Uint64(hdr[:8]); {
		case l>>63 != 0:
			return f, fmt.Errorf("%w: 64-bit length with its top bit set", errStrict)
		case l <= 0xffff:
			return f, fmt.Errorf("%w: 64-bit length %d, which fits in 16 bits", errStrict, l)
		case l > 64<<20:
			return f, fmt.Errorf("%w: frame of %d bytes, more than this test expects", errStrict, l)
		}
	}
	if f.op >= wsOpClose {
		switch {
		case !f.fin:
			return f, fmt.Errorf("%w: fragmented control frame %#x", errStrict, f.op)
		case l > 125:
			return f, fmt.Errorf("%w: control frame %#x of %d bytes, over 125", errStrict, f.op, l)
		}
	}
	f.payload = make([]byte, l)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return f, err
	}
	return f, nil
}

// serverStream checks the sequence of a server's frames: text that is
// UTF-8, a valid close frame, and nothing after the close. Control frames
// can only come between frames: readRawFrame reads each frame whole, so
// one inside another would break the next header. The Hub adds an
// invariant of its own: it never fragments a message, so every data frame
// is a final text frame.
type serverStream struct {
	closed bool // the close frame has been read
}

// add checks f, the next frame. It returns f's payload when it is a
// message.
func (s *serverStream) add(f rawFrame) (msg []byte, err error) {
	if s.closed {
		return nil, fmt.Errorf("%w: frame %#x after the close frame", errStrict, f.op)
	}
	switch f.op {
	case wsOpClose:
		s.closed = true
		switch p := f.payload; {
		case len(p) == 1:
			return nil, fmt.Errorf("%w: close payload of 1 byte", errStrict)
		case len(p) >= 2:
			code := binary.BigEndian.Uint16(p)
			if !(code >= 1000 && code <= 1003 || code >= 1007 && code <= 1011 || code >= 3000 && code <= 4999) {
				return nil, fmt.Errorf("%w: close code %d may not be sent", errStrict, code)
			}
			if !utf8.Valid(p[2:]) {
				return nil, fmt.Errorf("%w: close reason not UTF-8", errStrict)
			}
		}
		return nil, nil
	case wsOpPing, wsOpPong:
		return nil, nil
	case wsOpCont:
		return nil, fmt.Errorf("%w (the Hub's invariant): continuation frame: the Hub does not fragment", errStrict)
	case wsOpBinary:
		return nil, fmt.Errorf("%w (the Hub's protocol): binary message", errStrict)
	}
	switch {
	case !f.fin:
		return nil, fmt.Errorf("%w (the Hub's invariant): fragmented text message", errStrict)
	case !utf8.Valid(f.payload):
		return nil, fmt.Errorf("%w: text message not UTF-8", errStrict)
	}
	return f.payload, nil
}

// keyedFrame is a final client frame masked with key.
func keyedFrame(op byte, payload string, key [4]byte) []byte {
	f := append([]byte{0x80 | op, 0x80 | byte(len(payload))}, key[:]...)
	for i := range len(payload) {
		f = append(f, payload[i]^key[i%4])
	}
	return f
}
