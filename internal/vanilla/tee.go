package vanilla

import "sync"

// NewTee returns the ends of a Tee: one sender and n recvers in lock-step.
// A send waits until every open recver has taken the previous item, then
// gives the item to all of them at once. A closed recver is skipped; once
// all have closed the sender gets ErrAbandoned. When the sender closes, each
// recver takes what it was given and then gets the close error. No end can
// be cloned. n < 1 is treated as 1.
func NewTee[T any](n int) (*Sender[T], []*Recver[T]) {
	n = max(n, 1)
	t := &tee[T]{outs: make([]teeOut[T], n), open: n}
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
	open     int // outputs not closed
	sendq    list[T]
	sendDone bool
	sendErr  error
}

// teeOut is one output of a tee and implements its recv port.
type teeOut[T any] struct {
	t      *tee[T]
	recvq  list[T]
	full   bool // val holds an item this output has not taken
	val    T
	closed bool
}

func (t *tee[T]) mutex() *sync.Mutex { return &t.mu }

// allTakenLocked reports whether every open output has taken its item.
func (t *tee[T]) allTakenLocked() bool {
	for i := range t.outs {
		if o := &t.outs[i]; !o.closed && o.full {
			return false
		}
	}
	return true
}

// deliverLocked gives v to every open output; allTakenLocked must hold.
func (t *tee[T]) deliverLocked(self *waiter, v T) {
	for i := range t.outs {
		o := &t.outs[i]
		if o.closed {
			continue
		}
		if n := o.recvq.take(self); n != nil {
			n.val = v
			n.w.fire(n.idx, nil)
			continue
		}
		o.full, o.val = true, v
	}
}

// admitLocked lets a parked sender through once every output has taken.
func (t *tee[T]) admitLocked(self *waiter) {
	if t.open == 0 || !t.allTakenLocked() {
		return
	}
	if n := t.sendq.take(self); n != nil {
		t.deliverLocked(self, n.val)
		n.w.fire(n.idx, nil)
	}
}

func (t *tee[T]) sendLocked(e *end, self *waiter, v T) (error, bool) {
	switch {
	case e.closed:
		return ErrClosed, true
	case t.open == 0:
		return ErrAbandoned, true
	case !t.allTakenLocked():
		return nil, false
	}
	t.deliverLocked(self, v)
	return nil, true
}

func (t *tee[T]) canSendLocked(e *end, _ *waiter) bool {
	return e.closed || t.open == 0 || t.allTakenLocked()
}

func (t *tee[T]) parkSendLocked(n *node[T])   { t.sendq.push(n) }
func (t *tee[T]) unparkSendLocked(n *node[T]) { t.sendq.remove(n) }

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
}

func (t *tee[T]) cloneSend(*end) error { return ErrNotShared }

func (o *teeOut[T]) mutex() *sync.Mutex { return &o.t.mu }

func (o *teeOut[T]) recvLocked(e *end, self *waiter) (T, error, bool) {
	var zero T
	switch {
	case e.closed:
		return zero, ErrClosed, true
	case o.full:
		v := o.val
		o.full, o.val = false, zero
		o.t.admitLocked(self)
		return v, nil, true
	case o.t.sendDone:
		return zero, o.t.sendErr, true
	}
	return zero, nil, false
}

func (o *teeOut[T]) canRecvLocked(e *end, _ *waiter) bool {
	return e.closed || o.full || o.t.sendDone
}

func (o *teeOut[T]) parkRecvLocked(n *node[T])   { o.recvq.push(n) }
func (o *teeOut[T]) unparkRecvLocked(n *node[T]) { o.recvq.remove(n) }

func (o *teeOut[T]) closeRecv(e *end) {
	t := o.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	var zero T
	o.closed, o.full, o.val = true, false, zero
	o.recvq.failAll(nil, ErrClosed)
	t.open--
	if t.open == 0 {
		t.sendq.failAll(nil, ErrAbandoned)
		return
	}
	t.admitLocked(nil) // this output may have been the one holding the others back
}

func (o *teeOut[T]) cloneRecv(*end) error { return ErrNotShared }
func (o *teeOut[T]) dropped() uint64      { return 0 }
