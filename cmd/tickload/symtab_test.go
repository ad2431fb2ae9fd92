package main

import (
	"fmt"
	"testing"
	"time"
)

// TestSymbolTable looks up every symbol of tables of several sizes (the
// slots wrapping around, names of different lengths, a name that is the
// prefix of another, a duplicate) and names that are not in them.
func TestSymbolTable(t *testing.T) {
	many := make([]string, 500)
	for i := range many {
		many[i] = fmt.Sprintf("S%04d", i)
	}
	tests := []struct {
		name    string
		syms    []string
		missing []string
	}{
		{"one", []string{"AAPL"}, []string{"", "AAP", "AAPLX", "MSFT"}},
		{"prefixes", []string{"BRK", "BRK.B", "B", "^GSPC", "V"}, []string{"BR", "BRK.", "^", "v"}},
		{"duplicate", []string{"AAPL", "MSFT", "AAPL"}, []string{"GOOG"}},
		{"twenty", many[40:60], []string{"S0039", "S0060", "S004", "S00400"}},
		{"five_hundred", many, []string{"S0500", "S9999", "X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := newSymbolTable(tt.syms)
			if n := len(tab.slots); n&(n-1) != 0 || n < 2*len(tt.syms) {
				t.Errorf("newSymbolTable(%d symbols) has %d slots, want a power of two of at least %d", len(tt.syms), n, 2*len(tt.syms))
			}
			first := make(map[string]int)
			for i, s := range tt.syms {
				if _, ok := first[s]; !ok {
					first[s] = i
				}
			}
			for _, s := range tt.syms {
				i, ok := tab.find([]byte(s))
				if !ok || i != first[s] {
					t.Errorf("find(%q) = %d, %v, want %d, true", s, i, ok, first[s])
				}
			}
			for _, s := range tt.missing {
				if i, ok := tab.find([]byte(s)); ok {
					t.Errorf("find(%q) = %d, true, want false", s, i)
				}
			}
		})
	}
}

// TestQuoteSeqs feeds one client's quotes through quote and checks what
// it counts: not the snapshots, the gaps in each symbol's seq, and no
// seq going back; an unknown symbol is a bad message.
func TestQuoteSeqs(t *testing.T) {
	c := newLoadClient("", nil, false, []string{"AAPL", "MSFT"})
	tl := newTally()
	tl.measuring.Store(true)
	q := func(sym string, seq uint64) message {
		return message{typ: "quote", symbol: []byte(sym), collectedAt: at, seq: seq}
	}
	for _, m := range []message{
		q("AAPL", 5), q("MSFT", 9), // snapshots
		q("AAPL", 6), q("AAPL", 9), // 7 and 8 coalesced
		q("MSFT", 10), q("MSFT", 8), // an old one: counted, but the seq stays 10
		q("MSFT", 11), q("GOOG", 1),
	} {
		c.quote(m, at.Add(time.Millisecond), tl, true)
	}
	if d, co, bad := tl.delivered.Load(), tl.coalesced.Load(), tl.badMessages.Load(); d != 5 || co != 2 || bad != 1 {
		t.Errorf("quote() delivered %d, coalesced %d, bad %d, want 5, 2, 1", d, co, bad)
	}
	for i, want := range []uint64{9, 11} {
		if got := c.syms.ents[i].seq; got != want {
			t.Errorf("%s seq = %d, want %d", c.symbols[i], got, want)
		}
	}
}
