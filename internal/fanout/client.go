package fanout

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// maxCtrl is how many control messages (replies to ops) may wait for the
// writer before the reader stops reading the client's messages.
const maxCtrl = 16

// client is one websocket connection's state. Its goroutines are started
// and waited for by Hub.serve: the supervisor (serve itself), the reader,
// the writer and the pinger.
//
// What a client is sent waits in its outbox: ctrl, a short FIFO of control
// messages, and the pending update of each subscribed symbol, replaced
// when a newer one is offered. The writer sends ctrl first, then the
// pending updates in the order their symbols became pending.
type client struct {
	h      *Hub
	conn   *websocket.Conn
	remote string
	stop   context.CancelCauseFunc // ends the connection with a cause; first cause wins; any goroutine

	// wake tells the writer the outbox has something (a State: coalescing,
	// never blocking). Sent by offer and the reply methods; received by the
	// writer.
	wakeS *vanilla.Sender[struct{}]
	wakeR *vanilla.Recver[struct{}]
	// room tells the reader that ctrl has room again. Sent by the writer;
	// received by the reader.
	roomS *vanilla.Sender[struct{}]
	roomR *vanilla.Recver[struct{}]
	// started carries the number of the frame write the writer began.
	// Sent by the writer; received by the supervisor.
	startedS *vanilla.Sender[uint64]
	startedR *vanilla.Recver[uint64]
	// finished is the number of the last frame write that returned.
	// Written by the writer; read by the supervisor.
	finished atomic.Uint64

	mu sync.Mutex
	// Guarded by mu. subs is written only with Hub.mu held too, so a
	// holder of Hub.mu may read it across several mu sections.
	subs  map[string]*sub
	dirty []string // subscribed symbols whose pending update is set, oldest first, each once
	ctrl  []frame  // control messages to send first, FIFO
}

// sub is a client's subscription to one symbol.
type sub struct {
	ver   uint64  // the newest version offered: older ones are ignored
	pend  *update // offered but not sent yet; nil when none
	seq   uint64  // Quote.Seq of the newest quote sent
	stale bool    // the stale state last sent; false before any
}

// frame is one message for the writer.
type frame struct {
	b    []byte
	kind string // kindQuote, ...: the metrics label
}

func newClient(h *Hub, conn *websocket.Conn, remote string, stop context.CancelCauseFunc) *client {
	c := &client{h: h, conn: conn, remote: remote, stop: stop, subs: make(map[string]*sub)}
	c.wakeS, c.wakeR = vanilla.NewState[struct{}]()
	c.roomS, c.roomR = vanilla.NewState[struct{}]()
	c.startedS, c.startedR = vanilla.NewState[uint64]()
	return c
}

// wake tells the writer there is something to send. It never blocks.
func (c *client) wake() { _ = c.wakeS.TrySend(struct{}{}) }

// offer makes u the pending update of sym, unless c is not subscribed to
// sym or already has that version or a newer one. It reports whether u
// replaced a pending update that will now never be sent (skipped). It
// never blocks.
func (c *client) offer(sym string, u *update) (skipped bool) {
	c.mu.Lock()
	s := c.subs[sym]
	if s == nil || u.ver <= s.ver {
		c.mu.Unlock()
		return false
	}
	s.ver = u.ver
	if s.pend != nil {
		skipped = true
	} else {
		c.dirty = append(c.dirty, sym)
	}
	s.pend = u
	c.mu.Unlock()
	c.wake()
	return skipped
}

// next takes what the writer sends next into buf: a control message, or
// the one or two messages (quote, status) of the oldest pending update.
// It returns nothing when the outbox is empty.
func (c *client) next(buf *[2]frame) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ctrl) > 0 {
		buf[0] = c.ctrl[0]
		c.ctrl[0] = frame{}
		c.ctrl = c.ctrl[1:]
		_ = c.roomS.TrySend(struct{}{})
		return buf[:1]
	}
	for len(c.dirty) > 0 {
		name := c.dirty[0]
		c.dirty = c.dirty[1:]
		s := c.subs[name]
		if s == nil || s.pend == nil {
			continue
		}
		u := s.pend
		s.pend = nil
		out := buf[:0]
		if u.quote != nil && u.seq > s.seq {
			out = append(out, frame{u.quote, kindQuote})
			s.seq = u.seq
		}
		if u.stale != s.stale {
			out = append(out, frame{u.status, kindStatus})
			s.stale = u.stale
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// waitRoom waits until ctrl has room for another reply.
func (c *client) waitRoom(ctx context.Context) error {
	for {
		c.mu.Lock()
		n := len(c.ctrl)
		c.mu.Unlock()
		if n < maxCtrl {
			return nil
		}
		if _, err := c.roomR.Recv(ctx); err != nil {
			return err
		}
	}
}

// replyError queues an "error" message.
func (c *client) replyError(e *wireError) {
	c.mu.Lock()
	c.ctrl = append(c.ctrl, frame{encode(e), kindError})
	c.mu.Unlock()
	c.wake()
}

// replySubscribed queues a "subscribed" message.
func (c *client) replySubscribed() {
	c.mu.Lock()
	c.ctrl = append(c.ctrl, c.subscribedLocked())
	c.mu.Unlock()
	c.wake()
}

// subscribedLocked renders the "subscribed" message of the current set.
func (c *client) subscribedLocked() frame {
	syms := make([]string, 0, len(c.subs))
	for name := range c.subs {
		syms = append(syms, name)
	}
	slices.Sort(syms)
	return frame{encode(subscribedMessage{Type: "subscribed", Symbols: syms}), kindSubscribed}
}

// removeLocked ends the subscription to name, dropping its pending update.
func (c *client) removeLocked(name string) bool {
	s := c.subs[name]
	if s == nil {
		return false
	}
	delete(c.subs, name)
	if s.pend != nil {
		c.dirty = slices.DeleteFunc(c.dirty, func(n string) bool { return n == name })
	}
	return true
}

// unsubscribed ends the subscriptions to names, which are no longer
// collected, and tells the client so. It returns how many it ended.
func (c *client) unsubscribed(names []string) int {
	c.mu.Lock()
	var gone []string
	for _, name := range names {
		if c.removeLocked(name) {
			gone = append(gone, name)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		e := &wireError{Type: "error", Code: CodeUnknownSymbol,
			Message: "no longer collected: " + strings.Join(gone, ", "), Symbols: gone}
		c.ctrl = append(c.ctrl, frame{encode(e), kindError}, c.subscribedLocked())
	}
	c.mu.Unlock()
	c.wake()
	return len(gone)
}
