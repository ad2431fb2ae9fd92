package vanilla

import (
	"context"
	"runtime"
	"sync/atomic"
)

// Waiter states. A waiter is parked until someone claims it; claimed is
// final for the parking (the waiter is reset to parked only when its
// goroutine parks again, once no list holds its nodes). Reserved is the
// middle step of a lock-step meeting (Tee, Gather), which must claim several
// waiters at once or none: it reserves them one by one in id order, then
// claims them all or releases them all. A reservation is held only under
// the meeting primitive's lock, and its holder waits on nothing but other
// reservations of higher ids, so whoever finds a waiter reserved waits for
// the outcome (it never gives up on it: that could lose a wake-up) and the
// wait is short and cannot deadlock.
const (
	parked uint32 = iota
	claimed
	reserved
)

// A waiter is one parked goroutine: a blocking Send or Recv, or a Select
// with one node enqueued per case. Whoever wins claim owns the outcome: a
// counterpart that completes the operation, a Close that fails it, or the
// waiter itself giving up (context done, or a case turned ready while the
// Select was still enqueueing). Only a counterpart or Close signals wake,
// exactly once, after writing fired and err.
type waiter struct {
	state atomic.Uint32 // parked, claimed or reserved
	wake  chan struct{} // capacity 1; signalled once by the claim winner
	id    uint64        // orders reservations; set once by getWaiter

	// Written by the claim winner before it signals wake; read by the
	// waiter's goroutine after wake.
	fired int   // index of the case that completed
	err   error // that case's error
}

var waiterIDs atomic.Uint64

// getWaiter returns a new waiter. Waiters are not pooled process-wide: wake
// is a channel, and a channel made inside a testing/synctest bubble must not
// be used outside it (a fatal error), nor does waiting on one made outside
// count as durably blocked inside a bubble. Send and Recv recycle their
// waiter with their end's spare node instead (see getNode).
func getWaiter() *waiter { return &waiter{wake: make(chan struct{}, 1), id: waiterIDs.Add(1)} }

// claim takes the outcome of w for the caller. It reports false if someone
// else has it. A reservation in progress is waited out.
func (w *waiter) claim() bool { return w.acquire(claimed) }

// reserve holds w for a lock-step meeting; see the states above. It reports
// false if w was claimed. The caller then calls confirm or release.
func (w *waiter) reserve() bool { return w.acquire(reserved) }

func (w *waiter) acquire(to uint32) bool {
	for {
		if w.state.CompareAndSwap(parked, to) {
			return true
		}
		if w.state.Load() == claimed {
			return false
		}
		runtime.Gosched() // reserved: the meeting resolves without waiting on us
	}
}

// confirm turns the caller's reservation into a claim.
func (w *waiter) confirm() { w.state.Store(claimed) }

// release gives up the caller's reservation: w is parked again.
func (w *waiter) release() { w.state.Store(parked) }

// isClaimed reports whether w has been claimed: a node of it that is still
// linked somewhere is dead and only waits to be unlinked.
func (w *waiter) isClaimed() bool { return w.state.Load() == claimed }

// fire completes case idx with err and wakes w. The caller won claim.
func (w *waiter) fire(idx int, err error) {
	w.fired = idx
	w.err = err
	w.wake <- struct{}{}
}

// park blocks until w is fired or ctx ends. It reports whether w was fired;
// when it returns false, w was claimed by its own goroutine and nobody will
// fire it.
func (w *waiter) park(ctx context.Context) bool {
	done := ctx.Done()
	if done == nil {
		<-w.wake
		return true
	}
	select {
	case <-w.wake:
		return true
	case <-done:
		if w.claim() {
			return false
		}
		<-w.wake // a counterpart won the race: take its outcome
		return true
	}
}

// A node is a waiter's place in one primitive's queue: one per parked
// operation. Guarded by the lock of the primitive whose list holds it.
type node[T any] struct {
	w      *waiter
	idx    int  // case index reported to w when this node completes
	val    T    // send: the value offered; recv: the value delivered
	owner  *end // the handle the operation was made through
	linked bool
	prev   *node[T]
	next   *node[T]
}

// list is a FIFO of parked nodes.
type list[T any] struct {
	head, tail *node[T]
	n          int
}

func (l *list[T]) push(n *node[T]) {
	n.linked = true
	n.prev = l.tail
	n.next = nil
	if l.tail == nil {
		l.head = n
	} else {
		l.tail.next = n
	}
	l.tail = n
	l.n++
}

// remove unlinks n if it is still linked; it is safe to call twice.
func (l *list[T]) remove(n *node[T]) {
	if !n.linked {
		return
	}
	if n.prev == nil {
		l.head = n.next
	} else {
		n.prev.next = n.next
	}
	if n.next == nil {
		l.tail = n.prev
	} else {
		n.next.prev = n.prev
	}
	n.prev, n.next, n.linked = nil, nil, false
	l.n--
}

// take unlinks and claims the first node not owned by self, discarding
// nodes whose waiter was already claimed elsewhere. It returns nil when no
// claimable node is left.
func (l *list[T]) take(self *waiter) *node[T] {
	for n := l.head; n != nil; {
		next := n.next
		if n.w != self {
			l.remove(n)
			if n.w.claim() {
				return n
			}
		}
		n = next
	}
	return nil
}

// hasOther reports whether l holds a node of a waiter other than self.
func (l *list[T]) hasOther(self *waiter) bool {
	for n := l.head; n != nil; n = n.next {
		if n.w != self {
			return true
		}
	}
	return false
}

// failAll claims every node in l (those of owner only, when owner is not
// nil) and fires it with err.
func (l *list[T]) failAll(owner *end, err error) {
	for n := l.head; n != nil; {
		next := n.next
		if owner == nil || n.owner == owner {
			l.remove(n)
			if n.w.claim() {
				n.w.fire(n.idx, err)
			}
		}
		n = next
	}
}

// end is the close state of one handle (one Sender or Recver). Guarded by
// the lock of the primitive the handle belongs to.
type end struct {
	closed bool
	seen   uint64 // Value watchers: the last version this handle received
}
