package httpx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// Options configures a Client. A nil *Options means all defaults.
type Options struct {
	MaxInFlight     int           // requests written and unanswered at once; 0 means 64
	DialTimeout     time.Duration // 0 means 5s
	ResponseTimeout time.Duration // from starting to wait for a response head to getting it; 0 means 30s
	MinBackoff      time.Duration // first wait after a failed dial; 0 means 50ms
	MaxBackoff      time.Duration // cap of the doubling wait; 0 means 5s
	DrainLimit      int64         // bytes of an early-closed body the client discards; 0 means 256 KiB
	MaxHeaderBytes  int64         // response head size limit; 0 means 1 MiB
	TLSConfig       *tls.Config   // for https origins; ServerName defaults to the origin's host

	// Dial opens the connection; nil means a net.Dialer. Tests use it to
	// count or fail dials.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	def := func(d *time.Duration, x time.Duration) {
		if *d <= 0 {
			*d = x
		}
	}
	if v.MaxInFlight <= 0 {
		v.MaxInFlight = 64
	}
	def(&v.DialTimeout, 5*time.Second)
	def(&v.ResponseTimeout, 30*time.Second)
	def(&v.MinBackoff, 50*time.Millisecond)
	def(&v.MaxBackoff, 5*time.Second)
	if v.DrainLimit <= 0 {
		v.DrainLimit = 256 << 10
	}
	if v.MaxHeaderBytes <= 0 {
		v.MaxHeaderBytes = 1 << 20
	}
	if v.Dial == nil {
		d := &net.Dialer{}
		v.Dial = d.DialContext
	}
	return v
}

// Client sends HTTP/1.1 requests to one origin over one pipelined
// connection. Requests are written in the order Do is called, up to
// MaxInFlight of them unanswered at once, and each caller gets its own
// response as soon as its head arrives, with the body streaming from the
// connection.
//
// A Client is safe for concurrent use. Do blocks until the response head
// arrives, the request fails, or ctx ends. The caller must read the
// response body to the end or close it: the responses behind it wait until
// it does (a closed body is drained by the client, up to DrainLimit). The
// Client owns its connection and goroutines; Shutdown or Close stops them.
//
//	c, err := httpx.NewClient("http://127.0.0.1:8081", nil)
//	defer c.Close()
//	req, _ := http.NewRequest("GET", "/api/quote/AAPL/info", nil)
//	resp, err := c.Do(ctx, req)
//	...
//	resp.Body.Close()
//
// When the connection dies, the request being written and every unanswered
// one fail with a *ConnError, except that unanswered requests with
// idempotent methods are retried once on the next connection. Requests left
// unanswered by a server that announced Connection: close are all sent
// again. After a reconnect the first request is sent alone, and pipelining
// resumes once it is answered.
type Client struct {
	origin *url.URL
	addr   string
	opts   Options
	hub    vanilla.Hub

	queue *vanilla.Sender[*call] // a Router from the callers of Do to the manager; closed by Shutdown
	calls *vanilla.Recver[*call] // read by the manager and the connection's writer loop

	stats counters
}

// Stats are a Client's counters since it was created.
type Stats struct {
	Requests    uint64 // requests accepted by Do
	InFlight    int64  // written and not yet answered, now
	Dials       uint64 // connections opened
	DialErrors  uint64
	ConnErrors  uint64 // connections that died with requests in flight
	Retries     uint64 // requests sent again on a new connection
	Failures    uint64 // requests failed with a *ConnError or ErrUnavailable
	DrainResets uint64 // connections reset because a body was over DrainLimit
	Connected   bool   // a connection is open now
}

type counters struct {
	requests, dials, dialErrors, connErrors, retries, failures, drainResets atomic.Uint64
	inFlight                                                                atomic.Int64
	connected                                                               atomic.Bool
}

// NewClient returns a Client for the origin of rawURL (scheme, host and
// port; a path is ignored). It does not dial until the first request.
func NewClient(rawURL string, opts *Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse origin: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("httpx: origin %q is not an absolute http or https URL", rawURL)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	c := &Client{
		origin: &url.URL{Scheme: u.Scheme, Host: u.Host},
		addr:   net.JoinHostPort(u.Hostname(), port),
		opts:   opts.withDefaults(),
	}
	c.queue, c.calls = vanilla.NewRouter[*call]()
	c.hub.Go(context.Background(), c.manage)
	return c, nil
}

// call is one request on its way through the client.
type call struct {
	req     *http.Request
	gone    <-chan struct{} // the caller's ctx.Done(): closed when it has given up
	resp    *vanilla.Sender[*http.Response]
	written bool // at least partly written on some connection
	retried bool
}

// fail delivers err to the caller, unless it has already given up.
func (cl *call) fail(err error) { cl.resp.CloseWithError(err) }

// Do sends req and returns its response once the status line and headers
// have arrived. req.URL may be a bare path or an absolute URL of the
// client's origin. If ctx ends while req is still queued, it is never
// written; if it ends later, Do returns at once and the client discards
// the response when it arrives.
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	if req.URL.Host != "" && (req.URL.Host != c.origin.Host || req.URL.Scheme != c.origin.Scheme) {
		return nil, fmt.Errorf("%w: %s", ErrWrongOrigin, req.URL)
	}
	r := req.Clone(ctx)
	r.URL.Scheme, r.URL.Host = c.origin.Scheme, c.origin.Host
	if r.Host == "" {
		r.Host = c.origin.Host
	}
	s, rr := vanilla.NewPipe[*http.Response]()
	defer rr.Close() // after a response was taken this does nothing; else it abandons it
	cl := &call{req: r, gone: ctx.Done(), resp: s}
	if err := c.queue.Send(ctx, cl); err != nil {
		if errors.Is(err, vanilla.ErrClosed) || errors.Is(err, vanilla.ErrAbandoned) {
			return nil, ErrClientClosed
		}
		return nil, err
	}
	c.stats.requests.Add(1)
	resp, err := rr.Recv(ctx)
	if err != nil {
		return nil, err
	}
	if b, ok := resp.Body.(*body); ok {
		b.watch(ctx)
	}
	return resp, nil
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:    c.stats.requests.Load(),
		InFlight:    c.stats.inFlight.Load(),
		Dials:       c.stats.dials.Load(),
		DialErrors:  c.stats.dialErrors.Load(),
		ConnErrors:  c.stats.connErrors.Load(),
		Retries:     c.stats.retries.Load(),
		Failures:    c.stats.failures.Load(),
		DrainResets: c.stats.drainResets.Load(),
		Connected:   c.stats.connected.Load(),
	}
}

// Shutdown stops the client the way a pipeline should stop: new requests
// get ErrClientClosed, queued requests that were never written are
// discarded (their callers get ErrClientClosed), the request being written
// is finished, outstanding responses are read and handed to their callers,
// and the connection is closed. It waits for that, or until ctx ends, in
// which case it closes everything at once as Close does and returns the
// context's error.
func (c *Client) Shutdown(ctx context.Context) error {
	c.queue.Close()
	done := make(chan error, 1)
	// Exits when the hub's goroutines have; Close below guarantees that.
	go func() { done <- c.hub.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		c.Close()
		<-done
		return context.Cause(ctx)
	}
}

// Close closes the client at once: every request queued or in flight fails
// with ErrClientClosed and the connection is closed. It returns when every
// goroutine of the client has exited.
func (c *Client) Close() error {
	c.queue.Close()
	return c.hub.Stop()
}

// manage owns the connection: it dials when a request is waiting, runs one
// connection at a time, sends unanswered requests again, and backs off
// while the origin is down. It exits when the queue is closed and drained,
// or when the hub stops.
func (c *Client) manage(ctx context.Context) error {
	var retry []*call // requests for the next connection, in order
	backoff := time.Duration(0)
	var downUntil time.Time // the end of the current backoff
	var downErr error       // the failure that started it
	for {
		if len(retry) == 0 {
			cl, err := c.calls.Recv(ctx)
			if err != nil {
				return nil // closed or stopped: nothing is pending
			}
			if wait := time.Until(downUntil); wait > 0 {
				c.failAll([]*call{cl}, unavailable(wait, downErr))
				continue
			}
			retry = append(retry, cl)
		} else if wait := time.Until(downUntil); wait > 0 {
			// Requests to send again wait out the backoff.
			if !c.failWhileDown(ctx, wait, downErr) {
				c.failAll(retry, ErrClientClosed)
				return nil
			}
		}
		conn, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				c.failAll(retry, ErrClientClosed)
				return nil
			}
			c.stats.dialErrors.Add(1)
			for _, cl := range retry {
				// A request sent again after a connection failure may have
				// been processed there.
				c.stats.failures.Add(1)
				cl.fail(&ConnError{Op: "dial", Processed: cl.retried, Retried: cl.retried, Err: err})
			}
			retry = nil
			backoff = nextBackoff(backoff, c.opts.MinBackoff, c.opts.MaxBackoff)
			downUntil, downErr = time.Now().Add(backoff), err
			continue
		}
		c.stats.dials.Add(1)
		c.stats.connected.Store(true)
		res := c.runConn(ctx, conn, retry)
		c.stats.connected.Store(false)
		retry = c.afterConn(ctx, res)
		if res.closing || ctx.Err() != nil {
			c.failAll(retry, ErrClientClosed)
			c.drainQueue()
			return nil
		}
		switch {
		case res.answered:
			backoff, downUntil = 0, time.Time{}
		case res.err != nil:
			backoff = nextBackoff(backoff, c.opts.MinBackoff, c.opts.MaxBackoff)
			downUntil, downErr = time.Now().Add(backoff), res.err
		}
	}
}

// unavailable is the error of a request that arrives while the client
// backs off after cause.
func unavailable(wait time.Duration, cause error) error {
	return fmt.Errorf("%w: retrying in %v: %w", ErrUnavailable, wait.Round(time.Millisecond), cause)
}

// failWhileDown waits out a backoff of d after cause, failing every request
// that arrives meanwhile with ErrUnavailable. It reports false when the
// client is closing.
func (c *Client) failWhileDown(ctx context.Context, d time.Duration, cause error) bool {
	wait, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	deadline, _ := wait.Deadline()
	for {
		cl, err := c.calls.Recv(wait)
		switch {
		case err == nil:
			c.failAll([]*call{cl}, unavailable(time.Until(deadline), cause))
		case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			return true
		default:
			return false
		}
	}
}

// drainQueue fails every request still queued, once the client is closing.
func (c *Client) drainQueue() {
	for {
		cl, err := c.calls.TryRecv()
		if err != nil {
			return
		}
		cl.fail(ErrClientClosed)
	}
}

func (c *Client) failAll(calls []*call, err error) {
	for _, cl := range calls {
		c.stats.failures.Add(1)
		cl.fail(err)
	}
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	conn, err := c.opts.Dial(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	if c.origin.Scheme != "https" {
		return conn, nil
	}
	cfg := c.opts.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = c.origin.Hostname()
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return tc, nil
}

// afterConn sorts the requests a finished connection left behind: those to
// send on the next connection are returned in order, the others fail.
func (c *Client) afterConn(ctx context.Context, res connResult) []*call {
	if res.err != nil && len(res.unanswered) > 0 {
		c.stats.connErrors.Add(1)
	}
	var next []*call
	for _, cl := range res.unanswered {
		select {
		case <-cl.gone:
			continue // its caller gave up; nobody wants the answer
		default:
		}
		if ctx.Err() != nil {
			cl.fail(ErrClientClosed)
			continue
		}
		rewindable := cl.req.Body == nil || cl.req.Body == http.NoBody || cl.req.GetBody != nil
		switch {
		case !cl.written:
			next = append(next, cl)
		case !rewindable:
			c.stats.failures.Add(1)
			cl.fail(&ConnError{Op: res.op, Processed: res.err != nil, Err: res.cause()})
		case res.err == nil: // the server closed cleanly: it did not process these
			c.stats.retries.Add(1)
			next = append(next, rewind(cl))
		case idempotent(cl.req.Method) && !cl.retried:
			cl.retried = true
			c.stats.retries.Add(1)
			next = append(next, rewind(cl))
		default:
			c.stats.failures.Add(1)
			cl.fail(&ConnError{Op: res.op, Processed: true, Retried: cl.retried, Err: res.err})
		}
	}
	return next
}

func rewind(cl *call) *call {
	cl.written = false
	if cl.req.GetBody != nil {
		if b, err := cl.req.GetBody(); err == nil {
			cl.req.Body = b
		}
	}
	return cl
}

// idempotent reports whether RFC 9110 section 9.2.2 calls method idempotent.
func idempotent(method string) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// nextBackoff doubles d within [min, max] and adds up to 50% jitter.
func nextBackoff(d, lo, hi time.Duration) time.Duration {
	d = min(max(2*d, lo), hi)
	return d/2 + rand.N(d/2+1)
}
