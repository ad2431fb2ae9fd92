package vanilla

import (
	"context"
	"errors"
	"sync"
)

// Hub owns goroutines: the world the notes talk about. Go spawns a goroutine
// whose context the Hub cancels, with cause ErrStopped, when it stops, so
// every operation parked under it returns ErrStopped. Stop waits until every
// goroutine the Hub spawned has exited. The errors the goroutines return
// are recorded and returned, joined, by Wait and Stop.
//
// A panic in a Hub goroutine is not recovered: it crashes the process, with
// the panic value and stack on stderr, as a panic in any goroutine does
// (net/http's stance for goroutines outside its handlers). Recovering it
// would turn the crash into whatever the panicking code left behind: a
// mutex still held, a half-updated structure, then a deadlock or wrong
// answers instead of a loud failure. Wait and Stop never return while a
// goroutine is panicking, so nothing the Hub's owner does next can run
// ahead of the crash. (A goroutine that calls runtime.Goexit is never
// counted as exited either: Wait and Stop block.)
//
// A Hub is safe for concurrent use: Go, Wait and Stop may be called from
// any goroutine at any time, including from the Hub's own goroutines (but a
// goroutine that waits for itself waits forever). The zero Hub is ready to
// use.
//
//	var h vanilla.Hub
//	defer h.Stop()
//	h.Go(ctx, func(ctx context.Context) error { return s.Send(ctx, 1) })
type Hub struct {
	mu sync.Mutex
	// Everything below is guarded by mu.
	stopped bool
	cancels map[*int]context.CancelCauseFunc // one per running goroutine
	errs    []error
	// idle is closed when the last running goroutine exits; nil while none
	// runs. Wait waits on it.
	idle chan struct{}
}

// Go runs fn in a new goroutine with a context derived from ctx that is
// cancelled when the Hub stops. The error fn returns (other than one caused
// by the stop) is recorded. After Stop, Go does not run fn.
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
	if len(h.cancels) == 0 {
		h.idle = make(chan struct{})
	}
	h.cancels[key] = cancel
	h.mu.Unlock()

	// Exits when fn returns; fn is expected to return once ctx is done.
	go func() {
		err := fn(ctx)
		// Only a return gets here: a panic unwinds past this point and
		// crashes the process, and the Hub keeps counting the goroutine as
		// running, so that Wait cannot return first.
		h.exited(ctx, key, err)
		cancel(nil)
	}()
	return true
}

// exited records that the goroutine under key returned err.
func (h *Hub) exited(ctx context.Context, key *int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.cancels, key)
	if err != nil && !(errors.Is(err, ErrStopped) && context.Cause(ctx) == ErrStopped) {
		h.errs = append(h.errs, err)
	}
	if len(h.cancels) == 0 {
		close(h.idle)
		h.idle = nil
	}
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

// Wait waits until no goroutine of the Hub is running, and returns the
// errors of all that have exited, joined (nil if there were none). A
// goroutine spawned by a concurrent Go before that moment is waited for
// too.
func (h *Hub) Wait() error {
	h.mu.Lock()
	idle := h.idle
	h.mu.Unlock()
	if idle != nil {
		<-idle
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return errors.Join(h.errs...)
}
