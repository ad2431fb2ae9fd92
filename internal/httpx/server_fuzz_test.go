package httpx

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FuzzServerReadRequest feeds arbitrary bytes to a server connection and
// checks that the server neither panics nor hangs, and that whatever it
// writes back is a sequence of well-formed HTTP/1.1 responses.
func FuzzServerReadRequest(f *testing.F) {
	chunked := "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTrailer: t\r\n\r\n"
	for _, seed := range []string{
		get("/"),
		get("/a") + get("/b") + get("/c"),
		post("/p", "hello") + get("/after"),
		chunked + get("/after"),
		"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"),
		"GET / HTTP/1.0\r\n\r\n",
		"GET /big HTTP/1.1\r\nHost: x\r\n\r\n" + get("/flush") + get("/"),
		"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"),
		"GET /close HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"),
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort",
		"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 3000) + "\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
		"GARBAGE\r\n\r\n",
		"\r\n\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodHead {
			// http.ReadResponse below assumes GET: say there is no body.
			w.Header().Set("Content-Length", "0")
			return
		}
		switch r.URL.Path {
		case "/panic":
			panic("fuzz")
		case "/close":
			w.Header().Set("Connection", "close")
		case "/big":
			io.WriteString(w, strings.Repeat("b", 3000)) // over ResponseBuffer: streams
		case "/flush":
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(rune('0'+n%10)))
	})
	s := &Server{
		Handler: h, MaxConcurrent: 4, ResponseBuffer: 1024, MaxHeaderBytes: 2048, MaxBodyBytes: 4096,
		ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatalf("Listen() = %v", err)
	}
	served := make(chan error, 1)
	// Exits when the cleanup closes the server.
	go func() { served <- s.Serve(l) }()
	f.Cleanup(func() {
		if err := s.Close(); err != nil {
			f.Errorf("Close() = %v, want nil", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			f.Errorf("Serve() = %v, want %v", err, ErrServerClosed)
		}
	})

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", l.Addr().String())
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			// Each input costs a connection whose client end waits in
			// TIME_WAIT after it: at the fuzzer's pace the ephemeral
			// ports can all be taken for a moment (seen after 45 s).
			t.Skip("out of ephemeral ports")
		}
		if err != nil {
			t.Fatalf("Dial() = %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout)) // a hang fails the read below
		written := make(chan struct{})
		// Exits once data is written (or the server closed first), then
		// half-closes so the server sees the end of the input.
		go func() {
			defer close(written)
			c.Write(data)
			c.(*net.TCPConn).CloseWrite()
		}()
		defer func() { <-written }()

		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			if _, err := br.Peek(1); err == io.EOF {
				return
			} else if err != nil {
				t.Fatalf("reading response %d: %v (a hang or a reset)", i, err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("ReadResponse() #%d = %v, want a well-formed response", i, err)
			}
			if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
				t.Errorf("response %d protocol = %s, want HTTP/1.1", i, resp.Proto)
			}
			if _, err := io.ReadAll(resp.Body); err != nil {
				t.Fatalf("reading body of response %d (%s): %v", i, resp.Status, err)
			}
		}
	})
}
