package vanilla

import "sync"

// NewGather returns the ends of a Gather: n senders and one recver in
// lock-step (the notes' "gather: once all are ready, recv all"), the mirror
// image of a Tee. A Gather holds no items and takes nothing until a send
// is waiting on every input; then one Recv takes one item from each, at
// once, and returns them in input order (a new slice each time). Whichever
// operation arrives last, the recv or the last send, completes the meeting
// for all of them; until then each waits (or, for TrySend and TryRecv,
// returns ErrWouldBlock). A Select case on either side is ready only when
// the whole meeting is.
//
// The Gather ends when any input's sender closes, since every input could
// never be ready again: the recver gets that sender's close error
// (ErrClosed for a plain Close), and every send waiting on another input,
// and every later one, gets ErrAbandoned. Nothing was taken from those
// sends, so nothing is lost: each sender still has its item. When the
// recver closes, sends get ErrAbandoned too. Goroutines may share an end,
// but no end can be cloned. n < 1 is treated as 1.
//
//	ins, out := vanilla.NewGather[float64](2)
//	go func() { err := ins[0].Send(ctx, bid) }()
//	go func() { err := ins[1].Send(ctx, ask) }()
//	q, err := out.Recv(ctx) // []float64{bid, ask}, once both are sent
//
// To gather from existing recvers, Connect each to an input; a Connect
// pulls an item only while the Gather's recver waits, but holds it (and
// loses it, if another input ends first) until every input has one.
func NewGather[T any](n int) ([]*Sender[T], *Recver[[]T]) {
	n = max(n, 1)
	g := &gather[T]{ins: make([]gatherIn[T], n)}
	g.lists = make([]*list[T], n)
	g.picks = make([]*node[T], n)
	ss := make([]*Sender[T], n)
	for i := range g.ins {
		g.ins[i].g = g
		ss[i] = &Sender[T]{p: &g.ins[i]}
	}
	return ss, &Recver[[]T]{p: g}
}

// gather implements the recv port of a Gather; its inputs implement the
// send ports.
type gather[T any] struct {
	mu sync.Mutex
	// Everything below, including the fields of ins, is guarded by mu.
	ins    []gatherIn[T]
	recvq  list[[]T] // parked recvs
	ended  bool      // an input's sender or the recver closed: no meeting ever again
	endErr error     // what the recver gets once ended by an input
	demand demandq[T]
	hooks  hooks // run when the Gather ends

	// Scratch space of one meeting, one entry per input.
	lists []*list[T]
	picks []*node[T]
	ws    []*waiter
}

// gatherIn is one input of a gather and implements its send port.
type gatherIn[T any] struct {
	g     *gather[T]
	sendq list[T] // parked sends on this input, their items in val
}

func (g *gather[T]) mutex() *sync.Mutex { return &g.mu }

// pickInsLocked picks one parked send on every input except skip (nil:
// none), none of them of a waiter in excl, into g.picks.
func (g *gather[T]) pickInsLocked(skip *gatherIn[T], excl ...*waiter) bool {
	for i := range g.ins {
		g.lists[i] = nil
		if in := &g.ins[i]; in != skip {
			g.lists[i] = &in.sendq
		}
	}
	return pickLocked(g.lists, g.picks, excl...)
}

// meetLocked completes a meeting if one is possible now: from is the input
// whose send is arriving with v (nil when the recv is arriving). It returns
// the items taken and whether the meeting happened. Nodes of self are not
// used.
func (g *gather[T]) meetLocked(from *gatherIn[T], v T, self *waiter) ([]T, bool) {
	for {
		var solo *node[[]T]
		if from == nil {
			if !g.pickInsLocked(nil, self) {
				return nil, false
			}
		} else {
			g.recvq.pruneClaimed()
			for n := g.recvq.head; n != nil && solo == nil; n = n.next {
				if n.w != self && g.pickInsLocked(from, self, n.w) {
					solo = n
				}
			}
			if solo == nil {
				return nil, false
			}
		}
		g.ws = g.ws[:0]
		if solo != nil {
			g.ws = append(g.ws, solo.w)
		}
		for _, n := range g.picks {
			if n != nil {
				g.ws = append(g.ws, n.w)
			}
		}
		if !reserveAll(g.ws) {
			continue // one was claimed elsewhere meanwhile: pick again
		}
		items := make([]T, len(g.ins))
		for i, n := range g.picks {
			if n == nil {
				items[i] = v // the arriving send's input
				continue
			}
			items[i] = n.val
			g.ins[i].sendq.remove(n)
			n.w.fire(n.idx, nil)
		}
		if solo != nil {
			g.recvq.remove(solo)
			solo.val = items
			solo.w.fire(solo.idx, nil)
		}
		clear(g.ws)
		g.notifyLocked()
		return items, true
	}
}

func (g *gather[T]) recvLocked(e *end, self *waiter) ([]T, error, bool) {
	switch {
	case e.closed:
		return nil, ErrClosed, true
	case g.ended:
		return nil, g.endErr, true
	}
	var zero T
	if items, ok := g.meetLocked(nil, zero, self); ok {
		return items, nil, true
	}
	return nil, nil, false
}

func (g *gather[T]) canRecvLocked(e *end, self *waiter) bool {
	return e.closed || g.ended || g.pickInsLocked(nil, self)
}

func (g *gather[T]) parkRecvLocked(n *node[[]T]) {
	g.recvq.push(n)
	g.notifyLocked()
}

func (g *gather[T]) unparkRecvLocked(n *node[[]T]) {
	g.recvq.remove(n)
	g.notifyLocked()
}

// endLocked ends the gather and returns the hooks to run after the lock is
// released.
func (g *gather[T]) endLocked(recvErr error) []*hook {
	if g.ended {
		return nil
	}
	g.ended, g.endErr = true, recvErr
	g.recvq.failAll(nil, recvErr)
	for i := range g.ins {
		g.ins[i].sendq.failAll(nil, ErrAbandoned)
	}
	g.notifyLocked()
	return g.hooks.take()
}

func (g *gather[T]) closeRecv(e *end) {
	g.mu.Lock()
	if e.closed {
		g.mu.Unlock()
		return
	}
	e.closed = true
	hs := g.endLocked(ErrClosed)
	g.mu.Unlock()
	runHooks(hs)
}

func (g *gather[T]) cloneRecv(*end) error { return ErrNotShared }
func (g *gather[T]) dropped() uint64      { return 0 }

func (g *gather[T]) notifyLocked() {
	if !g.demand.empty() {
		g.demand.fire(g.demandLocked)
	}
}

func (in *gatherIn[T]) mutex() *sync.Mutex { return &in.g.mu }

func (in *gatherIn[T]) sendLocked(e *end, self *waiter, v T) (error, bool) {
	switch {
	case e.closed:
		return ErrClosed, true
	case in.g.ended:
		return ErrAbandoned, true
	}
	_, ok := in.g.meetLocked(in, v, self)
	return nil, ok
}

func (in *gatherIn[T]) canSendLocked(e *end, self *waiter) bool {
	g := in.g
	if e.closed || g.ended {
		return true
	}
	g.recvq.pruneClaimed()
	for n := g.recvq.head; n != nil; n = n.next {
		if n.w != self && g.pickInsLocked(in, self, n.w) {
			return true
		}
	}
	return false
}

func (in *gatherIn[T]) parkSendLocked(n *node[T])   { in.sendq.push(n) }
func (in *gatherIn[T]) unparkSendLocked(n *node[T]) { in.sendq.remove(n) }

func (in *gatherIn[T]) demandLocked(e *end, self *waiter) (bool, error) {
	return in.g.demandLocked(e, self)
}

// demandLocked, for any input: the Gather's recver is waiting. It does not
// wait for the other inputs, or stages feeding several inputs would each
// wait for the others forever.
func (g *gather[T]) demandLocked(e *end, self *waiter) (bool, error) {
	switch {
	case e.closed:
		return true, ErrClosed
	case g.ended:
		return true, ErrAbandoned
	}
	g.recvq.pruneClaimed()
	return g.recvq.hasOther(self), nil
}

func (in *gatherIn[T]) watchDemandLocked(n *node[T], want bool)   { in.g.demand.watch(n, want) }
func (in *gatherIn[T]) unwatchDemandLocked(n *node[T], want bool) { in.g.demand.unwatch(n, want) }

func (in *gatherIn[T]) onAbandon(h *hook) {
	g := in.g
	g.mu.Lock()
	if !g.ended {
		g.hooks.add(h)
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	h.fn()
}

func (in *gatherIn[T]) offAbandon(h *hook) {
	in.g.mu.Lock()
	defer in.g.mu.Unlock()
	in.g.hooks.remove(h)
}

func (in *gatherIn[T]) closeSend(e *end, err error) {
	g := in.g
	g.mu.Lock()
	if e.closed {
		g.mu.Unlock()
		return
	}
	e.closed = true
	in.sendq.failAll(e, ErrClosed)
	if err == nil {
		err = ErrClosed
	}
	hs := g.endLocked(err)
	g.notifyLocked()
	g.mu.Unlock()
	runHooks(hs)
}

func (in *gatherIn[T]) cloneSend(*end) error { return ErrNotShared }
