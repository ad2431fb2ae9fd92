package httpx

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cliFault is what a cliProxy does to one connection.
type cliFault struct {
	latency    time.Duration // added to every chunk, each way
	slice      bool          // forward in segments of 1-7 bytes, each way
	resetAfter int64         // reset both sides once this many bytes went to the client; 0: never
}

// cliProxy is a TCP proxy on 127.0.0.1 in front of upstream that applies a
// cliFault, chosen per connection (n counts from 0), to what it forwards.
// The test's cleanup closes it and waits for its goroutines.
type cliProxy struct {
	URL      string
	ln       net.Listener
	upstream string
	fault    func(n int) cliFault
	wg       sync.WaitGroup

	mu sync.Mutex
	// Guarded by mu.
	conns []net.Conn
}

func newCliProxy(t testing.TB, upstream string, fault func(n int) cliFault) *cliProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen = %v", err)
	}
	p := &cliProxy{URL: "http://" + ln.Addr().String(), ln: ln, upstream: upstream, fault: fault}
	p.wg.Add(1)
	// Exits when close closes the listener.
	go func() {
		defer p.wg.Done()
		for n := 0; ; n++ {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, down, up)
			p.mu.Unlock()
			p.pipe(down, up, fault(n))
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *cliProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// pipe forwards both ways between down (the client) and up (the server).
// When either way ends, both connections are closed; reset closes them
// with a TCP RST.
func (p *cliProxy) pipe(down, up net.Conn, f cliFault) {
	var once sync.Once
	end := func(reset bool) {
		once.Do(func() {
			if reset {
				down.(*net.TCPConn).SetLinger(0)
				up.(*net.TCPConn).SetLinger(0)
			}
			down.Close()
			up.Close()
		})
	}
	p.forward(down, up, f, f.resetAfter, end)
	p.forward(up, down, f, 0, end)
}

type cliChunk struct {
	at time.Time
	b  []byte
}

// forward copies src to dst with f applied; after limit bytes (if > 0) it
// resets both connections.
func (p *cliProxy) forward(dst, src net.Conn, f cliFault, limit int64, end func(reset bool)) {
	var sent int64
	write := func(b []byte) bool {
		if limit > 0 && sent+int64(len(b)) >= limit {
			b = b[:limit-sent]
			defer end(true)
		}
		for len(b) > 0 {
			n := len(b)
			if f.slice {
				n = min(n, 1+rand.IntN(7))
			}
			if _, err := dst.Write(b[:n]); err != nil {
				return false
			}
			sent += int64(n)
			b = b[n:]
		}
		return limit == 0 || sent < limit
	}
	chunks := make(chan cliChunk, 1024)
	p.wg.Add(2)
	// Exits when src fails, which end makes it do; closes chunks.
	go func() {
		defer p.wg.Done()
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- cliChunk{time.Now(), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	// Exits when chunks is closed; after a failed write it only drains.
	go func() {
		defer p.wg.Done()
		defer end(false)
		ok := true
		for c := range chunks {
			if !ok {
				continue
			}
			if d := time.Until(c.at.Add(f.latency)); d > 0 {
				time.Sleep(d) // the latency being simulated, not a sequencing tool
			}
			ok = write(c.b)
			if !ok {
				end(false)
			}
		}
	}()
}

// The in-order test through a proxy that cuts everything, both ways, into
// segments of 1-7 bytes.
func TestClientInOrderSlicedProxy(t *testing.T) {
	srv := newCliRawServer(t, cliEcho)
	proxy := newCliProxy(t, strings.TrimPrefix(srv.URL, "http://"), func(int) cliFault { return cliFault{slice: true} })
	c := cliNewClient(t, proxy.URL, nil)
	cliInOrder(t, c, 64, 8)
	cliCheckStats(t, c, Stats{Requests: 64 * 8, Dials: 1, Connected: true})
}

// A proxy resets the first connection after 100 responses and part of the
// next head. The RST may also destroy bytes the client had not read yet,
// so the cut lands anywhere before that: at most one caller, whose head
// arrived, sees its body fail; every other request gets its own response,
// the unanswered ones sent again on the second connection.
func TestClientProxyReset(t *testing.T) {
	srv := newCliRawServer(t, cliEcho)
	respLen := int64(len(cliResp(http.StatusOK, "/c00/r000"))) // every response has this length
	proxy := newCliProxy(t, strings.TrimPrefix(srv.URL, "http://"), func(n int) cliFault {
		if n == 0 {
			return cliFault{resetAfter: 100*respLen + 7}
		}
		return cliFault{}
	})
	c := cliNewClient(t, proxy.URL, nil)
	ctx := cliCtx(t)
	const callers, each = 64, 4
	var bodyFailures atomic.Int64
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		// Exits after its requests; ctx bounds each.
		go func() {
			defer wg.Done()
			for i := range each {
				path := fmt.Sprintf("/c%02d/r%03d", g, i)
				resp, got, err := cliDo(ctx, c, http.MethodGet, path, nil)
				if resp != nil && err != nil {
					bodyFailures.Add(1)
					continue
				}
				if err != nil || got != path {
					t.Errorf("Do(%s) = %q, %v, want %q, nil", path, got, err, path)
				}
			}
		}()
	}
	wg.Wait()
	if n := bodyFailures.Load(); n > 1 {
		t.Errorf("%d body reads failed, want at most 1 (the response cut)", n)
	}
	s := c.Stats()
	if s.Requests != callers*each || s.Dials != 2 || s.ConnErrors != 1 || s.Retries == 0 || s.Failures != 0 {
		t.Errorf("Stats() = %+v, want Requests %d, Dials 2, ConnErrors 1, Retries > 0, Failures 0", s, callers*each)
	}
	if a, b := len(srv.seenOn(0)), len(srv.seenOn(1)); a < 2 || b < callers*each-100 || a+b < callers*each {
		t.Errorf("connections read %d and %d requests, want at least 2, %d and %d in all", a, b, callers*each-100, callers*each)
	}
}

// The connection dies in various ways while GET /1, GET /2 and POST /3 are
// in flight (after a first answered request). GETs without an answer are
// sent again once and succeed on the next connection; the POST fails as
// possibly processed; a response whose head was delivered is not retried,
// its body read fails instead.
func TestClientConnDies(t *testing.T) {
	// headIn is closed by the test once /1's head reached its caller: a
	// reset before that could destroy the head on its way (see
	// TestClientProxyReset) and /1 would be retried instead.
	var headIn chan struct{}
	for _, tc := range []struct {
		name  string
		fault func(c *cliRawConn) // on the first connection, with /1, /2, /3 read
		opts  Options
		first string // "retried", "answered" or "body_fails"
	}{
		{name: "reset_mid_headers", first: "retried", fault: func(c *cliRawConn) {
			c.send("HTTP/1.1 200 OK\r\nContent-Le")
			c.reset()
		}},
		{name: "garbage_status_line", first: "retried", fault: func(c *cliRawConn) {
			c.send("HTXP/1.1 banana\r\nContent-Length: 2\r\n\r\n/1")
			io.Copy(io.Discard, c.br)
		}},
		{name: "oversized_headers", first: "retried", opts: Options{MaxHeaderBytes: 4 << 10}, fault: func(c *cliRawConn) {
			c.send("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 64<<10) + "\r\nContent-Length: 2\r\n\r\n/1")
			io.Copy(io.Discard, c.br)
		}},
		{name: "reset_mid_body_content_length", first: "body_fails", fault: func(c *cliRawConn) {
			c.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n/1")
			c.wait(headIn)
			c.reset()
		}},
		{name: "reset_mid_body_chunked", first: "body_fails", fault: func(c *cliRawConn) {
			c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n/1\r\n")
			c.wait(headIn)
			c.reset()
		}},
		{name: "truncated_chunked", first: "body_fails", fault: func(c *cliRawConn) {
			c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n/1")
			c.Conn.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c.br)
		}},
		{name: "close_after_n", first: "answered", fault: func(c *cliRawConn) {
			c.send(cliResp(200, "/1"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 3)
			headIn = make(chan struct{})
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
				tc.fault(c)
			})
			opts := tc.opts
			c := cliNewClient(t, srv.URL, &opts)
			ctx := cliCtx(t)
			cliWarm(t, ctx, c)

			one := make(chan cliResult, 1)
			// Exits when /1 and its body are done; ctx bounds both.
			go func() {
				req, _ := http.NewRequest(http.MethodGet, "/1", nil)
				resp, err := c.Do(ctx, req)
				close(headIn)
				if err != nil {
					one <- cliResult{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				one <- cliResult{resp, string(b), err}
			}()
			<-got
			two := cliGo(ctx, c, http.MethodGet, "/2", nil)
			<-got
			three := cliGo(ctx, c, http.MethodPost, "/3", strings.NewReader("post body"))
			<-got

			r1 := cliWait(t, ctx, one)
			switch tc.first {
			case "retried", "answered":
				if r1.err != nil || r1.body != "/1" {
					t.Errorf("Do(/1) = %q, %v, want /1, nil", r1.body, r1.err)
				}
			case "body_fails":
				if r1.resp == nil || r1.err == nil {
					t.Errorf("Do(/1) = %v, %v, want a response whose body read fails", r1.resp, r1.err)
				}
			}
			if r := cliWait(t, ctx, two); r.err != nil || r.body != "/2" {
				t.Errorf("Do(/2) = %q, %v, want /2, nil", r.body, r.err)
			}
			r3 := cliWait(t, ctx, three)
			var ce *ConnError
			if !errors.As(r3.err, &ce) || ce.Op != "read" || !ce.Processed || ce.Retried {
				t.Errorf("Do(POST /3) = %#v, want *ConnError{Op: read, Processed: true}", r3.err)
			}
			if got, err := cliGet(ctx, c, "/4"); err != nil || got != "/4" {
				t.Errorf("Do(/4) = %q, %v, want /4, nil", got, err)
			}

			wantSeen, retries := "[GET /2 GET /4]", uint64(1)
			if tc.first == "retried" {
				wantSeen, retries = "[GET /1 GET /2 GET /4]", 2
			}
			if got := fmt.Sprint(srv.seenOn(1)); got != wantSeen {
				t.Errorf("second connection saw %s, want %s", got, wantSeen)
			}
			cliCheckStats(t, c, Stats{Requests: 5, Dials: 2, ConnErrors: 1, Retries: retries, Failures: 1, Connected: true})
		})
	}
}

// A GET sent again that fails a second time fails, marked Retried.
func TestClientRetriedTwice(t *testing.T) {
	srv := newCliRawServer(t, func(c *cliRawConn) {
		if c.N == 0 {
			if !c.warm() {
				return
			}
		}
		if c.N == 2 {
			c.echo()
			return
		}
		if _, _, err := c.next(); err != nil {
			return
		}
		c.send("HTTP/1.1 banana\r\n\r\n")
		io.Copy(io.Discard, c.br)
	})
	c := cliNewClient(t, srv.URL, &Options{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)
	_, err := cliGet(ctx, c, "/1")
	var ce *ConnError
	if !errors.As(err, &ce) || !ce.Retried || !ce.Processed || ce.Op != "read" {
		t.Fatalf("Do(/1) = %#v, want *ConnError{Op: read, Processed: true, Retried: true}", err)
	}
	if a, b := srv.seenOn(0), srv.seenOn(1); fmt.Sprint(a, b) != "[GET /warm GET /1] [GET /1]" {
		t.Errorf("server saw %q then %q, want /1 on both connections", a, b)
	}
	// The third connection works; a request that meets the backoff after
	// the second failure may fail fast first.
	for {
		got, err := cliGet(ctx, c, "/2")
		if err == nil && got == "/2" {
			break
		}
		if !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			t.Fatalf("Do(/2) = %q, %v, want /2 (or ErrUnavailable during the backoff)", got, err)
		}
	}
	if s := c.Stats(); s.Retries != 1 || s.ConnErrors != 2 {
		t.Errorf("Stats() = %+v, want Retries 1, ConnErrors 2", s)
	}
}
