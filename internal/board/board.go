// Package board holds tickerd's per-symbol state: the latest Snapshot of
// every symbol in a vanilla.Value, the symbol set as a watchable Value, and
// a ring of recent quotes per symbol.
//
// A Board has one writer and many readers. The writer is whatever applies
// the collected snapshots in order: in a single process the collector
// writes to it directly (a Board is a collector.Sink); in cluster mode each
// instance's board is fed by its watch of the shared NATS bucket. The
// readers (the websocket fan-out and the REST API) only read:
//
//	b := board.New(nil)
//	b.PutSymbols(ctx, board.Symbols{Configured: []string{"AAPL"}}) // writer
//	b.Put(ctx, snap)                                               // writer
//	v, ok := b.Value("AAPL")                                       // reader
//	w := v.Watch()                                                 // every new version
//	hist, _ := b.History("AAPL")                                   // oldest first
package board

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// Errors of a Board.
var (
	// ErrRemoved is the error with which a symbol's Value is closed when the
	// symbol leaves the board's symbol set.
	ErrRemoved = errors.New("board: symbol removed")
	// ErrNotOnBoard is returned by Put for a symbol not in the symbol set.
	ErrNotOnBoard = errors.New("board: symbol not on the board")
	// ErrSeqBack is returned by Put for a snapshot whose quote is older
	// than the one the board holds: seq never goes back.
	ErrSeqBack = errors.New("board: seq goes back")
)

// Snapshot is a symbol's state: what its Value holds. Readers must not
// modify it.
type Snapshot struct {
	Symbol    string
	Quote     quote.Quote // the last good quote; Quote.Seq is 0 until there is one
	Stale     bool        // the last attempts failed (as many as the collector's StaleAfter)
	Unknown   bool        // the source said it does not know the symbol; retried with a backoff
	Err       string      // the last attempt's error, when it failed
	Failures  int         // consecutive failed attempts
	Attempted bool        // at least one attempt has finished
}

// HasQuote reports whether the symbol has had a good quote.
func (s Snapshot) HasQuote() bool { return s.Quote.Seq > 0 }

// Symbols is the symbol set: the configured symbols, in configuration
// order, then those collected because a client asked for them.
type Symbols struct {
	Configured []string
	Dynamic    []string
}

// All returns the configured symbols followed by the dynamic ones.
func (s Symbols) All() []string {
	return append(slices.Clip(slices.Clone(s.Configured)), s.Dynamic...)
}

// Options configures a Board. A nil *Options means all defaults.
type Options struct {
	History int    // quotes kept per symbol; 0 means 300
	Epoch   string // the epoch id; empty means a new random one
}

// Board is the per-symbol state. It is safe for concurrent use; none of its
// methods block. Values returned by Value stay valid until the symbol leaves
// the set, when they are closed with ErrRemoved; the Value of SymbolsValue
// is never closed.
type Board struct {
	history int
	epochV  *vanilla.Value[string]  // the epoch id; set by New and SetEpoch
	symsV   *vanilla.Value[Symbols] // the symbol set; set by PutSymbols

	mu sync.Mutex
	// Guarded by mu.
	syms    Symbols
	entries map[string]*entry
}

// entry is one symbol's state.
type entry struct {
	value *vanilla.Value[Snapshot]

	mu sync.Mutex
	// Guarded by mu.
	snap    Snapshot      // the current snapshot; snap.Symbol is "" until the first Put
	history []quote.Quote // ring of the last History quotes
	next    int           // ring position of the next write
}

// New returns an empty Board.
func New(opts *Options) *Board {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.History <= 0 {
		o.History = 300
	}
	if o.Epoch == "" {
		o.Epoch = NewEpoch()
	}
	b := &Board{history: o.History, epochV: vanilla.NewValue[string](), symsV: vanilla.NewValue[Symbols](), entries: make(map[string]*entry)}
	b.epochV.Set(o.Epoch)
	b.symsV.Set(Symbols{})
	return b
}

// NewEpoch returns a new random epoch id.
func NewEpoch() string {
	var id [8]byte
	rand.Read(id[:]) // never fails
	return hex.EncodeToString(id[:])
}

// Epoch returns the board's epoch id: the seqs of one epoch never go back.
func (b *Board) Epoch() string {
	e, _, _ := b.epochV.Load()
	return e
}

// EpochValue returns the Value holding the epoch id, set anew when SetEpoch
// changes it: a reader that sees a new epoch must forget the seqs it has
// (the fan-out sends its clients "reset"). It is never closed.
func (b *Board) EpochValue() *vanilla.Value[string] { return b.epochV }

// SetEpoch makes epoch the board's epoch. When it differs from the current
// one (in cluster mode: the shared bucket was lost and made anew), every
// symbol starts afresh: its Value is cleared (unset until the next Put),
// its history dropped, and seqs may start again from 1. The symbol set
// stays. It never blocks.
func (b *Board) SetEpoch(epoch string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, _, _ := b.epochV.Load(); cur == epoch {
		return
	}
	for _, e := range b.entries {
		e.mu.Lock()
		e.snap, e.history, e.next = Snapshot{}, nil, 0
		e.value.Clear()
		e.mu.Unlock()
	}
	b.epochV.Set(epoch)
}

// Symbols returns the current symbol set.
func (b *Board) Symbols() Symbols {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Symbols{Configured: slices.Clone(b.syms.Configured), Dynamic: slices.Clone(b.syms.Dynamic)}
}

// SymbolsValue returns the Value holding the symbol set, set anew on every
// change: watch it to follow the set.
func (b *Board) SymbolsValue() *vanilla.Value[Symbols] { return b.symsV }

// Value returns the Value of sym, which holds its latest Snapshot; it is
// unset until the first Put of sym.
func (b *Board) Value(sym string) (*vanilla.Value[Snapshot], bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[sym]
	if !ok {
		return nil, false
	}
	return e.value, true
}

// Snapshot returns sym's current snapshot; before the first Put it is a
// snapshot with only the symbol set. ok is false for a symbol not on the
// board.
func (b *Board) Snapshot(sym string) (snap Snapshot, ok bool) {
	b.mu.Lock()
	e, ok := b.entries[sym]
	b.mu.Unlock()
	if !ok {
		return Snapshot{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.snap.Symbol == "" {
		return Snapshot{Symbol: sym}, true
	}
	return e.snap, true
}

// History returns sym's recent quotes, oldest first.
func (b *Board) History(sym string) ([]quote.Quote, bool) {
	b.mu.Lock()
	e, ok := b.entries[sym]
	b.mu.Unlock()
	if !ok {
		return nil, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]quote.Quote, 0, len(e.history))
	if len(e.history) == b.history {
		out = append(out, e.history[e.next:]...)
		out = append(out, e.history[:e.next]...)
	} else {
		out = append(out, e.history...)
	}
	return out, true
}

// PutSymbols makes syms the symbol set. New symbols get an unset Value;
// symbols no longer in the set have theirs closed with ErrRemoved, and
// their history is dropped. A symbol listed twice counts once, where it
// first appears. It never blocks; ctx is unused (it is there for
// collector.Sink) and the error is always nil.
func (b *Board) PutSymbols(_ context.Context, syms Symbols) error {
	seen := make(map[string]bool, len(syms.Configured)+len(syms.Dynamic))
	dedup := func(in []string) []string {
		out := make([]string, 0, len(in))
		for _, s := range in {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		return out
	}
	next := Symbols{Configured: dedup(syms.Configured), Dynamic: dedup(syms.Dynamic)}
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, e := range b.entries {
		if !seen[name] {
			delete(b.entries, name)
			e.value.Close(fmt.Errorf("%w: %s", ErrRemoved, name))
		}
	}
	for name := range seen {
		if _, ok := b.entries[name]; !ok {
			b.entries[name] = &entry{value: vanilla.NewValue[Snapshot]()}
		}
	}
	if !slices.Equal(next.Configured, b.syms.Configured) || !slices.Equal(next.Dynamic, b.syms.Dynamic) {
		b.syms = next
		b.symsV.Set(Symbols{Configured: slices.Clone(next.Configured), Dynamic: slices.Clone(next.Dynamic)})
	}
	return nil
}

// Put makes snap the current state of snap.Symbol and adds its quote to the
// history when it is a newer one. It returns ErrNotOnBoard for a symbol not
// in the set and ErrSeqBack for a quote older than the current one, and
// changes nothing then. A snapshot equal to the current one keeps the
// Value's version. It never blocks; ctx is unused (it is there for
// collector.Sink).
func (b *Board) Put(_ context.Context, snap Snapshot) error {
	b.mu.Lock()
	e, ok := b.entries[snap.Symbol]
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotOnBoard, snap.Symbol)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.snap.Quote.Seq
	switch {
	case snap.Quote.Seq < cur:
		return fmt.Errorf("%w: %s seq %d after %d", ErrSeqBack, snap.Symbol, snap.Quote.Seq, cur)
	case e.snap.Symbol != "" && e.snap == snap:
		return nil
	}
	if snap.Quote.Seq > cur {
		e.pushHistoryLocked(snap.Quote, b.history)
	}
	e.snap = snap
	e.value.Set(snap)
	return nil
}

func (e *entry) pushHistoryLocked(q quote.Quote, size int) {
	if len(e.history) < size {
		e.history = append(e.history, q)
		return
	}
	e.history[e.next] = q
	e.next = (e.next + 1) % size
}
