package api

import (
	"time"

	"github.com/tickerd/tickerd/internal/board"
)

// Symbol states counted in [Status].States.
const (
	StateFresh   = "fresh"   // the last attempt succeeded
	StateStale   = "stale"   // the last attempt failed (or timed out)
	StatePending = "pending" // no attempt has finished yet
	StateUnknown = "unknown" // the source does not know the symbol
)

// Status is the upstream's health as GET /api/status reports it and the
// metrics export it: how many symbols are fresh and when the last good
// quote arrived. It says nothing about readiness: a service whose quotes
// are all stale still serves them, marked stale.
type Status struct {
	// Health is "ok" when every symbol is fresh, "down" when none is (and
	// at least one is not pending), "starting" while every symbol is
	// pending, else "degraded".
	Health string `json:"health"`
	// Symbols is the number of symbols collected.
	Symbols int `json:"symbols"`
	// FreshRatio is the fraction of symbols that are fresh, 0 to 1; 1
	// with no symbols.
	FreshRatio float64 `json:"fresh_ratio"`
	// States counts the symbols per state; every state is present.
	States map[string]int `json:"states"`
	// LastSuccess is when the last collection succeeded; absent before
	// the first.
	LastSuccess *time.Time `json:"last_success,omitempty"`
	// SecondsSinceLastSuccess is the time since LastSuccess; null before
	// the first good quote.
	SecondsSinceLastSuccess *float64 `json:"seconds_since_last_success"`
	// Epoch is the board's epoch id (see the websocket API).
	Epoch string `json:"epoch"`
}

// ReadStatus counts b's symbols by state. A symbol is fresh when its
// last attempt succeeded: a hung upstream makes attempts time out after
// source.timeout, and they count as failed. lastSuccess is when the last
// collection succeeded (see Options.LastSuccess); zero means the newest
// quote's collection time on b.
func ReadStatus(b *board.Board, now, lastSuccess time.Time) Status {
	st := Status{States: map[string]int{StateFresh: 0, StateStale: 0, StatePending: 0, StateUnknown: 0}, Epoch: b.Epoch()}
	last := lastSuccess
	for _, sym := range b.Symbols().All() {
		snap, ok := b.Snapshot(sym)
		if !ok {
			continue // left the set while we counted
		}
		st.Symbols++
		if at := snap.Quote.CollectedAt; lastSuccess.IsZero() && snap.HasQuote() && at.After(last) {
			last = at
		}
		switch {
		case !snap.Attempted && !snap.HasQuote():
			st.States[StatePending]++
		case snap.Unknown:
			st.States[StateUnknown]++
		case snap.Stale || !snap.HasQuote():
			st.States[StateStale]++
		default:
			st.States[StateFresh]++
		}
	}
	st.FreshRatio = 1
	if st.Symbols > 0 {
		st.FreshRatio = float64(st.States[StateFresh]) / float64(st.Symbols)
	}
	switch {
	case st.States[StateFresh] == st.Symbols:
		st.Health = "ok"
	case st.States[StatePending] == st.Symbols:
		st.Health = "starting"
	case st.States[StateFresh] == 0:
		st.Health = "down"
	default:
		st.Health = "degraded"
	}
	if !last.IsZero() {
		lt := last.UTC()
		age := max(now.Sub(last).Seconds(), 0)
		st.LastSuccess, st.SecondsSinceLastSuccess = &lt, &age
	}
	return st
}
