// Package collector runs the one-shot collectors: on every pulse each
// symbol's collector sends one request down the shared pipelined
// connection, parses the answer and sets the result into that symbol's
// vanilla.Value. A collector that fails just fails: the last good quote
// stays, the symbol is marked stale, and the next pulse tries again.
package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// ErrRemoved is the error with which a symbol's Value is closed when the
// symbol stops being collected.
var ErrRemoved = errors.New("collector: symbol removed")

// Doer sends one request; *httpx.Client is the one the service uses.
type Doer interface {
	Do(ctx context.Context, req *http.Request) (*http.Response, error)
}

// Snapshot is a symbol's state: what its Value holds. Readers must not
// modify it.
type Snapshot struct {
	Symbol    string
	Quote     quote.Quote // the last good quote; Quote.Seq is 0 until there is one
	Stale     bool        // the last attempt failed
	Err       string      // the last attempt's error, when Stale
	Failures  int         // consecutive failed attempts
	Attempted bool        // at least one attempt has finished
}

// HasQuote reports whether the symbol has had a good quote.
func (s Snapshot) HasQuote() bool { return s.Quote.Seq > 0 }

// Options configures a Collector. A nil *Options means all defaults.
type Options struct {
	Timeout time.Duration    // per collection; 0 means 5s
	History int              // quotes kept per symbol; 0 means 300
	Now     func() time.Time // nil means time.Now
	Logger  *slog.Logger     // state changes of symbols; nil discards
	Metrics *Metrics         // nil records nothing
}

// Collector owns the per-symbol Values and runs the collections.
//
// A Collector is safe for concurrent use. Run drives it from a cron
// schedule; Pulse runs one pulse by hand. Values returned by Value stay
// valid until the symbol is removed, when they are closed with ErrRemoved.
//
//	c := collector.New(src, client, cfg.Symbols, nil)
//	go c.Run(ctx, schedule) // until ctx ends
//	v, _ := c.Value("AAPL")
//	snap, _ := v.Get(ctx)
type Collector struct {
	src  quote.Source
	do   Doer
	opts Options
	wg   sync.WaitGroup // running collections

	schedS *vanilla.Sender[cron.Schedule] // SetSchedule -> Run: a State, never blocks
	schedR *vanilla.Recver[cron.Schedule]

	mu sync.Mutex
	// Guarded by mu.
	symbols    map[string]*symbol
	order      []string        // symbols in configuration order, then added ones
	configured map[string]bool // the symbols of the last SetSymbols
	dynamic    map[string]bool // symbols added with Add and not removed
}

// symbol is one symbol's collector state.
type symbol struct {
	name    string
	value   *vanilla.Value[Snapshot]
	running atomic.Bool // a collection is in progress; at most one at a time

	mu sync.Mutex
	// Guarded by mu; written by the one running collection.
	snap    Snapshot
	history []quote.Quote // ring of the last History quotes
	next    int           // ring position of the next write
}

// New returns a Collector for symbols, collecting from src through do.
func New(src quote.Source, do Doer, symbols []string, opts *Options) *Collector {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.History <= 0 {
		o.History = 300
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{src: src, do: do, opts: o, symbols: make(map[string]*symbol), dynamic: make(map[string]bool)}
	c.schedS, c.schedR = vanilla.NewState[cron.Schedule]()
	c.SetSymbols(symbols)
	return c
}

// Symbols returns the symbols being collected, in order.
func (c *Collector) Symbols() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// Value returns the Value of sym, which holds its latest Snapshot.
func (c *Collector) Value(sym string) (*vanilla.Value[Snapshot], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.symbols[sym]
	if !ok {
		return nil, false
	}
	return s.value, true
}

// History returns sym's recent quotes, oldest first.
func (c *Collector) History(sym string) ([]quote.Quote, bool) {
	c.mu.Lock()
	s, ok := c.symbols[sym]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]quote.Quote, 0, len(s.history))
	if len(s.history) == c.opts.History {
		out = append(out, s.history[s.next:]...)
		out = append(out, s.history[:s.next]...)
	} else {
		out = append(out, s.history...)
	}
	return out, true
}

// SetSymbols makes syms the configured set, collected from the next pulse
// on. New symbols get an unset Value; symbols no longer configured have
// theirs closed with ErrRemoved (a collection still running for them
// finishes unseen), unless they were added with Add and not removed yet.
func (c *Collector) SetSymbols(syms []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.configured = make(map[string]bool, len(syms))
	for _, name := range syms {
		c.configured[name] = true
	}
	for name := range c.symbols {
		if !c.configured[name] && !c.dynamic[name] {
			c.removeLocked(name)
		}
	}
	order := make([]string, 0, len(c.symbols)+len(syms))
	for _, name := range syms {
		if _, ok := c.symbols[name]; !ok {
			c.symbols[name] = newSymbol(name)
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
}

// Add starts collecting sym from the next pulse, on behalf of a client
// that asked for a symbol not configured. It reports whether sym was added,
// false if it is collected already.
func (c *Collector) Add(sym string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.symbols[sym]; ok {
		return false
	}
	c.symbols[sym] = newSymbol(sym)
	c.order = append(c.order, sym)
	c.dynamic[sym] = true
	return true
}

// Remove undoes Add: it stops collecting sym and closes its Value with
// ErrRemoved, unless sym is configured (a reload may have configured it
// since), in which case it keeps being collected.
func (c *Collector) Remove(sym string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.dynamic, sym)
	if !c.configured[sym] {
		c.removeLocked(sym)
	}
}

func (c *Collector) removeLocked(sym string) {
	s, ok := c.symbols[sym]
	if !ok {
		return
	}
	delete(c.symbols, sym)
	delete(c.dynamic, sym)
	c.order = slices.DeleteFunc(c.order, func(n string) bool { return n == sym })
	s.value.Close(fmt.Errorf("%w: %s", ErrRemoved, sym))
}

func newSymbol(name string) *symbol {
	return &symbol{name: name, value: vanilla.NewValue[Snapshot](), snap: Snapshot{Symbol: name}}
}

// Pulse starts one collection per symbol, skipping symbols whose previous
// collection is still running, and returns how many it started and
// skipped. The collections run in the background, bounded by the
// collection timeout; Wait waits for them. Pulse does not block.
func (c *Collector) Pulse(ctx context.Context) (started, skipped int) {
	c.mu.Lock()
	syms := make([]*symbol, 0, len(c.order))
	for _, name := range c.order {
		syms = append(syms, c.symbols[name])
	}
	c.mu.Unlock()
	c.opts.Metrics.pulse()
	for _, s := range syms {
		if !s.running.CompareAndSwap(false, true) {
			skipped++
			c.opts.Metrics.skip(s.name)
			continue
		}
		started++
		c.wg.Add(1)
		// Exits when the collection ends: bounded by the collection timeout.
		go func() {
			defer c.wg.Done()
			defer s.running.Store(false)
			c.collect(ctx, s)
		}()
	}
	return started, skipped
}

// Wait waits until every collection started so far has finished.
func (c *Collector) Wait() { c.wg.Wait() }

// collect is the one-shot collector: one request, one parse, one Set.
func (c *Collector) collect(ctx context.Context, s *symbol) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	start := c.opts.Now()
	q, err := c.fetch(ctx, s.name)
	c.opts.Metrics.collected(s.name, err, c.opts.Now().Sub(start))
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.snap
	next := prev
	next.Attempted = true
	if err != nil {
		next.Stale, next.Err, next.Failures = true, err.Error(), prev.Failures+1
		if !prev.Stale {
			c.opts.Logger.Warn("symbol stale", "symbol", s.name, "error", err)
		}
	} else {
		if prev.Stale {
			c.opts.Logger.Info("symbol recovered", "symbol", s.name, "failures", prev.Failures)
		}
		next.Stale, next.Err, next.Failures = false, "", 0
		if !sameQuote(prev.Quote, q) || !prev.HasQuote() {
			q.CollectedAt = c.opts.Now().UTC()
			q.Seq = prev.Quote.Seq + 1
			next.Quote = q
			s.pushHistoryLocked(q, c.opts.History)
		}
	}
	if next == prev {
		return // an identical quote: the Value keeps its version
	}
	s.snap = next
	s.value.Set(next)
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
	return c.src.Parse(sym, resp)
}

// sameQuote reports whether b changes nothing a client would see in a.
func sameQuote(a, b quote.Quote) bool {
	return a.Price == b.Price && a.Change == b.Change && a.Volume == b.Volume && a.HasVolume == b.HasVolume
}

func (s *symbol) pushHistoryLocked(q quote.Quote, size int) {
	if len(s.history) < size {
		s.history = append(s.history, q)
		return
	}
	s.history[s.next] = q
	s.next = (s.next + 1) % size
}
