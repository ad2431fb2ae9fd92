package vanilla

import "context"

// A Case is one operation in a Select: a send made with Sender.Case or a
// recv made with Recver.Case (or Value.Case). A Case is used by one Select
// at a time.
type Case interface {
	// poll completes the operation now if it can.
	poll() (err error, done bool)
	// enqueue parks a node for w under index idx, unless the operation
	// could complete now, in which case it parks nothing and reports ready.
	enqueue(w *waiter, idx int) (ready bool)
	// dequeue removes the node enqueue parked, if it is still parked.
	dequeue()
	// complete finishes a case whose node was fired with err.
	complete(err error)
}

// Select waits until one of cases can proceed, performs exactly that one and
// returns its index and error. The other cases do not happen: their parked
// operations are withdrawn before Select returns.
//
// When several cases are ready at once, the first in argument order wins, so
// the order of cases is a priority (Go's select picks at random; rotate the
// cases to get fairness). A case whose end or primitive is closed is ready:
// it returns with its error (ErrClosed, ErrAbandoned or the sender's error).
// If ctx ends first, Select returns -1 and context.Cause(ctx), and no case
// happened.
//
//	var v int
//	switch i, err := vanilla.Select(ctx, quotes.Case(&v), stop.Case(&v)); {
//	case err != nil: // closed, abandoned or ctx
//	case i == 0: // v is a quote
//	}
func Select(ctx context.Context, cases ...Case) (int, error) {
	for {
		for i, c := range cases {
			if err, done := c.poll(); done {
				return i, err
			}
		}
		if ctx.Err() != nil {
			return -1, context.Cause(ctx)
		}
		w := getWaiter()
		parked := len(cases)
		for i, c := range cases {
			if c.enqueue(w, i) {
				parked = i
				break
			}
		}
		var fired bool
		if parked < len(cases) {
			// A case became ready while the others were being enqueued.
			// Withdraw, unless a counterpart fired one of them meanwhile.
			if fired = !w.claim(); fired {
				<-w.wake
			}
		} else {
			fired = w.park(ctx)
		}
		for _, c := range cases[:parked] {
			c.dequeue()
		}
		if !fired {
			if parked < len(cases) {
				continue // poll again: the ready case may still be ready
			}
			return -1, context.Cause(ctx)
		}
		i, err := w.fired, w.err
		cases[i].complete(err)
		return i, err
	}
}

// Case returns a Select case that sends v.
func (s *Sender[T]) Case(v T) Case { return &sendCase[T]{s: s, v: v} }

// Case returns a Select case that receives into *dst. *dst is written only
// when the case fires without an error.
func (r *Recver[T]) Case(dst *T) Case { return &recvCase[T]{r: r, dst: dst} }

type sendCase[T any] struct {
	s *Sender[T]
	v T
	n *node[T] // parked by enqueue; owned by the Select
}

func (c *sendCase[T]) poll() (error, bool) {
	mu := c.s.p.mutex()
	mu.Lock()
	err, done := c.s.p.sendLocked(&c.s.e, nil, c.v)
	mu.Unlock()
	return err, done
}

func (c *sendCase[T]) enqueue(w *waiter, idx int) bool {
	mu := c.s.p.mutex()
	mu.Lock()
	defer mu.Unlock()
	if c.s.p.canSendLocked(&c.s.e, w) {
		return true
	}
	c.n = &node[T]{w: w, idx: idx, val: c.v, owner: &c.s.e}
	c.s.p.parkSendLocked(c.n)
	return false
}

func (c *sendCase[T]) dequeue() {
	if c.n == nil {
		return
	}
	mu := c.s.p.mutex()
	mu.Lock()
	c.s.p.unparkSendLocked(c.n)
	mu.Unlock()
	c.n = nil
}

func (c *sendCase[T]) complete(error) { c.n = nil }

type recvCase[T any] struct {
	r   *Recver[T]
	dst *T
	n   *node[T] // parked by enqueue; owned by the Select
}

func (c *recvCase[T]) poll() (error, bool) {
	mu := c.r.p.mutex()
	mu.Lock()
	v, err, done := c.r.p.recvLocked(&c.r.e, nil)
	mu.Unlock()
	if done && err == nil {
		*c.dst = v
	}
	return err, done
}

func (c *recvCase[T]) enqueue(w *waiter, idx int) bool {
	mu := c.r.p.mutex()
	mu.Lock()
	defer mu.Unlock()
	if c.r.p.canRecvLocked(&c.r.e, w) {
		return true
	}
	c.n = &node[T]{w: w, idx: idx, owner: &c.r.e}
	c.r.p.parkRecvLocked(c.n)
	return false
}

func (c *recvCase[T]) dequeue() {
	if c.n == nil {
		return
	}
	mu := c.r.p.mutex()
	mu.Lock()
	c.r.p.unparkRecvLocked(c.n)
	mu.Unlock()
}

func (c *recvCase[T]) complete(err error) {
	if err == nil {
		*c.dst = c.n.val
	}
	c.n = nil
}
