package main

import "math/bits"

// symbolTable is a client's symbols with the newest seq seen of each,
// looked up by a quote's symbol bytes. It is what every quote costs the
// client besides parsing, for both targets alike, so it is kept small and
// in few cache lines: with 10,000 clients the client whose frame arrives
// is rarely in the cache, and a Go map of 20 strings spreads its lookup
// over about ten lines (session 7 in docs/benchmarks.md: 12% of
// tickload's time went to map lookups). It is not safe for concurrent
// use; its client's goroutine owns it.
type symbolTable struct {
	slots []uint32   // open addressing by fnv32a of the name: an index into entries plus 1, 0 when empty; a power of two at least twice len(entries) long
	ents  []symEntry // by index in the client's symbols
	names []byte     // the symbols back to back
}

// symEntry is one symbol of a symbolTable.
type symEntry struct {
	off, end uint32 // the name is names[off:end]
	seq      uint64 // the newest seq seen; 0 before any
}

// newSymbolTable returns the table of syms, index i for syms[i]. A symbol
// given twice is found at its first index.
func newSymbolTable(syms []string) symbolTable {
	n := 8
	if len(syms) > 4 {
		n = 1 << bits.Len(uint(2*len(syms)-1))
	}
	t := symbolTable{slots: make([]uint32, n), ents: make([]symEntry, len(syms))}
	size := 0
	for _, s := range syms {
		size += len(s)
	}
	t.names = make([]byte, 0, size)
	for i, s := range syms {
		off := uint32(len(t.names))
		t.names = append(t.names, s...)
		t.ents[i] = symEntry{off: off, end: uint32(len(t.names))}
		if _, dup := t.find([]byte(s)); dup {
			continue
		}
		for j := fnv32a([]byte(s)) & uint32(n-1); ; j = (j + 1) & uint32(n-1) {
			if t.slots[j] == 0 {
				t.slots[j] = uint32(i + 1)
				break
			}
		}
	}
	return t
}

// find returns the index of sym, or false if it is not one of the table's.
func (t *symbolTable) find(sym []byte) (int, bool) {
	mask := uint32(len(t.slots) - 1)
	for j := fnv32a(sym) & mask; ; j = (j + 1) & mask {
		k := t.slots[j]
		if k == 0 {
			return 0, false
		}
		e := &t.ents[k-1]
		if string(t.names[e.off:e.end]) == string(sym) {
			return int(k - 1), true
		}
	}
}

// fnv32a is the 32-bit FNV-1a hash of b.
func fnv32a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}
