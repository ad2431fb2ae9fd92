//go:build unix

package fanout

import (
	"net"
	"net/http"
	"syscall"

	"github.com/coder/websocket"
)

// smallRecvDialer dials with a small receive buffer, set before connect so
// that the advertised window is small too.
func smallRecvDialer() *websocket.DialOptions {
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, smallBuffers)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
}
