package vanilla

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// sendPort is the send side of a primitive. Methods ending in Locked run
// with mutex() held.
type sendPort[T any] interface {
	mutex() *sync.Mutex
	// sendLocked completes a send now if it can (done), never parking.
	sendLocked(e *end, self *waiter, v T) (err error, done bool)
	// canSendLocked reports whether sendLocked could complete now,
	// ignoring nodes of self.
	canSendLocked(e *end, self *waiter) bool
	parkSendLocked(n *node[T])
	unparkSendLocked(n *node[T])
	closeSend(e *end, err error)
	cloneSend(e *end) error

	// demandLocked reports whether an item sent on e now would be taken:
	// a recver is waiting (for a Tee: on every open output; for a Gather
	// input: the Gather's recver), or a buffer has room. If a send on e
	// would fail at once, it returns that error (ErrClosed, ErrAbandoned)
	// instead. Stages pull from upstream only while their downstream has
	// demand. Nodes of self are ignored.
	demandLocked(e *end, self *waiter) (bool, error)
	// watchDemandLocked parks n, to be fired (with no item) once
	// demandLocked(n.owner, n.w) returns want or an error;
	// unwatchDemandLocked removes it.
	watchDemandLocked(n *node[T], want bool)
	unwatchDemandLocked(n *node[T], want bool)
	// onAbandon arranges for h.fn to run once every recver has closed,
	// outside the lock, by the goroutine whose close abandoned the
	// primitive; if that has happened already, it runs h.fn before
	// returning. offAbandon cancels it.
	onAbandon(h *hook)
	offAbandon(h *hook)
}

// recvPort is the recv side of a primitive; see sendPort.
type recvPort[T any] interface {
	mutex() *sync.Mutex
	recvLocked(e *end, self *waiter) (v T, err error, done bool)
	canRecvLocked(e *end, self *waiter) bool
	parkRecvLocked(n *node[T])
	unparkRecvLocked(n *node[T])
	closeRecv(e *end)
	cloneRecv(e *end) error
	dropped() uint64
}

// Sender is the send end of a primitive: a Pipe, Queue, Dealer, Router,
// Channel, State or Tee.
//
// A Sender is safe for concurrent use; goroutines sharing one Sender are one
// participant and close it together. Primitives that allow many senders
// (Router, Channel) hand out more participants with Clone, each closed on its
// own. Close wakes every goroutine parked on this Sender with ErrClosed; once
// every sender of a primitive has closed, its recvers drain what is buffered
// and then receive the close error.
type Sender[T any] struct {
	p     sendPort[T]
	e     end                     // guarded by p.mutex()
	spare atomic.Pointer[node[T]] // a recycled node, so steady-state Send does not allocate
}

// Recver is the recv end of a primitive: a Pipe, Queue, Dealer, Router,
// Channel, State, Tee output, Value watcher or Broadcast subscription.
//
// A Recver is safe for concurrent use; goroutines sharing one Recver are one
// participant. Primitives that allow many recvers (Dealer, Channel) hand out
// more participants with Clone. Close abandons the primitive for this
// participant: it wakes every goroutine parked on this Recver with ErrClosed,
// and once every recver has closed, senders get ErrAbandoned.
type Recver[T any] struct {
	p     recvPort[T]
	e     end                     // guarded by p.mutex()
	spare atomic.Pointer[node[T]] // a recycled node, so steady-state Recv does not allocate
}

// getNode returns the end's spare node, or a new one, with an unclaimed
// waiter attached.
func getNode[T any](spare *atomic.Pointer[node[T]]) *node[T] {
	if n := spare.Swap(nil); n != nil {
		n.w.state.Store(parked)
		return n
	}
	return &node[T]{w: getWaiter()}
}

// putNode recycles n and its waiter as the end's spare. The waiter's wake
// must be empty and no list may hold n.
func putNode[T any](spare *atomic.Pointer[node[T]], n *node[T]) {
	var zero T
	n.val = zero
	n.w.err = nil
	n.owner = nil
	spare.Store(n)
}

// Send delivers v, blocking until the primitive takes it: a recver takes it
// or buffer space frees up. It returns ErrAbandoned once every recver has
// closed, ErrClosed if s is closed (also when s is closed while Send waits),
// and context.Cause(ctx) if ctx ends first, in which case v was not sent.
func (s *Sender[T]) Send(ctx context.Context, v T) error {
	mu := s.p.mutex()
	mu.Lock()
	if err, done := s.p.sendLocked(&s.e, nil, v); done {
		mu.Unlock()
		return err
	}
	if ctx.Err() != nil {
		mu.Unlock()
		return context.Cause(ctx)
	}
	n := getNode(&s.spare)
	w := n.w
	n.idx, n.val, n.owner = 0, v, &s.e
	s.p.parkSendLocked(n)
	mu.Unlock()
	var err error
	if w.park(ctx) {
		err = w.err
	} else {
		mu.Lock()
		s.p.unparkSendLocked(n)
		mu.Unlock()
		err = context.Cause(ctx)
	}
	putNode(&s.spare, n)
	return err
}

// TrySend delivers v if that is possible without waiting, and returns
// ErrWouldBlock if it is not.
func (s *Sender[T]) TrySend(v T) error {
	mu := s.p.mutex()
	mu.Lock()
	err, done := s.p.sendLocked(&s.e, nil, v)
	mu.Unlock()
	if !done {
		return ErrWouldBlock
	}
	return err
}

// Close closes this sender without an error: once every sender has closed,
// recvers get ErrClosed after draining the buffer. Close is idempotent.
func (s *Sender[T]) Close() { s.p.closeSend(&s.e, nil) }

// CloseWithError closes this sender; once every sender has closed, recvers
// get err (the first non-nil error any sender closed with) after draining
// the buffer. A nil err is the same as Close.
func (s *Sender[T]) CloseWithError(err error) { s.p.closeSend(&s.e, err) }

// Clone returns a new sender participant of the same primitive, with its own
// Close. It returns ErrNotShared if the primitive has a single sender and
// ErrClosed if s is closed.
func (s *Sender[T]) Clone() (*Sender[T], error) {
	c := &Sender[T]{p: s.p}
	if err := s.p.cloneSend(&s.e); err != nil {
		return nil, err
	}
	return c, nil
}

// Recv returns the next item, blocking until one is ready. Once every sender
// has closed and the buffer is drained it returns the senders' close error
// (ErrClosed for a plain Close). It returns ErrClosed if r is closed (also
// when r is closed while Recv waits), and context.Cause(ctx) if ctx ends
// first, in which case nothing was received.
func (r *Recver[T]) Recv(ctx context.Context) (T, error) {
	mu := r.p.mutex()
	mu.Lock()
	if v, err, done := r.p.recvLocked(&r.e, nil); done {
		mu.Unlock()
		return v, err
	}
	var zero T
	if ctx.Err() != nil {
		mu.Unlock()
		return zero, context.Cause(ctx)
	}
	n := getNode(&r.spare)
	w := n.w
	n.idx, n.owner = 0, &r.e
	r.p.parkRecvLocked(n)
	mu.Unlock()
	var v T
	var err error
	if w.park(ctx) {
		v, err = n.val, w.err
	} else {
		mu.Lock()
		r.p.unparkRecvLocked(n)
		mu.Unlock()
		err = context.Cause(ctx)
	}
	putNode(&r.spare, n)
	return v, err
}

// TryRecv returns an item if one is ready now, and ErrWouldBlock if not.
func (r *Recver[T]) TryRecv() (T, error) {
	mu := r.p.mutex()
	mu.Lock()
	v, err, done := r.p.recvLocked(&r.e, nil)
	mu.Unlock()
	if !done {
		return v, ErrWouldBlock
	}
	return v, err
}

// Close closes this recver: goroutines parked on it get ErrClosed, and once
// every recver has closed, buffered items are discarded and senders get
// ErrAbandoned. Close is idempotent.
func (r *Recver[T]) Close() { r.p.closeRecv(&r.e) }

// Clone returns a new recver participant of the same primitive, with its own
// Close. It returns ErrNotShared if the primitive has a single recver and
// ErrClosed if r is closed.
func (r *Recver[T]) Clone() (*Recver[T], error) {
	c := &Recver[T]{p: r.p}
	if err := r.p.cloneRecv(&r.e); err != nil {
		return nil, err
	}
	return c, nil
}

// Dropped returns how many items this recver's primitive discarded or
// overwrote instead of delivering: Broadcast subscriptions and State count
// them; other primitives never drop and return 0.
func (r *Recver[T]) Dropped() uint64 { return r.p.dropped() }

// demandq holds the nodes of the goroutines waiting for demand on a send
// port (see demandLocked) to appear (present) or go away (gone). Guarded by
// the lock of the primitive that holds it.
type demandq[T any] struct{ present, gone list[T] }

func (q *demandq[T]) empty() bool { return q.present.head == nil && q.gone.head == nil }

func (q *demandq[T]) watch(n *node[T], want bool) {
	if want {
		q.present.push(n)
	} else {
		q.gone.push(n)
	}
}

func (q *demandq[T]) unwatch(n *node[T], want bool) {
	if want {
		q.present.remove(n)
	} else {
		q.gone.remove(n)
	}
}

// fire wakes the watchers whose wish came true, or whose end fails now;
// demand is the port's demandLocked. Callers check empty first, which is
// the common case.
func (q *demandq[T]) fire(demand func(e *end, self *waiter) (bool, error)) {
	for _, l := range []*list[T]{&q.present, &q.gone} {
		want := l == &q.present
		for n := l.head; n != nil; {
			next := n.next
			if d, err := demand(n.owner, n.w); err != nil || d == want {
				l.remove(n)
				if n.w.claim() {
					n.w.fire(n.idx, nil)
				}
			}
			n = next
		}
	}
}

// A hook is a function to run once every recver of a send port has closed:
// how a stage closes its upstream the moment its downstream is abandoned,
// so that the producer's next Send already sees ErrAbandoned.
type hook struct{ fn func() }

// hooks is a primitive's set of hooks, guarded by its lock.
type hooks []*hook

func (hs *hooks) add(h *hook) { *hs = append(*hs, h) }

func (hs *hooks) remove(h *hook) {
	if i := slices.Index(*hs, h); i >= 0 {
		*hs = slices.Delete(*hs, i, i+1)
	}
}

// take empties the set and returns what it held, to be run (runHooks)
// after the lock is released.
func (hs *hooks) take() []*hook {
	t := *hs
	*hs = nil
	return t
}

func runHooks(hs []*hook) {
	for _, h := range hs {
		h.fn()
	}
}
