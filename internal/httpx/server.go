package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// ErrServerClosed is returned by Server.Serve after Shutdown or Close.
var ErrServerClosed = errors.New("httpx: server closed")

// Defaults used for the zero fields of a Server.
const (
	srvDefaultMaxConcurrent     = 16
	srvDefaultResponseBuffer    = 64 << 10
	srvDefaultMaxHeaderBytes    = 1 << 20
	srvDefaultMaxBodyBytes      = 10 << 20
	srvDefaultReadHeaderTimeout = 10 * time.Second
	srvDefaultIdleTimeout       = 120 * time.Second
)

// srvMaxDrainBytes is how much of a request body a Server reads and discards
// after the handler returned without consuming it, to keep the connection;
// a longer body closes the connection instead.
const srvMaxDrainBytes = 256 << 10

// Server serves an ordinary http.Handler over HTTP/1.1 with pipelining.
//
// On each connection one reader loop reads requests ahead, without waiting
// for earlier responses, and one writer loop writes responses strictly in
// request order. Handlers of safe methods (GET, HEAD, OPTIONS) run
// concurrently, at most MaxConcurrent per connection; a request with any
// other method is a barrier: it starts once every earlier handler has
// returned, and later requests start once it has returned. A request with a
// body is read by its handler from the connection, so the next request is
// read only after the body is consumed or, when the handler returns, drained
// (up to 256 KiB; a longer remainder closes the connection).
//
// A response whose turn has not come yet is buffered, up to ResponseBuffer
// bytes; past that the handler's Write blocks until every earlier response
// is written. The response whose turn it is (the head) is buffered up to
// ResponseBuffer too, so that a handler finishing within it gets a
// Content-Length; past it, or on Flush, the head streams straight to the
// socket with chunked transfer-encoding (or a Content-Length the handler
// set). Responses to HEAD and 1xx/204/304 responses carry no body.
//
// The fields configure the server; zero means the default. They must not be
// changed once Serve has been called. Serve, Shutdown and Close are safe to
// call concurrently; Serve may be called on several listeners.
//
//	srv := &httpx.Server{Handler: mux, Logger: logger}
//	go func() { errc <- srv.Serve(ln) }() // returns ErrServerClosed after Shutdown
//	...
//	err := srv.Shutdown(ctx) // stop accepting, finish and write in-flight requests
//	<-errc
//
// Handlers get a request context that is cancelled when the handler returns,
// when the client goes away, when the connection is closed before their
// response could be written, and by Close. Shutdown and Close wait for every
// handler to return: a handler that ignores its context delays them.
// A handler panic is recovered and logged; the client gets a 500 if nothing
// of the response was sent yet, otherwise the connection is closed. A body
// read past MaxBodyBytes fails with *http.MaxBytesError, and the response,
// unless already sent, becomes a 413. "100 Continue" is sent when the
// handler first reads a body the client expects it for. Handlers cannot
// send 1xx responses, trailers or hijack the connection. A Server must not
// be copied once used.
type Server struct {
	Handler            http.Handler  // the handler for every request; nil means http.NotFoundHandler()
	MaxConcurrent      int           // handlers (and pending responses) per connection; 0 = 16
	ResponseBuffer     int           // bytes buffered per pending response; 0 = 64 KiB
	MaxHeaderBytes     int           // request line and header; 0 = 1 MiB; past it 431 and close
	MaxBodyBytes       int64         // request body; 0 = 10 MiB; past it 413 and close
	ReadHeaderTimeout  time.Duration // from the first byte of a request to the end of its header; 0 = 10s
	IdleTimeout        time.Duration // with no request pending; 0 = 120s
	MaxRequestsPerConn int           // 0 = unlimited; the last one is answered with Connection: close
	Logger             *slog.Logger  // handler panics and protocol errors; nil = discard

	// hub owns the goroutine of every connection (see srvConn.serve).
	hub vanilla.Hub

	mu sync.Mutex
	// Everything below is guarded by mu.
	closing   bool                       // Shutdown or Close started: accept nothing more
	closed    chan struct{}              // closed when closing is set
	listeners map[*net.Listener]struct{} // those Serve is accepting on
	conns     map[*srvConn]struct{}      // those whose goroutine is running
	idle      chan struct{}              // made by Shutdown; closed once closing and conns is empty
}

// Serve accepts connections on l and serves each in its own goroutine until
// Shutdown or Close, and then returns ErrServerClosed. It returns earlier
// with the error of l.Accept if that is not temporary. Serve closes l.
func (s *Server) Serve(l net.Listener) error {
	ln := &l
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[*net.Listener]struct{})
		s.conns = make(map[*srvConn]struct{})
		s.closed = make(chan struct{})
	}
	s.listeners[ln] = struct{}{}
	closed := s.closed
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if !srvTemporary(err) {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger().Warn("httpx: accept", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-closed:
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		c := newSrvConn(s, rwc)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			rwc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		// Exits when the connection is done: see srvConn.serve. Go is called
		// under mu, so Shutdown and Close see it.
		s.hub.Go(context.Background(), c.serve)
		s.mu.Unlock()
	}
}

// srvTemporary reports whether an Accept error is worth retrying.
func srvTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// Shutdown stops the server gracefully: it closes the listeners, so Serve
// returns ErrServerClosed; closes idle connections; lets every request
// already read finish and its response be written, reading no new request;
// and returns once every connection goroutine and handler has exited. If
// ctx ends first, Shutdown closes what is left as Close does, waits for it,
// and returns context.Cause(ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	err := s.closeListenersLocked()
	if s.idle == nil {
		s.idle = make(chan struct{})
		if len(s.conns) == 0 {
			close(s.idle)
		}
	}
	idle := s.idle
	for c := range s.conns {
		c.shutdown()
	}
	s.mu.Unlock()

	select {
	case <-idle:
		return errors.Join(err, s.hub.Wait())
	case <-ctx.Done():
		s.Close()
		return context.Cause(ctx)
	}
}

// Close closes the listeners and every connection now, cancelling the
// contexts of running handlers; responses not yet written are lost. It
// returns once every connection goroutine and handler has exited, with the
// error of closing a listener, if any.
func (s *Server) Close() error {
	s.mu.Lock()
	err := s.closeListenersLocked()
	s.mu.Unlock()
	// Stop cancels every connection's context; each one closes its socket
	// on that (see srvConn.serve), which unblocks its loops.
	return errors.Join(err, s.hub.Stop())
}

func (s *Server) closeListenersLocked() error {
	if !s.closing && s.closed != nil {
		close(s.closed)
	}
	s.closing = true
	var err error
	for ln := range s.listeners {
		if e := (*ln).Close(); e != nil && !errors.Is(e, net.ErrClosed) && err == nil {
			err = e
		}
	}
	return err
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// forget removes c once its goroutine is done.
func (s *Server) forget(c *srvConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.idle != nil {
		select {
		case <-s.idle:
		default:
			close(s.idle)
		}
	}
}

func (s *Server) handler() http.Handler {
	if s.Handler == nil {
		return http.NotFoundHandler()
	}
	return s.Handler
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return srvDiscardLogger
	}
	return s.Logger
}

var srvDiscardLogger = slog.New(slog.DiscardHandler)

func (s *Server) maxConcurrent() int { return srvOrDefault(s.MaxConcurrent, srvDefaultMaxConcurrent) }
func (s *Server) responseBuffer() int {
	return srvOrDefault(s.ResponseBuffer, srvDefaultResponseBuffer)
}
func (s *Server) maxHeaderBytes() int {
	return srvOrDefault(s.MaxHeaderBytes, srvDefaultMaxHeaderBytes)
}
func (s *Server) maxBodyBytes() int64 { return srvOrDefault(s.MaxBodyBytes, srvDefaultMaxBodyBytes) }
func (s *Server) maxRequests() int    { return max(s.MaxRequestsPerConn, 0) }
func (s *Server) idleTimeout() time.Duration {
	return srvOrDefault(s.IdleTimeout, srvDefaultIdleTimeout)
}
func (s *Server) readHeaderTimeout() time.Duration {
	return srvOrDefault(s.ReadHeaderTimeout, srvDefaultReadHeaderTimeout)
}

func srvOrDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
