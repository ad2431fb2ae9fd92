package board_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// snap returns a good snapshot of sym with quote seq.
func snap(sym string, seq uint64) board.Snapshot {
	return board.Snapshot{Symbol: sym, Attempted: true, Quote: quote.Quote{
		Symbol: sym, Price: 100 + float64(seq), Seq: seq,
		CollectedAt: time.Date(2026, 12, 2, 9, 0, int(seq), 0, time.UTC),
	}}
}

func TestPutSymbols(t *testing.T) {
	ctx := context.Background()
	b := board.New(nil)
	b.PutSymbols(ctx, board.Symbols{Configured: []string{"AAPL", "MSFT", "AAPL"}, Dynamic: []string{"NVDA", "MSFT"}})
	if got, want := b.Symbols().All(), []string{"AAPL", "MSFT", "NVDA"}; !slices.Equal(got, want) {
		t.Errorf("Symbols().All() = %v, want %v (duplicates counted once, where first listed)", got, want)
	}
	aapl, _ := b.Value("AAPL")
	nvda, _ := b.Value("NVDA")
	if _, _, set := aapl.Load(); set {
		t.Errorf("Value(AAPL).Load() set before any Put, want unset")
	}
	if s, ok := b.Snapshot("AAPL"); !ok || s != (board.Snapshot{Symbol: "AAPL"}) {
		t.Errorf("Snapshot(AAPL) before any Put = %+v, %v, want only the symbol, true", s, ok)
	}

	_, v0, _ := b.SymbolsValue().Load()
	b.PutSymbols(ctx, board.Symbols{Configured: []string{"AAPL", "MSFT"}, Dynamic: []string{"NVDA"}})
	if _, v, _ := b.SymbolsValue().Load(); v != v0 {
		t.Errorf("SymbolsValue version after putting the same set = %d, want %d (unchanged)", v, v0)
	}
	b.PutSymbols(ctx, board.Symbols{Configured: []string{"AAPL", "GOOG"}})
	if _, v, _ := b.SymbolsValue().Load(); v == v0 {
		t.Errorf("SymbolsValue version after a new set = %d, want a newer one", v)
	}
	if v, _ := b.Value("AAPL"); v != aapl {
		t.Errorf("Value(AAPL) after a new set = %p, want the same Value %p", v, aapl)
	}
	if _, err := nvda.Get(ctx); !errors.Is(err, board.ErrRemoved) {
		t.Errorf("removed Value(NVDA).Get() = %v, want %v", err, board.ErrRemoved)
	}
	for _, sym := range []string{"NVDA", "MSFT"} {
		if _, ok := b.Value(sym); ok {
			t.Errorf("Value(%s) after its removal found, want not", sym)
		}
		if _, ok := b.History(sym); ok {
			t.Errorf("History(%s) after its removal found, want not", sym)
		}
	}
}

func TestPut(t *testing.T) {
	ctx := context.Background()
	b := board.New(nil)
	b.PutSymbols(ctx, board.Symbols{Configured: []string{"AAPL"}})
	v, _ := b.Value("AAPL")
	stale := snap("AAPL", 2)
	stale.Stale, stale.Err, stale.Failures = true, "timeout", 1
	tests := []struct {
		name    string
		put     board.Snapshot
		wantErr error
		wantSeq uint64 // the board's after the Put
		newVer  bool   // the Value gets a new version
	}{
		{"first", snap("AAPL", 1), nil, 1, true},
		{"newer", snap("AAPL", 2), nil, 2, true},
		{"identical", snap("AAPL", 2), nil, 2, false},
		{"status_same_seq", stale, nil, 2, true},
		{"seq_back", snap("AAPL", 1), board.ErrSeqBack, 2, false},
		{"not_on_board", snap("MSFT", 9), board.ErrNotOnBoard, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, before, _ := v.Load()
			if err := b.Put(ctx, tc.put); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Put(%s seq %d) = %v, want %v", tc.put.Symbol, tc.put.Quote.Seq, err, tc.wantErr)
			}
			got, after, _ := v.Load()
			if got.Quote.Seq != tc.wantSeq {
				t.Errorf("Value(AAPL) seq after Put = %d, want %d", got.Quote.Seq, tc.wantSeq)
			}
			if (after != before) != tc.newVer {
				t.Errorf("Value(AAPL) version %d -> %d, want a new version: %v", before, after, tc.newVer)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		size int
		puts int
		want []uint64 // seqs, oldest first
	}{
		{"empty", 3, 0, []uint64{}},
		{"partial", 3, 2, []uint64{1, 2}},
		{"full", 3, 3, []uint64{1, 2, 3}},
		{"wrapped", 3, 7, []uint64{5, 6, 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := board.New(&board.Options{History: tc.size})
			b.PutSymbols(ctx, board.Symbols{Configured: []string{"AAPL"}})
			for seq := 1; seq <= tc.puts; seq++ {
				b.Put(ctx, snap("AAPL", uint64(seq)))
				st := snap("AAPL", uint64(seq)) // a status change keeps the seq: no history point
				st.Stale = true
				b.Put(ctx, st)
			}
			hist, ok := b.History("AAPL")
			got := make([]uint64, len(hist))
			for i, q := range hist {
				got[i] = q.Seq
			}
			if !ok || !slices.Equal(got, tc.want) {
				t.Errorf("History(AAPL) seqs = %v, %v, want %v, true", got, ok, tc.want)
			}
		})
	}
}

func TestEpoch(t *testing.T) {
	a, b := board.New(nil), board.New(nil)
	if a.Epoch() == "" || a.Epoch() == b.Epoch() {
		t.Errorf("Epoch() of two new boards = %q, %q, want two different non-empty ids", a.Epoch(), b.Epoch())
	}
	if got := board.New(&board.Options{Epoch: "e1"}).Epoch(); got != "e1" {
		t.Errorf("Epoch() = %q, want e1", got)
	}
}

// TestSetEpoch: a new epoch clears every symbol, so seqs may start again;
// the same epoch changes nothing.
func TestSetEpoch(t *testing.T) {
	ctx := context.Background()
	b := board.New(&board.Options{Epoch: "e1"})
	b.PutSymbols(ctx, board.Symbols{Configured: []string{"AAPL"}})
	b.Put(ctx, snap("AAPL", 7))
	_, ev, _ := b.EpochValue().Load()
	b.SetEpoch("e1")
	if s, _ := b.Snapshot("AAPL"); s.Quote.Seq != 7 {
		t.Errorf("Snapshot(AAPL) seq after SetEpoch(same) = %d, want 7", s.Quote.Seq)
	}
	b.SetEpoch("e2")
	if _, v, _ := b.EpochValue().Load(); b.Epoch() != "e2" || v == ev {
		t.Errorf("Epoch() after SetEpoch(e2) = %q (version %d, was %d), want e2 in a new version", b.Epoch(), v, ev)
	}
	v, _ := b.Value("AAPL")
	if _, _, set := v.Load(); set {
		t.Errorf("Value(AAPL) after a new epoch is set, want unset")
	}
	if hist, _ := b.History("AAPL"); len(hist) != 0 {
		t.Errorf("History(AAPL) after a new epoch = %v, want empty", hist)
	}
	if err := b.Put(ctx, snap("AAPL", 1)); err != nil {
		t.Errorf("Put(seq 1) after a new epoch = %v, want nil", err)
	}
}

func ExampleBoard() {
	ctx := context.Background()
	b := board.New(nil)
	b.PutSymbols(ctx, board.Symbols{Configured: []string{"AAPL"}}) // the writer: collector or cluster watch
	v, _ := b.Value("AAPL")
	w := v.Watch() // a reader: every new version
	defer w.Close()
	b.Put(ctx, board.Snapshot{Symbol: "AAPL", Attempted: true, Quote: quote.Quote{Symbol: "AAPL", Price: 267.85, Seq: 1}})
	s, _ := w.Recv(ctx)
	fmt.Println(s.Symbol, s.Quote.Price, s.Quote.Seq)
	fmt.Println(b.Put(ctx, board.Snapshot{Symbol: "AAPL", Quote: quote.Quote{Seq: 0}}) != nil) // seq never goes back
	// Output:
	// AAPL 267.85 1
	// true
}
