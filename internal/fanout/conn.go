package fanout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// readLimit is the largest client message accepted; a larger one closes
// the connection with 1009 (message too big).
const readLimit = 4 << 10

// wsConn is what the Hub uses of a client's *websocket.Conn: reading the
// client's messages and the close handshake. It has no Write or
// Writer, on purpose: the Hub frames its text frames itself, in the
// client's batchConn, and a frame written by coder/websocket's Write
// could cut into one of them. Holding the connection only as a wsConn
// keeps fan-out code from reaching them (TestNoDataWritePath checks that
// nothing of the Hub holds more).
type wsConn interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

var _ wsConn = (*websocket.Conn)(nil)

// acceptOptions are the websocket.AcceptOptions of a client connection.
// Compression is off explicitly, whatever coder/websocket's default: the
// frames the Hub writes by hand are uncompressed (RSV1 clear), which is
// only valid on a connection that negotiated no extension. bc's onPong
// is told of each pong coder/websocket reads (the Hub's pings are its
// own: see client.ping), and its onPing of each ping, which it answers
// only while no close frame is queued.
func acceptOptions(origins []string, bc *batchConn) *websocket.AcceptOptions {
	return &websocket.AcceptOptions{OriginPatterns: origins, CompressionMode: websocket.CompressionDisabled,
		OnPingReceived: bc.onPing, OnPongReceived: bc.onPong}
}

// Causes of a connection's end, mapped to close codes by closeStatus.
var (
	errShutdown  = errors.New("fanout: server shutting down")
	errSlow      = errors.New("fanout: slow consumer")
	errNoPong    = errors.New("fanout: no pong")
	errConnEnded = errors.New("fanout: connection ended")
)

// ServeHTTP upgrades the request to a websocket and returns; the client is
// then served by goroutines of the Hub, which Run waits for, until it
// leaves, is too slow, or Run stops the Hub. Before upgrading it answers
// 503 when MaxClients clients are connected or the Hub has stopped, and
// 403 to a foreign Origin. A query ?symbols=AAPL,MSFT subscribes on
// connect.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		h.m.reject(rejectHandshake)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if reason := h.admit(); reason != "" {
		h.m.reject(reason)
		msg := "too many websocket clients"
		if reason == rejectShutdown {
			msg = "server shutting down"
		}
		w.Header().Set("Retry-After", "5")
		http.Error(w, msg, http.StatusServiceUnavailable)
		return
	}
	served := false
	defer func() {
		// Also when Accept panics: net/http recovers a handler's panic, and
		// Run must not wait for this admission forever.
		if !served {
			h.release()
		}
	}()
	g, q := h.grantOf(r, q) // before the upgrade: the client's auth deadline runs from its 101
	bc := new(batchConn)    // set up by Hijack
	hw := &hijackWriter{ResponseWriter: w, timeout: h.opts.WriteTimeout, sndbuf: h.opts.SendBuffer, conn: bc}
	conn, err := websocket.Accept(hw, r, acceptOptions(h.opts.AllowedOrigins, bc))
	if err != nil { // Accept has answered
		reason := rejectHandshake
		if hw.status == http.StatusForbidden {
			reason = rejectOrigin
		}
		h.m.reject(reason)
		h.log.Debug("websocket upgrade rejected", "remote", r.RemoteAddr, "reason", reason, "error", err)
		return
	}
	// Returning lets net/http drop the request, its buffers and this
	// goroutine's stack: the connection keeps only what serve needs.
	// serve exits once the connection has ended and its other goroutines
	// have exited; it releases the admission, which Run waits for.
	conn.SetReadLimit(readLimit) // behind the batchConn's frame gate, which refuses at the header
	hw.unwrapReader()
	served = true
	remote := r.RemoteAddr
	// Sets up the client, has the poller watch its socket (or starts its
	// reader) and exits. Not in this
	// goroutine: net/http would recover a panic of the Hub's (see the
	// package doc). Not in the reader's either: setting up takes a deep
	// stack, which the reader, living as long as the connection, would
	// keep (see serve).
	go func() {
		ctx, c, disarm := h.start(conn, bc, remote, q, g)
		if !h.watchReads(ctx, c, disarm) {
			go h.serve(ctx, c, disarm) // exits once the connection has ended (see serve)
		}
	}()
}

// admit counts a new connection against MaxClients; it returns the reason
// to reject it, or "" after counting it (undone by release).
func (h *Hub) admit() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.state == stateStopped:
		return rejectShutdown
	case h.admitted >= h.opts.MaxClients:
		return rejectCapacity
	}
	h.admitted++
	h.conns.Add(1) // before Run's Wait: Run sets stateStopped under mu first
	return ""
}

func (h *Hub) release() {
	h.mu.Lock()
	h.admitted--
	h.mu.Unlock()
	h.conns.Done()
}

// serve runs one client, set up by start, in the connection's reader
// goroutine, where the poller does not watch it (watchReads). It reads
// and carries out the client's messages until the connection ends; the
// Hub's writers send its outbox; timers ping the
// client and catch writes not taken within WriteTimeout; once anything
// stops the connection, a closer closes it with the matching code. Then
// serve waits for all of them and unregisters the client.
//
// The goroutine lives as long as the connection, and what it holds most
// of that time is its stack: it reads each message on a fresh one
// (readLoop), so that its own stays at the 2 KiB a goroutine starts with.
func (h *Hub) serve(ctx context.Context, c *client, disarm func()) {
	defer h.release()
	c.readLoop(ctx) // returns once the connection has ended, or on stop while ctrl is full
	h.end(c, disarm)
}

// start sets up the client of a connection just upgraded: it registers
// it, subscribes it to what the query asks for, and arms its first ping
// and its grant's expiry (disarmed by calling disarm). The returned ctx
// ends once the client is stopped (c.stop), which also starts its closer.
//
// ctx is what the client's goroutines wait on. Socket operations get no
// context that ends: coder/websocket would drop the connection without a
// close frame, and it costs every Read a registration. A connection that
// must be cut is closed with CloseNow instead.
func (h *Hub) start(conn wsConn, bc *batchConn, remote string, q query, g Grant) (ctx context.Context, c *client, disarm func()) {
	ctx, cancel := context.WithCancel(context.Background())
	begun := time.Now()
	c = newClient(h, conn, bc, remote, q.batch, func(cause error) {
		won := c.stopping.CompareAndSwap(false, true)
		cancel()
		if won {
			// Exits when the close handshake is over or cut off after
			// the close grace period. Started by the first stop, which
			// Hub.end makes at the latest; counted in bg from the start.
			go c.closer(cause, begun)
		}
	}, ctx.Done())
	c.grant = g
	c.bg.Add(1) // the closer's
	disarm = c.watchExpiry()

	if h.register(c) {
		if len(q.symbols) > 0 || q.since != nil {
			c.run(ctx, func() *pendingSub {
				req, werr := q.request(h.opts.MaxSymbolsPerClient, h.opts.NormalizeSymbol)
				if werr != nil {
					c.replyError(werr)
					return nil
				}
				return h.handle(c, req)
			})
		}
	} else {
		c.stop(errShutdown)
	}
	h.log.Debug("websocket client connected", "remote", remote)
	c.startPing()
	return ctx, c, disarm
}

// closer closes c's connection with the code of cause, the first cause c
// was stopped with; begun is when c connected.
func (c *client) closer(cause error, begun time.Time) {
	defer c.bg.Done()
	h := c.h
	grace := closeGrace(h.opts.WriteTimeout)
	if errors.Is(cause, errSlow) {
		h.m.slowDisconnect()
		h.log.Warn("websocket client too slow: disconnecting", "remote", c.remote, "write_timeout", h.opts.WriteTimeout)
		// Room for the close frame behind what the socket holds, and
		// a short wait for an answer that will hardly come.
		c.bc.makeRoom()
		grace = slowCloseGrace
	}
	code, reason := closeStatus(cause, h.opts.WriteTimeout)
	c.sendFarewell(cause) // an error message the close must follow, if any
	c.close(code, reason, grace)
	h.log.Debug("websocket client disconnected", "remote", c.remote, "cause", cause, "duration", time.Since(begun))
}

// end tears c down once its reader has returned: it stops c (a no-op,
// unless readLoop returned on stop), waits for the rest of c's work and
// unregisters c; then disarm disarms the grant's expiry.
func (h *Hub) end(c *client, disarm func()) {
	c.stop(errConnEnded) // a no-op: readLoop has stopped the connection, or returned because it was
	c.mu.Lock()
	c.done = true // no writer or ping starts any more
	c.mu.Unlock()
	if c.pingT.Stop() {
		c.bg.Done() // the ping armed will not run
	}
	c.bg.Wait()
	_ = c.conn.CloseNow() // closed already, unless readLoop returned on stop: then the closer has given up
	h.unregister(c)
	disarm()
}

// startPing arms the first ping.
func (c *client) startPing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bg.Add(1)
	// Runs every PingInterval until the connection is torn down; each run
	// exits once its ping is answered or has failed.
	c.pingT = time.AfterFunc(c.h.opts.PingInterval, c.ping)
}

// ping runs every PingInterval: it ends the connection with errNoPong if
// the ping it sent last time has not been answered, and sends the next
// one. Any pong received since counts as the answer (the Hub's pings are
// all alike: no payload). The pings are the Hub's own, not
// coder/websocket's Ping, whose pong only a reader blocked in
// coder/websocket could take: the reader waits for the socket instead
// (waitReadable), and counts the pongs it finds there. A ping's write
// blocks like a close frame's, within WriteTimeout.
func (c *client) ping() {
	defer c.bg.Done()
	every := c.h.opts.PingInterval
	c.mu.Lock()
	waiting, before := c.pingSent, c.pongsBefore
	c.mu.Unlock()
	if waiting && c.bc.pongs.Load() == before {
		c.stop(fmt.Errorf("%w: none within %v", errNoPong, every))
		return
	}
	before, err := c.bc.ping()
	if err != nil {
		c.stop(fmt.Errorf("%w: ping: %w", errNoPong, err))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pingSent, c.pongsBefore = true, before
	if !c.done {
		c.bg.Add(1)
		c.pingT.Reset(every)
	}
}

// close closes the connection with code and reason. A peer that does not
// take the close frame and answer within grace is cut off with CloseNow.
func (c *client) close(code websocket.StatusCode, reason string, grace time.Duration) {
	done := make(chan struct{})
	// Exits when Close returns: on the peer's answer, or once CloseNow has
	// dropped the connection (and within coder/websocket's own 5s
	// timeouts anyway).
	go func() {
		defer close(done)
		_ = c.conn.Close(code, reason) // the cause was logged; a failed close handshake is expected with a dead peer
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		// A dead peer. conn.CloseNow would wait for Close, which waits
		// 5s for the peer's answer: closing the socket ends that wait.
		_ = c.bc.Conn.Close() // nothing to report
		<-done
	}
}

// slowCloseGrace is how long a client disconnected for not reading has to
// answer the close: its socket is cut at most WriteTimeout +
// slowCloseGrace after it stopped taking bytes.
const slowCloseGrace = time.Second

// closeGrace is how long a peer has to answer a close: WriteTimeout, but
// at least 1s and at most 5s (coder/websocket's own close timeout).
func closeGrace(writeTimeout time.Duration) time.Duration {
	return min(max(writeTimeout, time.Second), 5*time.Second)
}

// closeStatus maps the cause of a connection's end to a close code.
func closeStatus(cause error, writeTimeout time.Duration) (websocket.StatusCode, string) {
	if reason, ok := authCloseReason(cause); ok {
		return websocket.StatusPolicyViolation, reason
	}
	switch {
	case errors.Is(cause, errShutdown):
		return websocket.StatusGoingAway, "server shutting down"
	case errors.Is(cause, errSlow):
		return websocket.StatusPolicyViolation, "slow consumer: socket took nothing for " + writeTimeout.String()
	case errors.Is(cause, errNoPong):
		return websocket.StatusPolicyViolation, "ping not answered"
	case errors.Is(cause, errTooBig):
		return websocket.StatusMessageTooBig, fmt.Sprintf("message too big: the limit is %d bytes", readLimit)
	}
	return websocket.StatusNormalClosure, ""
}

// readLoop reads the client's messages and carries them out, one at a
// time. It returns when a Read fails (the connection closed, or a message
// past readLimit), or when stop ends while it waits for ctrl to have room.
//
// Between messages it waits for the socket (waitReadable) on a shallow
// stack; each message is read and carried out on a fresh one (readOne):
// coder/websocket's reader takes several KiB of stack, which an idle
// client would otherwise hold for as long as it is connected.
func (c *client) readLoop(stopCtx context.Context) {
	lim := newBucket(c.h.opts.OpsPerSecond)
	for {
		c.bc.waitReadable()
		var done bool
		onFreshStack(func() { done = c.readOne(stopCtx, &lim) })
		if done {
			return
		}
	}
}

// readOne reads one message and carries it out, as far as lim allows. It
// reports true when the reader must stop: the Read failed, or stop ended
// while it waited for ctrl to have room.
func (c *client) readOne(stopCtx context.Context, lim *bucket) (done bool) {
	typ, data, err := c.conn.Read(context.Background())
	if err != nil {
		c.stop(fmt.Errorf("%w: read: %w", errConnEnded, err))
		return true
	}
	if err := c.waitRoom(stopCtx); err != nil {
		return true
	}
	if !lim.allow(c.h.now()) {
		c.replyError(newError(CodeRateLimited, "too many messages: the limit is "+
			fmt.Sprint(c.h.opts.OpsPerSecond)+" per second; this one was ignored"))
		return false
	}
	c.submit(stopCtx, message{typ, data})
	return false
}

// onFreshStack runs f in a goroutine of its own and waits for it. The
// reader, which lives as long as its connection, thus keeps the 2 KiB
// stack a goroutine starts with: reading a message, decoding a request
// and subscribing take several KiB more, which a goroutine that exits
// gives back at once. With many clients that is a large share of their
// memory.
func onFreshStack(f func()) {
	done := make(chan struct{})
	// Exits when f returns.
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// query is what a client asks for in the upgrade request's query.
type query struct {
	symbols []string // ?symbols=AAPL,MSFT: subscribe on connect
	since   []string // ?since=<JSON>: the subscribe's since, unchecked (request checks it)
	batch   bool     // ?batch=1: every frame a JSON array of messages
}

// parseQuery reads the upgrade request's query; an error is the client's
// (HTTP 400). The symbols and since are checked once connected, like a
// subscribe message: their errors are error messages.
func parseQuery(v url.Values) (query, error) {
	q := query{symbols: splitSymbols(v["symbols"]), since: v["since"]}
	switch b := v.Get("batch"); b {
	case "", "0", "false":
	case "1", "true":
		q.batch = true
	default:
		return query{}, fmt.Errorf("batch=%s: want 1 or 0", shortQuote(b))
	}
	return q, nil
}

// request returns the subscribe that the query asks for on connect: its
// symbols, and since (at most one, of at most readLimit bytes, like a
// message), or the error to send the client.
func (q query) request(maxSyms int, norm normalizer) (request, *wireError) {
	req := request{Op: opSubscribe, Symbols: q.symbols}
	switch {
	case len(q.since) > 1:
		return request{}, newError(CodeBadRequest, "since given "+fmt.Sprint(len(q.since))+" times: want it once")
	case len(q.since) == 1 && len(q.since[0]) > readLimit:
		return request{}, newError(CodeBadRequest, "since: longer than "+fmt.Sprint(readLimit)+" bytes")
	case len(q.symbols) == 0:
		return request{}, newError(CodeBadRequest, "since without symbols: want ?symbols=AAPL,MSFT&since=...")
	case len(q.since) == 1:
		s, werr := parseSince([]byte(q.since[0]), maxSyms, norm)
		if werr != nil {
			return request{}, werr
		}
		req.since = s
	}
	return req, nil
}

// splitSymbols splits the values of ?symbols= at commas, dropping empty
// items.
func splitSymbols(vals []string) []string {
	var out []string
	for _, v := range vals {
		for s := range strings.SplitSeq(v, ",") {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
