package vanilla

import (
	"sync"
	"sync/atomic"
)

// overflow is what a send does when the buffer is full and no recver waits.
type overflow uint8

const (
	overflowBlock  overflow = iota // wait for room (Pipe, Queue, Channel, ...)
	overflowDrop                   // discard the new item (Broadcast, Drop policy)
	overflowLatest                 // overwrite the newest buffered item (State, Latest policy)
)

// core is the engine of the primitives built from "a buffer between a
// sender side and a recver side": Pipe, Queue, Dealer, Router, Channel,
// State and each Broadcast subscription. Both ports are implemented here.
type core[T any] struct {
	mu sync.Mutex
	// Everything below is guarded by mu.
	buf       ring[T]
	policy    overflow
	multiSend bool // Clone allowed on the send side
	multiRecv bool // Clone allowed on the recv side
	sendq     list[T]
	recvq     list[T]
	senders   int   // open sender handles
	recvers   int   // open recver handles
	firstErr  error // first non-nil error a sender closed with
	sendDone  bool  // every sender closed: recvers drain buf, then get sendErr
	sendErr   error
	recvDone  bool // every recver closed: sends fail with ErrAbandoned
	demand    demandq[T]
	hooks     hooks // run when recvDone is set

	drops atomic.Uint64 // items discarded or overwritten by the overflow policy
}

func newCore[T any](size int, policy overflow, multiSend, multiRecv bool) (*Sender[T], *Recver[T]) {
	if size < 0 {
		size = 0
	}
	c := &core[T]{policy: policy, multiSend: multiSend, multiRecv: multiRecv, senders: 1, recvers: 1}
	c.buf.init(size)
	return &Sender[T]{p: c}, &Recver[T]{p: c}
}

func (c *core[T]) mutex() *sync.Mutex { return &c.mu }

func (c *core[T]) sendLocked(e *end, self *waiter, v T) (error, bool) {
	if e.closed {
		return ErrClosed, true
	}
	if c.recvDone {
		return ErrAbandoned, true
	}
	if n := c.recvq.take(self); n != nil {
		n.val = v
		n.w.fire(n.idx, nil)
		c.notifyLocked()
		return nil, true
	}
	if c.buf.n < len(c.buf.items) {
		c.buf.push(v)
		c.notifyLocked()
		return nil, true
	}
	switch c.policy {
	case overflowDrop:
		c.drops.Add(1)
		return nil, true
	case overflowLatest:
		if len(c.buf.items) > 0 {
			c.buf.replaceNewest(v)
		}
		c.drops.Add(1)
		return nil, true
	}
	return nil, false
}

func (c *core[T]) canSendLocked(e *end, self *waiter) bool {
	return e.closed || c.recvDone || c.recvq.hasOther(self) ||
		c.buf.n < len(c.buf.items) || c.policy != overflowBlock
}

func (c *core[T]) parkSendLocked(n *node[T])   { c.sendq.push(n) }
func (c *core[T]) unparkSendLocked(n *node[T]) { c.sendq.remove(n) }

func (c *core[T]) demandLocked(e *end, self *waiter) (bool, error) {
	switch {
	case e.closed:
		return true, ErrClosed
	case c.recvDone:
		return true, ErrAbandoned
	}
	return c.canSendLocked(e, self), nil
}

func (c *core[T]) watchDemandLocked(n *node[T], want bool)   { c.demand.watch(n, want) }
func (c *core[T]) unwatchDemandLocked(n *node[T], want bool) { c.demand.unwatch(n, want) }

// notifyLocked wakes the demand watchers whose wish came true. Everything
// that can change demandLocked calls it: a recver parking or leaving, an
// item taken from or put in the buffer, a close.
func (c *core[T]) notifyLocked() {
	if !c.demand.empty() {
		c.demand.fire(c.demandLocked)
	}
}

func (c *core[T]) onAbandon(h *hook) {
	c.mu.Lock()
	if !c.recvDone {
		c.hooks.add(h)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	h.fn()
}

func (c *core[T]) offAbandon(h *hook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks.remove(h)
}

func (c *core[T]) recvLocked(e *end, self *waiter) (T, error, bool) {
	var zero T
	if e.closed {
		return zero, ErrClosed, true
	}
	if c.buf.n > 0 {
		v := c.buf.pop()
		if n := c.sendq.take(self); n != nil { // room again: admit a parked sender
			c.buf.push(n.val)
			n.w.fire(n.idx, nil)
		}
		c.notifyLocked()
		return v, nil, true
	}
	if n := c.sendq.take(self); n != nil {
		v := n.val
		n.w.fire(n.idx, nil)
		return v, nil, true
	}
	if c.sendDone {
		return zero, c.sendErr, true
	}
	return zero, nil, false
}

func (c *core[T]) canRecvLocked(e *end, self *waiter) bool {
	return e.closed || c.buf.n > 0 || c.sendq.hasOther(self) || c.sendDone
}

func (c *core[T]) parkRecvLocked(n *node[T]) {
	c.recvq.push(n)
	c.notifyLocked()
}

func (c *core[T]) unparkRecvLocked(n *node[T]) {
	c.recvq.remove(n)
	c.notifyLocked()
}

func (c *core[T]) closeSend(e *end, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	c.sendq.failAll(e, ErrClosed) // goroutines parked on this very handle
	c.notifyLocked()              // demand watchers of this handle: it fails at once now
	if err != nil && c.firstErr == nil {
		c.firstErr = err
	}
	c.senders--
	if c.senders > 0 {
		return
	}
	c.sendDone = true
	c.sendErr = c.firstErr
	if c.sendErr == nil {
		c.sendErr = ErrClosed
	}
	// Recvers only park on an empty buffer, so none of them will see an
	// item again: wake them all with the close error.
	c.recvq.failAll(nil, c.sendErr)
}

func (c *core[T]) closeRecv(e *end) {
	c.mu.Lock()
	hs := c.closeRecvLocked(e)
	c.mu.Unlock()
	runHooks(hs)
}

// closeRecvLocked closes e and returns the hooks to run once the lock is
// released (those of an abandoned primitive).
func (c *core[T]) closeRecvLocked(e *end) []*hook {
	if e.closed {
		return nil
	}
	e.closed = true
	c.recvq.failAll(e, ErrClosed)
	c.recvers--
	if c.recvers > 0 {
		c.notifyLocked()
		return nil
	}
	c.recvDone = true
	c.buf.clear()
	c.sendq.failAll(nil, ErrAbandoned)
	c.notifyLocked()
	return c.hooks.take()
}

func (c *core[T]) cloneSend(e *end) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.multiSend:
		return ErrNotShared
	case e.closed:
		return ErrClosed
	}
	c.senders++
	return nil
}

func (c *core[T]) cloneRecv(e *end) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.multiRecv:
		return ErrNotShared
	case e.closed:
		return ErrClosed
	}
	c.recvers++
	return nil
}

func (c *core[T]) dropped() uint64 { return c.drops.Load() }

// ring is a fixed-capacity FIFO.
type ring[T any] struct {
	items []T
	head  int
	n     int
}

func (r *ring[T]) init(size int) { r.items = make([]T, size) }

func (r *ring[T]) push(v T) {
	r.items[(r.head+r.n)%len(r.items)] = v
	r.n++
}

func (r *ring[T]) pop() T {
	var zero T
	v := r.items[r.head]
	r.items[r.head] = zero
	r.head = (r.head + 1) % len(r.items)
	r.n--
	return v
}

func (r *ring[T]) replaceNewest(v T) { r.items[(r.head+r.n-1)%len(r.items)] = v }

func (r *ring[T]) clear() {
	clear(r.items)
	r.head, r.n = 0, 0
}
