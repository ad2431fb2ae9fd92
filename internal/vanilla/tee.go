package vanilla

import "sync"

// NewTee returns the ends of a Tee: one sender and n recvers in lock-step
// (the notes' "tee: when all are ready, give to all"). A Tee holds no
// items: a send completes only when a recver is waiting on every open
// output, and then every one of them gets the item, at once. Whichever
// operation arrives last, the send or the last recver, completes the
// meeting for all of them; until then each waits (or, for TrySend and
// TryRecv, returns ErrWouldBlock). A Select case on either side is ready
// only when the whole meeting is.
//
// A closed output is skipped: the others no longer wait for it, and once
// every output has closed the sender gets ErrAbandoned. When the sender
// closes, every recver gets the close error. Goroutines may share an end
// (several goroutines waiting on one output count as one output being
// ready), but no end can be cloned. n < 1 is treated as 1; a Tee of one
// output behaves as a Pipe.
//
//	s, rs := vanilla.NewTee[Quote](2)
//	go func() { q, err := rs[0].Recv(ctx); ... }()
//	go func() { q, err := rs[1].Recv(ctx); ... }()
//	err := s.Send(ctx, q) // returns once both recvers have q
func NewTee[T any](n int) (*Sender[T], []*Recver[T]) {
	n = max(n, 1)
	t := &tee[T]{outs: make([]teeOut[T], n), open: n}
	t.lists = make([]*list[T], n)
	t.picks = make([]*node[T], n)
	rs := make([]*Recver[T], n)
	for i := range t.outs {
		t.outs[i].t = t
		rs[i] = &Recver[T]{p: &t.outs[i]}
	}
	return &Sender[T]{p: t}, rs
}

type tee[T any] struct {
	mu sync.Mutex
	// Everything below, including the fields of outs, is guarded by mu.
	outs     []teeOut[T]
	open     int     // outputs not closed
	sendq    list[T] // parked sends, their items in val
	sendDone bool
	sendErr  error
	demand   demandq[T]
	hooks    hooks // run when the last output closes

	// Scratch space of one meeting, one entry per output.
	lists []*list[T]
	picks []*node[T]
	ws    []*waiter
}

// teeOut is one output of a tee and implements its recv port.
type teeOut[T any] struct {
	t      *tee[T]
	recvq  list[T] // parked recvs on this output
	closed bool
}

func (t *tee[T]) mutex() *sync.Mutex { return &t.mu }

// pickOutsLocked picks one parked recv on every open output except skip
// (nil: none), none of them of a waiter in excl, into t.picks.
func (t *tee[T]) pickOutsLocked(skip *teeOut[T], excl ...*waiter) bool {
	for i := range t.outs {
		o := &t.outs[i]
		t.lists[i] = nil
		if !o.closed && o != skip {
			t.lists[i] = &o.recvq
		}
	}
	return pickLocked(t.lists, t.picks, excl...)
}

// meetLocked completes a meeting if one is possible now. from is the
// output whose recver is arriving (nil when the send is arriving, or when
// nobody is and the parked operations are checked after a close); an
// arriving send offers v, and send reports whether one arrives. It returns
// the item handed over and whether the meeting happened. Nodes of self are
// not used.
func (t *tee[T]) meetLocked(send bool, v T, from *teeOut[T], self *waiter) (T, bool) {
	for {
		var solo *node[T]
		if send {
			if !t.pickOutsLocked(nil, self) {
				return v, false
			}
		} else {
			t.sendq.pruneClaimed()
			for n := t.sendq.head; n != nil && solo == nil; n = n.next {
				if n.w != self && t.pickOutsLocked(from, self, n.w) {
					solo = n
				}
			}
			if solo == nil {
				return v, false
			}
			v = solo.val
		}
		t.ws = t.ws[:0]
		if solo != nil {
			t.ws = append(t.ws, solo.w)
		}
		for _, n := range t.picks {
			if n != nil {
				t.ws = append(t.ws, n.w)
			}
		}
		if !reserveAll(t.ws) {
			continue // one was claimed elsewhere meanwhile: pick again
		}
		if solo != nil {
			t.sendq.remove(solo)
			solo.w.fire(solo.idx, nil)
		}
		for i, n := range t.picks {
			if n != nil {
				t.outs[i].recvq.remove(n)
				n.val = v
				n.w.fire(n.idx, nil)
			}
		}
		clear(t.ws)
		t.notifyLocked()
		return v, true
	}
}

func (t *tee[T]) sendLocked(e *end, self *waiter, v T) (error, bool) {
	switch {
	case e.closed:
		return ErrClosed, true
	case t.open == 0:
		return ErrAbandoned, true
	}
	_, ok := t.meetLocked(true, v, nil, self)
	return nil, ok
}

func (t *tee[T]) canSendLocked(e *end, self *waiter) bool {
	return e.closed || t.open == 0 || t.pickOutsLocked(nil, self)
}

func (t *tee[T]) parkSendLocked(n *node[T])   { t.sendq.push(n) }
func (t *tee[T]) unparkSendLocked(n *node[T]) { t.sendq.remove(n) }

// demandLocked: a send would complete now (a recver waits on every open
// output).
func (t *tee[T]) demandLocked(e *end, self *waiter) (bool, error) {
	switch {
	case e.closed:
		return true, ErrClosed
	case t.open == 0:
		return true, ErrAbandoned
	}
	return t.pickOutsLocked(nil, self), nil
}

func (t *tee[T]) watchDemandLocked(n *node[T], want bool)   { t.demand.watch(n, want) }
func (t *tee[T]) unwatchDemandLocked(n *node[T], want bool) { t.demand.unwatch(n, want) }

func (t *tee[T]) notifyLocked() {
	if !t.demand.empty() {
		t.demand.fire(t.demandLocked)
	}
}

func (t *tee[T]) onAbandon(h *hook) {
	t.mu.Lock()
	if t.open > 0 {
		t.hooks.add(h)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	h.fn()
}

func (t *tee[T]) offAbandon(h *hook) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hooks.remove(h)
}

func (t *tee[T]) closeSend(e *end, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	t.sendq.failAll(e, ErrClosed)
	t.sendDone = true
	t.sendErr = err
	if err == nil {
		t.sendErr = ErrClosed
	}
	for i := range t.outs {
		t.outs[i].recvq.failAll(nil, t.sendErr)
	}
	t.notifyLocked()
}

func (t *tee[T]) cloneSend(*end) error { return ErrNotShared }

func (o *teeOut[T]) mutex() *sync.Mutex { return &o.t.mu }

func (o *teeOut[T]) recvLocked(e *end, self *waiter) (T, error, bool) {
	var zero T
	switch {
	case e.closed:
		return zero, ErrClosed, true
	case o.t.sendDone:
		return zero, o.t.sendErr, true
	}
	if v, ok := o.t.meetLocked(false, zero, o, self); ok {
		return v, nil, true
	}
	return zero, nil, false
}

func (o *teeOut[T]) canRecvLocked(e *end, self *waiter) bool {
	t := o.t
	if e.closed || t.sendDone {
		return true
	}
	t.sendq.pruneClaimed()
	for n := t.sendq.head; n != nil; n = n.next {
		if n.w != self && t.pickOutsLocked(o, self, n.w) {
			return true
		}
	}
	return false
}

func (o *teeOut[T]) parkRecvLocked(n *node[T]) {
	o.recvq.push(n)
	o.t.notifyLocked()
}

func (o *teeOut[T]) unparkRecvLocked(n *node[T]) {
	o.recvq.remove(n)
	o.t.notifyLocked()
}

func (o *teeOut[T]) closeRecv(e *end) {
	t := o.t
	t.mu.Lock()
	if e.closed {
		t.mu.Unlock()
		return
	}
	e.closed = true
	o.closed = true
	o.recvq.failAll(nil, ErrClosed)
	t.open--
	var hs []*hook
	if t.open == 0 {
		t.sendq.failAll(nil, ErrAbandoned)
		hs = t.hooks.take()
	} else {
		// This output may have been the one the others waited for.
		var zero T
		t.meetLocked(false, zero, nil, nil)
	}
	t.notifyLocked()
	t.mu.Unlock()
	runHooks(hs)
}

func (o *teeOut[T]) cloneRecv(*end) error { return ErrNotShared }
func (o *teeOut[T]) dropped() uint64      { return 0 }
