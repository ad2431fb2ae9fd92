package cluster

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// The bucket's keys. Instance ids and symbols are base64url-encoded in
// interest keys, so that any symbol and any hostname make a valid key of
// one token.
//
// Snapshots travel in few messages: a burst of one message per symbol
// queued for 15 ms at nats-server alone (docs/benchmarks.md, "Session 4"),
// which is what the latency NATS adds came from. The leader writes rounds:
// every snapshot that arrived while the last round was in flight goes in
// the next, one message to the next key of a ring of update keys. A
// round's update key is overwritten ringSize rounds later, and before it
// is, every shard it touched is compacted: the shard key (each symbol
// hashes to one of shards) gets the latest snapshot of every symbol of
// the shard. So the ring and the shards together always hold every
// symbol's latest snapshot, and a watch's initial values are complete.
const (
	epochKey    = "epoch.2" // the bucket's epoch id, created once (".2": rounds and shards)
	leaseKey    = "leader"  // the leader lease, with a TTL
	symbolsKey  = "symbols" // the symbol set, written by the leader
	shardPrefix = "g."      // g.<n>: the snapshots of shard n's symbols
	ringPrefix  = "u."      // u.<n>: the snapshots of one round
	interestPfx = "i."      // i.<instance>.<symbol>: an instance wants a dynamic symbol

	// shards and ringSize: every instance of a bucket must agree on
	// them; changing them means a new epochKey. shards fits a uint64 mask.
	shards   = 64
	ringSize = 512
)

var errBadValue = errors.New("cluster: malformed value")

var b64 = base64.RawURLEncoding.Strict() // non-zero padding bits refused: see decodeName

// shardOf returns the shard of sym: FNV-1a of its bytes, modulo shards.
func shardOf(sym string) int {
	h := fnv.New32a()
	h.Write([]byte(sym))
	return int(h.Sum32() % shards)
}

func shardKey(i int) string { return shardPrefix + strconv.Itoa(i) }

func ringKey(i int) string { return ringPrefix + strconv.Itoa(i) }

func interestKey(inst, sym string) string {
	return interestPfx + b64.EncodeToString([]byte(inst)) + "." + b64.EncodeToString([]byte(sym))
}

// parseShardKey returns the shard of a shard key.
func parseShardKey(key string) (int, bool) { return parseIndex(key, shardPrefix, shards) }

// parseRingKey returns the slot of an update key.
func parseRingKey(key string) (int, bool) { return parseIndex(key, ringPrefix, ringSize) }

// parseIndex parses prefix<i> with i in [0, n), accepting only the
// canonical spelling of i.
func parseIndex(key, prefix string, n int) (int, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || i >= n || strconv.Itoa(i) != rest {
		return 0, false
	}
	return i, true
}

// decodeName decodes a name from a key, accepting only its one canonical
// spelling (the decoder alone skips CR and LF), so that two keys never
// name the same thing.
func decodeName(s string) (string, bool) {
	b, err := b64.DecodeString(s)
	if err != nil || len(b) == 0 || b64.EncodeToString(b) != s {
		return "", false
	}
	return string(b), true
}

// parseInterestKey returns the instance and symbol of an interest key.
func parseInterestKey(key string) (inst, sym string, ok bool) {
	rest, ok := strings.CutPrefix(key, interestPfx)
	if !ok {
		return "", "", false
	}
	a, b, ok := strings.Cut(rest, ".")
	if !ok {
		return "", "", false
	}
	i, ok1 := decodeName(a)
	sy, ok2 := decodeName(b)
	if !ok1 || !ok2 {
		return "", "", false
	}
	return i, sy, true
}

type wireSnapshot struct {
	Symbol    string      `json:"sym"`
	Quote     quote.Quote `json:"q"` // by its Go field names
	Stale     bool        `json:"stale,omitempty"`
	Unknown   bool        `json:"unknown,omitempty"`
	Err       string      `json:"err,omitempty"`
	Failures  int         `json:"fail,omitempty"`
	Attempted bool        `json:"att,omitempty"`
}

// wireShard is a shard or update key's value: snapshots, by symbol.
type wireShard struct {
	Snapshots []wireSnapshot `json:"snaps"`
}

// shard is a shard or update key's content: one snapshot per symbol. It is
// never changed once made.
type shard map[string]board.Snapshot

// mask returns the shards of sh's symbols, one bit each.
func (sh shard) mask() uint64 {
	var m uint64
	for sym := range sh {
		m |= 1 << shardOf(sym)
	}
	return m
}

// encodeShard encodes snapshots, sorted by symbol.
func encodeShard(sh shard) ([]byte, error) {
	w := wireShard{Snapshots: make([]wireSnapshot, 0, len(sh))}
	for _, sym := range slices.Sorted(maps.Keys(sh)) {
		s := sh[sym]
		w.Snapshots = append(w.Snapshots, wireSnapshot{Symbol: s.Symbol, Quote: s.Quote, Stale: s.Stale, Unknown: s.Unknown, Err: s.Err, Failures: s.Failures, Attempted: s.Attempted})
	}
	return json.Marshal(w)
}

// decodeShard decodes the value of shard i's key, or with i < 0 of an
// update key (whose snapshots may be of any shard). The whole value is
// refused when any snapshot in it is malformed, names a symbol of another
// shard, holds a quote of another symbol, or repeats a symbol: a value is
// never accepted for the wrong symbol.
func decodeShard(i int, data []byte) (shard, error) {
	var w wireShard
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: snapshots: %w", errBadValue, err)
	}
	if len(w.Snapshots) > maxSymbols {
		return nil, fmt.Errorf("%w: %d snapshots", errBadValue, len(w.Snapshots))
	}
	sh := make(shard, len(w.Snapshots))
	for _, ws := range w.Snapshots {
		sym := ws.Symbol
		switch {
		case sym == "":
			return nil, fmt.Errorf("%w: snapshot without a symbol", errBadValue)
		case i >= 0 && shardOf(sym) != i:
			return nil, fmt.Errorf("%w: snapshot of %q in shard %d, not %d", errBadValue, sym, i, shardOf(sym))
		case ws.Quote.Seq > 0 && ws.Quote.Symbol != sym:
			return nil, fmt.Errorf("%w: quote of %q in the snapshot of %q", errBadValue, ws.Quote.Symbol, sym)
		case ws.Failures < 0:
			return nil, fmt.Errorf("%w: snapshot of %s: negative failures", errBadValue, sym)
		}
		if _, dup := sh[sym]; dup {
			return nil, fmt.Errorf("%w: %s twice", errBadValue, sym)
		}
		sh[sym] = board.Snapshot{Symbol: sym, Quote: ws.Quote, Stale: ws.Stale, Unknown: ws.Unknown, Err: ws.Err, Failures: ws.Failures, Attempted: ws.Attempted}
	}
	return sh, nil
}

type wireSymbols struct {
	Configured []string `json:"configured"`
	Dynamic    []string `json:"dynamic,omitempty"`
}

func encodeSymbols(s board.Symbols) ([]byte, error) {
	return json.Marshal(wireSymbols{Configured: s.Configured, Dynamic: s.Dynamic})
}

// maxSymbols bounds a decoded symbol set.
const maxSymbols = 100_000

func decodeSymbols(data []byte) (board.Symbols, error) {
	var w wireSymbols
	if err := json.Unmarshal(data, &w); err != nil {
		return board.Symbols{}, fmt.Errorf("%w: symbol set: %w", errBadValue, err)
	}
	if len(w.Configured)+len(w.Dynamic) > maxSymbols {
		return board.Symbols{}, fmt.Errorf("%w: symbol set of %d symbols", errBadValue, len(w.Configured)+len(w.Dynamic))
	}
	for _, s := range slices.Concat(w.Configured, w.Dynamic) {
		if s == "" {
			return board.Symbols{}, fmt.Errorf("%w: symbol set: empty symbol", errBadValue)
		}
	}
	return board.Symbols{Configured: w.Configured, Dynamic: w.Dynamic}, nil
}

// wireLease is the lease key's value. Term is 0 in the value that takes
// the lease (the term is then that value's revision) and the term in
// renewals.
type wireLease struct {
	Instance string `json:"instance"`
	Term     uint64 `json:"term,omitempty"`
}

func decodeLease(data []byte, rev uint64) (inst string, term uint64, err error) {
	var w wireLease
	if err := json.Unmarshal(data, &w); err != nil {
		return "", 0, fmt.Errorf("%w: lease: %w", errBadValue, err)
	}
	if w.Instance == "" {
		return "", 0, fmt.Errorf("%w: lease without an instance", errBadValue)
	}
	if w.Term == 0 {
		w.Term = rev
	}
	return w.Instance, w.Term, nil
}
