package httpx

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// quoteJSON is the small JSON body both servers answer with.
var quoteJSON = []byte(`{"symbol":"AAPL","price":189.84,"change":-1.23,"volume":48213790,"time":"2025-11-21T15:59:59Z"}`)

var quoteHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(quoteJSON)
})

// BenchmarkServerPipelined compares httpx.Server with net/http's server on
// one connection with 16 pipelined GET requests in flight. req/s is the
// figure to compare.
func BenchmarkServerPipelined(b *testing.B) {
	b.Run("httpx", func(b *testing.B) {
		l := benchListen(b)
		s := &Server{Handler: quoteHandler}
		served := make(chan error, 1)
		// Exits when s is closed below.
		go func() { served <- s.Serve(l) }()
		benchPipelined(b, l.Addr().String(), 16)
		s.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			b.Errorf("Serve() = %v, want %v", err, ErrServerClosed)
		}
	})
	b.Run("net_http", func(b *testing.B) {
		l := benchListen(b)
		s := &http.Server{Handler: quoteHandler}
		served := make(chan error, 1)
		// Exits when s is closed below.
		go func() { served <- s.Serve(l) }()
		benchPipelined(b, l.Addr().String(), 16)
		s.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			b.Errorf("Serve() = %v, want %v", err, http.ErrServerClosed)
		}
	})
}

func benchListen(b *testing.B) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("Listen() = %v", err)
	}
	return l
}

// benchPipelined sends b.N GET requests on one connection, keeping inflight
// of them unanswered. The benchmark goroutine reads the responses with
// http.ReadResponse; whenever it has read all it has received, it hands the
// freed slots to a writer goroutine, which writes that many requests in one
// write. So both servers see the same batches, and the driver costs little.
func benchPipelined(b *testing.B, addr string, inflight int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatalf("Dial() = %v", err)
	}
	req := []byte("GET /quote?symbol=AAPL HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n")
	free := make(chan int, inflight) // batches of freed slots; never more than inflight batches
	free <- inflight
	stop := make(chan struct{})
	written := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	// Exits once b.N requests are written, on a write error, or on stop.
	go func() {
		buf := make([]byte, 0, inflight*len(req))
		for sent := 0; sent < b.N; {
			var n int
			select {
			case n = <-free:
			case <-stop:
				written <- nil
				return
			}
		more:
			for {
				select {
				case m := <-free:
					n += m
				default:
					break more
				}
			}
			n = min(n, b.N-sent)
			buf = buf[:0]
			for range n {
				buf = append(buf, req...)
			}
			if _, err := c.Write(buf); err != nil {
				written <- err
				return
			}
			sent += n
		}
		written <- nil
	}()
	defer func() {
		c.Close()
		close(stop)
		<-written
	}()

	br := bufio.NewReaderSize(c, 64<<10)
	freed := 0
	for i := range b.N {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatalf("ReadResponse() #%d = %v", i, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || n != int64(len(quoteJSON)) {
			b.Fatalf("response #%d = %d, %d bytes, %v; want 200, %d bytes", i, resp.StatusCode, n, err, len(quoteJSON))
		}
		if freed++; br.Buffered() == 0 { // about to wait for the server: refill
			free <- freed
			freed = 0
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
