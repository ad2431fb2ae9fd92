package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// tally is what the clients count together. Its counters and hist are
// safe for concurrent use; mu guards the rest.
type tally struct {
	measuring atomic.Bool // set while the measurement window is open: only then are quotes counted

	lat         hist          // collected_at to arrival
	pulseLat    hist          // the start of the quote's pulse to arrival (see pulseStart)
	pulse       time.Duration // set before the clients start: see pulseStart
	delivered   atomic.Int64  // quotes received in the window
	frames      atomic.Int64  // data frames (websocket messages) received in the window, quotes or not
	frameBytes  atomic.Int64  // their payload bytes
	coalesced   atomic.Int64  // seq numbers skipped in the window
	disconnects atomic.Int64  // connections that ended before tickload closed them
	connectErrs atomic.Int64  // dials or subscriptions that failed
	badMessages atomic.Int64  // messages parseMessage rejected, and "error" messages
	pongs       atomic.Int64  // pongs sent to Centrifugo's pings

	mu sync.Mutex
	// Guarded by mu.
	closeCodes map[string]int // disconnects by close status ("1008", "none": no close frame)
	firstErr   string         // the first connect error, as an example
}

func newTally() *tally { return &tally{closeCodes: make(map[string]int)} }

// pulseStart is when the pulse that collected a quote at collectedAt
// began: collectedAt truncated to t.pulse, the collector's schedule (cron's
// "@every 1s" fires on whole seconds), or collectedAt itself when t.pulse
// is 0 (the Centrifugo publisher stamps its publications as it posts
// them). A quote's latency counts from when it was collected; its pulse
// latency counts the collection too: the time its answer waited on a busy
// server to be read and parsed, which the Centrifugo publisher's stamp
// includes for Centrifugo.
func (t *tally) pulseStart(collectedAt time.Time) time.Time {
	if t.pulse <= 0 {
		return collectedAt
	}
	return collectedAt.Truncate(t.pulse)
}

// frame counts a data frame of n payload bytes read by a client's read
// loop, while the window is open.
func (t *tally) frame(n int) {
	if t.measuring.Load() {
		t.frames.Add(1)
		t.frameBytes.Add(int64(n))
	}
}

func (t *tally) connectError(err error) {
	t.connectErrs.Add(1)
	t.mu.Lock()
	if t.firstErr == "" {
		t.firstErr = err.Error()
	}
	t.mu.Unlock()
}

func (t *tally) disconnect(err error) {
	t.disconnects.Add(1)
	code := "none"
	if s := websocket.CloseStatus(err); s != -1 {
		code = strconv.Itoa(int(s))
	}
	t.mu.Lock()
	t.closeCodes[code]++
	t.mu.Unlock()
}

// loadClient is one websocket client. Its fields are owned by the
// goroutine running run.
type loadClient struct {
	url        string
	http       *http.Client
	centrifugo bool // speak Centrifugo's protocol instead of tickerd's
	symbols    []string
	syms       symbolTable // symbols, and the newest seq seen of each
	buf        []byte      // the message being read, reused
}

func newLoadClient(url string, hc *http.Client, centrifugo bool, symbols []string) *loadClient {
	return &loadClient{url: url, http: hc, centrifugo: centrifugo, symbols: symbols, syms: newSymbolTable(symbols),
		buf: make([]byte, 0, 512)}
}

// run connects and subscribes within connect, calls settled(true) once
// subscribed (or settled(false) after counting a connect error), then
// reads quotes into t until stop ends or the connection breaks. When stop
// ends it closes the connection normally; kill cuts it at once, in case a
// close handshake hangs. It returns once the connection is closed.
func (c *loadClient) run(connect, stop, kill context.Context, t *tally, settled func(ok bool)) {
	var conn *websocket.Conn
	var err error
	if c.centrifugo {
		conn, err = c.connectCentrifugo(connect, t)
	} else {
		conn, err = c.connect(connect, t)
	}
	if err != nil {
		if stop.Err() == nil {
			t.connectError(err)
		}
		settled(false)
		return
	}
	settled(true)

	closed := make(chan struct{})
	// Runs once stop ends: the close handshake (bounded by coder/websocket's
	// own 5s timeouts) makes the Read below return.
	unwatch := context.AfterFunc(stop, func() {
		defer close(closed)
		_ = conn.Close(websocket.StatusNormalClosure, "load test done") // a failed handshake changes nothing here
	})
	// Runs if kill ends while the connection is open: cuts it at once.
	unkill := context.AfterFunc(kill, func() { _ = conn.CloseNow() })
	defer unkill()
	err = c.readLoop(conn, t)
	if unwatch() {
		// stop had not ended: the server or the network ended the
		// connection.
		t.disconnect(err)
		_ = conn.CloseNow()
		return
	}
	<-closed
}

// connect dials, subscribes and waits for the "subscribed" answer, within
// ctx. The server sends the snapshots after that answer; those in the
// same frame are handled as readLoop does.
func (c *loadClient) connect(ctx context.Context, t *tally) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20) // a batch of every subscribed symbol's snapshot
	req := `{"op":"subscribe","symbols":["` + strings.Join(c.symbols, `","`) + `"]}`
	if err := conn.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	for subscribed := false; !subscribed; {
		if err := c.read(ctx, conn); err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		now := time.Now()
		for m, err := range frameMessages(c.buf) {
			switch {
			case err != nil:
				conn.CloseNow()
				return nil, fmt.Errorf("subscribe: %w", err)
			case m.typ == "error":
				conn.CloseNow()
				return nil, fmt.Errorf("subscribe: server answered %s", c.buf)
			case m.typ == "subscribed":
				subscribed = true
			case m.typ == "quote":
				c.quote(m, now, t, true)
			}
		}
	}
	return conn, nil
}

// readLoop reads frames until a read fails, counting quotes into t while
// t.measuring is set (for tickerd, except each symbol's first: its
// snapshot). It returns the read's error.
func (c *loadClient) readLoop(conn *websocket.Conn, t *tally) error {
	// No context: one that can end costs every read a registration, and
	// run ends the reads by closing the connection instead.
	ctx := context.Background()
	for {
		if err := c.read(ctx, conn); err != nil {
			return err
		}
		t.frame(len(c.buf))
		if c.centrifugo {
			if _, err := c.centrifugoFrame(ctx, conn, t); err != nil {
				return err
			}
			continue
		}
		now := time.Now()
		for m, err := range frameMessages(c.buf) {
			switch {
			case err != nil || m.typ == "error":
				t.badMessages.Add(1)
			case m.typ == "quote":
				c.quote(m, now, t, true)
			}
		}
	}
}

// quote counts quote m, received at now, into t while t.measuring is set.
// With snapshots, the first quote of each symbol is the snapshot sent on
// subscribing, as old as the last pulse, and is not counted.
func (c *loadClient) quote(m message, now time.Time, t *tally, snapshots bool) {
	i, ok := c.syms.find(m.symbol)
	if !ok {
		t.badMessages.Add(1)
		return
	}
	e := &c.syms.ents[i]
	last := e.seq
	if (last != 0 || !snapshots) && t.measuring.Load() {
		t.delivered.Add(1)
		t.lat.record(now.Sub(m.collectedAt))
		t.pulseLat.record(now.Sub(t.pulseStart(m.collectedAt)))
		if last != 0 && m.seq > last+1 {
			t.coalesced.Add(int64(m.seq - last - 1))
		}
	}
	e.seq = max(last, m.seq)
}

// read reads one message into c.buf.
func (c *loadClient) read(ctx context.Context, conn *websocket.Conn) error {
	_, r, err := conn.Reader(ctx)
	if err != nil {
		return err
	}
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = append(c.buf, 0)[:len(c.buf)]
		}
		n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// httpClients returns one HTTP client per local address (one using the
// kernel's choice when there is none), for spreading connections over
// source addresses.
func httpClients(localAddrs []net.IP) []*http.Client {
	if len(localAddrs) == 0 {
		localAddrs = []net.IP{nil}
	}
	out := make([]*http.Client, len(localAddrs))
	for i, ip := range localAddrs {
		d := &net.Dialer{Timeout: 30 * time.Second}
		if ip != nil {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
		out[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	return out
}
