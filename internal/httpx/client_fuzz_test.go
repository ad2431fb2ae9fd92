package httpx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzClientResponse has a raw server answer two pipelined GETs with the
// fuzzed bytes (on every connection, so retries see them too) and then end
// its side of the stream; with upgrade, the second GET asks to upgrade.
// Whatever the bytes, the client must not panic or hang: each Do returns a
// response or an error, never both or neither, well within its 2s context,
// a 101 reaches only the request that asked for it and hands over an
// io.ReadWriteCloser, and Close reports no panic from the client's
// goroutines.
func FuzzClientResponse(f *testing.F) {
	for _, seed := range []string{
		cliResp(200, "a") + cliResp(200, "b"),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n" + cliResp(200, "b"),
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + cliResp(204, "") + cliResp(304, ""),
		"HTTP/1.1 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
		"HTTP/1.0 200 OK\r\n\r\nold",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx" + cliResp(200, "y"),
		"HTTP/1.1 999 Whatever\r\nX: \x00\xff\r\n\r\n",
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 2000) + "\r\n",
		"garbage\r\n\r\n",
		"",
		strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 8) + cliResp(200, "a"),
		cliResp(200, "a") + cliResp(200, "b") + cliResp(200, "stray"),
		cliResp(200, "a") + "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nafter the switch",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, upgrade bool) {
		srv := newCliRawServer(t, func(c *cliRawConn) {
			c.send(string(data))
			c.Conn.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c.br)
		})
		c, err := NewClient(srv.URL, &Options{
			ResponseTimeout: 200 * time.Millisecond,
			MinBackoff:      time.Millisecond,
			MaxBackoff:      2 * time.Millisecond,
			MaxHeaderBytes:  16 << 10,
			DrainLimit:      16 << 10,
		})
		if err != nil {
			t.Fatalf("NewClient = %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, path := range []string{"/1", "/2"} {
			wg.Add(1)
			// Exits when Do and the body read return; ctx bounds both.
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest(http.MethodGet, path, nil)
				asks := upgrade && path == "/2"
				if asks {
					req.Header.Set("Connection", "Upgrade")
					req.Header.Set("Upgrade", "x")
				}
				resp, err := c.Do(ctx, req)
				if (resp == nil) == (err == nil) {
					t.Errorf("Do(%s) = %v, %v, want exactly one of a response and an error", path, resp, err)
					return
				}
				if errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Do(%s) = %v: the client hung", path, err)
				}
				if resp != nil && resp.StatusCode == http.StatusSwitchingProtocols {
					if _, ok := resp.Body.(io.ReadWriteCloser); !asks || !ok {
						t.Errorf("Do(%s) = 101 with Body %T (asked to upgrade: %v), want 101 only for an upgrade, with an io.ReadWriteCloser", path, resp.Body, asks)
					}
				}
				if resp != nil {
					_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
					resp.Body.Close()
					if errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Do(%s): reading the body: %v: the client hung", path, err)
					}
				}
			}()
		}
		wg.Wait()
		if err := c.Close(); err != nil {
			t.Errorf("Close = %v, want nil (no panic in the client)", err)
		}
	})
}
