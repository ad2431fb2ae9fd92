//go:build !unix

package fanout

import (
	"context"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// smallRecvDialer dials with a small receive buffer. Without a portable
// way to set it before connect (the descriptor's type differs by
// platform), it is set once connected: the window advertised in the
// handshake may be larger, so the slow client fills up a little later.
func smallRecvDialer() *websocket.DialOptions {
	var d net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(smallBuffers) // best effort, as the unix version's window
		}
		return c, err
	}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: dial}}}
}
