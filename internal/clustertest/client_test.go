//go:build cluster && unix

package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// recvQuote is one quote a client received.
type recvQuote struct {
	symbol      string
	seq         uint64
	price       float64
	collectedAt string    // as sent: identical snapshots have identical strings
	received    time.Time // when the client read it
}

// collected returns q's collected_at, or the zero time if unparsable.
func (q recvQuote) collected() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, q.collectedAt)
	return t
}

// recvStatus is one "status" message a client received.
type recvStatus struct {
	symbol   string
	stale    bool
	received time.Time
}

// serverMessage is the part of a server message the test reads.
type serverMessage struct {
	Type        string   `json:"type"`
	Symbol      string   `json:"symbol"`
	Seq         uint64   `json:"seq"`
	Price       float64  `json:"price"`
	CollectedAt string   `json:"collected_at"`
	Epoch       string   `json:"epoch"`
	Stale       bool     `json:"stale"`
	Code        string   `json:"code"`
	Message     string   `json:"message"`
	Symbols     []string `json:"symbols"`
}

// notifier wakes waiters whenever any client records a message. It is
// safe for concurrent use.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

// wait returns a channel closed at the next notify.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.ch)
	n.ch = make(chan struct{})
}

// wsClient is a websocket client of one instance that records every
// message it reads. Its methods are safe for concurrent use; close stops
// its reader goroutine and waits for it.
type wsClient struct {
	inst string
	conn *websocket.Conn
	n    *notifier
	done chan struct{} // closed when the reader has stopped

	mu         sync.Mutex
	quotes     []recvQuote
	epochs     []string // of each "subscribed" message
	subRaw     []byte   // the first "subscribed" message as sent
	resets     int      // "reset" messages
	resetFirst bool     // a reset came before any quote
	statuses   []recvStatus
	errs       []string // "error" messages
	unknown    []string // symbols of "unknown_symbol" errors
	lastSubs   []string // symbols of the latest "subscribed"
	readErr    error    // why the reader stopped
	disconnect time.Time
}

// dialClient connects to inst's /ws, subscribes to symbols and waits for
// the "subscribed" reply. The client is closed at cleanup.
func dialClient(ctx context.Context, t *testing.T, inst *instance, symbols []string, n *notifier) *wsClient {
	t.Helper()
	sub, _ := json.Marshal(map[string]any{"op": "subscribe", "symbols": symbols})
	return dialClientWith(ctx, t, inst, sub, n)
}

// dialClientWith is dialClient with the subscribe message sub.
func dialClientWith(ctx context.Context, t *testing.T, inst *instance, sub []byte, n *notifier) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := "ws://" + hostPort(inst.port) + "/ws"
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("websocket.Dial(%s) = %v, want a connection", url, err)
	}
	c := &wsClient{inst: inst.id, conn: conn, n: n, done: make(chan struct{})}
	// Exits when a read fails: the connection closed by close or by the
	// server.
	go c.read()
	t.Cleanup(c.close)
	if err := conn.Write(ctx, websocket.MessageText, sub); err != nil {
		t.Fatalf("Write(%s) on %s = %v, want nil", sub, inst.id, err)
	}
	for {
		if c.subscribed() {
			return c
		}
		select {
		case <-n.wait():
		case <-c.done:
			t.Fatalf("client of %s: connection ended before subscribed: %v", inst.id, c.err())
		case <-ctx.Done():
			t.Fatalf("client of %s: no subscribed reply within 10s", inst.id)
		}
	}
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		now := time.Now()
		if err != nil {
			c.mu.Lock()
			c.readErr, c.disconnect = err, now
			c.mu.Unlock()
			c.n.notify()
			return
		}
		var m serverMessage
		if err := json.Unmarshal(data, &m); err != nil {
			c.mu.Lock()
			c.errs = append(c.errs, fmt.Sprintf("unparsable message %q: %v", data, err))
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		switch m.Type {
		case "quote":
			c.quotes = append(c.quotes, recvQuote{m.Symbol, m.Seq, m.Price, m.CollectedAt, now})
		case "subscribed":
			if c.epochs == nil {
				c.subRaw = data
			}
			c.epochs = append(c.epochs, m.Epoch)
			c.lastSubs = m.Symbols
		case "status":
			c.statuses = append(c.statuses, recvStatus{m.Symbol, m.Stale, now})
		case "reset":
			c.resets++
			if len(c.quotes) == 0 {
				c.resetFirst = true
			}
		case "error":
			if m.Code == "unknown_symbol" {
				c.unknown = append(c.unknown, m.Symbols...)
			} else {
				c.errs = append(c.errs, m.Code+": "+m.Message)
			}
		}
		c.mu.Unlock()
		c.n.notify()
	}
}

// close closes the connection and waits for the reader.
func (c *wsClient) close() {
	c.conn.CloseNow()
	<-c.done
}

func (c *wsClient) subscribed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.epochs) > 0
}

// connected reports whether the reader still runs.
func (c *wsClient) connected() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

func (c *wsClient) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// snapshot returns a copy of the quotes so far, the number of resets and
// the error messages.
func (c *wsClient) snapshot() (quotes []recvQuote, resets int, errs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]recvQuote(nil), c.quotes...), c.resets, append([]string(nil), c.errs...)
}

// stale returns, per symbol, whether the latest status message said
// stale, and when it arrived.
func (c *wsClient) stale() map[string]recvStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]recvStatus)
	for _, st := range c.statuses {
		out[st.symbol] = st
	}
	return out
}

// subRawCopy returns the first "subscribed" message as sent.
func (c *wsClient) subRawCopy() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.subRaw)
}

// subscription returns the symbols of the latest "subscribed" and of
// every unknown_symbol error so far.
func (c *wsClient) subscription() (subs, unknown []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lastSubs...), append([]string(nil), c.unknown...)
}

// epoch returns the epoch of the first "subscribed" reply.
func (c *wsClient) epoch() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.epochs) == 0 {
		return ""
	}
	return c.epochs[0]
}

// waitQuote waits until some client in cs has a quote for which ok is
// true, and returns the first such quote (by receive time) and its client.
func waitQuote(ctx context.Context, n *notifier, cs []*wsClient, ok func(recvQuote) bool) (recvQuote, *wsClient, error) {
	for {
		ch := n.wait()
		var best recvQuote
		var bestC *wsClient
		for _, c := range cs {
			qs, _, _ := c.snapshot()
			for _, q := range qs {
				if ok(q) {
					if bestC == nil || q.received.Before(best.received) {
						best, bestC = q, c
					}
					break // a client's later quotes were received later
				}
			}
		}
		if bestC != nil {
			return best, bestC, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return recvQuote{}, nil, ctx.Err()
		}
	}
}

// checkSeqs checks the quotes of every client: per client and symbol, seq
// strictly increases (never repeats, never goes back); across clients, one
// (symbol, seq) is one snapshot (price and collected_at); no client got a
// reset or an error message (an unknown_symbol is checked by the tests
// that remove symbols).
func checkSeqs(t *testing.T, cs []*wsClient) {
	t.Helper()
	type key struct {
		sym string
		seq uint64
	}
	seen := make(map[key]recvQuote)
	seenBy := make(map[key]string)
	for i, c := range cs {
		qs, resets, errs := c.snapshot()
		name := fmt.Sprintf("client %d of %s", i, c.inst)
		if resets > 0 {
			t.Errorf("%s: %d reset messages, want 0", name, resets)
		}
		for _, e := range errs {
			t.Errorf("%s: error message %s", name, e)
		}
		last := make(map[string]uint64)
		for _, q := range qs {
			if prev, ok := last[q.symbol]; ok && q.seq <= prev {
				t.Errorf("%s: %s seq %d after %d, want > %d", name, q.symbol, q.seq, prev, prev)
			}
			last[q.symbol] = q.seq
			k := key{q.symbol, q.seq}
			if other, ok := seen[k]; ok {
				if other.price != q.price || other.collectedAt != q.collectedAt {
					t.Errorf("%s: %s seq %d is price %v collected %s; %s had price %v collected %s",
						name, q.symbol, q.seq, q.price, q.collectedAt, seenBy[k], other.price, other.collectedAt)
				}
			} else {
				seen[k], seenBy[k] = q, name
			}
		}
	}
}
