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
	MaxInFlight int           // requests written and unanswered at once; 0 means 64
	DialTimeout time.Duration // 0 means 5s
	// ResponseTimeout bounds how long the response at the head of the line
	// may take to arrive, counted from when it became the head (the
	// response before it was finished) to the end of its head, any 1xx
	// responses included; 0 means 30s. Every request behind it waits that
	// long, so keep it well below the callers' own timeouts: a hung
	// answer then costs its own request, and the ones behind it are sent
	// again in time.
	ResponseTimeout time.Duration
	// BodyTimeout bounds how long a response body may hold the
	// connection, from its head to its end (read by the caller, or closed
	// and drained); 0 means ResponseTimeout.
	BodyTimeout    time.Duration
	MinBackoff     time.Duration // first wait after a failed dial; 0 means 50ms
	MaxBackoff     time.Duration // cap of the doubling wait; 0 means 5s
	DrainLimit     int64         // bytes of an early-closed body the client discards; 0 means 256 KiB
	MaxHeaderBytes int64         // response head size limit; 0 means 1 MiB
	TLSConfig      *tls.Config   // for https origins; ServerName defaults to the origin's host

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
	def(&v.BodyTimeout, v.ResponseTimeout)
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
// Failures are reported by how far the request got (see ConnError). When
// the connection dies, requests not yet answered fail with a *ConnError,
// except that those the server cannot have processed (none of them, or
// not all of it, went out) are sent again on the next connection, and so
// are idempotent ones, once. Requests left unanswered by a server that
// announced Connection: close are all sent again. After a reconnect the
// first request is sent alone, and pipelining resumes once it is answered.
//
// The response at the head of the line holds every request behind it, so
// it is held to account: if its head has not arrived within
// ResponseTimeout, or its body is not finished within BodyTimeout, or its
// caller gives up before the rest of it has arrived, the client resets the
// connection. That request fails (ErrResponseTimeout, Processed true, not
// sent again: it would hold up the next connection just the same), or its
// body's reads fail (ErrBodyTimeout); the requests behind it are sent
// again on a new connection whether or not they were retried before, if
// they are idempotent and their bodies can be rewound. So a hung answer
// costs one request, not all. A server that sends bytes while no request
// is outstanding, more than five 1xx responses to one request, or a 101 to
// a request that did not ask for an upgrade, gets its connection reset
// (ErrProtocol); Reset does the same for a misalignment only the caller
// can see.
//
// A request whose body fails (its Read returns an error, it is shorter
// than its ContentLength, or its caller gives up while it is being
// written) fails with a *ConnError that wraps ErrRequestBody and the
// body's error, Processed false. If none of it had gone out, the
// connection carries on; otherwise nothing more is written on it, the
// responses owed for the requests written before it are read, and the
// requests behind it go, as never written, to a new connection.
//
// A request with an Upgrade header is the last written on its connection.
// If it is answered with 101 Switching Protocols, the connection is handed
// to its caller, as net/http does: the response Body is an
// io.ReadWriteCloser over the connection, which the caller now owns and
// must close, and later requests go on a new connection.
type Client struct {
	origin *url.URL
	addr   string
	opts   Options
	hub    vanilla.Hub

	queue *vanilla.Sender[*call] // a Router from the callers of Do to the manager; closed by Shutdown
	calls *vanilla.Recver[*call] // read by the manager and the connection's writer loop

	current atomic.Pointer[conn] // the connection in use, set by runConn; for Reset

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
	// Resets counts connections the client reset itself: the head of the
	// line late or abandoned, a protocol error, or Reset.
	Resets    uint64
	Connected bool // a connection is open now
}

type counters struct {
	requests, dials, dialErrors, connErrors, retries, failures, drainResets, resets atomic.Uint64
	inFlight                                                                        atomic.Int64
	connected                                                                       atomic.Bool
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
	req  *http.Request
	gone <-chan struct{} // the caller's ctx.Done(): closed when it has given up
	resp *vanilla.Sender[*http.Response]

	// Set by the writer loop of the connection the request is on, read by
	// the manager once that connection is done.
	start, end int64 // its bytes' place in the connection's stream; -1 until written (end: written whole)
	aborted    bool  // its own body failed, and its caller was told

	// Owned by the manager (and read by writer loops it starts after).
	processed bool // it went out whole on a connection that did not answer it
	retried   bool // it used up its one retry after a failure that may have been its own
}

// abandoned reports whether cl's caller has given up, or is about to:
// its context is done, or its deadline has passed (on the monotonic clock)
// though the timer that ends the context has not fired yet, as right after
// the process was frozen (SIGSTOP) past it. Such a request is never
// written: a cluster leader frozen past its lease sends nothing when it
// thaws.
func (cl *call) abandoned() bool {
	select {
	case <-cl.gone:
		return true
	default:
	}
	d, ok := cl.req.Context().Deadline()
	return ok && !time.Now().Before(d)
}

// fail delivers err to the caller, unless it has already given up.
func (cl *call) fail(err error) { cl.resp.CloseWithError(err) }

// Do sends req and returns its response once the status line and headers
// have arrived. req.URL may be a bare path or an absolute URL of the
// client's origin. If ctx ends while req is still queued, it is never
// written; if it ends later, Do returns at once and the client discards
// the response, or resets the connection if the response would otherwise
// hold up the requests behind it. The request body, if any, is closed by
// the client once written, even on errors.
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	if req.URL.Host != "" && (req.URL.Host != c.origin.Host || req.URL.Scheme != c.origin.Scheme) {
		// Scheme and host only: the path and query may hold credentials.
		return nil, fmt.Errorf("%w: %s://%s", ErrWrongOrigin, req.URL.Scheme, req.URL.Host)
	}
	if req.ContentLength != 0 && req.Body == nil {
		return nil, fmt.Errorf("httpx: request with ContentLength %d and no Body", req.ContentLength)
	}
	r := req.Clone(ctx)
	r.URL.Scheme, r.URL.Host = c.origin.Scheme, c.origin.Host
	if r.Host == "" {
		r.Host = c.origin.Host
	}
	s, rr := vanilla.NewPipe[*http.Response]()
	defer rr.Close() // after a response was taken this does nothing; else it abandons it
	cl := &call{req: r, gone: ctx.Done(), resp: s, start: -1, end: -1}
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

// Reset resets the connection in use, with cause, once it has answered
// something. It is for a caller that sees from an answer what the client
// cannot: that the stream is misaligned (the answer is for another
// request), so every later answer on that connection would be shifted
// too. A connection that has answered nothing cannot have given that
// answer, so a Reset that comes after the bad connection was already
// replaced leaves the new one alone while it warms up (its first request
// goes alone), and many callers resetting for the same misalignment cost
// one reset.
//
// Requests written on the reset connection and not answered are sent
// again on a new one by the usual rules (idempotent, and not already
// retried); the others fail with a *ConnError wrapping cause, and a
// response body still being read from it fails too. Reset does not wait
// for the reset to happen. A connection handed over by a 101 belongs to
// its caller and is never reset.
//
//	resp, err := c.Do(ctx, req)
//	...
//	if q.Symbol != sym { // the answer is for another request
//		c.Reset(fmt.Errorf("answer for %s to a request for %s", q.Symbol, sym))
//	}
func (c *Client) Reset(cause error) {
	if cause == nil {
		cause = errors.New("no cause given")
	}
	if cn := c.current.Load(); cn != nil && cn.answered.Load() {
		cn.fail(fmt.Errorf("%w: %w", errReset, cause))
	}
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
		Resets:      c.stats.resets.Load(),
		Connected:   c.stats.connected.Load(),
	}
}

// Shutdown stops the client the way a pipeline should stop: new requests
// get ErrClientClosed, queued requests that were never written are
// discarded (their callers get ErrClientClosed), the request being written
// is finished, outstanding responses are read and handed to their callers,
// and the connection is closed. It waits for that, or until ctx ends: then
// it closes everything at once, as Close does, and returns promptly with
// an error wrapping ctx.Err() (and context.Cause(ctx) if that differs),
// whatever the server does.
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
		err, cause := ctx.Err(), context.Cause(ctx)
		if cause != err {
			return fmt.Errorf("httpx: shutdown cut short, connection closed: %w: %w", err, cause)
		}
		return fmt.Errorf("httpx: shutdown cut short, connection closed: %w", err)
	}
}

// Close closes the client at once: every request queued or in flight fails
// with ErrClientClosed and the connection is closed. It returns when every
// goroutine of the client has exited, but one: a request body's Read that
// ignores Close is not waited for (nothing can end it), and the goroutine
// doing it exits as soon as it returns.
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
				cl.fail(&ConnError{Op: "dial", Processed: cl.processed, Retried: cl.retried, Err: err})
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
		case res.err != nil && !res.blamed:
			// The connection failed before answering anything: the
			// origin may be down. A late or broken answer is that
			// request's problem, not the origin's.
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
		if c.dropped(ctx, cl) {
			continue
		}
		whole := cl.end >= 0 && cl.end <= res.flushed
		if whole && res.err != nil { // after a clean close the server processed none of these
			cl.processed = true
		}
		switch {
		case cl == res.culprit:
			// The head of the line was late or broke the protocol: sent
			// again, it would hold up the next connection just the same.
			c.stats.failures.Add(1)
			cl.fail(&ConnError{Op: res.op, Processed: cl.processed, Retried: cl.retried, Err: res.err})
		case !whole: // not all of it went out: the server cannot have processed it
			c.resend(&next, cl, false, res)
		case res.err == nil: // the server closed cleanly: it did not process these
			c.resend(&next, cl, false, res)
		case res.blamed && idempotent(cl.req.Method):
			// A bystander of the head of the line: its retry is not used up.
			c.resend(&next, cl, false, res)
		case idempotent(cl.req.Method) && !cl.retried:
			c.resend(&next, cl, true, res)
		default:
			c.stats.failures.Add(1)
			cl.fail(&ConnError{Op: res.op, Processed: true, Retried: cl.retried, Err: res.err})
		}
	}
	for _, cl := range res.unwritten {
		if c.dropped(ctx, cl) {
			continue
		}
		if cl.start < 0 {
			next = append(next, cl) // never touched
			continue
		}
		// Written to the buffer, but none of it went out: not a retry,
		// but its body was read.
		if err := c.rewind(cl, res); err != nil {
			c.stats.failures.Add(1)
			cl.fail(err)
			continue
		}
		next = append(next, cl)
	}
	return next
}

// dropped reports whether cl needs nothing more: its body failed (its
// caller knows), its caller gave up, or the client is closing (then its
// caller is told).
func (c *Client) dropped(ctx context.Context, cl *call) bool {
	if cl.aborted {
		return true
	}
	select {
	case <-cl.gone:
		return true
	default:
	}
	if ctx.Err() != nil {
		cl.fail(ErrClientClosed)
		return true
	}
	return false
}

// resend puts cl on next for the next connection, its body rewound;
// counted says it uses up its one retry. A request whose body cannot be
// rewound fails instead.
func (c *Client) resend(next *[]*call, cl *call, counted bool, res connResult) {
	if err := c.rewind(cl, res); err != nil {
		c.stats.failures.Add(1)
		cl.fail(err)
		return
	}
	if counted {
		cl.retried = true
	}
	c.stats.retries.Add(1)
	*next = append(*next, cl)
}

// rewind readies cl to be written again, with a fresh body from GetBody.
func (c *Client) rewind(cl *call, res connResult) error {
	cl.start, cl.end = -1, -1
	req := cl.req
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	if req.GetBody == nil {
		return &ConnError{Op: res.op, Processed: cl.processed, Retried: cl.retried, Err: res.cause()}
	}
	b, err := req.GetBody()
	if err != nil {
		return &ConnError{Op: "write", Processed: cl.processed, Retried: cl.retried,
			Err: fmt.Errorf("%w: rewind for another connection: %w", ErrRequestBody, err)}
	}
	req.Body = b
	return nil
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
