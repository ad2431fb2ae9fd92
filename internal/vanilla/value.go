package vanilla

import (
	"context"
	"sync"
)

// Value holds the latest of a series of items, like a variable that can be
// waited on. Once set it is always ready: Get returns the current item at
// once. Each Set makes a new version and wakes every waiter; watchers (see
// Watch) receive the newest version they have not seen, so they may skip
// intermediate versions but never see an older one after a newer one, and
// never block the setter: a Set costs one wake-up per watcher parked at
// that moment, and nothing for a watcher that is busy elsewhere.
//
// A Value is safe for concurrent use. Set, Clear, Load and Close never
// block. The zero Value is not usable; create one with NewValue.
type Value[T any] struct {
	mu sync.Mutex
	// Everything below is guarded by mu.
	val     T
	version uint64 // increases with every Set; 0 before the first
	set     bool   // false before the first Set and after Clear
	closed  bool
	err     error // the close error, once closed
	waitq   list[T]
	getter  *Recver[T] // backs Get and Case
}

// NewValue returns an unset Value.
func NewValue[T any]() *Value[T] {
	v := &Value[T]{}
	v.getter = &Recver[T]{p: valueGet[T]{v}}
	return v
}

// Set stores x as the current item, wakes every Get and watcher waiting for
// it, and returns its version. After Close, Set does nothing and returns 0.
func (v *Value[T]) Set(x T) uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return 0
	}
	v.version++
	v.val, v.set = x, true
	for n := v.waitq.take(nil); n != nil; n = v.waitq.take(nil) {
		n.val = x
		if n.owner != nil {
			n.owner.seen = v.version
		}
		n.w.fire(n.idx, nil)
	}
	return v.version
}

// Clear makes the Value unset: Get waits again until the next Set. The
// version is kept, so the next Set still makes a newer one.
func (v *Value[T]) Clear() {
	v.mu.Lock()
	defer v.mu.Unlock()
	var zero T
	v.val, v.set = zero, false
}

// Load returns the current item and its version without waiting; ok is
// false when the Value is unset.
func (v *Value[T]) Load() (x T, version uint64, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.val, v.version, v.set
}

// Get returns the current item, waiting until the Value is set. After Close
// it returns the close error.
func (v *Value[T]) Get(ctx context.Context) (T, error) { return v.getter.Recv(ctx) }

// Case returns a Select case that fires with the current item (as Get).
func (v *Value[T]) Case(dst *T) Case { return v.getter.Case(dst) }

// Watch returns a recver of the Value's changes: each Recv returns the
// newest version this watcher has not received yet, waiting for a Set if it
// has seen the current one. The first Recv returns the current item, if
// set. After Close a watcher gets the last version it has not seen, then
// the close error. Close the watcher when done; it never blocks the setter.
func (v *Value[T]) Watch() *Recver[T] { return &Recver[T]{p: valueWatch[T]{v}} }

// Close closes the Value: waiters and later Get calls and watchers get err
// (ErrClosed when nil) once they have the last version. Close is idempotent.
func (v *Value[T]) Close(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	if err == nil {
		err = ErrClosed
	}
	v.closed, v.err = true, err
	v.waitq.failAll(nil, err)
}

// valueGet is the port behind Get: ready whenever the Value is set.
type valueGet[T any] struct{ v *Value[T] }

func (g valueGet[T]) mutex() *sync.Mutex { return &g.v.mu }

func (g valueGet[T]) recvLocked(_ *end, _ *waiter) (T, error, bool) {
	v := g.v
	var zero T
	switch {
	case v.closed:
		return zero, v.err, true
	case v.set:
		return v.val, nil, true
	}
	return zero, nil, false
}

func (g valueGet[T]) canRecvLocked(_ *end, _ *waiter) bool { return g.v.closed || g.v.set }
func (g valueGet[T]) parkRecvLocked(n *node[T]) {
	n.owner = nil // Get does not track versions
	g.v.waitq.push(n)
}
func (g valueGet[T]) unparkRecvLocked(n *node[T]) { g.v.waitq.remove(n) }
func (g valueGet[T]) closeRecv(*end)              {}
func (g valueGet[T]) cloneRecv(*end) error        { return ErrNotShared }
func (g valueGet[T]) dropped() uint64             { return 0 }

// valueWatch is the port behind a watcher: ready when the Value holds a
// version newer than the watcher's end has seen.
type valueWatch[T any] struct{ v *Value[T] }

func (w valueWatch[T]) mutex() *sync.Mutex { return &w.v.mu }

func (w valueWatch[T]) recvLocked(e *end, _ *waiter) (T, error, bool) {
	v := w.v
	var zero T
	switch {
	case e.closed:
		return zero, ErrClosed, true
	case v.set && v.version > e.seen:
		e.seen = v.version
		return v.val, nil, true
	case v.closed:
		return zero, v.err, true
	}
	return zero, nil, false
}

func (w valueWatch[T]) canRecvLocked(e *end, _ *waiter) bool {
	v := w.v
	return e.closed || (v.set && v.version > e.seen) || v.closed
}

func (w valueWatch[T]) parkRecvLocked(n *node[T])   { w.v.waitq.push(n) }
func (w valueWatch[T]) unparkRecvLocked(n *node[T]) { w.v.waitq.remove(n) }

func (w valueWatch[T]) closeRecv(e *end) {
	w.v.mu.Lock()
	defer w.v.mu.Unlock()
	if e.closed {
		return
	}
	e.closed = true
	w.v.waitq.failAll(e, ErrClosed)
}

func (w valueWatch[T]) cloneRecv(*end) error { return ErrNotShared }
func (w valueWatch[T]) dropped() uint64      { return 0 }
