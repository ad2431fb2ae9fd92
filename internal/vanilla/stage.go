package vanilla

import (
	"context"
	"errors"
	"time"
)

// The stages below each run one goroutine on a Hub. They share these rules:
//
//   - Demand: a stage with a downstream (Connect, Map, Filter) pulls an
//     item from upstream only while its downstream has demand: a recver
//     waiting on it (for a Tee: on every output; for a Gather input: the
//     Gather's recver), or room in its buffer (the notes' "only activate a
//     section of code if its outputs are available"). If the demand goes
//     away before an item arrives, the stage stops pulling. An item that
//     arrives just as the demand goes away is held by the stage (at most
//     one) until the next recver takes it.
//   - Abandon: when every recver of the downstream has closed, the
//     closing goroutine itself closes the stage's upstream recver before
//     its Close returns, so the producer's next Send (and any Send already
//     waiting) returns ErrAbandoned, and the stage goroutine, woken from
//     wherever it waits, exits. Upstream of a chain of stages, the
//     producer sees ErrAbandoned the same way.
//   - End: when a stage ends, for any reason, it closes its upstream
//     recver and closes its downstream sender with the reason: the
//     upstream's close error, the error a function returned, ErrStopped
//     when the Hub stops. A plain end of input arrives downstream as
//     ErrClosed. No stage goroutine outlives its Hub.
//   - Panics are not recovered (see Hub): a panic in a stage's function
//     crashes the process.

// Connect moves every item from src to dst until either ends, then closes
// both as described above. Connect a clone of a Router's sender to fan in.
func Connect[T any](ctx context.Context, h *Hub, src *Recver[T], dst *Sender[T]) {
	goStage(ctx, h, func(ctx context.Context) error {
		return pump(ctx, src, dst, func(_ context.Context, v T) (T, bool, error) { return v, true, nil })
	}, func() { src.Close(); dst.CloseWithError(ErrStopped) })
}

// Map returns a recver of fn applied to every item of src. An error from fn
// ends the stage and reaches the returned recver.
func Map[T, U any](ctx context.Context, h *Hub, src *Recver[T], fn func(context.Context, T) (U, error)) *Recver[U] {
	s, r := NewPipe[U]()
	goStage(ctx, h, func(ctx context.Context) error {
		return pump(ctx, src, s, func(ctx context.Context, v T) (U, bool, error) {
			u, err := fn(ctx, v)
			return u, true, err
		})
	}, func() { src.Close(); s.CloseWithError(ErrStopped) })
	return r
}

// Filter returns a recver of the items of src for which keep returns true.
func Filter[T any](ctx context.Context, h *Hub, src *Recver[T], keep func(T) bool) *Recver[T] {
	s, r := NewPipe[T]()
	goStage(ctx, h, func(ctx context.Context) error {
		return pump(ctx, src, s, func(_ context.Context, v T) (T, bool, error) { return v, keep(v), nil })
	}, func() { src.Close(); s.CloseWithError(ErrStopped) })
	return r
}

// Consume calls fn with every item of src until src ends or fn returns an
// error, then closes src. The Hub records fn's error.
func Consume[T any](ctx context.Context, h *Hub, src *Recver[T], fn func(context.Context, T) error) {
	goStage(ctx, h, func(ctx context.Context) error {
		defer src.Close()
		for {
			v, err := src.Recv(ctx)
			if err != nil {
				return endErr(err)
			}
			if err := fn(ctx, v); err != nil {
				return err
			}
		}
	}, src.Close)
}

// Produce returns a recver fed by fn, which runs in its own goroutine and
// sends on s; each Send waits for a recver to take the item. When fn
// returns, s is closed with fn's error (nil: ErrClosed). Once the returned
// recver is closed, fn's Sends return ErrAbandoned.
func Produce[T any](ctx context.Context, h *Hub, fn func(ctx context.Context, s *Sender[T]) error) *Recver[T] {
	s, r := NewPipe[T]()
	goStage(ctx, h, func(ctx context.Context) (err error) {
		returned := false
		defer func() {
			if !returned {
				err = errAborted
			}
			s.CloseWithError(err)
			err = endErr(err)
		}()
		err = fn(ctx, s)
		returned = true
		return err
	}, func() { s.CloseWithError(ErrStopped) })
	return r
}

// Pulse returns a recver that gets the time every interval, like a
// time.Ticker: ticks are not queued; a recver that is busy gets only the
// latest one (Dropped counts the others). A non-positive interval returns a
// recver that is already closed with ErrBadInterval.
func Pulse(ctx context.Context, h *Hub, every time.Duration) *Recver[time.Time] {
	s, r := NewState[time.Time]()
	if every <= 0 {
		s.CloseWithError(ErrBadInterval)
		return r
	}
	goStage(ctx, h, func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		abandoned := make(chan struct{})
		gone := &hook{fn: func() { close(abandoned) }} // hooks run at most once
		s.p.onAbandon(gone)
		defer s.p.offAbandon(gone)
		// Exits with ctx, or as soon as the recver closes (not at the next
		// tick).
		for {
			select {
			case now := <-t.C:
				if err := s.Send(ctx, now); err != nil {
					return endErr(err)
				}
			case <-abandoned:
				return nil
			case <-ctx.Done():
				s.CloseWithError(context.Cause(ctx))
				return nil
			}
		}
	}, func() { s.CloseWithError(ErrStopped) })
	return r
}

// errAborted is what a stage's downstream gets when the stage's function
// neither returned nor was stopped: it called runtime.Goexit (a panic
// crashes the process before anyone could see it).
var errAborted = errors.New("vanilla: stage function exited without returning")

// goStage runs fn on h, as h.Go. Once h has stopped, fn never runs, so
// ifStopped closes the stage's ends as fn would have (downstream with
// ErrStopped), and nobody waits on them forever.
func goStage(ctx context.Context, h *Hub, fn func(context.Context) error, ifStopped func()) {
	if !h.spawn(ctx, fn) {
		ifStopped()
	}
}

// pump runs one stage from src to dst; see the stage rules above.
func pump[T, U any](ctx context.Context, src *Recver[T], dst *Sender[U], step func(context.Context, T) (U, bool, error)) (err error) {
	abandoned := &hook{fn: src.Close}
	dst.p.onAbandon(abandoned)
	returned := false
	defer func() {
		if !returned {
			err = errAborted
		}
		dst.p.offAbandon(abandoned)
		src.Close()
		dst.CloseWithError(err)
		err = endErr(err)
	}()
	err = pumpLoop(ctx, src, dst, step)
	returned = true
	return err
}

func pumpLoop[T, U any](ctx context.Context, src *Recver[T], dst *Sender[U], step func(context.Context, T) (U, bool, error)) error {
	var v T
	present := &demandCase[U]{s: dst, want: true}
	gone := &demandCase[U]{s: dst, want: false}
	recv := src.Case(&v)
	for {
		if _, err := Select(ctx, present); err != nil {
			return err // ctx, or dst abandoned
		}
		// gone comes first: a downstream that left wins over an item.
		i, err := Select(ctx, gone, recv)
		switch {
		case err != nil:
			return err
		case i == 0:
			continue // no demand any more: wait for it again
		}
		u, keep, err := step(ctx, v)
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		if err := dst.Send(ctx, u); err != nil {
			return err
		}
	}
}

// demandCase is a Select case that sends nothing: it fires when the demand
// on s (sendPort.demandLocked) is as wanted, present or gone, and with an
// error when a send on s would fail at once (ErrAbandoned, ErrClosed).
// When a notification fires it, Select returns nil: the caller polls again.
type demandCase[T any] struct {
	s    *Sender[T]
	want bool
	n    *node[T] // parked by enqueue; owned by the Select
}

func (c *demandCase[T]) poll() (error, bool) {
	mu := c.s.p.mutex()
	mu.Lock()
	defer mu.Unlock()
	d, err := c.s.p.demandLocked(&c.s.e, nil)
	return err, err != nil || d == c.want
}

func (c *demandCase[T]) enqueue(w *waiter, idx int) bool {
	mu := c.s.p.mutex()
	mu.Lock()
	defer mu.Unlock()
	if d, err := c.s.p.demandLocked(&c.s.e, w); err != nil || d == c.want {
		return true
	}
	c.n = &node[T]{w: w, idx: idx, owner: &c.s.e}
	c.s.p.watchDemandLocked(c.n, c.want)
	return false
}

func (c *demandCase[T]) dequeue() {
	if c.n == nil {
		return
	}
	mu := c.s.p.mutex()
	mu.Lock()
	c.s.p.unwatchDemandLocked(c.n, c.want)
	mu.Unlock()
	c.n = nil
}

func (c *demandCase[T]) complete(error) { c.n = nil }

// endErr is what a stage reports to its Hub: the normal ends (input closed,
// output abandoned, Hub stopped) are not failures.
func endErr(err error) error {
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrAbandoned) || errors.Is(err, ErrStopped) {
		return nil
	}
	return err
}
