package fanout

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestOrigin(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, &Options{AllowedOrigins: []string{"trusted.example", "https://*.corp.example"}}, nil)
	self := "http://" + h.srv.Listener.Addr().String()
	tests := []struct {
		name   string
		origin string
		ok     bool
	}{
		{"no_origin", "", true},
		{"same_origin", self, true},
		{"allowed_host", "http://trusted.example", true},
		{"allowed_scheme_pattern", "https://app.corp.example", true},
		{"foreign", "http://evil.example", false},
		{"wrong_scheme", "http://app.corp.example", false},
		{"not_a_url", "::::", false},
	}
	rejected := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			if !tt.ok {
				rejected++
				if got := h.dialStatus(t, hdr); got != http.StatusForbidden {
					t.Fatalf("Dial(Origin %q) = HTTP %d, want 403", tt.origin, got)
				}
				return
			}
			c := h.dial(t, tt.name, "", &websocket.DialOptions{HTTPHeader: hdr})
			c.send(`{"op":"list"}`)
			c.expectSubscribed()
		})
	}
	if got := h.metric("tickerd_ws_upgrade_rejections_total", rejectOrigin); got != float64(rejected) {
		t.Fatalf("upgrade rejections{origin} = %v, want %d", got, rejected)
	}
}

func TestMaxClients(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, &Options{MaxClients: 2}, nil)
	for _, name := range []string{"first", "second"} {
		c := h.dial(t, name, "", nil)
		c.send(`{"op":"list"}`)
		c.expectSubscribed()
	}
	if got := h.dialStatus(t, http.Header{}); got != http.StatusServiceUnavailable {
		t.Fatalf("third Dial() = HTTP %d, want 503", got)
	}
	if got := h.metric("tickerd_ws_upgrade_rejections_total", rejectCapacity); got != 1 {
		t.Fatalf("upgrade rejections{capacity} = %v, want 1", got)
	}
	if got := h.metric("tickerd_ws_clients", ""); got != 2 {
		t.Fatalf("tickerd_ws_clients = %v, want 2", got)
	}
}

func TestNotWebsocket(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	resp, err := http.Get(h.srv.URL + "/ws")
	if err != nil {
		t.Fatalf("GET /ws = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("GET /ws without upgrade = HTTP %d, want a 4xx", resp.StatusCode)
	}
	if got := h.metric("tickerd_ws_upgrade_rejections_total", rejectHandshake); got != 1 {
		t.Fatalf("upgrade rejections{handshake} = %v, want 1", got)
	}
}

func TestOversizeMessage(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	c := h.dial(t, "client", "", nil)
	// The server refuses at the frame header and closes with the payload
	// unread (TestOversizeFrameRefusedAtHeader checks its close frame on a
	// raw socket), so this client sees the close 1009, or its write or its
	// read reset by the close: either way the connection ends.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err := c.c.Write(ctx, websocket.MessageText, []byte(`{"op":"subscribe","symbols":["`+strings.Repeat("A", readLimit)+`"]}`))
	if err == nil {
		for err == nil {
			_, _, err = c.c.Read(ctx)
		}
	}
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("oversize message: %v, want close 1009 (or the connection reset by it)", err)
	}

	// Just under the limit is a message like any other.
	c = h.dial(t, "client", "", nil)
	pad := strings.Repeat(" ", readLimit-len(`{"op":"list"}`))
	c.send(`{"op":"list"}` + pad)
	c.expectSubscribed()
}

func TestShutdown(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	h := newHarness(t, src, &Options{DynamicSymbols: true}, nil)
	a := h.dial(t, "a", "?symbols=AAPL", nil)
	a.expectSubscribed("AAPL")
	b := h.dial(t, "b", "?symbols=MSFT,ZZZ", nil)
	b.expectSubscribed("MSFT", "ZZZ")

	// Both read, so both answer the close handshake at once.
	closed := make(chan error, 2)
	for _, c := range []*wsClient{a, b} {
		go func() { closed <- c.closed(websocket.StatusGoingAway) }() // exits when c's connection ends
	}
	h.stop() // returns once every connection's goroutines have exited
	for range 2 {
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
	}
	src.waitRemoved(t, "ZZZ") // b was the last client of dynamic ZZZ

	if got := h.dialStatus(t, http.Header{}); got != http.StatusServiceUnavailable {
		t.Fatalf("Dial() after Run returned = HTTP %d, want 503", got)
	}
	if got := h.metric("tickerd_ws_upgrade_rejections_total", rejectShutdown); got != 1 {
		t.Fatalf("upgrade rejections{shutdown} = %v, want 1", got)
	}
	if got := h.metric("tickerd_ws_clients", ""); got != 0 {
		t.Fatalf("tickerd_ws_clients = %v after shutdown, want 0", got)
	}
	if err := h.hub.Run(context.Background()); err != ErrRunning {
		t.Fatalf("second Run() = %v, want ErrRunning", err)
	}
}

func TestPing(t *testing.T) {
	src := newFakeSource("AAPL")
	h := newHarness(t, src, &Options{PingInterval: 100 * time.Millisecond}, nil)
	t.Run("answered", func(t *testing.T) {
		// The client answers pings (while Read runs); after the third one
		// a quote is published. Getting it shows the connection survived
		// three ping intervals.
		pings := 0
		c := h.dial(t, "ponger", "?symbols=AAPL", &websocket.DialOptions{
			OnPingReceived: func(context.Context, []byte) bool {
				if pings++; pings == 3 {
					src.set(t, "AAPL", snapQuote("AAPL", 1))
				}
				return true
			},
		})
		c.expectSubscribed("AAPL")
		c.expectQuote("AAPL", 1)
	})
	t.Run("unanswered", func(t *testing.T) {
		c := h.dial(t, "silent", "", &websocket.DialOptions{
			OnPingReceived: func(context.Context, []byte) bool { return false }, // no pong
		})
		c.expectClose(websocket.StatusPolicyViolation)
	})
}

// smallBuffers keeps socket buffers small on both ends, so that a client
// that does not read fills them after a few frames.
const smallBuffers = 4096

// smallBufListener shrinks the send buffer of every accepted connection.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(smallBuffers)
	}
	return c, err
}
