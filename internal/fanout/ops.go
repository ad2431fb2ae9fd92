package fanout

import (
	"context"
	"strconv"

	"github.com/coder/websocket"
)

// maxQueued bounds the messages a client may send while a subscribe of its
// waits (for dynamic symbols, or for the board to catch up with its
// since): they are carried out in order once it is done, and those past
// the bound get rate_limited at once and are ignored.
const maxQueued = 8

// submit carries out m, a message the reader has just read and
// admitted, or queues it behind the client's subscribe that waits. It
// never waits for that subscribe: the reader goes on reading (and so
// answering pings) meanwhile.
func (c *client) submit(ctx context.Context, m message) {
	c.mu.Lock()
	if c.busy {
		full := len(c.queue) >= maxQueued
		if !full {
			c.queue = append(c.queue, m)
		}
		c.mu.Unlock()
		if full {
			c.replyError(newError(CodeRateLimited, "more than "+strconv.Itoa(maxQueued)+
				" messages wait behind a subscribe that waits for its symbols; this one was ignored"))
		}
		return
	}
	c.mu.Unlock()
	c.run(ctx, func() *pendingSub { return c.carryOut(m) })
}

// run runs op, which carries out a message, on a fresh stack (see
// onFreshStack). If op leaves a subscribe waiting, c is busy until an
// opLoop of its own has finished it and the messages queued meanwhile.
// Only the reader calls it, and only while c is not busy.
func (c *client) run(ctx context.Context, op func() *pendingSub) {
	var p *pendingSub
	onFreshStack(func() { p = op() })
	if p == nil {
		return
	}
	c.mu.Lock()
	c.busy = true
	c.mu.Unlock()
	c.bg.Add(1) // the reader's: serve waits for bg after the reader returns
	// Exits once p and the messages queued behind it are done, within
	// DemandWait + ResumeWait per subscribe, or when the connection is
	// stopped (ctx).
	go c.opLoop(ctx, p)
}

// carryOut carries out one client message; it returns the subscribe it
// leaves waiting, if any.
func (c *client) carryOut(m message) *pendingSub {
	// c.grant is replaced only by an auth op, carried out here: by the
	// reader, or by the opLoop while the reader carries out nothing.
	if _, ok := c.grant.(*authPending); ok {
		return c.h.firstMessage(c, m)
	}
	if m.typ != websocket.MessageText {
		c.replyError(newError(CodeBadRequest, "binary messages are not supported: send JSON text"))
		return nil
	}
	req, werr := parseRequest(m.data, c.h.opts.MaxSymbolsPerClient, c.h.opts.NormalizeSymbol)
	if werr != nil {
		c.replyError(werr)
		return nil
	}
	return c.h.handle(c, req)
}

// opLoop waits for p and finishes it, then carries out the messages queued
// meanwhile, in order, waiting likewise for any subscribe among them. When
// none is left, c is no longer busy. It returns early, dropping the queue,
// once ctx ends (the connection is stopped).
func (c *client) opLoop(ctx context.Context, p *pendingSub) {
	defer c.bg.Done()
	for p != nil {
		if c.h.onWait != nil {
			c.h.onWait()
		}
		c.h.await(ctx, p)
		c.h.finish(c, p, ctx.Err() != nil)
		p = nil
		for p == nil {
			err := c.waitRoom(ctx) // as the reader does before each message
			c.mu.Lock()
			if err != nil || len(c.queue) == 0 {
				c.busy, c.queue = false, nil
				c.mu.Unlock()
				return
			}
			m := c.queue[0]
			c.queue[0] = message{}
			c.queue = c.queue[1:]
			c.mu.Unlock()
			p = c.carryOut(m)
		}
	}
}
