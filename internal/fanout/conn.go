package fanout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// readLimit is the largest client message accepted; a larger one closes
// the connection with 1009 (message too big).
const readLimit = 4 << 10

// Causes of a connection's end, mapped to close codes by closeStatus.
var (
	errShutdown  = errors.New("fanout: server shutting down")
	errSlow      = errors.New("fanout: slow consumer")
	errNoPong    = errors.New("fanout: no pong")
	errConnEnded = errors.New("fanout: connection ended")
)

// ServeHTTP upgrades the request to a websocket and serves the client
// until it leaves, is too slow, or Run stops the Hub. Before upgrading it
// answers 503 when MaxClients clients are connected or the Hub has
// stopped, and 403 to a foreign Origin. A query ?symbols=AAPL,MSFT
// subscribes on connect.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	defer h.release()
	sw := &statusWriter{ResponseWriter: w}
	conn, err := websocket.Accept(sw, r, &websocket.AcceptOptions{OriginPatterns: h.opts.AllowedOrigins})
	if err != nil { // Accept has answered
		reason := rejectHandshake
		if sw.status == http.StatusForbidden {
			reason = rejectOrigin
		}
		h.m.reject(reason)
		h.log.Debug("websocket upgrade rejected", "remote", r.RemoteAddr, "reason", reason, "error", err)
		return
	}
	h.serve(conn, r.RemoteAddr, splitSymbols(r.URL.Query()["symbols"]))
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

// serve runs one client: it is the connection's supervisor. It starts the
// reader, writer and pinger, watches the writer for frames not taken
// within WriteTimeout, and when anything ends the connection closes it with
// the matching code and waits for all three.
//
// Two contexts: stop (cancelled with the cause of the end) is what the
// goroutines wait on; io bounds the socket operations and is cancelled only
// after the close handshake, because coder/websocket drops the connection
// without a close frame when the context of a Read or Write ends.
func (h *Hub) serve(conn *websocket.Conn, remote string, initial []string) {
	conn.SetReadLimit(readLimit)
	stopCtx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	ioCtx, ioCancel := context.WithCancel(context.Background())
	defer ioCancel()
	c := newClient(h, conn, remote, stop)
	if h.register(c) {
		if len(initial) > 0 {
			if werr := h.subscribe(c, initial); werr != nil {
				c.replyError(werr)
			}
		}
	} else {
		stop(errShutdown)
	}
	start := time.Now()
	h.log.Debug("websocket client connected", "remote", remote)

	var wg sync.WaitGroup
	wg.Go(func() { c.readLoop(stopCtx, ioCtx) })  // exits when Read fails (the connection closed), or on stop while ctrl is full
	wg.Go(func() { c.writeLoop(stopCtx, ioCtx) }) // exits on stop, or when a Write fails
	wg.Go(func() { c.pingLoop(stopCtx, ioCtx) })  // exits on stop, or when a ping fails
	cause := c.supervise(stopCtx)
	if errors.Is(cause, errSlow) {
		h.m.slowDisconnect()
		h.log.Warn("websocket client too slow: disconnecting", "remote", remote, "write_timeout", h.opts.WriteTimeout)
	}
	code, reason := closeStatus(cause, h.opts.WriteTimeout)
	c.close(code, reason, ioCancel)
	ioCancel()
	wg.Wait()
	h.unregister(c)
	h.log.Debug("websocket client disconnected", "remote", remote, "cause", cause, "duration", time.Since(start))
}

// supervise returns the cause of the connection's end: whatever stopped it,
// or errSlow once a frame write has not returned within WriteTimeout. It
// wakes once per WriteTimeout while the writer is busy, and not at all
// while it is idle.
func (c *client) supervise(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		n, err := c.startedR.Recv(ctx) // the newest write begun, at or before now
		if err != nil {
			return context.Cause(ctx)
		}
		t.Reset(c.h.opts.WriteTimeout)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
		if c.finished.Load() < n {
			c.stop(errSlow)
			return context.Cause(ctx)
		}
	}
}

// close closes the connection with code and reason. A peer that does not
// take the close frame and answer within the close grace period is cut
// off: ioCancel makes coder/websocket drop the connection.
func (c *client) close(code websocket.StatusCode, reason string, ioCancel context.CancelFunc) {
	done := make(chan struct{})
	// Exits when Close returns: on the peer's answer, or once ioCancel
	// has dropped the connection (bounded by coder/websocket's own 5s
	// timeouts when no Read or Write is in flight).
	go func() {
		defer close(done)
		_ = c.conn.Close(code, reason) // the cause was logged; a failed close handshake is expected with a dead peer
	}()
	t := time.NewTimer(closeGrace(c.h.opts.WriteTimeout))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		ioCancel()
		<-done
	}
}

// closeGrace is how long a peer has to answer a close: WriteTimeout, but
// at least 1s and at most 5s (coder/websocket's own close timeout).
func closeGrace(writeTimeout time.Duration) time.Duration {
	return min(max(writeTimeout, time.Second), 5*time.Second)
}

// closeStatus maps the cause of a connection's end to a close code.
func closeStatus(cause error, writeTimeout time.Duration) (websocket.StatusCode, string) {
	switch {
	case errors.Is(cause, errShutdown):
		return websocket.StatusGoingAway, "server shutting down"
	case errors.Is(cause, errSlow):
		return websocket.StatusPolicyViolation, "slow consumer: a message was not taken within " + writeTimeout.String()
	case errors.Is(cause, errNoPong):
		return websocket.StatusPolicyViolation, "ping not answered"
	}
	return websocket.StatusNormalClosure, ""
}

// readLoop reads the client's messages and carries them out, one at a
// time. It returns when a Read fails (the connection closed, or a message
// past readLimit), or when stop ends while it waits for ctrl to have room.
func (c *client) readLoop(stopCtx, ioCtx context.Context) {
	lim := newBucket(c.h.opts.OpsPerSecond)
	for {
		typ, data, err := c.conn.Read(ioCtx)
		if err != nil {
			c.stop(fmt.Errorf("%w: read: %w", errConnEnded, err))
			return
		}
		if err := c.waitRoom(stopCtx); err != nil {
			return
		}
		switch {
		case !lim.allow(c.h.now()):
			c.replyError(newError(CodeRateLimited, "too many messages: the limit is "+
				fmt.Sprint(c.h.opts.OpsPerSecond)+" per second; this one was ignored"))
		case typ != websocket.MessageText:
			c.replyError(newError(CodeBadRequest, "binary messages are not supported: send JSON text"))
		default:
			req, werr := parseRequest(data)
			if werr != nil {
				c.replyError(werr)
				continue
			}
			c.h.handle(c, req)
		}
	}
}

// writeLoop sends the outbox, one frame per message. It returns when stop
// ends (even with frames left) or a Write fails.
func (c *client) writeLoop(stopCtx, ioCtx context.Context) {
	var buf [2]frame
	var n uint64 // frame writes begun
	for stopCtx.Err() == nil {
		frames := c.next(&buf)
		if len(frames) == 0 {
			if _, err := c.wakeR.Recv(stopCtx); err != nil {
				return
			}
			continue
		}
		for _, f := range frames {
			n++
			_ = c.startedS.TrySend(n) // a State: never blocks
			err := c.conn.Write(ioCtx, websocket.MessageText, f.b)
			c.finished.Store(n)
			if err != nil {
				c.stop(fmt.Errorf("%w: write: %w", errConnEnded, err))
				return
			}
			c.h.m.sent(f.kind, len(f.b))
		}
	}
}

// pingLoop pings the client every PingInterval; a ping not answered within
// PingInterval ends the connection. It returns on stop or a failed ping.
func (c *client) pingLoop(stopCtx, ioCtx context.Context) {
	every := c.h.opts.PingInterval
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stopCtx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(ioCtx, every)
		err := c.conn.Ping(ctx)
		cancel()
		if err != nil {
			c.stop(fmt.Errorf("%w: %w", errNoPong, err))
			return
		}
	}
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

// statusWriter records the status code written, so ServeHTTP can tell why
// websocket.Accept refused. Unwrap lets Accept find the Hijacker.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
