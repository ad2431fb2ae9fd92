package cluster

import (
	"reflect"
	"testing"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// FuzzDecodeShard: any bucket value decodes without a panic; one that
// decodes holds only snapshots each of its own symbol, of the key's shard
// (i >= 0; an update key's, i < 0, may be of any), and survives an
// encode and decode unchanged.
func FuzzDecodeShard(f *testing.F) {
	aapl := shardOf("AAPL")
	good, _ := encodeShard(shard{"AAPL": {Symbol: "AAPL", Attempted: true, Unknown: true,
		Quote: quote.Quote{Symbol: "AAPL", Price: 1.5, Seq: 3, MarketStatus: "Open"}}})
	for _, s := range []string{string(good), `{"snaps":[{"sym":"MSFT"}]}`, `{"snaps":[{"sym":"AAPL","q":{"Symbol":"MSFT","Seq":1}}]}`,
		`{"snaps":[{"sym":"AAPL","fail":-1}]}`, `{"snaps":[{"sym":"AAPL"},{"sym":"AAPL"}]}`, `{"snaps":[{"sym":""}]}`, `[`, ``} {
		f.Add(aapl, []byte(s))
	}
	f.Add(-1, good)
	f.Fuzz(func(t *testing.T, i int, data []byte) {
		sh, err := decodeShard(i, data)
		if err != nil {
			return
		}
		for sym, s := range sh {
			if sym == "" || s.Symbol != sym || i >= 0 && shardOf(sym) != i || s.HasQuote() && s.Quote.Symbol != sym || s.Failures < 0 {
				t.Fatalf("decodeShard(%d, %q) has %q: %+v, want a snapshot of its own symbol in shard %d", i, data, sym, s, i)
			}
		}
		b, err := encodeShard(sh)
		if err != nil {
			return // a decoded float that JSON cannot hold again is refused on the way out
		}
		again, err := decodeShard(i, b)
		if err != nil || !reflect.DeepEqual(again, sh) {
			t.Fatalf("decodeShard(encodeShard(%+v)) = %+v, %v, want it unchanged", sh, again, err)
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
	f.Add(shardKey(7))
	f.Add("g.07")
	f.Add(interestKey("host-1", "BTC-USD"))
	f.Add("q.%%%")
	f.Fuzz(func(t *testing.T, key string) {
		if i, ok := parseShardKey(key); ok && (shardKey(i) != key || i < 0 || i >= shards) {
			t.Fatalf("parseShardKey(%q) = %d, but shardKey(%d) = %q", key, i, i, shardKey(i))
		}
		if inst, sym, ok := parseInterestKey(key); ok && interestKey(inst, sym) != key {
			t.Fatalf("parseInterestKey(%q) = %q, %q, but interestKey = %q", key, inst, sym, interestKey(inst, sym))
		}
	})
}
