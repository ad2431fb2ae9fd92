package cluster

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// The bucket's keys. Symbols and instance ids are base64url-encoded in
// keys, so that any symbol and any hostname make a valid key of one token.
const (
	epochKey    = "epoch"   // the bucket's epoch id, created once
	leaseKey    = "leader"  // the leader lease, with a TTL
	symbolsKey  = "symbols" // the symbol set, written by the leader
	snapPrefix  = "s."      // s.<symbol>: the symbol's snapshot
	interestPfx = "i."      // i.<instance>.<symbol>: an instance wants a dynamic symbol
)

var errBadValue = errors.New("cluster: malformed value")

var b64 = base64.RawURLEncoding.Strict() // non-zero padding bits refused: see decodeName

func snapKey(sym string) string { return snapPrefix + b64.EncodeToString([]byte(sym)) }

func interestKey(inst, sym string) string {
	return interestPfx + b64.EncodeToString([]byte(inst)) + "." + b64.EncodeToString([]byte(sym))
}

// parseSnapKey returns the symbol of a snapshot key.
func parseSnapKey(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, snapPrefix)
	if !ok {
		return "", false
	}
	sym, ok := decodeName(rest)
	return sym, ok
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

func encodeSnapshot(s board.Snapshot) ([]byte, error) {
	return json.Marshal(wireSnapshot{Symbol: s.Symbol, Quote: s.Quote, Stale: s.Stale, Unknown: s.Unknown, Err: s.Err, Failures: s.Failures, Attempted: s.Attempted})
}

// decodeSnapshot decodes the value of sym's snapshot key. A value for
// another symbol, or a quote of another symbol, is an error: a value is
// never accepted for the wrong symbol.
func decodeSnapshot(sym string, data []byte) (board.Snapshot, error) {
	var w wireSnapshot
	if err := json.Unmarshal(data, &w); err != nil {
		return board.Snapshot{}, fmt.Errorf("%w: snapshot of %s: %w", errBadValue, sym, err)
	}
	if w.Symbol != sym {
		return board.Snapshot{}, fmt.Errorf("%w: snapshot of %q under the key of %q", errBadValue, w.Symbol, sym)
	}
	q := w.Quote
	if q.Seq > 0 && q.Symbol != sym {
		return board.Snapshot{}, fmt.Errorf("%w: quote of %q in the snapshot of %q", errBadValue, q.Symbol, sym)
	}
	if w.Failures < 0 {
		return board.Snapshot{}, fmt.Errorf("%w: snapshot of %s: negative failures", errBadValue, sym)
	}
	return board.Snapshot{Symbol: w.Symbol, Quote: q, Stale: w.Stale, Unknown: w.Unknown, Err: w.Err, Failures: w.Failures, Attempted: w.Attempted}, nil
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
