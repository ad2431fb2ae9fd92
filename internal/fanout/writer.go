package fanout

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// writerPool is the Hub's pool of writer goroutines. A client with
// something to send is queued once (scheduled); BatchDelay later one of the
// pool's writers drains its outbox into the client's batchConn and sends
// it all with one non-blocking socket write. A client all of whose
// subscriptions have an update pending is queued again, to be sent at once
// (pushNow): its pulse is all there, and waiting would only delay it. A client whose socket does not
// take everything at once gets a goroutine of its own (slowLoop) that
// blocks on it, within WriteTimeout, until its outbox is empty; then it is
// back in the pool. So a stuck client never holds up a pool writer, and
// the number of goroutines that wake up per pulse stays small: the ones of
// the collector get scheduled promptly, whatever the number of clients.
//
// It is safe for concurrent use; its mu is a leaf lock (taken with a
// client's mu or an entry's held, never the reverse).
type writerPool struct {
	delay   time.Duration // Options.BatchDelay
	service func(*client) // sends a client's outbox: (*client).service, or a test's
	slice   time.Duration // writeSlice, or a test's

	// ready tells a waiting writer that the queue has something (a State).
	// Sent by push and by a writer leaving work behind; received by the
	// writers.
	readyS *vanilla.Sender[struct{}]
	readyR *vanilla.Recver[struct{}]

	// kick wakes a writer waiting for the head of q to be due: sent (if
	// empty) by pushNow.
	kick chan struct{}

	mu sync.Mutex
	// Guarded by mu.
	q     []queued // clients scheduled, in order of due time, from head
	head  int
	x     []queued // clients to send at once (pushNow), due when pushed, from xhead
	xhead int
}

// queued is a scheduled client and when it is due.
type queued struct {
	c   *client
	due time.Time
}

func newWriterPool(delay time.Duration) *writerPool {
	p := &writerPool{delay: delay, service: (*client).service, slice: writeSlice, kick: make(chan struct{}, 1)}
	p.readyS, p.readyR = vanilla.NewState[struct{}]()
	return p
}

// push queues clients, which their callers have just scheduled, due
// BatchDelay from now. It never blocks.
func (p *writerPool) push(cs ...*client) {
	if len(cs) == 0 {
		return
	}
	due := time.Now().Add(p.delay)
	p.mu.Lock()
	for _, c := range cs {
		p.q = append(p.q, queued{c, due})
	}
	p.mu.Unlock()
	_ = p.readyS.TrySend(struct{}{}) // a State: never blocks
}

// pushNow queues c to be sent as soon as a writer is free: due now, and
// taken in order of due time with the clients push queued, so that a
// stream of these does not hold back those whose BatchDelay is over. It
// never blocks.
func (p *writerPool) pushNow(c *client) {
	now := time.Now()
	p.mu.Lock()
	p.x = append(p.x, queued{c, now})
	p.mu.Unlock()
	_ = p.readyS.TrySend(struct{}{}) // a State: never blocks
	select {
	case p.kick <- struct{}{}:
	default: // a kick is pending already
	}
}

// pop takes the client due first of pushNow's first and push's first, if
// it is due at now. Otherwise it returns how
// long until it is, or a negative wait when the queue is empty. more
// reports whether clients remain queued.
func (p *writerPool) pop(now time.Time) (c *client, wait time.Duration, more bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.xhead < len(p.x) && (p.head == len(p.q) || !p.q[p.head].due.Before(p.x[p.xhead].due) || p.q[p.head].due.After(now)) {
		c = p.x[p.xhead].c
		advance(&p.x, &p.xhead)
		return c, 0, p.xhead < len(p.x) || p.head < len(p.q)
	}
	if p.head == len(p.q) {
		return nil, -1, false
	}
	first := p.q[p.head]
	if d := first.due.Sub(now); d > 0 {
		return nil, d, true
	}
	advance(&p.q, &p.head)
	return first.c, 0, p.head < len(p.q) || p.xhead < len(p.x)
}

// advance drops the entry at *head of q: q is reused from its start once
// every entry has been taken, and its taken front let go of once it is
// more than half of q and over 1,024 entries.
func advance(q *[]queued, head *int) {
	(*q)[*head] = queued{}
	*head++
	switch {
	case *head == len(*q):
		*q, *head = (*q)[:0], 0
	case *head > 1024 && *head > len(*q)/2:
		n := copy(*q, (*q)[*head:])
		clear((*q)[n:])
		*q, *head = (*q)[:n], 0
	}
}

// writeSlice is how long a pool writer sends, client after client,
// before it yields (runtime.Gosched), so that what the collector or the
// cluster watch readied meanwhile runs before its next client. A yielding
// goroutine goes to the global run queue, which the scheduler serves after
// the local one. So on a busy core a pulse's collection is not held back
// by the writes of its first quotes: it ends sooner, and each client has
// more of the pulse pending when its turn comes, fewer frames for the same
// quotes. A writer that sends only a few clients at a time never yields.
// At 10,000 clients on one core (docs/benchmarks.md, session 9), against
// not yielding: 11 quotes a frame instead of 8.6-8.8, 15% less CPU for the
// server and its clients, the last quotes of a pulse out sooner (p99 from
// the pulse's start 235-248 ms instead of 283-419), the time from
// collected_at up (p99 28-34 ms instead of 21-25). A 1ms slice: 13.5
// quotes a frame, 49-63 ms; yielding after every client: 20, 136-185 ms.
const writeSlice = 2 * time.Millisecond

// run is one writer of the pool. It returns when ctx ends.
func (p *writerPool) run(ctx context.Context) error {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	busy := time.Now() // when this writer last yielded or waited
	for {
		c, wait, more := p.pop(time.Now())
		switch {
		case c != nil:
			if more {
				_ = p.readyS.TrySend(struct{}{}) // another writer may take the next
			}
			p.service(c)
			if time.Since(busy) >= p.slice {
				runtime.Gosched()
				busy = time.Now()
			}
		case wait < 0:
			if _, err := p.readyR.Recv(ctx); err != nil {
				return nil
			}
			busy = time.Now()
		default:
			t.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			case <-p.kick: // a client to send at once
				t.Stop()
			}
			busy = time.Now()
		}
	}
}

// scheduleLocked marks c scheduled, unless it is already or the
// connection is being torn down; it reports whether the caller must push
// c to the pool. c.mu must be held.
func (c *client) scheduleLocked() bool {
	if c.scheduled || c.done {
		return false
	}
	c.scheduled = true
	return true
}

// wakeLocked schedules c. c.mu must be held.
func (c *client) wakeLocked() {
	if c.scheduleLocked() {
		c.h.pool.push(c)
	}
}

// claim makes the caller c's sender, counting its work in c.bg, unless
// the connection is being torn down or another writer sends for c (c was
// queued twice: see offer); that one sends what c has, or queues it again.
func (c *client) claim() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || c.sending {
		return false
	}
	c.sending, c.express = true, false
	c.bg.Add(1)
	return true
}

// service sends c's outbox from a pool writer: its frames are queued in
// the batchConn and go out with one non-blocking write (or one per
// maxBatch). What the socket does not take is left to slowLoop.
func (c *client) service() {
	if !c.claim() {
		return
	}
	var sent sentCounts
	full, err := c.drain(&sent, c.bc.tryFlush)
	if err == nil && !full {
		full, err = c.bc.tryFlush()
	}
	switch {
	case err != nil:
		c.fail(err)
		c.bg.Done()
	case full:
		// Exits when the outbox is empty or the connection has ended:
		// bounded by WriteTimeout per write.
		go c.slowLoop(sent) // takes over the count in c.bg
	default:
		c.h.m.sent(&sent)
		c.finish()
		c.bg.Done()
	}
}

// slowLoop sends c's outbox in a goroutine of its own, for a client whose
// socket did not take what a pool writer had for it. Its writes block
// while the socket makes progress; one that takes nothing for
// WriteTimeout disconnects the client (errSlow). When the outbox is empty,
// c is back in the pool.
func (c *client) slowLoop(sent sentCounts) {
	defer c.bg.Done()
	flush := func() (bool, error) { return false, c.bc.flush() }
	for {
		// What is queued, then the rest of the outbox.
		err := c.bc.flush()
		if err == nil {
			_, err = c.drain(&sent, flush)
		}
		if err == nil {
			err = c.bc.flush()
		}
		if err != nil {
			c.fail(err)
			return
		}
		c.h.m.sent(&sent)
		if c.isStopped() {
			return
		}
		c.mu.Lock()
		idle := c.done || (len(c.ctrl) == 0 && len(c.dirty) == 0)
		if idle {
			c.scheduled, c.sending = false, false // back in the pool
		}
		c.mu.Unlock()
		if idle {
			return
		}
	}
}

// fail stops the connection after a write error. A slow client's queue is
// kept: it ends on a whole frame, and the close frame goes behind it. So
// is the queue of a connection whose close frame is queued already
// (errClosing): the close frame, behind the frames before it, is being
// sent by whoever queued it, and dropping it would end the connection
// without one.
func (c *client) fail(err error) {
	switch {
	case errors.Is(err, errSlow):
		c.stop(err)
		return
	case errors.Is(err, errClosing):
		c.stop(fmt.Errorf("%w: %w", errConnEnded, err))
		return
	}
	c.bc.drop()
	c.stop(fmt.Errorf("%w: write: %w", errConnEnded, err))
}

// finish unschedules c after a pool writer sent its outbox, or queues it
// again if more arrived meanwhile.
func (c *client) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sending = false
	if !c.done && !c.isStopped() && (len(c.ctrl) > 0 || len(c.dirty) > 0) {
		// Still scheduled. What arrived while c was being sent may be a
		// whole pulse already (see offer), which waits for nothing.
		if !c.express && len(c.dirty) >= len(c.subs) {
			c.express = true
			c.h.pool.pushNow(c)
			return
		}
		c.h.pool.push(c)
		return
	}
	c.scheduled = false
}

// drain queues the outbox's frames in the batchConn until the outbox is
// empty or the connection is stopped, calling flush every maxBatch bytes;
// it stops early, reporting full, when flush does. Queueing does not
// block: it only copies. In batch mode the messages go in JSON arrays of
// up to maxArray bytes, one array per frame: the whole outbox in as few
// frames as that allows.
func (c *client) drain(sent *sentCounts, flush func() (full bool, err error)) (bool, error) {
	var buf [2]frame
	var arr []frame
	if c.batch {
		pa := arrPool.Get().(*[]frame)
		arr = (*pa)[:0]
		defer func() { clear(arr); *pa = arr[:0]; arrPool.Put(pa) }()
	}
	size := 0 // arr's array length
	emit := func() error {
		if len(arr) == 0 {
			return nil
		}
		err := c.bc.appendArray(arr)
		clear(arr)
		arr, size = arr[:0], 0
		return err
	}
	for !c.isStopped() {
		frames := c.next(&buf)
		if len(frames) == 0 {
			break
		}
		for _, f := range frames {
			sent.add(f)
			if !c.batch {
				if err := c.bc.appendText(f.b); err != nil {
					return false, err
				}
				continue
			}
			if len(arr) > 0 && size+len(f.b)+1 > maxArray {
				if err := emit(); err != nil {
					return false, err
				}
			}
			arr = append(arr, f)
			size += len(f.b) + 1
		}
		if c.bc.buffered()+size >= maxBatch {
			if err := emit(); err != nil {
				return false, err
			}
			if full, err := flush(); full || err != nil {
				return full, err
			}
		}
	}
	return false, emit()
}

// arrPool holds drain's scratch for the messages of a batch frame. It is
// not kept per client: only the clients being sent to need one, and an
// idle client would hold its scratch (about 1 KiB at 20 symbols) for
// nothing.
var arrPool = sync.Pool{New: func() any { return new([]frame) }}

// isStopped reports whether the connection has been stopped.
func (c *client) isStopped() bool {
	select {
	case <-c.stopped:
		return true
	default:
		return false
	}
}
