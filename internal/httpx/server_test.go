package httpx

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// testTimeout bounds every blocking step of a test, so that a broken server
// fails the test instead of hanging it. It never orders events.
const testTimeout = 10 * time.Second

// startServer serves s on a loopback listener and returns its address. The
// cleanup closes s and checks that Serve returned ErrServerClosed.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	errc := make(chan error, 1)
	// Exits when s is shut down or closed (the cleanup below).
	go func() { errc <- s.Serve(l) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve() = %v, want %v", err, ErrServerClosed)
		}
	})
	return l.Addr().String()
}

// dial opens a raw connection to addr, closed by the test's cleanup.
func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("Dial(%q) = %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func send(t *testing.T, c net.Conn, reqs ...string) {
	t.Helper()
	if _, err := io.WriteString(c, strings.Join(reqs, "")); err != nil { // one write: one segment
		t.Fatalf("Write() = %v", err)
	}
}

func get(path string, header ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + strings.Join(header, "") + "\r\n"
}

func post(path, body string, header ...string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		strings.Join(header, "") + "\r\n" + body
}

// expectBodies reads len(want) responses to method requests and checks
// their bodies, and that only the last says Connection: close, when
// lastCloses.
func expectBodies(t *testing.T, br *bufio.Reader, method string, want []string, lastCloses bool) {
	t.Helper()
	for i, w := range want {
		resp, body := readResponse(t, br, method)
		if body != w {
			t.Errorf("response %d body = %.30q, want %.30q", i, body, w)
		}
		if last := i == len(want)-1; resp.Close != (last && lastCloses) {
			t.Errorf("response %d Close = %v, want %v", i, resp.Close, last && lastCloses)
		}
	}
}

// readResponse reads one response to a request with method, and its body.
func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("ReadResponse() = %v, want a response", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body of %q: %v", resp.Status, err)
	}
	return resp, string(body)
}

// expectClosed checks that the server closed the connection: EOF, nothing more.
func expectClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if b, err := br.ReadByte(); err != io.EOF {
		t.Errorf("ReadByte() after the last response = %q, %v, want EOF", b, err)
	}
}

func TestServerNetHTTPClient(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16) // 5 MiB
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello, world")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	})
	part0Read := make(chan struct{})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "part0;")
		w.(http.Flusher).Flush()
		select { // the client reads part0 while the handler runs: it streams
		case <-part0Read:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "part1;part2;")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(big) })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.Write(big)
	})
	addr := startServer(t, &Server{Handler: mux})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	upload := bytes.Repeat([]byte("u"), 3<<20)
	sum := sha256.Sum256(upload)
	tests := []struct {
		name, method, path string
		body               []byte
		chunkedUpload      bool
		wantStatus         int
		wantBody           string
		wantLength         int64 // -1: unknown (chunked)
		wantChunked        bool
	}{
		{name: "get_small", method: "GET", path: "/hello", wantStatus: 200, wantBody: "hello, world", wantLength: 12},
		{name: "head", method: "HEAD", path: "/hello", wantStatus: 200, wantBody: "", wantLength: 12},
		{name: "post_echo", method: "POST", path: "/echo", body: []byte("ping"), wantStatus: 200, wantBody: "ping", wantLength: 4},
		{name: "post_chunked_upload", method: "POST", path: "/sum", body: upload, chunkedUpload: true, wantStatus: 200,
			wantBody: fmt.Sprintf("%d %x", len(upload), sum), wantLength: int64(len(fmt.Sprintf("%d %x", len(upload), sum)))},
		{name: "post_large_upload", method: "POST", path: "/sum", body: upload, wantStatus: 200,
			wantBody: fmt.Sprintf("%d %x", len(upload), sum), wantLength: int64(len(fmt.Sprintf("%d %x", len(upload), sum)))},
		{name: "chunked_stream", method: "GET", path: "/stream", wantStatus: 200, wantBody: "part0;part1;part2;", wantLength: -1, wantChunked: true},
		{name: "large_body_chunked", method: "GET", path: "/big", wantStatus: 200, wantBody: string(big), wantLength: -1, wantChunked: true},
		{name: "large_body_declared", method: "GET", path: "/declared", wantStatus: 200, wantBody: string(big), wantLength: int64(len(big))},
		{name: "no_content", method: "GET", path: "/empty", wantStatus: 204, wantBody: "", wantLength: 0},
		{name: "not_found", method: "GET", path: "/nope", wantStatus: 404, wantBody: "404 page not found\n", wantLength: 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = bytes.NewReader(tt.body)
				if tt.chunkedUpload {
					body = io.MultiReader(body) // hides the length: chunked upload
				}
			}
			req, err := http.NewRequest(tt.method, "http://"+addr+tt.path, body)
			if err != nil {
				t.Fatalf("NewRequest() = %v", err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("Do(%s %s) = %v", tt.method, tt.path, err)
			}
			defer resp.Body.Close()
			var got []byte
			if tt.path == "/stream" {
				got = make([]byte, len("part0;"))
				if _, err := io.ReadFull(resp.Body, got); err != nil {
					t.Fatalf("ReadFull(first part) = %v", err)
				}
				close(part0Read)
			}
			rest, err := io.ReadAll(resp.Body)
			got = append(got, rest...)
			if err != nil {
				t.Fatalf("ReadAll(body) = %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("Do(%s %s).StatusCode = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.wantStatus)
			}
			if string(got) != tt.wantBody {
				t.Errorf("Do(%s %s) body = %.60q (%d bytes), want %.60q (%d bytes)", tt.method, tt.path, got, len(got), tt.wantBody, len(tt.wantBody))
			}
			if resp.ContentLength != tt.wantLength {
				t.Errorf("Do(%s %s).ContentLength = %d, want %d", tt.method, tt.path, resp.ContentLength, tt.wantLength)
			}
			if chunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"; chunked != tt.wantChunked {
				t.Errorf("Do(%s %s).TransferEncoding = %v, want chunked %v", tt.method, tt.path, resp.TransferEncoding, tt.wantChunked)
			}
			if resp.Header.Get("Date") == "" {
				t.Errorf("Do(%s %s) Date header missing", tt.method, tt.path)
			}
		})
	}
}

// TestServerPipelinedOrder proves concurrency and order at once: request 1's
// handler cannot finish before request 3's has run, yet the responses come
// in request order.
func TestServerPipelinedOrder(t *testing.T) {
	ran3 := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/1":
			select {
			case <-ran3:
			case <-r.Context().Done():
				return
			}
		case "/3":
			defer close(ran3)
		}
		io.WriteString(w, "body"+r.URL.Path)
	})
	addr := startServer(t, &Server{Handler: h})
	c, br := dial(t, addr)
	send(t, c, get("/1"), get("/2"), get("/3"))
	for i := 1; i <= 3; i++ {
		resp, body := readResponse(t, br, "GET")
		if want := "body/" + strconv.Itoa(i); body != want || resp.StatusCode != 200 {
			t.Errorf("response %d = %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
	}
}

// TestServerReverseCompletion runs MaxConcurrent handlers that complete in
// reverse order: each waits for the next one to finish.
func TestServerReverseCompletion(t *testing.T) {
	const n = 16
	var done [n + 2]chan struct{}
	for i := range done {
		done[i] = make(chan struct{})
	}
	close(done[n+1])
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		defer close(done[i])
		select {
		case <-done[i+1]:
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "body/%d", i)
	})
	addr := startServer(t, &Server{Handler: h, MaxConcurrent: n})
	c, br := dial(t, addr)
	var reqs []string
	for i := 1; i <= n; i++ {
		reqs = append(reqs, get("/"+strconv.Itoa(i)))
	}
	send(t, c, reqs...)
	for i := 1; i <= n; i++ {
		if _, body := readResponse(t, br, "GET"); body != fmt.Sprintf("body/%d", i) {
			t.Errorf("response %d body = %q, want %q", i, body, fmt.Sprintf("body/%d", i))
		}
	}
}

// TestServerPipelinedMixed pipelines a seeded mix of GET, HEAD and POST
// requests with bodies of every size around ResponseBuffer, some flushed,
// and checks every response against its request, in order.
func TestServerPipelinedMixed(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		size, _ := strconv.Atoi(q.Get("size"))
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Id", q.Get("id"))
		for i := 0; i < size; i += 100 {
			io.WriteString(w, mixedChunk(q.Get("id"), min(100, size-i)))
			if q.Get("flush") == "1" {
				w.(http.Flusher).Flush()
			}
		}
		w.Write(body)
	})
	addr := startServer(t, &Server{Handler: h, ResponseBuffer: 1024, MaxConcurrent: 8})
	c, br := dial(t, addr)
	rng := rand.New(rand.NewPCG(1, 2))
	type call struct {
		method, id, want string
	}
	var calls []call
	var reqs []string
	for i := range 300 {
		id := strconv.Itoa(i)
		size := rng.IntN(3000)
		flush := rng.IntN(4) == 0
		path := fmt.Sprintf("/x?id=%s&size=%d&flush=%d", id, size, map[bool]int{false: 0, true: 1}[flush])
		var want strings.Builder
		for j := 0; j < size; j += 100 {
			want.WriteString(mixedChunk(id, min(100, size-j)))
		}
		switch rng.IntN(3) {
		case 0:
			reqs = append(reqs, get(path))
			calls = append(calls, call{"GET", id, want.String()})
		case 1:
			reqs = append(reqs, "HEAD "+path+" HTTP/1.1\r\nHost: test\r\n\r\n")
			calls = append(calls, call{"HEAD", id, ""})
		default:
			body := strings.Repeat("p", rng.IntN(2000))
			reqs = append(reqs, post(path, body))
			calls = append(calls, call{"POST", id, want.String() + body})
		}
	}
	errc := make(chan error, 1)
	// Exits when everything is written.
	go func() {
		_, err := io.WriteString(c, strings.Join(reqs, ""))
		errc <- err
	}()
	for i, cl := range calls {
		resp, body := readResponse(t, br, cl.method)
		if got := resp.Header.Get("X-Id"); got != cl.id || body != cl.want {
			t.Fatalf("response %d (%s) = id %s, %d bytes, want id %s, %d bytes", i, cl.method, got, len(body), cl.id, len(cl.want))
		}
	}
	if err := <-errc; err != nil {
		t.Errorf("Write() = %v, want nil", err)
	}
}

func mixedChunk(id string, n int) string {
	return strings.Repeat(id+".", n)[:n]
}

// TestServerLargeResponseBehindSlow: a response over ResponseBuffer behind a
// slow one waits for its turn and then streams.
func TestServerLargeResponseBehindSlow(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	bigBuffered := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow":
			select { // finishes only once /big has buffered its first part
			case <-bigBuffered:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "slow")
		case "/big":
			io.WriteString(w, big[:512]) // fits the buffer
			close(bigBuffered)
			io.WriteString(w, big[512:]) // does not: waits until /slow is written
		case "/small":
			io.WriteString(w, "small")
		}
	})
	addr := startServer(t, &Server{Handler: h, ResponseBuffer: 1024})
	c, br := dial(t, addr)
	send(t, c, get("/slow"), get("/big"), get("/small"))
	tests := []struct {
		body       string
		wantLength int64
	}{
		{"slow", 4},
		{big, -1}, // streamed: chunked
		{"small", 5},
	}
	for i, tt := range tests {
		resp, body := readResponse(t, br, "GET")
		if body != tt.body {
			t.Errorf("response %d body = %.20q (%d bytes), want %.20q (%d bytes)", i, body, len(body), tt.body, len(tt.body))
		}
		if resp.ContentLength != tt.wantLength {
			t.Errorf("response %d ContentLength = %d, want %d", i, resp.ContentLength, tt.wantLength)
		}
	}
}

// pipeListener is a net.Listener of net.Pipe connections, for tests in a
// testing/synctest bubble, where sockets do not work.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// startPipeServer serves s on a pipeListener, inside a synctest bubble.
func startPipeServer(t *testing.T, s *Server) *pipeListener {
	t.Helper()
	l := newPipeListener()
	errc := make(chan error, 1)
	// Exits when s is closed (the cleanup below).
	go func() { errc <- s.Serve(l) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve() = %v, want %v", err, ErrServerClosed)
		}
	})
	return l
}

// dial connects a client end of a net.Pipe to the server.
func (l *pipeListener) dial(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	srv, cli := net.Pipe()
	l.conns <- srv
	t.Cleanup(func() { cli.Close() })
	return cli, bufio.NewReader(cli)
}

// gate records which handlers started and holds each until released.
type gate struct {
	mu      sync.Mutex
	started []string
	release map[string]chan struct{}
}

func newGate(paths ...string) *gate {
	g := &gate{release: make(map[string]chan struct{})}
	for _, p := range paths {
		g.release[p] = make(chan struct{})
	}
	return g
}

// ServeHTTP reads the body, records the start, waits for the release and
// answers "<path>:<body>".
func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body) // the reader loop goes on once it is read
	g.mu.Lock()
	g.started = append(g.started, r.URL.Path)
	rel := g.release[r.URL.Path]
	g.mu.Unlock()
	select {
	case <-rel:
	case <-r.Context().Done():
		return
	}
	fmt.Fprintf(w, "%s:%s", r.URL.Path, body)
}

// Started returns the paths of the handlers started so far, sorted.
func (g *gate) Started() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(slices.Sorted(slices.Values(g.started)), ",")
}

// TestServerBarrier: a POST starts once the GET before it has returned, and
// the GET after it once the POST has. synctest.Wait lets every goroutine
// get as far as it can, so a handler that is not started cannot start.
func TestServerBarrier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate("/a", "/p", "/b")
		l := startPipeServer(t, &Server{Handler: g})
		c, br := l.dial(t)
		send(t, c, get("/a"), post("/p", "data"), get("/b"))
		steps := []struct{ release, want string }{
			{"", "/a"},
			{"/a", "/a,/p"},
			{"/p", "/a,/b,/p"},
			{"/b", "/a,/b,/p"},
		}
		for _, st := range steps {
			if st.release != "" {
				close(g.release[st.release])
			}
			if st.release == "/a" { // its response must be read for the writer to go on
				if _, body := readResponse(t, br, "GET"); body != "/a:" {
					t.Errorf("response body = %q, want %q", body, "/a:")
				}
			}
			synctest.Wait()
			if got := g.Started(); got != st.want {
				t.Errorf("after releasing %q: started %s, want %s", st.release, got, st.want)
			}
		}
		for _, want := range []string{"/p:data", "/b:"} {
			if _, body := readResponse(t, br, "GET"); body != want {
				t.Errorf("response body = %q, want %q", body, want)
			}
		}
	})
}

// TestServerMaxConcurrent: with MaxConcurrent 2, a third handler starts only
// once the first response is written.
func TestServerMaxConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newGate("/1", "/2", "/3")
		l := startPipeServer(t, &Server{Handler: g, MaxConcurrent: 2})
		c, br := l.dial(t)
		send(t, c, get("/1"), get("/2"), get("/3"))
		synctest.Wait()
		if got, want := g.Started(), "/1,/2"; got != want {
			t.Errorf("started %s, want %s", got, want)
		}
		close(g.release["/1"])
		if _, body := readResponse(t, br, "GET"); body != "/1:" {
			t.Errorf("response body = %q, want %q", body, "/1:")
		}
		synctest.Wait()
		if got, want := g.Started(), "/1,/2,/3"; got != want {
			t.Errorf("after the first response: started %s, want %s", got, want)
		}
		close(g.release["/2"])
		close(g.release["/3"])
		for _, want := range []string{"/2:", "/3:"} {
			if _, body := readResponse(t, br, "GET"); body != want {
				t.Errorf("response body = %q, want %q", body, want)
			}
		}
	})
}

func TestServerRequestBody(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/echo":
			io.Copy(w, r.Body)
		case "/ignore":
			io.WriteString(w, "ignored")
		case "/close-early":
			buf := make([]byte, 3)
			io.ReadFull(r.Body, buf)
			r.Body.Close()
			fmt.Fprintf(w, "%s", buf)
		default:
			io.WriteString(w, "body"+r.URL.Path)
		}
	})
	bigBody := strings.Repeat("b", srvMaxDrainBytes+1)
	tests := []struct {
		name       string
		reqs       []string
		want       []string
		wantClosed bool // the connection ends after the responses
	}{
		{name: "read_then_next", reqs: []string{post("/echo", "hello"), get("/x")}, want: []string{"hello", "body/x"}},
		{name: "chunked_then_next",
			reqs: []string{"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", get("/x")},
			want: []string{"abcde", "body/x"}},
		{name: "unread_small_drained", reqs: []string{post("/ignore", strings.Repeat("z", 1000)), get("/x")}, want: []string{"ignored", "body/x"}},
		{name: "closed_early_drained", reqs: []string{post("/close-early", "abcdefgh"), get("/x")}, want: []string{"abc", "body/x"}},
		{name: "unread_large_closes", reqs: []string{post("/ignore", bigBody), get("/x")}, want: []string{"ignored"}, wantClosed: true},
		{name: "get_with_body", reqs: []string{"GET /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\nhi", get("/x")}, want: []string{"hi", "body/x"}},
	}
	addr := startServer(t, &Server{Handler: h})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, br := dial(t, addr)
			errc := make(chan error, 1)
			// Exits when the write is done; the server may close first.
			go func() {
				_, err := io.WriteString(c, strings.Join(tt.reqs, ""))
				errc <- err
			}()
			expectBodies(t, br, "POST", tt.want, tt.wantClosed)
			if tt.wantClosed {
				expectClosed(t, br)
			}
			if err := <-errc; err != nil && !tt.wantClosed {
				t.Errorf("Write() = %v, want nil", err)
			}
		})
	}
}

func TestServerExpectContinue(t *testing.T) {
	addr := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(w, r.Body)
	})})
	c, br := dial(t, addr)
	send(t, c, "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	if resp, _ := readResponse(t, br, "POST"); resp.StatusCode != http.StatusContinue {
		t.Fatalf("first response status = %d, want %d", resp.StatusCode, http.StatusContinue)
	}
	send(t, c, "body")
	if resp, body := readResponse(t, br, "POST"); resp.StatusCode != 200 || body != "body" {
		t.Errorf("final response = %d %q, want 200 %q", resp.StatusCode, body, "body")
	}
}

// TestServerRejects covers the requests the reader loop answers itself;
// each one ends the connection.
func TestServerRejects(t *testing.T) {
	var calls atomic.Int32
	var maxBytesErrs atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, err := io.ReadAll(r.Body)
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			maxBytesErrs.Add(1)
		}
		io.WriteString(w, "body"+r.URL.Path)
	})
	s := &Server{Handler: h, MaxHeaderBytes: 1024, MaxBodyBytes: 100}
	addr := startServer(t, s)
	chunked := "POST /c HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
	for range 3 {
		chunked += "40\r\n" + strings.Repeat("c", 64) + "\r\n"
	}
	chunked += "0\r\n\r\n"
	tests := []struct {
		name       string
		reqs       []string
		wantStatus []int
		wantCalls  int32
	}{
		{name: "header_too_large", reqs: []string{get("/", "X-Big: "+strings.Repeat("a", 8<<10)+"\r\n")}, wantStatus: []int{431}},
		{name: "header_too_large_after_good", reqs: []string{get("/ok"), get("/", "X-Big: "+strings.Repeat("a", 8<<10)+"\r\n")}, wantStatus: []int{200, 431}, wantCalls: 1},
		{name: "malformed", reqs: []string{"GARBAGE\r\n\r\n"}, wantStatus: []int{400}},
		{name: "malformed_after_good", reqs: []string{get("/ok"), "GET / HTTP/1.1\r\nBad Header\r\n\r\n", get("/never")}, wantStatus: []int{200, 400}, wantCalls: 1},
		{name: "missing_host", reqs: []string{"GET / HTTP/1.1\r\n\r\n"}, wantStatus: []int{400}},
		{name: "http2", reqs: []string{"GET / HTTP/2.0\r\nHost: test\r\n\r\n"}, wantStatus: []int{505}},
		{name: "declared_body_too_large", reqs: []string{post("/p", strings.Repeat("p", 101))}, wantStatus: []int{413}},
		{name: "chunked_body_too_large", reqs: []string{chunked, get("/never")}, wantStatus: []int{413}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls.Store(0)
			c, br := dial(t, addr)
			send(t, c, tt.reqs...)
			for i, want := range tt.wantStatus {
				resp, _ := readResponse(t, br, "GET")
				if resp.StatusCode != want {
					t.Errorf("response %d status = %d, want %d", i, resp.StatusCode, want)
				}
				if last := i == len(tt.wantStatus)-1; last && !resp.Close {
					t.Errorf("response %d Close = false, want true", i)
				}
			}
			expectClosed(t, br)
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("handler calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
	if got := maxBytesErrs.Load(); got != 1 {
		t.Errorf("handler saw *http.MaxBytesError %d times, want 1", got)
	}
}

func TestServerConnectionClose(t *testing.T) {
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/bye" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "body"+r.URL.Path)
	})
	tests := []struct {
		name       string
		max        int
		reqs       []string
		want       []string
		wantClosed bool
	}{
		{name: "from_client", reqs: []string{get("/a"), get("/b", "Connection: close\r\n"), get("/c")}, want: []string{"body/a", "body/b"}, wantClosed: true},
		{name: "from_handler", reqs: []string{get("/a"), get("/bye"), get("/c")}, want: []string{"body/a", "body/bye"}, wantClosed: true},
		{name: "max_requests", max: 2, reqs: []string{get("/a"), get("/b"), get("/c")}, want: []string{"body/a", "body/b"}, wantClosed: true},
		{name: "http10", reqs: []string{"GET /a HTTP/1.0\r\n\r\n", get("/b")}, want: []string{"body/a"}, wantClosed: true},
		{name: "http10_keep_alive", reqs: []string{"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET /b HTTP/1.0\r\n\r\n"}, want: []string{"body/a", "body/b"}, wantClosed: true},
		{name: "keep_alive", reqs: []string{get("/a"), get("/b")}, want: []string{"body/a", "body/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startServer(t, &Server{Handler: h, MaxRequestsPerConn: tt.max})
			c, br := dial(t, addr)
			send(t, c, tt.reqs...)
			expectBodies(t, br, "GET", tt.want, tt.wantClosed)
			if tt.wantClosed {
				expectClosed(t, br)
				return
			}
			send(t, c, get("/more"))
			if _, body := readResponse(t, br, "GET"); body != "body/more" {
				t.Errorf("response on the kept connection = %q, want %q", body, "body/more")
			}
		})
	}
}

func TestServerTimeouts(t *testing.T) {
	const idle, header = time.Minute, 10 * time.Second
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(2 * idle) // a pending response is not idle
		}
		io.WriteString(w, "body"+r.URL.Path)
	})
	tests := []struct {
		name        string
		reqs        []string
		wantBodies  []string
		fromLast    bool          // the timeout runs from the last response, not from the requests
		wantClosing time.Duration // until EOF
	}{
		{name: "idle", reqs: []string{get("/slow")}, wantBodies: []string{"body/slow"}, fromLast: true, wantClosing: idle},
		{name: "idle_after_pipelined", reqs: []string{get("/a"), get("/slow"), get("/b")}, wantBodies: []string{"body/a", "body/slow", "body/b"}, fromLast: true, wantClosing: idle},
		{name: "read_header", reqs: []string{"GET / HTTP/1.1\r\nHost: te"}, wantClosing: header},
		{name: "read_header_after_response", reqs: []string{get("/a"), "GET / HTTP/1.1\r\n"}, wantBodies: []string{"body/a"}, wantClosing: header},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := startPipeServer(t, &Server{Handler: h, IdleTimeout: idle, ReadHeaderTimeout: header})
				c, br := l.dial(t)
				start := time.Now()
				send(t, c, tt.reqs...)
				for _, want := range tt.wantBodies {
					if _, body := readResponse(t, br, "GET"); body != want {
						t.Errorf("response body = %q, want %q", body, want)
					}
				}
				if tt.fromLast {
					start = time.Now()
				}
				expectClosed(t, br)
				if got := time.Since(start); got != tt.wantClosing {
					t.Errorf("connection closed after %v, want %v", got, tt.wantClosing)
				}
			})
		})
	}
}

func TestServerPanic(t *testing.T) {
	var logs syncBuffer
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			w.Header().Set("X-Partial", "yes")
			io.WriteString(w, "partial")
			panic("boom")
		case "/panic-streamed":
			// Over ResponseBuffer: the header and this much are sent.
			io.WriteString(w, strings.Repeat("p", 2048))
			panic("boom after flush")
		}
		io.WriteString(w, "body"+r.URL.Path)
	})
	addr := startServer(t, &Server{Handler: h, ResponseBuffer: 1024, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	t.Run("before_write", func(t *testing.T) {
		c, br := dial(t, addr)
		send(t, c, get("/panic"), get("/ok"))
		resp, body := readResponse(t, br, "GET")
		if resp.StatusCode != 500 || body != "Internal Server Error\n" || resp.Header.Get("X-Partial") != "" {
			t.Errorf("panic response = %d %q %v, want 500 %q without X-Partial", resp.StatusCode, body, resp.Header, "Internal Server Error\n")
		}
		if _, body := readResponse(t, br, "GET"); body != "body/ok" {
			t.Errorf("response after the panic = %q, want %q", body, "body/ok")
		}
	})
	t.Run("after_flush", func(t *testing.T) {
		c, br := dial(t, addr)
		send(t, c, get("/panic-streamed"), get("/ok"))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("ReadResponse() = %v", err)
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Errorf("reading a body cut by a panic: err = nil, want an error")
		}
		expectClosed(t, br)
	})
	if got := logs.String(); !strings.Contains(got, "boom") || !strings.Contains(got, "boom after flush") {
		t.Errorf("log = %q, want both panics", got)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestServerShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	var handlerDone atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
			handlerDone.Store(true)
		}
		io.WriteString(w, "body"+r.URL.Path)
	})
	s := &Server{Handler: h}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	served := make(chan error, 1)
	// Exits when Shutdown closes the listener.
	go func() { served <- s.Serve(l) }()

	// An idle keep-alive connection of a net/http client, and a busy one.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + l.Addr().String() + "/idle")
	if err != nil {
		t.Fatalf("Get(/idle) = %v", err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	c, br := dial(t, l.Addr().String())
	send(t, c, get("/slow"), get("/queued"))
	<-started

	shut := make(chan error, 1)
	// Exits when Shutdown returns.
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve() = %v, want %v", err, ErrServerClosed)
	}
	close(release) // Shutdown has begun (Serve returned): let the handler finish
	for _, want := range []string{"body/slow", "body/queued"} {
		if _, body := readResponse(t, br, "GET"); body != want {
			t.Errorf("in-flight response = %q, want %q", body, want)
		}
	}
	expectClosed(t, br)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown() = %v, want nil", err)
	}
	if !handlerDone.Load() {
		t.Errorf("Shutdown returned before the in-flight handler finished")
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve() after Shutdown = %v, want %v", err, ErrServerClosed)
	}
}

func TestServerShutdownTimeout(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		cancelled <- context.Cause(r.Context())
	})
	s := &Server{Handler: h}
	addr := startServer(t, s)
	c, _ := dial(t, addr)
	send(t, c, get("/stuck"))
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(expired ctx) = %v, want %v", err, context.Canceled)
	}
	select {
	case err := <-cancelled:
		if err == nil {
			t.Errorf("handler context cause = nil, want an error")
		}
	default:
		t.Errorf("Shutdown returned before the handler did")
	}
}

func TestServerClose(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	})
	s := &Server{Handler: h}
	addr := startServer(t, s)
	c, br := dial(t, addr)
	send(t, c, get("/stuck"))
	<-started
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	select {
	case <-cancelled:
	default:
		t.Errorf("Close returned before the handler's context was cancelled and it returned")
	}
	if _, err := br.ReadByte(); err == nil {
		t.Errorf("ReadByte() after Close = nil error, want EOF or reset")
	}
}

func TestServerClientGoneCancels(t *testing.T) {
	started := make(chan struct{})
	cause := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		cause <- context.Cause(r.Context())
	})
	addr := startServer(t, &Server{Handler: h})
	c, _ := dial(t, addr)
	send(t, c, get("/wait"))
	<-started
	c.Close()
	select {
	case err := <-cause:
		if !errors.Is(err, errSrvClientGone) {
			t.Errorf("context.Cause(r.Context()) = %v, want %v", err, errSrvClientGone)
		}
	case <-time.After(testTimeout):
		t.Fatalf("handler context not cancelled after the client closed")
	}
}

func TestServerResponseWriter(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sniff":
			io.WriteString(w, "<html><body>hi</body></html>")
		case "/nobody":
			w.WriteHeader(http.StatusNotModified)
			if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
				t.Errorf("Write after 304 = %v, want %v", err, http.ErrBodyNotAllowed)
			}
		case "/toolong":
			w.Header().Set("Content-Length", "3")
			if _, err := io.WriteString(w, "abcd"); !errors.Is(err, http.ErrContentLength) {
				t.Errorf("Write past Content-Length = %v, want %v", err, http.ErrContentLength)
			}
			io.WriteString(w, "abc")
		case "/controller":
			io.WriteString(w, "a")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("ResponseController.Flush() = %v, want nil", err)
			}
			io.WriteString(w, "b")
		case "/header-after":
			w.WriteHeader(http.StatusAccepted)
			w.Header().Set("X-Late", "ignored")
		}
	})
	addr := startServer(t, &Server{Handler: h})
	c, br := dial(t, addr)
	send(t, c, get("/sniff"), "HEAD /sniff HTTP/1.1\r\nHost: test\r\n\r\n", get("/nobody"), get("/toolong"), get("/controller"), get("/header-after"))
	tests := []struct {
		name, method, body, contentType string
		status                          int
		length                          int64
	}{
		{name: "sniff", method: "GET", body: "<html><body>hi</body></html>", contentType: "text/html; charset=utf-8", status: 200, length: 28},
		{name: "head", method: "HEAD", body: "", contentType: "text/html; charset=utf-8", status: 200, length: 28},
		{name: "not_modified", method: "GET", body: "", status: 304, length: 0},
		{name: "content_length", method: "GET", body: "abc", contentType: "text/plain; charset=utf-8", status: 200, length: 3},
		// Chunked if the flush happened at the head, else buffered: either is right.
		{name: "controller_flush", method: "GET", body: "ab", contentType: "text/plain; charset=utf-8", status: 200, length: -2},
		{name: "header_after_write_header", method: "GET", body: "", status: 202, length: 0},
	}
	for _, tt := range tests {
		resp, body := readResponse(t, br, tt.method)
		lengthOK := resp.ContentLength == tt.length || tt.length == -2
		if resp.StatusCode != tt.status || body != tt.body || !lengthOK || resp.Header.Get("Content-Type") != tt.contentType {
			t.Errorf("%s: response = %d %q length %d type %q, want %d %q length %d type %q", tt.name,
				resp.StatusCode, body, resp.ContentLength, resp.Header.Get("Content-Type"), tt.status, tt.body, tt.length, tt.contentType)
		}
		if resp.Header.Get("X-Late") != "" {
			t.Errorf("%s: header set after WriteHeader was sent", tt.name)
		}
	}
}

// Two requests written at once are answered in order on one connection.
func ExampleServer() {
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path[1:])
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	errc := make(chan error, 1)
	// Exits after Shutdown.
	go func() { errc <- srv.Serve(ln) }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	io.WriteString(conn, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			fmt.Println(err)
			break
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.Status, string(body))
	}
	conn.Close()

	fmt.Println(srv.Shutdown(context.Background()))
	fmt.Println(<-errc)
	// Output:
	// 200 OK hello a
	// 200 OK hello b
	// <nil>
	// httpx: server closed
}
