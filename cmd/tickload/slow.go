package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// slowRecvBuf is the receive buffer of a slow client's socket: small, so
// the server's writes to it stall within seconds rather than after the
// megabytes a loopback socket buffers by default.
const slowRecvBuf = 4 << 10

// dialSlow connects a client that subscribes to syms and then never reads
// again, as a stuck or hostile client would. The caller closes the
// connection.
func dialSlow(ctx context.Context, wsURL string, syms []string) (*websocket.Conn, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = setRecvBuf(fd, slowRecvBuf)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("slow client: %w", err)
	}
	req := `{"op":"subscribe","symbols":["` + strings.Join(syms, `","`) + `"]}`
	if err := conn.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("slow client: subscribe: %w", err)
	}
	return conn, nil // never read again
}
