package vanilla

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
)

// Hub owns goroutines: the world the notes talk about. Go spawns a goroutine
// whose context the Hub cancels, with cause ErrStopped, when it stops, so
// every operation parked under it returns ErrStopped. Stop waits until every
// goroutine the Hub spawned has exited. A goroutine's error or panic is
// recorded and returned by Wait and Stop: a panic is never silent, and it
// does not take the process down.
//
// A Hub is safe for concurrent use. The zero Hub is ready to use.
//
//	var h vanilla.Hub
//	defer h.Stop()
//	h.Go(ctx, func(ctx context.Context) error { return s.Send(ctx, 1) })
type Hub struct {
	wg sync.WaitGroup

	mu sync.Mutex
	// Everything below is guarded by mu.
	stopped bool
	cancels map[*int]context.CancelCauseFunc // one per running goroutine
	errs    []error
}

// Go runs fn in a new goroutine with a context derived from ctx that is
// cancelled when the Hub stops. The error fn returns (other than one caused
// by the stop) is recorded; so is a panic, as a *PanicError. After Stop, Go
// does not run fn.
func (h *Hub) Go(ctx context.Context, fn func(ctx context.Context) error) { h.spawn(ctx, fn) }

// spawn is Go, reporting whether fn was started (false once h has stopped).
func (h *Hub) spawn(ctx context.Context, fn func(ctx context.Context) error) bool {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return false
	}
	ctx, cancel := context.WithCancelCause(ctx)
	key := new(int)
	if h.cancels == nil {
		h.cancels = make(map[*int]context.CancelCauseFunc)
	}
	h.cancels[key] = cancel
	h.wg.Add(1)
	h.mu.Unlock()

	// Exits when fn returns; fn is expected to return once ctx is done.
	go func() {
		defer h.wg.Done()
		err := h.run(ctx, fn)
		h.mu.Lock()
		delete(h.cancels, key)
		if err != nil && !(errors.Is(err, ErrStopped) && context.Cause(ctx) == ErrStopped) {
			h.errs = append(h.errs, err)
		}
		h.mu.Unlock()
		cancel(nil)
	}()
	return true
}

func (h *Hub) run(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// Stop cancels every goroutine of the Hub with cause ErrStopped, waits until
// all have exited, and returns what Wait returns. Later calls to Go do
// nothing. Stop is idempotent.
func (h *Hub) Stop() error {
	h.mu.Lock()
	h.stopped = true
	for _, cancel := range h.cancels {
		cancel(ErrStopped)
	}
	h.mu.Unlock()
	return h.Wait()
}

// Wait waits until every goroutine spawned so far has exited and returns
// their errors and panics joined (nil if there were none).
func (h *Hub) Wait() error {
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return errors.Join(h.errs...)
}
