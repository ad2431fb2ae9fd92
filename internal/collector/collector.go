// Package collector runs the one-shot collectors: on every pulse each
// symbol's collector sends one request down the shared pipelined
// connection, parses the answer and puts the symbol's new Snapshot into a
// Sink (the board, or in cluster mode the shared bucket). A collector that
// fails just fails: the last good quote stays, the symbol is marked stale,
// and the next pulse tries again.
//
// The collector owns what collection needs (each symbol's last seq and
// whether a collection runs); the per-symbol state that readers see lives
// in the sink.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/time/rate"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// Errors of a Collector.
var (
	// ErrNotRunning is returned by Collect when the Collector is not
	// usable: Run has returned.
	ErrNotRunning = errors.New("collector: stopped")
	// ErrPaused is the error of a collection not sent because the source
	// asked to be left alone (HTTP 429 or 503 with Retry-After).
	ErrPaused = errors.New("collector: source paused")
)

// Backoff of unknown symbols: the first retry after unknownBackoff,
// doubling up to maxUnknownBackoff.
const (
	unknownBackoff    = 10 * time.Second
	maxUnknownBackoff = time.Hour
	// maxPause bounds a pause asked for with an HTTP date.
	maxPause = time.Hour
	// failureLogEvery is how often a symbol that keeps failing the same
	// way is logged again, with the count.
	failureLogEvery = time.Minute
)

// Doer sends one request; *httpx.Client is the one the service uses.
type Doer interface {
	Do(ctx context.Context, req *http.Request) (*http.Response, error)
}

// Resetter is a Doer whose connection can be reset; *httpx.Client is one.
// When an answer is for another symbol than the one asked
// (quote.ErrWrongSymbol), the pipelined connection is misaligned: if its
// Doer is a Resetter, the collector resets the connection and asks once
// more on the new one; a second wrong answer resets it again and fails
// the collection. The wrong answer is never taken as the symbol's quote.
type Resetter interface {
	Reset(cause error)
}

// Lease is a Sink whose writes land only for a while: cluster mode's term
// as leader, which ends at a deadline on the monotonic clock. Before each
// request the collector asks Until for that deadline: with an error (the
// term is over, though the timer that cancels the collector may not have
// fired yet, as right after the process was frozen), it sends nothing and
// records nothing; otherwise the request's context ends by the deadline.
// So a leader past its lease never polls the upstream.
type Lease interface {
	Until() (time.Time, error)
}

// Sink receives what the collector produces, in order per symbol: the
// symbol set whenever it changes, and each symbol's new Snapshot. A
// *board.Board is a Sink; so is the cluster mode's writer. Put may block
// for as long as ctx allows; an error means the snapshot may not have
// landed, and its seq is never used again.
type Sink interface {
	PutSymbols(ctx context.Context, syms board.Symbols) error
	Put(ctx context.Context, snap board.Snapshot) error
}

var _ Sink = (*board.Board)(nil)

// Options configures a Collector. A nil *Options means all defaults.
type Options struct {
	Timeout time.Duration    // per collection; 0 means 5s
	Now     func() time.Time // nil means time.Now
	Logger  *slog.Logger     // state changes of symbols; nil discards
	Metrics *Metrics         // nil records nothing

	// MaxRPS caps the requests per second sent to the source: a token
	// bucket with a burst of one second's worth (at least 1). A pulse
	// larger than that is spread over time, not dropped; a collection
	// waiting for its turn counts as running, so the next pulse skips it.
	// 0 means no cap.
	MaxRPS float64

	// StaleAfter is how many consecutive failures mark a symbol stale; a
	// failure before that is counted (Snapshot.Failures) and logged at
	// debug level. 0 means 2.
	StaleAfter int

	// Seed returns the last snapshot known for a symbol when the collector
	// starts collecting it, so that seqs continue from it (a new leader
	// continues where the last one stopped). Nil means none: seqs start
	// at 1.
	Seed func(sym string) (board.Snapshot, bool)
}

// Collector runs the collections of a set of symbols into a Sink.
//
// A Collector is safe for concurrent use. Run drives it from a cron
// schedule and owns every collection goroutine: when Run's context ends,
// running collections are cancelled and Run returns once they are gone.
// Collect runs one pulse by hand and waits for it. SetSymbols, Add and
// Remove change the set; a removed symbol's running collection is
// cancelled and waited for, so nothing is put for it after they return.
//
//	c := collector.New(src, client, b, cfg.Symbols, nil)
//	err := c.Run(ctx, schedule) // until ctx ends; returns context.Cause(ctx)
type Collector struct {
	src  quote.Source
	do   Doer
	sink Sink
	opts Options

	limiter *rate.Limiter // MaxRPS; nil when there is no cap

	pauseMu sync.Mutex
	// Guarded by pauseMu; written by collections.
	pausedUntil time.Time // no request is sent before it
	pauseReason string    // the answer that asked for the pause

	schedS *vanilla.Sender[cron.Schedule] // SetSchedule -> Run: a State, never blocks
	schedR *vanilla.Recver[cron.Schedule]

	// putMu serialises the symbol set's puts, so the sink sees the sets in
	// the order they were made. Taken before mu, never while holding it.
	putMu sync.Mutex

	mu sync.Mutex
	// Guarded by mu.
	symbols    map[string]*symbol
	order      []string        // symbols in configuration order, then added ones
	configured map[string]bool // the symbols of the last SetSymbols
	dynamic    map[string]bool // symbols added with Add and not removed
	wg         sync.WaitGroup  // running collections; Add under mu while !stopped
	stopped    bool            // Run has returned: no collection starts
	fresh      map[string]bool // symbols added since the last pulse: Run pulses them at once

	// freshS tells Run that fresh is not empty. Sent (never blocking) by
	// whoever adds symbols; received by Run.
	freshS *vanilla.Sender[struct{}]
	freshR *vanilla.Recver[struct{}]
}

// symbol is one symbol's collection state.
type symbol struct {
	name string

	mu sync.Mutex
	// Guarded by mu.
	snap    board.Snapshot     // the last snapshot put (or seeded)
	seq     uint64             // the highest seq used, landed or not
	running bool               // a collection is in progress; at most one at a time
	cancel  context.CancelFunc // cancels the running collection
	done    chan struct{}      // closed when the running collection ends
	removed bool               // no longer collected: put nothing more
	retryAt time.Time          // an unknown symbol is not asked again before it
	unknown int                // consecutive unknown-symbol answers
	logged  failureLog         // what was last logged of its failures
}

// failureLog rate-limits the logging of a symbol's failures: a change of
// state is logged at once, the same failure again at most once per
// failureLogEvery, with how many there were.
type failureLog struct {
	err   string    // the failure last logged; "" after a success
	at    time.Time // when
	count int       // failures of the same kind since, not logged
}

// New returns a Collector for symbols, collecting from src through do into
// sink. It puts the symbol set into sink before it returns.
func New(src quote.Source, do Doer, sink Sink, symbols []string, opts *Options) *Collector {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 2
	}
	c := &Collector{src: src, do: do, sink: sink, opts: o, symbols: make(map[string]*symbol), dynamic: make(map[string]bool), fresh: make(map[string]bool)}
	if o.MaxRPS > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(o.MaxRPS), max(1, int(o.MaxRPS)))
	}
	c.schedS, c.schedR = vanilla.NewState[cron.Schedule]()
	c.freshS, c.freshR = vanilla.NewState[struct{}]()
	c.SetSymbols(symbols)
	return c
}

// Symbols returns the symbols being collected, in order.
func (c *Collector) Symbols() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// SetSymbols makes syms the configured set, collected from the next pulse
// on (new ones at once while Run runs). Symbols no longer configured stop,
// unless they were added with Add and not removed yet.
func (c *Collector) SetSymbols(syms []string) {
	c.putMu.Lock()
	defer c.putMu.Unlock()
	c.mu.Lock()
	c.configured = make(map[string]bool, len(syms))
	for _, name := range syms {
		c.configured[name] = true
	}
	var gone []*symbol
	for name := range c.symbols {
		if !c.configured[name] && !c.dynamic[name] {
			gone = append(gone, c.removeLocked(name))
		}
	}
	order := make([]string, 0, len(c.symbols)+len(syms))
	for _, name := range syms {
		if _, ok := c.symbols[name]; !ok {
			c.symbols[name] = c.newSymbolLocked(name)
		}
		if !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	for _, name := range c.order {
		if !c.configured[name] && c.dynamic[name] {
			order = append(order, name)
		}
	}
	c.order = order
	c.mu.Unlock()
	c.finishRemoval(gone)
}

// Add starts collecting sym (at once while Run runs), on behalf of a
// client that asked for a symbol not configured. It reports whether sym
// was added, false if it is collected already. When Add returns, sym is in
// the sink's symbol set.
func (c *Collector) Add(sym string) bool {
	c.putMu.Lock()
	defer c.putMu.Unlock()
	c.mu.Lock()
	if _, ok := c.symbols[sym]; ok {
		c.mu.Unlock()
		return false
	}
	c.symbols[sym] = c.newSymbolLocked(sym)
	c.order = append(c.order, sym)
	c.dynamic[sym] = true
	c.mu.Unlock()
	c.finishRemoval(nil)
	return true
}

// Remove undoes Add: it stops collecting sym, unless sym is configured (a
// reload may have configured it since), in which case it keeps being
// collected. A running collection of sym is cancelled and waited for.
func (c *Collector) Remove(sym string) {
	c.putMu.Lock()
	defer c.putMu.Unlock()
	c.mu.Lock()
	delete(c.dynamic, sym)
	var gone []*symbol
	if _, ok := c.symbols[sym]; ok && !c.configured[sym] {
		gone = append(gone, c.removeLocked(sym))
	}
	c.mu.Unlock()
	c.finishRemoval(gone)
}

// newSymbolLocked returns the state of a symbol starting to be collected,
// seeded from Options.Seed, and asks Run for an immediate pulse.
func (c *Collector) newSymbolLocked(name string) *symbol {
	s := &symbol{name: name, snap: board.Snapshot{Symbol: name}}
	if c.opts.Seed != nil {
		if snap, ok := c.opts.Seed(name); ok {
			s.snap, s.seq = snap, snap.Quote.Seq
		}
	}
	c.opts.Metrics.addSymbol(name)
	c.fresh[name] = true
	return s
}

func (c *Collector) removeLocked(sym string) *symbol {
	s := c.symbols[sym]
	delete(c.symbols, sym)
	delete(c.dynamic, sym)
	delete(c.fresh, sym)
	c.order = slices.DeleteFunc(c.order, func(n string) bool { return n == sym })
	return s
}

// finishRemoval cancels and waits for the collections of gone, then puts
// the symbol set into the sink. Called with putMu held and mu not held.
func (c *Collector) finishRemoval(gone []*symbol) {
	for _, s := range gone {
		s.mu.Lock()
		s.removed = true
		done := s.done
		if s.running {
			s.cancel()
		}
		s.mu.Unlock()
		if done != nil {
			<-done // bounded: the collection was cancelled
		}
		c.opts.Metrics.removeSymbol(s.name)
	}
	c.mu.Lock()
	set := board.Symbols{}
	for _, name := range c.order {
		if c.configured[name] {
			set.Configured = append(set.Configured, name)
		} else {
			set.Dynamic = append(set.Dynamic, name)
		}
	}
	fresh := len(c.fresh) > 0
	c.mu.Unlock()
	if err := c.sink.PutSymbols(context.Background(), set); err != nil {
		c.opts.Logger.Warn("put symbol set", "error", err)
	}
	if fresh {
		_ = c.freshS.TrySend(struct{}{}) // a State: never blocks
	}
}

// Collect collects every symbol once now, waiting first for a collection
// of it that is running already, and returns how many collections it ran
// once they have all finished (each bounded by the collection timeout, and
// cancelled when ctx ends). It is a pulse by hand, for tests and tools;
// Run's pulses skip a symbol whose collection is still running instead.
// After Run has returned it returns ErrNotRunning.
func (c *Collector) Collect(ctx context.Context) (started int, err error) {
	var wg sync.WaitGroup
	defer wg.Wait()
	c.mu.Lock()
	names := slices.Clone(c.order)
	c.opts.Metrics.pulse()
	c.mu.Unlock()
	for _, name := range names {
		for {
			c.mu.Lock()
			if c.stopped {
				c.mu.Unlock()
				return started, ErrNotRunning
			}
			ok, busy := false, (<-chan struct{})(nil)
			if s := c.symbols[name]; s != nil {
				ok, busy = c.startLocked(ctx, s, &wg, nil)
			}
			c.mu.Unlock()
			if ok {
				started++
			}
			if busy == nil {
				break // started, or no longer collected
			}
			select {
			case <-busy:
			case <-ctx.Done():
				return started, context.Cause(ctx)
			}
		}
	}
	return started, nil
}

// pulse starts one collection per symbol (only the fresh ones, those not
// pulsed since they were added, when freshOnly), skipping symbols whose
// collection is still running. The collections run until done or ctx ends.
func (c *Collector) pulse(ctx context.Context, freshOnly bool) (started, skipped int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return 0, 0, ErrNotRunning
	}
	names := c.order
	if freshOnly {
		names = make([]string, 0, len(c.fresh))
		for _, name := range c.order {
			if c.fresh[name] {
				names = append(names, name)
			}
		}
	} else {
		c.opts.Metrics.pulse()
	}
	clear(c.fresh)
	var begun sync.WaitGroup
	for i, name := range names {
		if ok, _ := c.startLocked(ctx, c.symbols[name], nil, &begun); ok {
			started++
		} else {
			skipped++
			c.opts.Metrics.skip(name)
		}
		if i%pulseChunk == pulseChunk-1 {
			begun.Wait() // with c.mu held: they take no lock before they begin
		}
	}
	return started, skipped, nil
}

// pulseChunk is how many collections a pulse starts before it waits for
// them to begin. Started all at once, a pulse's goroutines overflow the
// scheduler's run queue of their P (256), and half of those started first
// go to the global queue, which a busy P serves one goroutine at a time
// every 61 turns: on one busy core, some symbols of a pulse were asked
// for 100-200 ms after the others. In chunks, every collection is in line
// for the upstream connection in the order of the symbols, soon after
// the pulse began.
const pulseChunk = 64

// startLocked starts a collection of s, counted in c.wg and, when not nil,
// in wg, unless one is running: then it returns a channel closed when that
// one ends. When begun is not nil, the collection's goroutine is counted
// in it until it begins, before it takes any lock. c.mu must be held.
func (c *Collector) startLocked(ctx context.Context, s *symbol, wg, begun *sync.WaitGroup) (started bool, busy <-chan struct{}) {
	s.mu.Lock()
	if s.running {
		defer s.mu.Unlock()
		return false, s.done
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	done := make(chan struct{})
	s.running, s.cancel, s.done = true, cancel, done
	s.mu.Unlock()
	c.wg.Add(1)
	if wg != nil {
		wg.Add(1)
	}
	if begun != nil {
		begun.Add(1)
	}
	// Exits when the collection ends: bounded by the collection timeout
	// and cancelled with ctx or by the symbol's removal.
	go func() {
		if begun != nil {
			begun.Done()
		}
		defer func() {
			cancel()
			s.mu.Lock()
			s.running = false
			s.mu.Unlock()
			close(done)
			if wg != nil {
				wg.Done()
			}
			c.wg.Done()
		}()
		c.collect(cctx, s)
	}()
	return true, nil
}

// collect is the one-shot collector: one request, one parse, one Put. An
// unknown symbol in its backoff is not asked (nothing changes); while the
// source is paused nothing is sent and the symbol is marked stale with the
// reason.
func (c *Collector) collect(ctx context.Context, s *symbol) {
	now := c.opts.Now()
	s.mu.Lock()
	backoff := now.Before(s.retryAt)
	s.mu.Unlock()
	if backoff {
		return
	}
	var q quote.Quote
	err := c.pausedErr(now)
	if err == nil && c.limiter != nil {
		err = c.limiter.Wait(ctx)
	}
	if l, ok := c.sink.(Lease); ok && err == nil {
		until, lerr := l.Until()
		if lerr != nil {
			return // not ours to collect any more
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, until)
		defer cancel()
	}
	if err == nil {
		start := c.opts.Now()
		q, err = c.fetch(ctx, s.name)
		c.opts.Metrics.collected(s.name, err, c.opts.Now().Sub(start))
		if r, ok := c.do.(Resetter); ok && errors.Is(err, quote.ErrWrongSymbol) {
			// The answer was another request's: the stream is misaligned
			// (a stray answer), and so are the answers behind it. The
			// reset realigns it; ask once more, on the new connection,
			// so that a stray costs a reset, not a pulse of every symbol
			// behind it. A second wrong answer resets again and fails.
			r.Reset(err)
			start = c.opts.Now()
			q, err = c.fetch(ctx, s.name)
			c.opts.Metrics.collected(s.name, err, c.opts.Now().Sub(start))
			if errors.Is(err, quote.ErrWrongSymbol) {
				r.Reset(err)
			}
		}
		c.pauseFor(err)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return // called off (Run ending, the symbol removed, the term over): not the upstream's failure
	}
	c.record(ctx, s, q, err)
}

// record puts the outcome of one collection of s.
func (c *Collector) record(ctx context.Context, s *symbol, q quote.Quote, err error) {
	now := c.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return
	}
	prev := s.snap
	next := prev
	next.Symbol = s.name
	next.Attempted = true
	switch {
	case errors.Is(err, quote.ErrUnknownSymbol):
		s.unknown++
		s.retryAt = now.Add(min(maxUnknownBackoff, unknownBackoff<<min(s.unknown-1, 20)))
		next.Unknown, next.Stale, next.Err, next.Failures = true, false, err.Error(), prev.Failures+1
	case err != nil:
		next.Unknown, next.Err, next.Failures = false, err.Error(), prev.Failures+1
		next.Stale = next.Failures >= c.opts.StaleAfter || errors.Is(err, ErrPaused)
	default:
		s.unknown, s.retryAt = 0, time.Time{}
		next.Unknown, next.Stale, next.Err, next.Failures = false, false, "", 0
		if !sameQuote(prev.Quote, q) || !prev.HasQuote() {
			s.seq++
			q.CollectedAt = now.UTC()
			q.Seq = s.seq
			next.Quote = q
		}
	}
	c.logOutcome(s, prev, next, err, now)
	if next == prev {
		return // an identical quote: nothing to put
	}
	// Held under s.mu, so a removal waits for it and the sink sees this
	// symbol's snapshots in order.
	if err := c.sink.Put(ctx, next); err != nil {
		c.opts.Metrics.putFailed()
		c.opts.Logger.Debug("put snapshot", "symbol", s.name, "error", err)
		return // s.seq stays used: a seq is never reused
	}
	s.snap = next
}

// logOutcome logs a symbol's change of state at once (stale, unknown,
// recovered), a failure that does not change it at debug level, and the
// same failure again at most once per failureLogEvery with its count, so a
// flaky upstream cannot flood the log. s.mu must be held.
func (c *Collector) logOutcome(s *symbol, prev, next board.Snapshot, err error, now time.Time) {
	l := &s.logged
	switch {
	case err == nil:
		if prev.Stale || prev.Unknown {
			c.opts.Logger.Info("symbol recovered", "symbol", s.name, "failures", prev.Failures)
		}
		*l = failureLog{}
	case !next.Stale && !next.Unknown: // fewer failures than StaleAfter
		c.opts.Logger.Debug("collection failed", "symbol", s.name, "error", err, "failures", next.Failures)
	case next.Stale != prev.Stale || next.Unknown != prev.Unknown:
		msg := "symbol stale"
		if next.Unknown {
			msg = "symbol unknown to the source"
		}
		c.opts.Logger.Warn(msg, "symbol", s.name, "error", err)
		*l = failureLog{err: err.Error(), at: now}
	case err.Error() != l.err || now.Sub(l.at) >= failureLogEvery:
		c.opts.Logger.Warn("symbol still failing", "symbol", s.name, "error", err, "failures", next.Failures, "unlogged", l.count)
		*l = failureLog{err: err.Error(), at: now}
	default:
		l.count++
	}
}

// pausedErr returns an error wrapping ErrPaused while the source is paused.
func (c *Collector) pausedErr(now time.Time) error {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if now.Before(c.pausedUntil) {
		return fmt.Errorf("%w until %s: %s", ErrPaused, c.pausedUntil.UTC().Format(time.RFC3339), c.pauseReason)
	}
	return nil
}

// pauseFor pauses the whole source when err is an answer asking for it:
// HTTP 429 or 503 with a Retry-After.
func (c *Collector) pauseFor(err error) {
	var se *quote.StatusError
	if !errors.As(err, &se) || se.RetryAfter <= 0 && se.RetryAt.IsZero() {
		return
	}
	now := c.opts.Now()
	until := now.Add(se.RetryAfter)
	if se.RetryAfter <= 0 {
		until = se.RetryAt
		if limit := now.Add(maxPause); until.After(limit) {
			until = limit
		}
	}
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if !until.After(c.pausedUntil) {
		return
	}
	if !now.Before(c.pausedUntil) {
		c.opts.Logger.Warn("source asked to pause", "until", until.UTC().Format(time.RFC3339), "answer", se.Error())
		c.opts.Metrics.paused()
	}
	c.pausedUntil, c.pauseReason = until, se.Error()
	c.opts.Metrics.pausedUntil(until)
}

// Paused reports until when the source is paused and why; a zero time when
// it is not.
func (c *Collector) Paused() (until time.Time, reason string) {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if !c.opts.Now().Before(c.pausedUntil) {
		return time.Time{}, ""
	}
	return c.pausedUntil, c.pauseReason
}

func (c *Collector) fetch(ctx context.Context, sym string) (quote.Quote, error) {
	req, err := c.src.NewRequest(ctx, sym)
	if err != nil {
		return quote.Quote{}, fmt.Errorf("build request: %w", err)
	}
	resp, err := c.do.Do(ctx, req)
	if err != nil {
		return quote.Quote{}, err
	}
	defer resp.Body.Close()
	if _, ok := c.sink.(Lease); ok {
		// On the cluster leader, yield before parsing. The pipelined
		// connection hands answers out in bursts (up to 150 a
		// millisecond, each some 40 µs to parse), and the leader's board
		// is fed by its watch, whose goroutines, readied during a burst,
		// would wait behind all of it (the run queue is first in, first
		// out). A yielding collection goes to the global run queue,
		// served after the goroutines readied meanwhile: the leader's
		// own clients' p99 went from 46-56 ms to 24-33 ms. In one
		// process the collection writes the board itself, and yielding
		// only moved the fan-out's median from 8 to 10-12 ms
		// (docs/benchmarks.md, session 8).
		runtime.Gosched()
	}
	return c.src.Parse(sym, resp)
}

// sameQuote reports whether b changes nothing a client would see in a.
func sameQuote(a, b quote.Quote) bool {
	a.CollectedAt, a.Seq, b.CollectedAt, b.Seq = time.Time{}, 0, time.Time{}, 0
	return a == b
}
