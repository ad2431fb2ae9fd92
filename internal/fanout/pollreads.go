package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
)

// errNoPoller is newPoller's error where there is no poller (not Linux).
var errNoPoller = errors.New("fanout: no poller on this system")

// pollReads drives the reads of a client whose socket the Hub's poller
// watches, in place of a reader goroutine: each time the socket is
// readable (or closed) a step reads and carries out what came on a
// goroutine of its own, arms the socket again and exits. An idle client
// thus holds no goroutine.
//
// Steps never overlap: a step starts only by taking armed from true to
// false (kick), and the step running sets it, just before arming the
// socket, as it ends. The closing of the socket kicks too (batchConn's
// onClose): an armed socket that is closed gets no event.
type pollReads struct {
	raw   syscall.RawConn // the client's socket
	id    int32           // the poller's id for it; set by poller.add
	armed atomic.Bool     // a kick may start a step: set by the step ending, taken by kick
	lim   bucket          // the client's op limiter; owned by the step running
	step  func()          // runs one step; set before the socket is registered
}

// kick starts a step unless one runs or the reads have ended. It never
// blocks.
func (r *pollReads) kick() {
	if r.armed.CompareAndSwap(true, false) {
		go r.step() // exits once it has armed the socket again, or the client has ended
	}
}

// watchReads has the Hub's poller watch c's socket instead of a reader
// goroutine, and runs c's first step. It reports false, having done
// nothing, when there is no poller (not Linux, or it failed) or c's
// socket has no descriptor (TLS): then serve must run c in a goroutine.
func (h *Hub) watchReads(ctx context.Context, c *client, disarm func()) bool {
	if c.bc.raw == nil {
		return false
	}
	p := h.poller()
	if p == nil {
		return false
	}
	r := &pollReads{raw: c.bc.raw, lim: newBucket(h.opts.OpsPerSecond)}
	r.step = func() { h.step(ctx, p, c, r, disarm) }
	if err := p.add(r); err != nil {
		h.log.Debug("websocket client read by a goroutine", "remote", c.remote, "error", err)
		return false
	}
	kick := r.kick
	c.bc.onClose.Store(&kick)
	h.step(ctx, p, c, r, disarm)
	return true
}

// step is serve's loop for a client the poller watches: it carries out
// the client's messages while they come, then arms its socket and
// returns; once the connection has ended it tears c down (end) and
// releases its admission.
func (h *Hub) step(ctx context.Context, p *poller, c *client, r *pollReads, disarm func()) {
	for {
		if !c.bc.readyNow() {
			r.armed.Store(true)
			if p.arm(r) == nil || !r.armed.CompareAndSwap(true, false) {
				return // armed, or a kick has started the next step
			}
			// The socket is closed: the read below says so.
		}
		if c.readOne(ctx, &r.lim) {
			break
		}
	}
	p.remove(r)
	h.end(c, disarm)
	h.release()
}
