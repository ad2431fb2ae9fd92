package fanout

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// maxEpochLen bounds the epoch id a client may send in "since"; the
// board's ids are 16 hex digits.
const maxEpochLen = 64

// since is where a resuming client left off: the epoch of its seqs and the
// last seq it has of each symbol. It is immutable once parsed.
type since struct {
	epoch string
	seq   map[string]uint64 // normalised symbols
}

// sinceJSON is the wire form of "since". Seq values stay raw so that only
// plain non-negative integers are accepted (encoding/json would take a
// string such as "17" for a json.Number).
type sinceJSON struct {
	Epoch *string                    `json:"epoch"`
	Seq   map[string]json.RawMessage `json:"seq"`
}

// parseSince validates the "since" of a subscribe: an object with a
// non-empty string epoch of at most maxEpochLen bytes, and seq, an object
// (possibly empty or absent) of at most maxSyms valid symbols, each given
// once after normalisation, mapped to integers from 0 to 2^64-1. Unknown
// fields are ignored, as in requests. Absent or null, it returns nil.
// Every error is a bad_request: the client's resume state is broken, not
// its subscription.
func parseSince(raw json.RawMessage, maxSyms int, norm normalizer) (*since, *wireError) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var in sinceJSON
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, newError(CodeBadRequest, `since: want {"epoch":"...","seq":{"AAPL":17}}: `+err.Error())
	}
	switch {
	case in.Epoch == nil:
		return nil, newError(CodeBadRequest, "since: missing epoch")
	case *in.Epoch == "" || len(*in.Epoch) > maxEpochLen:
		return nil, newError(CodeBadRequest, "since: want an epoch of 1 to "+strconv.Itoa(maxEpochLen)+" bytes")
	case len(in.Seq) > maxSyms:
		return nil, newError(CodeBadRequest, "since: seq names "+strconv.Itoa(len(in.Seq))+
			" symbols, more than the limit of "+strconv.Itoa(maxSyms))
	}
	s := &since{epoch: *in.Epoch, seq: make(map[string]uint64, len(in.Seq))}
	for k, v := range in.Seq {
		n, werr := norm.normalize(k)
		if werr != nil {
			return nil, newError(CodeBadRequest, "since: seq: "+werr.Message)
		}
		if _, dup := s.seq[n]; dup {
			return nil, newError(CodeBadRequest, "since: seq: "+n+" given twice")
		}
		// ParseUint takes only digits: no sign, fraction, exponent or quotes.
		seq, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return nil, newError(CodeBadRequest, "since: seq of "+n+": want an integer from 0 to "+
				strconv.FormatUint(^uint64(0), 10)+", not "+shortQuote(string(v)))
		}
		s.seq[n] = seq
	}
	return s, nil
}

// seqOf returns the client's seq of sym, if s names it; s may be nil.
func (s *since) seqOf(sym string) (uint64, bool) {
	if s == nil {
		return 0, false
	}
	k, ok := s.seq[sym]
	return k, ok
}
