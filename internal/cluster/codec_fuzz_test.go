package cluster

import (
	"reflect"
	"testing"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// FuzzDecodeSnapshot: any bucket value decodes without a panic; one that
// decodes is for the key's symbol and survives an encode and decode
// unchanged.
func FuzzDecodeSnapshot(f *testing.F) {
	good, _ := encodeSnapshot(board.Snapshot{Symbol: "AAPL", Attempted: true, Unknown: true,
		Quote: quote.Quote{Symbol: "AAPL", Price: 1.5, Seq: 3, MarketStatus: "Open"}})
	for _, s := range []string{string(good), `{"sym":"MSFT"}`, `{"sym":"AAPL","q":{"Symbol":"MSFT","Seq":1}}`, `{"sym":"AAPL","fail":-1}`, `[`, ``} {
		f.Add("AAPL", []byte(s))
	}
	f.Fuzz(func(t *testing.T, sym string, data []byte) {
		s, err := decodeSnapshot(sym, data)
		if err != nil {
			return
		}
		if s.Symbol != sym || s.HasQuote() && s.Quote.Symbol != sym || s.Failures < 0 {
			t.Fatalf("decodeSnapshot(%q, %q) = %+v, want a snapshot of %q", sym, data, s, sym)
		}
		b, err := encodeSnapshot(s)
		if err != nil {
			return // a decoded float that JSON cannot hold again is refused on the way out
		}
		again, err := decodeSnapshot(sym, b)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("decodeSnapshot(encodeSnapshot(%+v)) = %+v, %v, want it unchanged", s, again, err)
		}
	})
}

// FuzzDecodeSymbols: any value decodes without a panic, and a decoded set
// is bounded and has no empty symbol.
func FuzzDecodeSymbols(f *testing.F) {
	good, _ := encodeSymbols(board.Symbols{Configured: []string{"AAPL"}, Dynamic: []string{"BTC-USD"}})
	for _, s := range []string{string(good), `{"configured":[""]}`, `{"configured":null}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSymbols(data)
		if err != nil {
			return
		}
		all := s.All()
		if len(all) > maxSymbols {
			t.Fatalf("decodeSymbols(%q) = %d symbols, over %d", data, len(all), maxSymbols)
		}
		for _, sym := range all {
			if sym == "" {
				t.Fatalf("decodeSymbols(%q) = %v, has an empty symbol", data, all)
			}
		}
	})
}

// FuzzDecodeLease: any value decodes without a panic; a decoded lease
// names an instance and a term.
func FuzzDecodeLease(f *testing.F) {
	for _, s := range []string{`{"instance":"a"}`, `{"instance":"a","term":7}`, `{"instance":""}`, `null`} {
		f.Add([]byte(s), uint64(5))
	}
	f.Fuzz(func(t *testing.T, data []byte, rev uint64) {
		inst, term, err := decodeLease(data, rev)
		if err == nil && (inst == "" || term == 0 && rev != 0) {
			t.Fatalf("decodeLease(%q, %d) = %q, %d, want an instance and a term", data, rev, inst, term)
		}
	})
}

// FuzzParseKeys: key names from the bucket parse without a panic, and a
// parsed key is the one its parts make.
func FuzzParseKeys(f *testing.F) {
	f.Add(snapKey("AAPL"))
	f.Add(interestKey("host-1", "BTC-USD"))
	f.Add("q.%%%")
	f.Fuzz(func(t *testing.T, key string) {
		if sym, ok := parseSnapKey(key); ok && snapKey(sym) != key {
			t.Fatalf("parseSnapKey(%q) = %q, but snapKey(%q) = %q", key, sym, sym, snapKey(sym))
		}
		if inst, sym, ok := parseInterestKey(key); ok && interestKey(inst, sym) != key {
			t.Fatalf("parseInterestKey(%q) = %q, %q, but interestKey = %q", key, inst, sym, interestKey(inst, sym))
		}
	})
}
