package httpx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Helpers shared by the client tests carry the cli prefix, so they do not
// collide with the server's tests in the same package.

// cliCtx returns a context that ends after 10s: a deadlock detector for the
// test's waits, never a way to order events.
func cliCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// cliNewClient returns a client that the test closes when it ends.
func cliNewClient(t testing.TB, origin string, opts *Options) *Client {
	t.Helper()
	c, err := NewClient(origin, opts)
	if err != nil {
		t.Fatalf("NewClient(%q) = %v, want nil", origin, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// cliDo sends one request and reads its whole body.
func cliDo(ctx context.Context, c *Client, method, path string, body io.Reader) (*http.Response, string, error) {
	req, err := http.NewRequest(method, path, body)
	if err != nil {
		return nil, "", err
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func cliGet(ctx context.Context, c *Client, path string) (string, error) {
	_, b, err := cliDo(ctx, c, http.MethodGet, path, nil)
	return b, err
}

// cliResult is what one asynchronous cliDo returned.
type cliResult struct {
	resp *http.Response
	body string
	err  error
}

// cliGo runs cliDo in a goroutine; the result arrives on the returned
// channel (buffered, so the goroutine always exits).
func cliGo(ctx context.Context, c *Client, method, path string, body io.Reader) <-chan cliResult {
	ch := make(chan cliResult, 1)
	// Exits when cliDo returns; ctx bounds that.
	go func() {
		resp, b, err := cliDo(ctx, c, method, path, body)
		ch <- cliResult{resp, b, err}
	}()
	return ch
}

// cliWait returns the result from ch, failing the test if ctx ends first.
func cliWait(t testing.TB, ctx context.Context, ch <-chan cliResult) cliResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		t.Fatalf("request still pending: %v", context.Cause(ctx))
		return cliResult{}
	}
}

// cliResp formats an HTTP/1.1 response with a Content-Length body.
func cliResp(status int, body string, header ...string) string {
	var h strings.Builder
	for _, kv := range header {
		h.WriteString(kv + "\r\n")
	}
	return fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Length: %d\r\n%s\r\n%s",
		status, http.StatusText(status), len(body), h.String(), body)
}

// cliRawServer is a scripted HTTP/1.1 server on 127.0.0.1: each accepted
// connection runs script in its own goroutine. It records every request
// it reads, per connection. The test's cleanup closes the listener and
// every connection and waits for the scripts to return.
type cliRawServer struct {
	URL  string
	ln   net.Listener
	done chan struct{} // closed by close: scripts parked on the test give up
	wg   sync.WaitGroup

	mu sync.Mutex
	// Guarded by mu.
	conns []net.Conn
	seen  [][]string // "METHOD /path" of each request read, per connection
}

// cliRawConn is one connection of a cliRawServer, as its script sees it.
type cliRawConn struct {
	net.Conn
	N   int // 0 for the server's first connection
	br  *bufio.Reader
	srv *cliRawServer
}

func newCliRawServer(t testing.TB, script func(c *cliRawConn)) *cliRawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen = %v", err)
	}
	return newCliRawServerOn(t, ln, script)
}

// newCliRawServerOn serves ln, which it closes when the test ends.
func newCliRawServerOn(t testing.TB, ln net.Listener, script func(c *cliRawConn)) *cliRawServer {
	s := &cliRawServer{URL: "http://" + ln.Addr().String(), ln: ln, done: make(chan struct{})}
	s.wg.Add(1)
	// Exits when close closes the listener.
	go func() {
		defer s.wg.Done()
		for n := 0; ; n++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.seen = append(s.seen, nil)
			s.mu.Unlock()
			s.wg.Add(1)
			// Exits when script returns; close closes nc to make it.
			go func(n int) {
				defer s.wg.Done()
				defer nc.Close()
				script(&cliRawConn{Conn: nc, N: n, br: bufio.NewReader(nc), srv: s})
			}(n)
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *cliRawServer) close() {
	close(s.done)
	s.ln.Close()
	s.mu.Lock()
	for _, nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// seenOn returns the requests read on connection n so far.
func (s *cliRawServer) seenOn(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n >= len(s.seen) {
		return nil
	}
	return append([]string(nil), s.seen[n]...)
}

// next reads one request and its whole body, and records it.
func (c *cliRawConn) next() (*http.Request, string, error) {
	req, err := http.ReadRequest(c.br)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, "", err
	}
	c.srv.mu.Lock()
	c.srv.seen[c.N] = append(c.srv.seen[c.N], req.Method+" "+req.URL.Path)
	c.srv.mu.Unlock()
	return req, string(b), nil
}

func (c *cliRawConn) send(s string) error {
	_, err := io.WriteString(c.Conn, s)
	return err
}

// reset closes the connection with a TCP RST.
func (c *cliRawConn) reset() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Conn.Close()
}

// notify sends v on ch unless the server is closing.
func (c *cliRawConn) notify(ch chan<- string, v string) bool {
	select {
	case ch <- v:
		return true
	case <-c.srv.done:
		return false
	}
}

// warm reads the client's warm-up request and answers it; it reports
// false if the connection failed.
func (c *cliRawConn) warm() bool {
	_, _, err := c.next()
	return err == nil && c.send(cliResp(200, "/warm")) == nil
}

// notifyNext reads n requests and sends each one's path on ch; it reports
// false if the connection failed or the server is closing.
func (c *cliRawConn) notifyNext(ch chan<- string, n int) bool {
	for range n {
		req, _, err := c.next()
		if err != nil || !c.notify(ch, req.URL.Path) {
			return false
		}
	}
	return true
}

// wait waits for ch to be closed or to deliver, unless the server is closing.
func (c *cliRawConn) wait(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-c.srv.done:
		return false
	}
}

// echo answers every request with its path as the body, pipelining: it
// flushes only when no further request is buffered.
func (c *cliRawConn) echo() {
	bw := bufio.NewWriter(c.Conn)
	for {
		req, _, err := c.next()
		if err != nil {
			return
		}
		bw.WriteString(cliResp(http.StatusOK, req.URL.Path))
		if c.br.Buffered() == 0 && bw.Flush() != nil {
			return
		}
	}
}

// cliEcho is a script that echoes on every connection.
func cliEcho(c *cliRawConn) { c.echo() }

// cliWarm sends one request and checks it succeeds, so that the
// connection is up and past its first (lone) request.
func cliWarm(t testing.TB, ctx context.Context, c *Client) {
	t.Helper()
	if got, err := cliGet(ctx, c, "/warm"); err != nil || got != "/warm" {
		t.Fatalf("Do(/warm) = %q, %v, want /warm, nil", got, err)
	}
}

func cliCheckStats(t testing.TB, c *Client, want Stats) {
	t.Helper()
	if got := c.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestNewClient(t *testing.T) {
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{"http", "http://127.0.0.1:8081", true},
		{"https_default_port", "https://127.0.0.1", true},
		{"path_ignored", "http://127.0.0.1:8081/api/x", true},
		{"no_scheme", "127.0.0.1:8081", false},
		{"ftp", "ftp://127.0.0.1", false},
		{"relative", "/api", false},
		{"bad_url", "http://[::1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.origin, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("NewClient(%q) = %v, want ok %v", tc.origin, err, tc.ok)
			}
			if c != nil {
				c.Close()
			}
		})
	}
}

func TestClientWrongOrigin(t *testing.T) {
	srv := newCliRawServer(t, cliEcho)
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	for _, u := range []string{"http://127.0.0.2:1/x?token=s3cr3t", "https" + strings.TrimPrefix(srv.URL, "http") + "/x/s3cr3t"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		_, err := c.Do(ctx, req)
		if !errors.Is(err, ErrWrongOrigin) {
			t.Errorf("Do(%s) = %v, want ErrWrongOrigin", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Do(%s) = %v, shows the path or query (which may hold a key)", u, err)
		}
	}
	// An absolute URL of the client's own origin is fine.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/abs", nil)
	resp, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("Do(%s) = %v, want nil", req.URL, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "/abs" {
		t.Errorf("Do(%s) body = %q, want /abs", req.URL, b)
	}
	if n := len(srv.seenOn(0)); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// Do returns as soon as the head arrives; the body streams afterwards.
func TestClientDoReturnsAtHead(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Head", "yes")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "streamed body")
	}))
	t.Cleanup(srv.Close)
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)

	req, _ := http.NewRequest(http.MethodGet, "/stream", nil)
	resp, err := c.Do(ctx, req) // the server has not released the body yet
	if err != nil {
		t.Fatalf("Do(/stream) = %v, want nil", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Head") != "yes" {
		t.Fatalf("Do(/stream) = %d %v, want 200 with X-Head", resp.StatusCode, resp.Header)
	}
	close(release)
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "streamed body" {
		t.Errorf("ReadAll(body) = %q, %v, want %q, nil", b, err, "streamed body")
	}
}

// cliInOrder has callers goroutines send each requests at once and checks
// every caller gets the response to its own request.
func cliInOrder(t *testing.T, c *Client, callers, each int) {
	t.Helper()
	ctx := cliCtx(t)
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		// Exits after its requests; ctx bounds each.
		go func() {
			defer wg.Done()
			for i := range each {
				path := fmt.Sprintf("/c%02d/r%03d", g, i)
				got, err := cliGet(ctx, c, path)
				if err != nil || got != path {
					t.Errorf("Do(%s) = %q, %v, want %q, nil", path, got, err, path)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestClientInOrder(t *testing.T) {
	const callers, each = 64, 20
	t.Run("net_http", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "0") { // some bodies chunked, in two parts
				io.WriteString(w, r.URL.Path[:3])
				w.(http.Flusher).Flush()
				io.WriteString(w, r.URL.Path[3:])
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(r.URL.Path)))
			io.WriteString(w, r.URL.Path)
		}))
		t.Cleanup(srv.Close)
		c := cliNewClient(t, srv.URL, nil)
		cliInOrder(t, c, callers, each)
		cliCheckStats(t, c, Stats{Requests: callers * each, Dials: 1, Connected: true})
	})
	t.Run("raw_pipelined", func(t *testing.T) {
		srv := newCliRawServer(t, cliEcho)
		c := cliNewClient(t, srv.URL, &Options{MaxInFlight: 16})
		cliInOrder(t, c, callers, each)
		cliCheckStats(t, c, Stats{Requests: callers * each, Dials: 1, Connected: true})
	})
}

// Response framing: every kind of body ends where it should, so the
// response pipelined behind it is intact.
func TestClientResponseBodies(t *testing.T) {
	for _, tc := range []struct {
		name        string
		method      string
		resp        string // the whole response to the request under test
		closeAfter  bool   // the server closes the connection after resp
		wantStatus  int
		wantBody    string
		wantTrailer string // value of X-Sum after the body
	}{
		{name: "content_length", resp: cliResp(200, "hello"), wantStatus: 200, wantBody: "hello"},
		{name: "chunked_trailer", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n", wantStatus: 200, wantBody: "hello world", wantTrailer: "42"},
		{name: "read_until_close", resp: "HTTP/1.1 200 OK\r\n\r\nuntil close", closeAfter: true, wantStatus: 200, wantBody: "until close"},
		{name: "head", method: http.MethodHead, resp: "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", wantStatus: 200},
		{name: "head_chunked", method: http.MethodHead, resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", wantStatus: 200},
		{name: "continue_100", resp: "HTTP/1.1 100 Continue\r\n\r\n" + cliResp(200, "after 100"), wantStatus: 200, wantBody: "after 100"},
		{name: "early_hints_103", resp: "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" +
			"HTTP/1.1 103 Early Hints\r\nLink: </t.js>; rel=preload\r\n\r\n" + cliResp(200, "after 103"), wantStatus: 200, wantBody: "after 103"},
		{name: "no_content_204", resp: "HTTP/1.1 204 No Content\r\n\r\n", wantStatus: 204},
		{name: "not_modified_304", resp: "HTTP/1.1 304 Not Modified\r\nContent-Length: 11\r\n\r\n", wantStatus: 304},
		{name: "http10_keep_alive", resp: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nold", wantStatus: 200, wantBody: "old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			got := make(chan string, 1)
			srv := newCliRawServer(t, func(c *cliRawConn) {
				if c.N > 0 {
					c.echo()
					return
				}
				if !c.warm() {
					return
				}
				if _, _, err := c.next(); err != nil || !c.notify(got, "case") {
					return
				}
				if _, _, err := c.next(); err != nil { // /next, pipelined behind it
					return
				}
				if tc.closeAfter {
					c.send(tc.resp)
					return
				}
				if c.send(tc.resp+cliResp(200, "/next")) != nil {
					return
				}
				c.echo()
			})
			c := cliNewClient(t, srv.URL, nil)
			ctx := cliCtx(t)
			cliWarm(t, ctx, c)

			caseCh := cliGo(ctx, c, method, "/case", nil)
			select {
			case <-got:
			case <-ctx.Done():
				t.Fatal("server never got /case")
			}
			nextCh := cliGo(ctx, c, http.MethodGet, "/next", nil)
			r := cliWait(t, ctx, caseCh)
			if r.err != nil {
				t.Fatalf("Do(%s /case) = %v, want nil", method, r.err)
			}
			if r.resp.StatusCode != tc.wantStatus || r.body != tc.wantBody {
				t.Errorf("Do(%s /case) = %d %q, want %d %q", method, r.resp.StatusCode, r.body, tc.wantStatus, tc.wantBody)
			}
			if got := r.resp.Trailer.Get("X-Sum"); got != tc.wantTrailer {
				t.Errorf("Do(/case) trailer X-Sum = %q, want %q", got, tc.wantTrailer)
			}
			if n := cliWait(t, ctx, nextCh); n.err != nil || n.body != "/next" {
				t.Errorf("Do(/next) = %q, %v, want /next, nil", n.body, n.err)
			}
			want := Stats{Requests: 3, Dials: 1, Connected: true}
			if tc.closeAfter { // /next was sent again, on a new connection
				want.Dials, want.Retries = 2, 1
				if got := srv.seenOn(1); len(got) != 1 || got[0] != "GET /next" {
					t.Errorf("second connection saw %q, want [GET /next]", got)
				}
			}
			cliCheckStats(t, c, want)
		})
	}
}

func TestClientRequestBodies(t *testing.T) {
	type seen struct {
		method, te, body string
		length           int64
	}
	got := make(chan seen, 4)
	srv := newCliRawServer(t, func(c *cliRawConn) {
		for {
			req, body, err := c.next()
			if err != nil {
				return
			}
			got <- seen{req.Method, strings.Join(req.TransferEncoding, ","), body, req.ContentLength}
			if c.send(cliResp(http.StatusOK, body)) != nil {
				return
			}
		}
	})
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)

	t.Run("content_length", func(t *testing.T) {
		_, b, err := cliDo(ctx, c, http.MethodPost, "/cl", strings.NewReader("hello world"))
		if err != nil || b != "hello world" {
			t.Fatalf("Do(POST /cl) = %q, %v, want %q, nil", b, err, "hello world")
		}
		if s := <-got; s != (seen{"POST", "", "hello world", 11}) {
			t.Errorf("server saw %+v, want POST with Content-Length 11", s)
		}
	})
	t.Run("chunked_pipe", func(t *testing.T) {
		pr, pw := io.Pipe()
		ch := cliGo(ctx, c, http.MethodPut, "/chunked", pr)
		for _, part := range []string{"part1-", "part2-", "part3"} {
			if _, err := io.WriteString(pw, part); err != nil {
				t.Fatalf("pipe Write(%q) = %v", part, err)
			}
		}
		pw.Close()
		r := cliWait(t, ctx, ch)
		if r.err != nil || r.body != "part1-part2-part3" {
			t.Fatalf("Do(PUT /chunked) = %q, %v, want %q, nil", r.body, r.err, "part1-part2-part3")
		}
		if s := <-got; s != (seen{"PUT", "chunked", "part1-part2-part3", -1}) {
			t.Errorf("server saw %+v, want chunked PUT", s)
		}
	})
}

// A request whose body is being written holds back the requests behind it:
// the server sees them one after the other, never interleaved.
func TestClientRequestBodyBlocksLater(t *testing.T) {
	headA := make(chan string, 1)
	bodyA := make(chan string, 1)
	srv := newCliRawServer(t, func(c *cliRawConn) {
		if !c.warm() {
			return
		}
		req, err := http.ReadRequest(c.br) // PUT /a: its head, then its body
		if err != nil || !c.notify(headA, req.URL.Path) {
			return
		}
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		bodyA <- string(b)
		if c.send(cliResp(200, "/a")) != nil {
			return
		}
		c.echo()
	})
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)

	pr, pw := io.Pipe()
	a := cliGo(ctx, c, http.MethodPut, "/a", pr)
	<-headA
	io.WriteString(pw, "first half, ")
	b := cliGo(ctx, c, http.MethodGet, "/b", nil) // queued behind /a's body
	io.WriteString(pw, "second half")
	pw.Close()
	if got := <-bodyA; got != "first half, second half" {
		t.Errorf("server read body of /a = %q, want %q", got, "first half, second half")
	}
	if r := cliWait(t, ctx, a); r.err != nil || r.body != "/a" {
		t.Errorf("Do(PUT /a) = %q, %v, want /a, nil", r.body, r.err)
	}
	if r := cliWait(t, ctx, b); r.err != nil || r.body != "/b" {
		t.Errorf("Do(GET /b) = %q, %v, want /b, nil", r.body, r.err)
	}
	want := []string{"GET /b"}
	if got := srv.seenOn(0)[1:]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw after /a %q, want %q", got, want)
	}
}

// cliHeld is a script for connection 0: it answers /warm, reads the next
// request, reports it on got, waits for release, answers it and echoes from
// then on. Other connections echo.
func cliHeld(got chan<- string, release <-chan struct{}) func(c *cliRawConn) {
	return func(c *cliRawConn) {
		if c.N > 0 {
			c.echo()
			return
		}
		if !c.warm() {
			return
		}
		req, _, err := c.next()
		if err != nil || !c.notify(got, req.URL.Path) || !c.wait(release) {
			return
		}
		if c.send(cliResp(200, req.URL.Path)) != nil {
			return
		}
		c.echo()
	}
}

// A request whose ctx ends while it is queued is never written.
func TestClientCancelQueued(t *testing.T) {
	got, release := make(chan string, 1), make(chan struct{})
	srv := newCliRawServer(t, cliHeld(got, release))
	c := cliNewClient(t, srv.URL, &Options{MaxInFlight: 1})
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)

	a := cliGo(ctx, c, http.MethodGet, "/a", nil)
	<-got // /a is written and held: the pipeline (depth 1) is full
	bctx, cancelB := context.WithCancel(ctx)
	b := cliGo(bctx, c, http.MethodGet, "/b", nil)
	cancelB()
	if r := cliWait(t, ctx, b); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Do(/b) = %v, want context.Canceled", r.err)
	}
	close(release)
	if r := cliWait(t, ctx, a); r.err != nil || r.body != "/a" {
		t.Fatalf("Do(/a) = %q, %v, want /a, nil", r.body, r.err)
	}
	if got, err := cliGet(ctx, c, "/c"); err != nil || got != "/c" {
		t.Fatalf("Do(/c) = %q, %v, want /c, nil", got, err)
	}
	want := []string{"GET /warm", "GET /a", "GET /c"}
	if got := srv.seenOn(0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw %q, want %q", got, want)
	}
	cliCheckStats(t, c, Stats{Requests: 3, Dials: 1, Connected: true})
}

// thawedCtx is a context whose deadline has passed but whose timer has not
// fired yet: what a caller's context looks like in the moment after the
// process is thawed (SIGCONT) past its deadline.
type thawedCtx struct {
	context.Context // Done and Err: not done until the test cancels it
	deadline        time.Time
}

func (c thawedCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// A request whose deadline has passed is never written, even before its
// context's timer ends it: a leader frozen past its lease sends nothing
// when it thaws.
func TestClientPastDeadlineNeverWritten(t *testing.T) {
	got, release := make(chan string, 1), make(chan struct{})
	srv := newCliRawServer(t, cliHeld(got, release))
	c := cliNewClient(t, srv.URL, &Options{MaxInFlight: 1})
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)

	a := cliGo(ctx, c, http.MethodGet, "/a", nil)
	<-got // /a is written and held: /b waits in the queue
	bctx, fire := context.WithCancel(ctx)
	b := cliGo(thawedCtx{bctx, time.Now().Add(-time.Second)}, c, http.MethodGet, "/b", nil)
	close(release)
	if r := cliWait(t, ctx, a); r.err != nil || r.body != "/a" {
		t.Fatalf("Do(/a) = %q, %v, want /a, nil", r.body, r.err)
	}
	if got, err := cliGet(ctx, c, "/c"); err != nil || got != "/c" { // queued behind /b
		t.Fatalf("Do(/c) = %q, %v, want /c, nil", got, err)
	}
	fire() // the timer catches up
	if r := cliWait(t, ctx, b); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Do(/b) = %v, want context.Canceled", r.err)
	}
	want := []string{"GET /warm", "GET /a", "GET /c"}
	if got := srv.seenOn(0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("server saw %q, want %q (no /b: its deadline had passed)", got, want)
	}
}

// A caller that gives up after its request was written gets its ctx error at
// once. If its response is at the head of the line and has not arrived, the
// connection is reset at once (ResponseTimeout is an hour here): nobody
// waits behind an answer nobody wants; the request is not sent again, the
// one behind it is. If the response is all there by the time it reaches the
// head, it is discarded and the connection stays.
func TestClientCancelAfterWritten(t *testing.T) {
	opts := func() *Options { return &Options{ResponseTimeout: time.Hour} }
	t.Run("not_arrived", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			pn := &cliPipeNet{}
			defer pn.closeAll()
			c := newCliPipeClient(t, pn, opts())
			defer c.Close()
			ctx := t.Context()
			pc0 := cliWarmPipe(t, ctx, c, pn)

			actx, cancelA := context.WithCancel(ctx)
			a := cliGo(actx, c, http.MethodGet, "/a", nil)
			synctest.Wait()
			b := cliGo(ctx, c, http.MethodGet, "/b", nil)
			synctest.Wait()
			if got := pc0.paths(); !slices.Equal(got, []string{"/w", "/a", "/b"}) {
				t.Fatalf("first connection got %q, want /w /a /b", got)
			}
			cancelA()
			synctest.Wait()
			if r, ok := cliReady(a); !ok || !errors.Is(r.err, context.Canceled) {
				t.Fatalf("Do(/a) = %v (returned %v), want context.Canceled", r.err, ok)
			}
			pc1 := pn.conn(1)
			if pc1 == nil {
				t.Fatal("no second connection after the head's caller gave up")
			}
			pc1.answer(t, 1)
			if r := <-b; r.err != nil || r.body != "/b" {
				t.Errorf("Do(/b) = %q, %v, want /b, nil", r.body, r.err)
			}
			if got := pc1.paths(); !slices.Equal(got, []string{"/b"}) {
				t.Errorf("second connection got %q, want only /b", got)
			}
			s := c.Stats()
			if s.Dials != 2 || s.Resets != 1 || s.Retries != 1 || s.Failures != 0 {
				t.Errorf("Stats() = %+v, want Dials 2, Resets 1, Retries 1, Failures 0", s)
			}
		})
	})
	t.Run("already_buffered", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			pn := &cliPipeNet{}
			defer pn.closeAll()
			c := newCliPipeClient(t, pn, opts())
			defer c.Close()
			ctx := t.Context()
			pc0 := cliWarmPipe(t, ctx, c, pn)

			first := make(chan *http.Response, 1)
			// Exits when Do returns.
			go func() {
				req, _ := http.NewRequest(http.MethodGet, "/first", nil)
				resp, err := c.Do(ctx, req)
				if err != nil {
					t.Errorf("Do(/first) = %v", err)
				}
				first <- resp
			}()
			synctest.Wait()
			actx, cancelA := context.WithCancel(ctx)
			a := cliGo(actx, c, http.MethodGet, "/a", nil)
			synctest.Wait()
			pc0.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true)
			resp := <-first
			if resp == nil {
				t.FailNow()
			}
			buf := make([]byte, 5)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatalf("ReadFull(/first body) = %v", err)
			}
			cancelA() // /a's answer is not at the head yet: nothing to stop
			synctest.Wait()
			pc0.send("world"+cliResp(200, "/a"), true) // one read brings both
			if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != "world" {
				t.Fatalf("ReadAll(/first body) = %q, %v, want world", rest, err)
			}
			resp.Body.Close()
			if r := <-a; !errors.Is(r.err, context.Canceled) {
				t.Fatalf("Do(/a) = %v, want context.Canceled", r.err)
			}
			b := cliGo(ctx, c, http.MethodGet, "/b", nil)
			synctest.Wait()
			pc0.answer(t, 1)
			if r := <-b; r.err != nil || r.body != "/b" {
				t.Errorf("Do(/b) = %q, %v, want /b, nil", r.body, r.err)
			}
			if s := c.Stats(); s.Dials != 1 || s.Resets != 0 {
				t.Errorf("Stats() = %+v, want Dials 1, Resets 0", s)
			}
		})
	})
}

// A caller whose ctx ends while a Read of the body waits on the connection
// gets the ctx error from that Read; later requests get their own responses.
func TestClientCtxEndsMidBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := &cliPipeNet{}
		defer pn.closeAll()
		c := newCliPipeClient(t, pn, nil)
		defer c.Close()
		ctx := t.Context()

		actx, cancelA := context.WithCancel(ctx)
		defer cancelA()
		head := make(chan cliResult, 1)
		// Exits when Do returns.
		go func() {
			req, _ := http.NewRequest(http.MethodGet, "/a", nil)
			resp, err := c.Do(actx, req)
			head <- cliResult{resp: resp, err: err}
		}()
		synctest.Wait()
		pn.conn(0).send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true)
		r := <-head
		if r.err != nil {
			t.Fatalf("Do(/a) = %v, want nil", r.err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.resp.Body, buf); err != nil {
			t.Fatalf("ReadFull(body) = %v, want nil", err)
		}
		readErr := make(chan error, 1)
		// Exits when Read returns: cancelA below interrupts it.
		go func() {
			_, err := r.resp.Body.Read(buf)
			readErr <- err
		}()
		synctest.Wait() // the Read waits on the connection
		cancelA()
		if err := <-readErr; !errors.Is(err, context.Canceled) {
			t.Errorf("Read(body) after cancel = %v, want context.Canceled", err)
		}
		r.resp.Body.Close()
		pn.conn(0).send("world", false) // the rest, which the client drains

		b := cliGo(ctx, c, http.MethodGet, "/b", nil)
		synctest.Wait()
		for i := range pn.dials() {
			if pc := pn.conn(i); slices.Contains(pc.paths(), "/b") {
				pc.answer(t, 1)
			}
		}
		if r := <-b; r.err != nil || r.body != "/b" {
			t.Fatalf("Do(/b) = %q, %v, want /b, nil", r.body, r.err)
		}
	})
}

// A body closed early is drained when what is left is within DrainLimit;
// beyond it the connection is reset and idempotent requests in flight are
// sent again.
func TestClientEarlyBodyClose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bodyLen int
		reset   bool
	}{
		{"under_limit", 900, false},
		{"over_limit", 64 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 3)
			srv := newCliRawServer(t, func(c *cliRawConn) {
				if c.N > 0 {
					c.echo()
					return
				}
				if !c.warm() {
					return
				}
				if !c.notifyNext(got, 3) {
					return
				}
				if c.send(cliResp(200, strings.Repeat("x", tc.bodyLen))+cliResp(200, "/2")+cliResp(200, "/3")) != nil {
					return
				}
				c.echo()
			})
			c := cliNewClient(t, srv.URL, &Options{DrainLimit: 1024})
			ctx := cliCtx(t)
			cliWarm(t, ctx, c)

			big := make(chan *http.Response, 1)
			// Exits when Do returns.
			go func() {
				req, _ := http.NewRequest(http.MethodGet, "/big", nil)
				resp, err := c.Do(ctx, req)
				if err != nil {
					t.Errorf("Do(/big) = %v, want nil", err)
				}
				big <- resp
			}()
			<-got
			two := cliGo(ctx, c, http.MethodGet, "/2", nil)
			<-got
			three := cliGo(ctx, c, http.MethodPost, "/3", strings.NewReader("p"))
			<-got

			resp := <-big
			if resp == nil {
				t.FailNow()
			}
			if _, err := io.ReadFull(resp.Body, make([]byte, 10)); err != nil {
				t.Fatalf("ReadFull(/big body) = %v, want nil", err)
			}
			resp.Body.Close()
			if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Errorf("Read(closed body) = %d, %v, want 0, an error", n, err)
			}
			if r := cliWait(t, ctx, two); r.err != nil || r.body != "/2" {
				t.Errorf("Do(/2) = %q, %v, want /2, nil", r.body, r.err)
			}
			r3 := cliWait(t, ctx, three)
			if !tc.reset {
				if r3.err != nil || r3.body != "/3" {
					t.Errorf("Do(POST /3) = %q, %v, want /3, nil", r3.body, r3.err)
				}
				cliCheckStats(t, c, Stats{Requests: 4, Dials: 1, Connected: true})
				return
			}
			var ce *ConnError
			if !errors.As(r3.err, &ce) || !ce.Processed || !errors.Is(r3.err, ErrDrainLimit) {
				t.Errorf("Do(POST /3) = %v, want *ConnError, Processed, ErrDrainLimit", r3.err)
			}
			if got := srv.seenOn(1); fmt.Sprint(got) != "[GET /2]" {
				t.Errorf("second connection saw %q, want [GET /2]", got)
			}
			cliCheckStats(t, c, Stats{Requests: 4, Dials: 2, ConnErrors: 1, Retries: 1, Failures: 1, DrainResets: 1, Connected: true})
		})
	}
}

// An upgrade request is the last written on its connection, and a 101
// hands that connection to its caller: the Body is an io.ReadWriteCloser
// over the socket, starting with the bytes the server sent right behind
// the 101 head. The request queued behind it goes on a new connection. A
// 101 to a request that did not ask for it is a protocol error.
func TestClientUpgrade(t *testing.T) {
	got := make(chan string, 1)
	upEnd := make(chan string, 1) // what the server read on the upgraded connection after ping
	srv := newCliRawServer(t, func(c *cliRawConn) {
		if c.N > 0 {
			c.echo()
			return
		}
		if !c.warm() {
			return
		}
		if _, _, err := c.next(); err != nil || !c.notify(got, "/up") {
			return
		}
		if c.send("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nhello") != nil {
			return
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c.br, buf); err != nil || string(buf) != "ping" || c.send("pong") != nil {
			return
		}
		rest, _ := io.ReadAll(c.br) // until the caller closes it
		upEnd <- string(rest)
	})
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)

	req, _ := http.NewRequest(http.MethodGet, "/up", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "test")
	up := make(chan cliResult, 1)
	// Exits when Do returns.
	go func() {
		resp, err := c.Do(ctx, req)
		up <- cliResult{resp: resp, err: err}
	}()
	<-got
	x := cliGo(ctx, c, http.MethodGet, "/x", nil)
	r := cliWait(t, ctx, up)
	if r.err != nil || r.resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("Do(/up) = %v, %v, want 101", r.resp, r.err)
	}
	rwc, ok := r.resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("101 Body is %T, want an io.ReadWriteCloser", r.resp.Body)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rwc, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("ReadFull(upgraded) = %q, %v, want the bytes sent behind the 101 head", buf, err)
	}
	if _, err := io.WriteString(rwc, "ping"); err != nil {
		t.Fatalf("Write(upgraded) = %v", err)
	}
	buf = buf[:4]
	if _, err := io.ReadFull(rwc, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("ReadFull(upgraded) = %q, %v, want pong", buf, err)
	}
	if r := cliWait(t, ctx, x); r.err != nil || r.body != "/x" {
		t.Fatalf("Do(/x) = %q, %v, want /x, nil", r.body, r.err)
	}
	if err := rwc.Close(); err != nil {
		t.Errorf("Close(upgraded) = %v", err)
	}
	select {
	case rest := <-upEnd:
		if rest != "" {
			t.Errorf("the client wrote %q on the upgraded connection, want nothing but ping", rest)
		}
	case <-ctx.Done():
		t.Fatal("the upgraded connection was not closed by its caller's Close")
	}
	if got := srv.seenOn(0); fmt.Sprint(got) != "[GET /warm GET /up]" {
		t.Errorf("first connection saw %q, want [GET /warm GET /up]", got)
	}
	if got := srv.seenOn(1); fmt.Sprint(got) != "[GET /x]" {
		t.Errorf("second connection saw %q, want [GET /x]", got)
	}
	cliCheckStats(t, c, Stats{Requests: 3, Dials: 2, Connected: true})

	t.Run("unsolicited", func(t *testing.T) {
		srv := newCliRawServer(t, func(c *cliRawConn) {
			if c.N > 0 {
				c.echo()
				return
			}
			if !c.warm() {
				return
			}
			if _, _, err := c.next(); err != nil {
				return
			}
			c.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\n\r\n")
			io.Copy(io.Discard, c.br)
		})
		c := cliNewClient(t, srv.URL, nil)
		cliWarm(t, ctx, c)
		_, err := cliGet(ctx, c, "/plain")
		var ce *ConnError
		if !errors.As(err, &ce) || !ce.Processed || !errors.Is(err, ErrProtocol) {
			t.Fatalf("Do(/plain) answered by 101 = %v, want *ConnError wrapping ErrProtocol", err)
		}
		if got, err := cliGet(ctx, c, "/next"); err != nil || got != "/next" {
			t.Errorf("Do(/next) = %q, %v, want /next on a new connection", got, err)
		}
		if s := c.Stats(); s.Resets != 1 || s.Dials != 2 {
			t.Errorf("Stats() = %+v, want Resets 1, Dials 2", s)
		}
	})
}

// With the origin down, requests fail fast; once it is up they succeed.
func TestClientDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen = %v", err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: dials are refused
	c := cliNewClient(t, "http://"+addr, &Options{MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	ctx := cliCtx(t)

	_, err = cliGet(ctx, c, "/1")
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Op != "dial" || ce.Processed {
		t.Fatalf("Do(/1) = %v, want *ConnError{Op: dial, Processed: false}", err)
	}
	_, err = cliGet(ctx, c, "/2")
	if !errors.Is(err, ErrUnavailable) && !(errors.As(err, &ce) && ce.Op == "dial") {
		t.Fatalf("Do(/2) = %v, want ErrUnavailable or a dial *ConnError", err)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	newCliRawServerOn(t, ln, cliEcho)
	for { // fails fast until the backoff (at most 4ms) is over
		got, err := cliGet(ctx, c, "/up")
		if err == nil {
			if got != "/up" {
				t.Fatalf("Do(/up) = %q, want /up", got)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Do(/up) = %v once the origin is up", err)
		}
		if !errors.Is(err, ErrUnavailable) && !(errors.As(err, &ce) && ce.Op == "dial") {
			t.Fatalf("Do(/up) = %v, want ErrUnavailable or a dial *ConnError", err)
		}
	}
	if s := c.Stats(); s.DialErrors < 1 || s.Dials != 1 || !s.Connected {
		t.Errorf("Stats() = %+v, want DialErrors >= 1, Dials 1, Connected", s)
	}
}

// A response head that does not arrive within ResponseTimeout resets the
// connection; the GET fails as written but unanswered, and is not sent
// again: it would hold up the next connection just the same.
func TestClientResponseTimeout(t *testing.T) {
	srv := newCliRawServer(t, func(c *cliRawConn) {
		for { // reads requests, never answers
			if _, _, err := c.next(); err != nil {
				return
			}
		}
	})
	c := cliNewClient(t, srv.URL, &Options{ResponseTimeout: 50 * time.Millisecond, MinBackoff: time.Millisecond})
	ctx := cliCtx(t)
	_, err := cliGet(ctx, c, "/slow")
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Op != "read" || !ce.Processed || ce.Retried || !errors.Is(err, ErrResponseTimeout) {
		t.Fatalf("Do(/slow) = %v, want *ConnError{Op: read, Processed: true, Retried: false} wrapping ErrResponseTimeout", err)
	}
	if a, b := srv.seenOn(0), srv.seenOn(1); len(a) != 1 || len(b) != 0 {
		t.Errorf("server saw %q then %q, want /slow once", a, b)
	}
	if s := c.Stats(); s.Resets != 1 || s.Retries != 0 || s.Failures != 1 {
		t.Errorf("Stats() = %+v, want Resets 1, Retries 0, Failures 1", s)
	}
}

// Shutdown: queued requests and new ones get ErrClientClosed, the
// outstanding response is still delivered.
func TestClientShutdown(t *testing.T) {
	got, release := make(chan string, 1), make(chan struct{})
	srv := newCliRawServer(t, cliHeld(got, release))
	c := cliNewClient(t, srv.URL, &Options{MaxInFlight: 1})
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)

	a := cliGo(ctx, c, http.MethodGet, "/a", nil)
	<-got
	q := cliGo(ctx, c, http.MethodGet, "/queued", nil) // waits: depth 1, /a held
	shut := make(chan error, 1)
	// Exits when Shutdown returns.
	go func() { shut <- c.Shutdown(ctx) }()
	if r := cliWait(t, ctx, q); !errors.Is(r.err, ErrClientClosed) {
		t.Fatalf("Do(/queued) = %v, want ErrClientClosed", r.err)
	}
	if _, err := cliGet(ctx, c, "/new"); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("Do(/new) = %v, want ErrClientClosed", err)
	}
	close(release)
	if r := cliWait(t, ctx, a); r.err != nil || r.body != "/a" {
		t.Fatalf("Do(/a) = %q, %v, want /a, nil", r.body, r.err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}
	if got := srv.seenOn(0); fmt.Sprint(got) != "[GET /warm GET /a]" {
		t.Errorf("server saw %q, want [GET /warm GET /a]", got)
	}
	if s := c.Stats(); s.Connected || s.InFlight != 0 {
		t.Errorf("Stats() = %+v, want not connected, nothing in flight", s)
	}
}

// Shutdown with a ctx that has ended falls back to Close.
func TestClientShutdownExpired(t *testing.T) {
	got := make(chan string, 1)
	srv := newCliRawServer(t, cliHeld(got, nil)) // never released
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)
	a := cliGo(ctx, c, http.MethodGet, "/a", nil)
	<-got
	expired, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Shutdown(expired); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(ended ctx) = %v, want context.Canceled", err)
	}
	if r := cliWait(t, ctx, a); !errors.Is(r.err, ErrClientClosed) {
		t.Errorf("Do(/a) = %v, want ErrClientClosed", r.err)
	}
}

// Close fails what is in flight and returns when the goroutines are gone.
func TestClientClose(t *testing.T) {
	got := make(chan string, 1)
	srv := newCliRawServer(t, cliHeld(got, nil))
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)
	a := cliGo(ctx, c, http.MethodGet, "/a", nil)
	<-got
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if r := cliWait(t, ctx, a); !errors.Is(r.err, ErrClientClosed) {
		t.Errorf("Do(/a) = %v, want ErrClientClosed", r.err)
	}
	if _, err := cliGet(ctx, c, "/b"); !errors.Is(err, ErrClientClosed) {
		t.Errorf("Do(/b) after Close = %v, want ErrClientClosed", err)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown after Close = %v, want nil", err)
	}
}

func TestClientTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.ServerName+" "+r.Proto+" "+r.URL.Path)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the unknown_authority case logs a handshake error
	t.Cleanup(srv.Close)
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig
	ctx := cliCtx(t)
	addr := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)

	t.Run("ip_origin", func(t *testing.T) {
		c := cliNewClient(t, srv.URL, &Options{TLSConfig: tlsConfig})
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			// Exits when its request is done.
			go func() {
				defer wg.Done()
				path := fmt.Sprintf("/q%02d", i)
				want := " HTTP/1.1 " + path // no SNI for an IP address
				if got, err := cliGet(ctx, c, path); err != nil || got != want {
					t.Errorf("Do(%s) = %q, %v, want %q, nil", path, got, err, want)
				}
			}()
		}
		wg.Wait()
	})
	t.Run("sni_default_host", func(t *testing.T) {
		var d net.Dialer
		c := cliNewClient(t, "https://example.com:"+port, &Options{
			TLSConfig: tlsConfig,
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr) // loopback only
			},
		})
		if got, err := cliGet(ctx, c, "/sni"); err != nil || got != "example.com HTTP/1.1 /sni" {
			t.Errorf("Do(/sni) = %q, %v, want %q, nil", got, err, "example.com HTTP/1.1 /sni")
		}
	})
	t.Run("unknown_authority", func(t *testing.T) {
		c := cliNewClient(t, srv.URL, &Options{MinBackoff: time.Millisecond})
		_, err := cliGet(ctx, c, "/x")
		var ce *ConnError
		if !errors.As(err, &ce) || ce.Op != "dial" {
			t.Errorf("Do(/x) without the test CA = %v, want a dial *ConnError", err)
		}
	})
}

// cliPipeNet is an in-memory network for tests in a testing/synctest
// bubble, where "nothing more happens" can be observed (synctest.Wait) and
// a loopback socket would keep the bubble from ever idling. Each dial gets
// the near end of a net.Pipe, and a cliPipeConn serves the far end: with
// echo set it answers every request at once, otherwise the test answers.
type cliPipeNet struct {
	echo bool

	mu sync.Mutex
	// Guarded by mu.
	down  error // dials fail with it while set
	conns []*cliPipeConn
}

// cliPipeConn is the server side of one dialled connection.
type cliPipeConn struct {
	nc  net.Conn
	out chan string // what to write, in order; closed by close

	mu sync.Mutex
	// Guarded by mu.
	got      []string // paths of the requests read
	answered int      // requests answered by answer (or echo)
	closed   bool
}

func (n *cliPipeNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down != nil {
		return nil, n.down
	}
	near, far := net.Pipe()
	pc := &cliPipeConn{nc: far, out: make(chan string, 256)}
	n.conns = append(n.conns, pc)
	go pc.readLoop(n.echo) // exits when the pipe is closed
	go pc.writeLoop()      // exits when close closes out
	return near, nil
}

func (n *cliPipeNet) setDown(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = err
}

// conn returns the i-th connection dialled, or nil.
func (n *cliPipeNet) conn(i int) *cliPipeConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if i >= len(n.conns) {
		return nil
	}
	return n.conns[i]
}

func (n *cliPipeNet) dials() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.conns)
}

func (n *cliPipeNet) closeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, pc := range n.conns {
		pc.close()
	}
}

func (pc *cliPipeConn) readLoop(echo bool) {
	br := bufio.NewReader(pc.nc)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		pc.mu.Lock()
		pc.got = append(pc.got, req.URL.Path)
		if echo && !pc.closed {
			pc.answered++
			pc.out <- cliResp(http.StatusOK, req.URL.Path)
		}
		pc.mu.Unlock()
	}
}

func (pc *cliPipeConn) writeLoop() {
	var err error
	for s := range pc.out {
		if err == nil {
			_, err = io.WriteString(pc.nc, s)
		}
	}
}

// paths returns the paths of the requests read so far.
func (pc *cliPipeConn) paths() []string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return slices.Clone(pc.got)
}

// answer echoes the next k requests read and not yet answered.
func (pc *cliPipeConn) answer(t testing.TB, k int) {
	t.Helper()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.answered+k > len(pc.got) {
		t.Fatalf("answer(%d): only %d requests read, %d answered", k, len(pc.got), pc.answered)
	}
	for range k {
		pc.out <- cliResp(http.StatusOK, pc.got[pc.answered])
		pc.answered++
	}
}

// send writes raw bytes after everything sent before; skip marks the next
// request as answered by them.
func (pc *cliPipeConn) send(raw string, skip bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if skip {
		pc.answered++
	}
	pc.out <- raw
}

func (pc *cliPipeConn) close() {
	pc.mu.Lock()
	if !pc.closed {
		pc.closed = true
		close(pc.out)
	}
	pc.mu.Unlock()
	pc.nc.Close()
}

// newCliPipeClient returns a client dialling pn. The caller closes it
// (inside the bubble) before pn.closeAll.
func newCliPipeClient(t *testing.T, pn *cliPipeNet, opts *Options) *Client {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	opts.Dial = pn.dial
	c, err := NewClient("http://quotes.test", opts)
	if err != nil {
		t.Fatalf("NewClient = %v", err)
	}
	return c
}

// cliWarmPipe sends one GET and answers it on the first pipe connection, so
// the connection is past its first-request-alone phase; it returns that
// connection. Call it inside the synctest bubble.
func cliWarmPipe(t *testing.T, ctx context.Context, c *Client, pn *cliPipeNet) *cliPipeConn {
	t.Helper()
	w := cliGo(ctx, c, http.MethodGet, "/w", nil)
	synctest.Wait()
	pc := pn.conn(0)
	pc.answer(t, 1)
	if r := <-w; r.err != nil {
		t.Fatalf("Do(/w) = %v", r.err)
	}
	return pc
}

// cliReady returns the result on ch if there is one now.
func cliReady(ch <-chan cliResult) (cliResult, bool) {
	select {
	case r := <-ch:
		return r, true
	default:
		return cliResult{}, false
	}
}

// Never more than MaxInFlight requests are written and unanswered; callers
// beyond that wait, and one that gives up while waiting is never written.
func TestClientMaxInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const depth, total = 3, 10
		pn := &cliPipeNet{}
		defer pn.closeAll()
		c := newCliPipeClient(t, pn, &Options{MaxInFlight: depth})
		defer c.Close()

		results := map[string]<-chan cliResult{}
		cancels := map[string]context.CancelFunc{}
		for i := range total {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			path := fmt.Sprintf("/%d", i)
			results[path], cancels[path] = cliGo(ctx, c, http.MethodGet, path, nil), cancel
		}
		synctest.Wait()
		pc := pn.conn(0)
		if got := pc.paths(); len(got) != 1 {
			t.Fatalf("server got %q before answering, want 1 request (the first goes alone)", got)
		}
		pc.answer(t, 1)
		synctest.Wait()
		got := pc.paths()
		if len(got) != 1+depth {
			t.Fatalf("server got %d requests after answering 1, want %d", len(got), 1+depth)
		}

		// One of the callers still waiting gives up.
		var gaveUp string
		for path := range results {
			if !slices.Contains(got, path) {
				gaveUp = path
				break
			}
		}
		cancels[gaveUp]()
		synctest.Wait()
		if r, ok := cliReady(results[gaveUp]); !ok || !errors.Is(r.err, context.Canceled) {
			t.Fatalf("Do(%s) after cancel = %v (returned %v), want context.Canceled", gaveUp, r.err, ok)
		}
		delete(results, gaveUp)

		for answered := 1; answered < total-1; answered++ {
			unanswered := len(pc.paths()) - answered
			if want := min(depth, total-1-answered); unanswered != want {
				t.Fatalf("after %d answers: %d unanswered at the server, want %d", answered, unanswered, want)
			}
			if s := c.Stats(); s.InFlight != int64(unanswered) {
				t.Errorf("after %d answers: Stats().InFlight = %d, want %d", answered, s.InFlight, unanswered)
			}
			pc.answer(t, 1)
			synctest.Wait()
		}
		for path, ch := range results {
			if r, ok := cliReady(ch); !ok || r.err != nil || r.body != path {
				t.Errorf("Do(%s) = %q, %v (returned %v), want %q, nil", path, r.body, r.err, ok, path)
			}
		}
		if got := pc.paths(); slices.Contains(got, gaveUp) {
			t.Errorf("server got %s, whose caller gave up while it was queued", gaveUp)
		}
		if s := c.Stats(); s.Requests != total-1 || s.InFlight != 0 {
			t.Errorf("Stats() = %+v, want Requests %d, InFlight 0", s, total-1)
		}
	})
}

// After a reconnect the first request goes alone, then pipelining resumes.
func TestClientFirstAloneAfterReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := &cliPipeNet{}
		defer pn.closeAll()
		c := newCliPipeClient(t, pn, nil)
		defer c.Close()
		ctx := t.Context()

		cliWarmPipe(t, ctx, c, pn)
		var results []<-chan cliResult
		for i := range 5 {
			results = append(results, cliGo(ctx, c, http.MethodGet, fmt.Sprintf("/%d", i), nil))
		}
		synctest.Wait()
		if got := pn.conn(0).paths(); len(got) != 6 {
			t.Fatalf("first connection got %q, want /w and 5 pipelined", got)
		}
		pn.conn(0).close() // dies with 5 unanswered GETs
		synctest.Wait()
		pc := pn.conn(1)
		if pc == nil {
			t.Fatal("no second connection")
		}
		if got := pc.paths(); len(got) != 1 {
			t.Fatalf("second connection got %q before its first answer, want 1 request", got)
		}
		pc.answer(t, 1)
		synctest.Wait()
		if got := pc.paths(); len(got) != 5 {
			t.Fatalf("second connection got %q after its first answer, want all 5", got)
		}
		pc.answer(t, 4)
		synctest.Wait()
		for i, ch := range results {
			want := fmt.Sprintf("/%d", i)
			if r, ok := cliReady(ch); !ok || r.err != nil || r.body != want {
				t.Errorf("Do(%s) = %q, %v (returned %v), want %q, nil", want, r.body, r.err, ok, want)
			}
		}
		if s := c.Stats(); s.Retries != 5 || s.Dials != 2 || s.ConnErrors != 1 {
			t.Errorf("Stats() = %+v, want Retries 5, Dials 2, ConnErrors 1", s)
		}
	})
}

// Once a response with Connection: close arrives, nothing more is written
// on its connection, even while its body is still being read; requests
// left unanswered are sent again on the next connection.
func TestClientConnectionClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := &cliPipeNet{}
		defer pn.closeAll()
		c := newCliPipeClient(t, pn, nil)
		defer c.Close()
		ctx := t.Context()

		pc0 := cliWarmPipe(t, ctx, c, pn)
		results := map[string]<-chan cliResult{}
		for _, p := range []string{"/a", "/b", "/c"} {
			results[p] = cliGo(ctx, c, http.MethodGet, p, nil)
		}
		synctest.Wait()
		got := pc0.paths()
		if len(got) != 4 {
			t.Fatalf("first connection got %q, want /w and 3 pipelined", got)
		}
		closed, rest := got[1], got[2:]
		pc0.send("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 10\r\n\r\nhello", true)
		synctest.Wait() // the head is in: its caller reads the body
		results["/late"] = cliGo(ctx, c, http.MethodGet, "/late", nil)
		synctest.Wait()
		if got := pc0.paths(); len(got) != 4 {
			t.Fatalf("first connection got %q, want nothing after Connection: close", got[4:])
		}
		pc0.send("world", false)
		synctest.Wait()
		pc1 := pn.conn(1)
		if pc1 == nil {
			t.Fatal("no second connection")
		}
		pc1.answer(t, 1)
		synctest.Wait()
		pc1.answer(t, 2)
		synctest.Wait()
		if got, want := pc1.paths(), append(slices.Clone(rest), "/late"); !slices.Equal(got, want) {
			t.Errorf("second connection got %q, want %q", got, want)
		}
		for path, ch := range results {
			want := path
			if path == closed {
				want = "helloworld"
			}
			if r, ok := cliReady(ch); !ok || r.err != nil || r.body != want {
				t.Errorf("Do(%s) = %q, %v (returned %v), want %q, nil", path, r.body, r.err, ok, want)
			}
		}
		if s := c.Stats(); s.Retries != 2 || s.ConnErrors != 0 || s.Dials != 2 {
			t.Errorf("Stats() = %+v, want Retries 2, ConnErrors 0, Dials 2", s)
		}
	})
}

func TestClientBackoff(t *testing.T) {
	errRefused := errors.New("connection refused (test)")
	opts := func() *Options { return &Options{MinBackoff: time.Second, MaxBackoff: time.Second} }

	// Dials that fail make requests fail fast until the backoff is over;
	// the first request after it dials again.
	t.Run("dial_refused_then_up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			pn := &cliPipeNet{echo: true, down: errRefused}
			defer pn.closeAll()
			c := newCliPipeClient(t, pn, opts())
			defer c.Close()
			ctx := t.Context()

			_, err := cliGet(ctx, c, "/1")
			var ce *ConnError
			if !errors.As(err, &ce) || ce.Op != "dial" || ce.Processed || !errors.Is(err, errRefused) {
				t.Fatalf("Do(/1) = %v, want *ConnError{Op: dial, Processed: false} wrapping the dial error", err)
			}
			if _, err := cliGet(ctx, c, "/2"); !errors.Is(err, ErrUnavailable) || !errors.Is(err, errRefused) {
				t.Fatalf("Do(/2) during backoff = %v, want ErrUnavailable wrapping the dial error", err)
			}
			pn.setDown(nil)
			time.Sleep(2 * time.Second) // the bubble's clock: the backoff is long over
			if got, err := cliGet(ctx, c, "/3"); err != nil || got != "/3" {
				t.Fatalf("Do(/3) after the backoff = %q, %v, want /3, nil", got, err)
			}
			if s := c.Stats(); s.DialErrors != 1 || s.Dials != 1 || s.Failures != 2 {
				t.Errorf("Stats() = %+v, want DialErrors 1, Dials 1, Failures 2", s)
			}
		})
	})

	// A connection that fails before answering anything makes the client
	// back off; the GET it leaves unanswered waits out the backoff and is
	// sent again, while new requests fail fast meanwhile.
	t.Run("retry_waits_out_backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			pn := &cliPipeNet{}
			defer pn.closeAll()
			c := newCliPipeClient(t, pn, opts())
			defer c.Close()
			ctx := t.Context()

			a := cliGo(ctx, c, http.MethodGet, "/a", nil)
			synctest.Wait()
			pn.conn(0).send("garbage\r\n\r\n", true)
			synctest.Wait()
			start := time.Now()
			if _, err := cliGet(ctx, c, "/b"); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Do(/b) during backoff = %v, want ErrUnavailable", err)
			}
			if _, ok := cliReady(a); ok || pn.dials() != 1 {
				t.Fatalf("during backoff: /a returned %v, %d dials, want /a waiting, 1 dial", ok, pn.dials())
			}
			time.Sleep(2 * time.Second) // the backoff passes; the client dials again
			synctest.Wait()
			pc := pn.conn(1)
			if pc == nil {
				t.Fatal("no second connection after the backoff")
			}
			pc.answer(t, 1)
			r := <-a
			if r.err != nil || r.body != "/a" {
				t.Fatalf("Do(/a) = %q, %v, want /a, nil", r.body, r.err)
			}
			if d := time.Since(start); d < 500*time.Millisecond {
				t.Errorf("/a sent again after %v, want after the backoff (>= 500ms)", d)
			}
			if s := c.Stats(); s.Retries != 1 || s.Failures != 1 || s.ConnErrors != 1 {
				t.Errorf("Stats() = %+v, want Retries 1, Failures 1, ConnErrors 1", s)
			}
		})
	})
}

// ResponseTimeout bounds the wait for a head, not the body's pace (that is
// BodyTimeout's). A head that does not come in time fails its request and
// resets the connection; the next request goes on a new one.
func TestClientSlowServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := &cliPipeNet{}
		defer pn.closeAll()
		c := newCliPipeClient(t, pn, &Options{ResponseTimeout: time.Second, BodyTimeout: time.Minute})
		defer c.Close()
		ctx := t.Context()

		a := cliGo(ctx, c, http.MethodGet, "/a", nil)
		synctest.Wait()
		time.Sleep(900 * time.Millisecond)
		pn.conn(0).send("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nslow", true)
		time.Sleep(5 * time.Second) // the body takes far longer than ResponseTimeout
		pn.conn(0).send("body", false)
		if r := <-a; r.err != nil || r.body != "slowbody" {
			t.Fatalf("Do(/a) = %q, %v, want slowbody, nil", r.body, r.err)
		}
		b := cliGo(ctx, c, http.MethodGet, "/b", nil)
		synctest.Wait()
		start := time.Now()
		r := <-b // no head within ResponseTimeout: reset, /b fails
		if d := time.Since(start); d != time.Second {
			t.Errorf("Do(/b) failed after %v, want exactly ResponseTimeout (1s)", d)
		}
		if !errors.Is(r.err, ErrResponseTimeout) {
			t.Fatalf("Do(/b) = %v, want ErrResponseTimeout", r.err)
		}
		cc := cliGo(ctx, c, http.MethodGet, "/c", nil)
		synctest.Wait()
		if pc := pn.conn(1); pc == nil || !slices.Equal(pc.paths(), []string{"/c"}) {
			t.Fatalf("after a response timeout: second connection %v, want /c alone", pc)
		}
		pn.conn(1).answer(t, 1)
		if r := <-cc; r.err != nil || r.body != "/c" {
			t.Fatalf("Do(/c) = %q, %v, want /c, nil", r.body, r.err)
		}
		if s := c.Stats(); s.Retries != 0 || s.ConnErrors != 1 || s.Resets != 1 {
			t.Errorf("Stats() = %+v, want Retries 0, ConnErrors 1, Resets 1", s)
		}
	})
}

// cliGate is a request body that blocks on its first Read until release is
// closed, reporting on reading that the writer has reached it.
type cliGate struct {
	reading chan<- struct{}
	release <-chan struct{}
	data    string
	started bool
}

func (g *cliGate) Read(p []byte) (int, error) {
	if !g.started {
		g.started = true
		g.reading <- struct{}{}
		<-g.release
	}
	if g.data == "" {
		return 0, io.EOF
	}
	n := copy(p, g.data)
	g.data = g.data[n:]
	return n, nil
}

// Shutdown finishes the request being written and delivers its response.
func TestClientShutdownFinishesWrite(t *testing.T) {
	srv := newCliRawServer(t, cliEcho)
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)

	reading, release := make(chan struct{}, 1), make(chan struct{})
	req, _ := http.NewRequest(http.MethodPut, "/put", nil)
	req.Body, req.ContentLength = io.NopCloser(&cliGate{reading: reading, release: release, data: "12345"}), 5
	put := make(chan cliResult, 1)
	// Exits when Do returns.
	go func() {
		resp, err := c.Do(ctx, req)
		if err == nil {
			resp.Body.Close()
		}
		put <- cliResult{resp: resp, err: err}
	}()
	<-reading // the writer is inside the PUT
	probe := cliGo(ctx, c, http.MethodGet, "/probe", nil)
	shut := make(chan error, 1)
	// Exits when Shutdown returns.
	go func() { shut <- c.Shutdown(ctx) }()
	if r := cliWait(t, ctx, probe); !errors.Is(r.err, ErrClientClosed) {
		t.Fatalf("Do(/probe) = %v, want ErrClientClosed", r.err)
	}
	close(release) // the queue is closed: the PUT is the last request
	if r := cliWait(t, ctx, put); r.err != nil || r.resp.StatusCode != http.StatusOK {
		t.Fatalf("Do(PUT /put) = %v, want 200", r.err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if got := srv.seenOn(0); fmt.Sprint(got) != "[GET /warm PUT /put]" {
		t.Errorf("server saw %q, want [GET /warm PUT /put]", got)
	}
}

// Shutdown while GETs left by a dead connection are being sent again: they
// are written out (flushed) and answered, and Shutdown returns.
func TestClientShutdownFlushesRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := &cliPipeNet{}
		defer pn.closeAll()
		c := newCliPipeClient(t, pn, nil)
		defer c.Close()
		ctx := t.Context()

		cliWarmPipe(t, ctx, c, pn)
		one := cliGo(ctx, c, http.MethodGet, "/1", nil)
		two := cliGo(ctx, c, http.MethodGet, "/2", nil)
		synctest.Wait()
		pn.conn(0).close() // /1 and /2 unanswered: sent again, the first alone
		synctest.Wait()
		pc := pn.conn(1)
		if pc == nil || len(pc.paths()) != 1 {
			t.Fatalf("second connection %v, want one request sent again", pc)
		}
		shut := make(chan error, 1)
		// Exits when Shutdown returns.
		go func() { shut <- c.Shutdown(ctx) }()
		synctest.Wait()
		pc.answer(t, 1)
		synctest.Wait()
		if got := pc.paths(); len(got) != 2 {
			t.Fatalf("second connection got %q during Shutdown, want both GETs", got)
		}
		pc.answer(t, 1)
		for _, ch := range []<-chan cliResult{one, two} {
			if r := <-ch; r.err != nil || (r.body != "/1" && r.body != "/2") {
				t.Errorf("Do = %q, %v, want its path, nil", r.body, r.err)
			}
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown = %v, want nil", err)
		}
	})
}

// Close does not wait for a request body that blocks.
func TestClientCloseWhileBodyBlocks(t *testing.T) {
	got := make(chan string, 1)
	srv := newCliRawServer(t, func(c *cliRawConn) {
		if !c.warm() {
			return
		}
		req, err := http.ReadRequest(c.br)
		if err != nil || !c.notify(got, req.URL.Path) {
			return
		}
		io.Copy(io.Discard, c.br)
	})
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)
	pr, pw := io.Pipe()
	defer pw.Close()
	put := cliGo(ctx, c, http.MethodPut, "/stuck", pr)
	<-got
	closed := make(chan error, 1)
	// Exits when Close returns.
	go func() { closed <- c.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close = %v, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("Close still waiting on the request body")
	}
	if r := cliWait(t, ctx, put); !errors.Is(r.err, ErrClientClosed) {
		t.Errorf("Do(PUT /stuck) = %v, want ErrClientClosed", r.err)
	}
}

// A GET sent again after a connection failure that then cannot be dialled
// fails as possibly processed.
func TestClientRetryDialFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := &cliPipeNet{}
		defer pn.closeAll()
		c := newCliPipeClient(t, pn, nil)
		defer c.Close()
		ctx := t.Context()

		cliWarmPipe(t, ctx, c, pn)
		a := cliGo(ctx, c, http.MethodGet, "/a", nil)
		synctest.Wait()
		errRefused := errors.New("refused (test)")
		pn.setDown(errRefused)
		pn.conn(0).close()
		r := <-a
		var ce *ConnError
		if !errors.As(r.err, &ce) || ce.Op != "dial" || !ce.Processed || !ce.Retried || !errors.Is(r.err, errRefused) {
			t.Fatalf("Do(/a) = %#v, want *ConnError{Op: dial, Processed: true, Retried: true}", r.err)
		}
	})
}

// TestClientSmallBodyDoesNotHoldPipeline: a body that arrived whole with
// its head is handed over already read, so a caller that has not read it
// yet does not hold up the responses behind it; a large body still streams.
func TestClientSmallBodyDoesNotHoldPipeline(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "small "+r.URL.Path)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // deadlock detector
	defer cancel()
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		resp, err := c.Do(ctx, req)
		if err != nil {
			t.Fatalf("Do(%s) = %v", path, err)
		}
		return resp
	}
	first := get("/a") // not read yet
	second := get("/b")
	for _, tc := range []struct {
		resp *http.Response
		want string
	}{{second, "small /b"}, {first, "small /a"}} {
		b, err := io.ReadAll(tc.resp.Body)
		tc.resp.Body.Close()
		if err != nil || string(b) != tc.want {
			t.Errorf("body = %q, %v, want %q", b, err, tc.want)
		}
	}
	// A body too large to have arrived with its head streams: the next
	// response waits until it is read.
	bigResp := get("/big")
	n, err := io.Copy(io.Discard, bigResp.Body)
	bigResp.Body.Close()
	if err != nil || n != int64(len(big)) {
		t.Errorf("big body = %d bytes, %v, want %d", n, err, len(big))
	}
	last := get("/c")
	b, _ := io.ReadAll(last.Body)
	last.Body.Close()
	if string(b) != "small /c" {
		t.Errorf("body after big = %q, want %q", b, "small /c")
	}
}
