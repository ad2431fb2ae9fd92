package fanout

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestPongs: the Hub's pings count as answered by any pong from the
// client, however it reaches the Hub: an empty pong on its own (which the
// reader's wait takes off the socket itself, on unix), one cut across two
// writes, one with a payload, or one right behind a message in the same
// write (the last three go through coder/websocket's reader). Each client
// answers three pings; then a quote is published, which it must get. A
// client that answers none is closed with 1008.
func TestPongs(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, &Options{PingInterval: 50 * time.Millisecond}, nil)
	pong := maskedFrame(wsOpPong, "")
	tests := []struct {
		name   string
		answer func(rc *rawClient) error // answers a ping; nil: never
	}{
		{"empty", func(rc *rawClient) error { return rc.writeRaw(pong) }},
		{"cut_in_two", func(rc *rawClient) error {
			if err := rc.writeRaw(pong[:3]); err != nil {
				return err
			}
			return rc.writeRaw(pong[3:])
		}},
		{"with_payload", func(rc *rawClient) error { return rc.writeRaw(maskedFrame(wsOpPong, "tickerd")) }},
		{"behind_a_message", func(rc *rawClient) error {
			return rc.writeRaw(concat(maskedFrame(wsOpText, `{"op":"list"}`), pong))
		}},
		{"none", nil},
	}
	seq := uint64(0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq++
			want := seq
			rc := h.dialRaw(t, "?symbols=AAPL")
			_ = rc.conn.SetReadDeadline(time.Now().Add(waitLimit))
			pings := 0
			for {
				f, err := readRawFrame(rc.br)
				if err != nil {
					t.Fatalf("after %d pings: read = %v, want the quote of seq %d", pings, err, want)
				}
				switch {
				case f.op == wsOpClose && tt.answer == nil:
					if code := closeCode(f.payload); code != 1008 {
						t.Fatalf("close code = %d, want 1008", code)
					}
					return
				case f.op == wsOpClose:
					t.Fatalf("after %d answered pings: close %d %q, want the connection kept", pings, closeCode(f.payload), f.payload)
				case f.op == wsOpPing && tt.answer != nil:
					if len(f.payload) != 0 {
						t.Fatalf("ping payload = %q, want none", f.payload)
					}
					if err := tt.answer(rc); err != nil {
						t.Fatalf("answer ping = %v", err)
					}
					if pings++; pings == 3 {
						src.set(t, "AAPL", snapQuote("AAPL", want))
					}
				case f.op == wsOpText && bytes.Contains(f.payload, []byte(`"type":"quote"`)) &&
					bytes.Contains(f.payload, []byte(`"seq":`+strconv.FormatUint(want, 10)+`}`)):
					if tt.answer == nil {
						t.Fatalf("got %s from a client that never answers a ping", f.payload)
					}
					return
				}
			}
		})
	}
}

// maskedFrame is a final client frame with a zero mask key: the payload
// goes as is.
func maskedFrame(op byte, payload string) []byte {
	return append(header7(op, true, len(payload)), payload...)
}

// writeRaw sends b as it is.
func (c *rawClient) writeRaw(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitLimit))
	_, err := c.conn.Write(b)
	return err
}

// closeCode returns the code of a close frame's payload, 1005 without one.
func closeCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(p[0])<<8 | int(p[1])
}

// TestPeerClosesWhileWaiting: a client that drops its socket while its
// reader waits between messages is gone for the Hub: its reader returns
// and gives its admission back, so that with MaxClients 1 the next client
// gets in.
func TestPeerClosesWhileWaiting(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, &Options{MaxClients: 1}, nil)
	first := h.dialRaw(t, "?symbols=AAPL")
	_ = first.conn.SetReadDeadline(time.Now().Add(waitLimit))
	if f, err := readRawFrame(first.br); err != nil || !bytes.Contains(f.payload, []byte(`"subscribed"`)) {
		t.Fatalf("first frame = %q, %v, want subscribed", f.payload, err)
	}
	first.conn.Close()
	waitAdmitted(t, h)
}

// waitAdmitted waits until an upgrade to h's Hub is let in (101), while
// it is refused for capacity (503): a client that left has freed its
// admission.
func waitAdmitted(t *testing.T, h *harness) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		status, err := upgradeStatus(h.srv.Listener.Addr().String())
		if err != nil {
			t.Fatalf("second client: %v", err)
		}
		if status == http.StatusSwitchingProtocols {
			return
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("second client: HTTP %d %v after the first closed, want 101", status, waitLimit)
		}
	}
}

// upgradeStatus asks addr for a websocket upgrade and returns the status
// of the answer; it closes the connection.
func upgradeStatus(addr string) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	req := "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return 0, err
	}
	var buf [len("HTTP/1.1 101")]byte
	if _, err := io.ReadFull(conn, buf[:]); err != nil {
		return 0, err
	}
	switch s := string(buf[9:]); s {
	case "101":
		return http.StatusSwitchingProtocols, nil
	case "503":
		return http.StatusServiceUnavailable, nil
	default:
		return 0, fmt.Errorf("answer %q, want HTTP 101 or 503", buf)
	}
}
