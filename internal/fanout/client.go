package fanout

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// maxCtrl is how many control messages (replies to ops) may wait to be
// sent before the reader stops reading the client's messages.
const maxCtrl = 16

// client is one websocket connection's state. Its reads are driven by
// the Hub's poller (pollReads) or, where there is none, by a reader
// goroutine (Hub.serve); whichever sees the connection end waits for the
// rest of its work (Hub.end): the
// Hub's pool writers and its own slowLoop while they send for it, its
// opLoop while a subscribe waits, the pings and the slow-write check on
// timers, and the closer once the connection stops.
//
// What a client is sent waits in its outbox: ctrl, a short FIFO of control
// messages, and the pending update of each subscribed symbol, replaced
// when a newer one is offered. Whoever sends for it (a pool writer or its
// slowLoop, one at a time) sends ctrl first, then the pending updates in
// the order their symbols became pending.
type client struct {
	h       *Hub
	conn    wsConn     // never the library's writes: see wsConn
	bc      *batchConn // conn's socket: writers hold frames in it and flush them in batches
	remote  string
	batch   bool                    // every frame is a JSON array of messages (?batch=1); read-only
	grant   Grant                   // what the client's token allows; nil: everything; set before the client is registered, then replaced only by an auth op, under Hub.mu
	stop    context.CancelCauseFunc // ends the connection with a cause; first cause wins; any goroutine
	stopped <-chan struct{}         // closed once stop has been called: writers give up
	// stopping is set by the first stop, which starts the closer.
	stopping atomic.Bool

	// bg counts the work on the connection other than the reader's: a
	// pool writer's while it sends for it, its slowLoop, its opLoop, the
	// closer and the ping timer's function (counted from when it is armed).
	// Waited for by Hub.serve.
	bg    sync.WaitGroup
	pingT *time.Timer // sends the next ping; armed by startPing and by each ping, under mu

	mu sync.Mutex
	// Guarded by mu. subs is written only with Hub.mu held too, so a
	// holder of Hub.mu may read it across several mu sections.
	subs      subSet
	dirty     []*sub  // subscriptions whose pending update is set, oldest first, each once
	base      []*sub  // dirty's backing array from its start: reused once dirty is empty
	ctrl      []frame // control messages to send first, FIFO
	scheduled bool    // queued in the pool, or being sent by a pool writer or slowLoop: set by scheduleLocked, cleared when the outbox is empty
	done      bool    // the connection is being torn down: no writer or ping is started any more
	// sending is set while a pool writer or slowLoop sends for c (claim),
	// cleared together with scheduled, or as the sender re-queues c: one
	// sender at a time, since c may be queued twice (express). express is
	// set once c is queued to be sent at once because every subscription
	// has a pending update (offer), until a sender claims it.
	sending bool
	express bool
	expT    timer // ends the connection at the grant's expiry; armed by watchExpiry
	// room tells the reader that ctrl has room again: sent by writers
	// (next), received by the reader (waitRoom). Made by waitRoom the
	// first time ctrl is full: most clients never need it.
	roomS *vanilla.Sender[struct{}]
	roomR *vanilla.Recver[struct{}]
	// pingSent is set once a ping has been sent: the next ping checks
	// that it was answered, by a pong count above pongsBefore, the
	// batchConn's count before it. Written by ping.
	pingSent    bool
	pongsBefore uint32
	// ep is the epoch of what c is sent: set by the first "subscribed"
	// (zero before), advanced by resetLocked. Updates of an older epoch
	// are dropped; one of a newer epoch is sent after a "reset".
	ep epochRef
	// forgot is the epoch of the last since c was reset from, until the
	// next reset: later subscribes with that since need no reset.
	forgot string
	// star is set while c is subscribed to "*": by a subscribe naming
	// it, until an unsubscribe of "*". Symbols that join the configured
	// set then join c's (Hub.extendStarsLocked). Written only with Hub.mu
	// held too, like subs.
	star bool
	// busy is set while a subscribe of c waits (opLoop runs): messages
	// read meanwhile wait in queue, at most maxQueued, and are carried out
	// in order once it is done.
	busy  bool
	queue []message
}

// message is a client message read while another one waits.
type message struct {
	typ  websocket.MessageType
	data []byte
}

// sub is a client's subscription to one symbol. Its fields are guarded by
// the client's mu, but for at, which is guarded by e's. There is one per
// symbol of every client: 48 bytes, the bools last, side by side.
type sub struct {
	e     *entry  // the symbol's entry, set when subscribing: its name is the symbol's
	c     *client // the subscriber, set when subscribing
	ver   uint64  // the newest version offered: older ones are ignored
	pend  *update // offered but not sent yet; nil when none
	seq   uint64  // Quote.Seq of the newest quote sent
	at    int32   // where s is in e.subs, while it is there
	gone  bool    // unsubscribed: offer nothing more
	stale bool    // the stale state last sent; false before any
}

// name returns the symbol of s.
func (s *sub) name() string { return s.e.name }

// frame is one message for the writer.
type frame struct {
	b    []byte
	kind msgKind // the metrics label
}

func newClient(h *Hub, conn wsConn, bc *batchConn, remote string, batch bool, stop context.CancelCauseFunc, stopped <-chan struct{}) *client {
	c := &client{h: h, conn: conn, bc: bc, remote: remote, batch: batch, stop: stop, stopped: stopped}
	return c
}

// offer makes u the pending update of s, unless s has ended or already has
// that version or a newer one. It reports whether u replaced a pending
// update that will now never be sent (skipped), and whether the caller
// must push c to the pool (push). Once every subscription of c has a
// pending update, it queues c itself to be sent without BatchDelay
// (pushNow): the quotes of a pulse then go in one frame as soon as the
// last of them is there. It never blocks.
func (c *client) offer(s *sub, u *update) (skipped, push bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.gone || u.ver <= s.ver || u.ep.n < c.ep.n {
		return false, false
	}
	s.ver = u.ver
	if s.pend != nil {
		skipped = true
	} else {
		if len(c.dirty) == 0 {
			c.dirty = c.base[:0]
		}
		c.dirty = append(c.dirty, s)
		if cap(c.dirty) > cap(c.base) {
			c.base = c.dirty[:0]
		}
	}
	s.pend = u
	push = c.scheduleLocked()
	if !c.sending && !c.express && !c.done && len(c.dirty) >= len(c.subs) {
		// Every subscription has a pending update: nothing more of this
		// pulse can come, so waiting for BatchDelay would only delay it.
		// A queued entry of c's, if any, finds its outbox sent.
		c.express = true
		c.h.pool.pushNow(c)
		return skipped, false
	}
	return skipped, push
}

// next takes what is sent next into buf: a control message, or
// the one or two messages (quote, status) of the oldest pending update.
// It returns nothing when the outbox is empty. A pending update of a
// newer epoch than c's is preceded by a "reset" (resetLocked); one of an
// older epoch is dropped.
func (c *client) next(buf *[2]frame) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if len(c.ctrl) > 0 {
			buf[0] = c.ctrl[0]
			c.ctrl[0] = frame{}
			c.ctrl = c.ctrl[1:]
			if c.roomS != nil {
				_ = c.roomS.TrySend(struct{}{}) // a State: never blocks
			}
			return buf[:1]
		}
		if len(c.dirty) == 0 {
			return nil
		}
		s := c.dirty[0]
		u := s.pend
		if u != nil && c.ep.n != 0 && u.ep.n > c.ep.n {
			c.resetLocked(u.ep) // u stays pending, behind the reset
			continue
		}
		c.dirty[0] = nil
		c.dirty = c.dirty[1:]
		if u == nil {
			continue
		}
		s.pend = nil
		if u.ep.n < c.ep.n {
			continue // of an epoch the client has been reset from
		}
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
}

// waitRoom waits until ctrl has room for another reply.
func (c *client) waitRoom(ctx context.Context) error {
	for {
		c.mu.Lock()
		n := len(c.ctrl)
		if n >= maxCtrl && c.roomR == nil {
			c.roomS, c.roomR = vanilla.NewState[struct{}]()
		}
		room := c.roomR
		c.mu.Unlock()
		if n < maxCtrl {
			return nil
		}
		if _, err := room.Recv(ctx); err != nil {
			return err
		}
	}
}

// replyError queues an "error" message.
func (c *client) replyError(e *wireError) {
	c.mu.Lock()
	c.ctrl = append(c.ctrl, frame{encode(e), kindError})
	c.wakeLocked()
	c.mu.Unlock()
}

// replySubscribed queues a "subscribed" message.
func (c *client) replySubscribed() {
	c.mu.Lock()
	c.ctrl = append(c.ctrl, c.subscribedLocked(nil))
	c.wakeLocked()
	c.mu.Unlock()
}

// subscribedLocked renders the "subscribed" message of the current set,
// with recovered when it is not nil (the reply to a subscribe with
// "since"). A client told no epoch yet is told the board's current one.
func (c *client) subscribedLocked(recovered []string) frame {
	syms := c.subs.names() // sorted
	if c.ep.n == 0 {
		c.ep = c.h.epochNow()
	}
	return frame{encode(subscribedMessage{Type: "subscribed", Symbols: syms, Epoch: c.ep.id, Recovered: recovered}), kindSubscribed}
}

// removeLocked ends the subscription to name, dropping its pending update,
// and returns it; nil if c has none.
func (c *client) removeLocked(name string) *sub {
	s := c.subs.remove(name)
	if s == nil {
		return nil
	}
	s.gone = true
	if s.pend != nil {
		s.pend = nil
		c.dirty = slices.DeleteFunc(c.dirty, func(d *sub) bool { return d == s })
	}
	return s
}

// unsubscribed ends the subscriptions to names, which are no longer
// collected, and tells the client so. It returns how many it ended.
func (c *client) unsubscribed(names []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var gone []string
	for _, name := range names {
		if c.removeLocked(name) != nil {
			gone = append(gone, name)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		e := &wireError{Type: "error", Code: CodeUnknownSymbol,
			Message: "no longer collected: " + strings.Join(gone, ", "), Symbols: gone}
		c.ctrl = append(c.ctrl, frame{encode(e), kindError}, c.subscribedLocked(nil))
		c.wakeLocked()
	}
	return len(gone)
}
