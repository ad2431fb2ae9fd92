package main

import (
	"bytes"
	"errors"
	"iter"
	"strconv"
	"time"
)

// errMessage is returned for a server message tickload cannot read.
var errMessage = errors.New("tickload: malformed message")

// message is what tickload reads of a server message. Symbol aliases the
// message's bytes.
type message struct {
	typ         string // "quote", "subscribed", "status", "error", or "" for another type
	symbol      []byte // quote only
	collectedAt time.Time
	seq         uint64
}

// The message types tickload tells apart.
var msgTypes = []string{"quote", "subscribed", "status", "error"}

// parseMessage reads a server message without decoding all of its JSON:
// its "type", and for a quote its "symbol", "collected_at" and "seq". It
// relies on the server's encoding (keys without spaces, the type first,
// strings without escapes) instead of validating the JSON, which is
// enough for a load tool and costs a fraction of encoding/json.
func parseMessage(b []byte) (message, error) {
	if m, ok := parseQuoteFast(b); ok {
		return m, nil
	}
	var m message
	t, ok := stringField(b, `"type":"`)
	if !ok {
		return m, errMessage
	}
	for _, s := range msgTypes {
		if string(t) == s {
			m.typ = s
		}
	}
	if m.typ != "quote" {
		return m, nil
	}
	sym, ok := stringField(b, `"symbol":"`)
	if !ok || len(sym) == 0 {
		return m, errMessage
	}
	at, ok := stringField(b, `"collected_at":"`)
	if !ok {
		return m, errMessage
	}
	t2, ok := parseTime(at)
	if !ok {
		return m, errMessage
	}
	seq, ok := numberField(b, `"seq":`)
	if !ok {
		return m, errMessage
	}
	m.symbol, m.collectedAt, m.seq = sym, t2, seq
	return m, nil
}

// stringField returns the string value after key (which ends in the
// opening quote), up to the next quote.
func stringField(b []byte, key string) ([]byte, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	rest := b[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil, false
	}
	return rest[:j], true
}

// numberField returns the unsigned integer value after key.
func numberField(b []byte, key string) (uint64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := b[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseUint(string(rest[:j]), 10, 64)
	return n, err == nil
}

// The fixed parts of a quote message as the server lays it out.
const (
	quotePrefix  = `{"type":"quote","symbol":"`
	collectedKey = `"collected_at":"`
	seqKey       = `","seq":`
	timeLen      = len("2006-01-02T15:04:05.000000000Z")
)

// parseQuoteFast reads a quote laid out as the server writes it: type and
// symbol first, collected_at and seq last. It reports false for anything
// else, which parseMessage then reads the slow way.
func parseQuoteFast(b []byte) (message, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(quotePrefix))
	if !ok {
		return message{}, false
	}
	i := bytes.IndexByte(rest, '"')
	if i <= 0 {
		return message{}, false
	}
	at, seq, ok := quoteTail(b, len(quotePrefix)+i)
	if !ok {
		return message{}, false
	}
	return message{typ: "quote", symbol: rest[:i], collectedAt: at, seq: seq}, true
}

// quoteTail reads the end of a quote object b as the server lays it out,
// ...,"collected_at":"<timeLen bytes>","seq":<digits>}, none of it before
// offset from. It reports false for any other layout.
func quoteTail(b []byte, from int) (time.Time, uint64, bool) {
	end := len(b) - 1
	if end < 0 || b[end] != '}' {
		return time.Time{}, 0, false
	}
	d := end
	for d > 0 && b[d-1] >= '0' && b[d-1] <= '9' {
		d--
	}
	if d == end || end-d > 19 {
		return time.Time{}, 0, false
	}
	var seq uint64
	for _, c := range b[d:end] {
		seq = seq*10 + uint64(c-'0')
	}
	t := d - len(seqKey) - timeLen
	k := t - len(collectedKey)
	if k < from || string(b[d-len(seqKey):d]) != seqKey || string(b[k:t]) != collectedKey {
		return time.Time{}, 0, false
	}
	at, ok := parseTime(b[t : t+timeLen])
	return at, seq, ok
}

// frameMessages returns the messages of one server frame: in batch mode a
// JSON array of messages, otherwise a single message (a single object is
// read either way). Each element goes through parseMessage, so a quote
// laid out as the server writes it costs no more inside an array than
// alone, and nothing is allocated per element. A malformed element yields
// errMessage and, when its end cannot be found, ends the frame.
func frameMessages(b []byte) iter.Seq2[message, error] {
	return func(yield func(message, error) bool) {
		b = trimSpace(b)
		if len(b) == 0 || b[0] != '[' {
			yield(parseMessage(b))
			return
		}
		rest := trimSpace(b[1:])
		if len(rest) > 0 && rest[0] == ']' {
			return // an empty batch
		}
		for {
			n := elementEnd(rest)
			if n < 0 {
				yield(message{}, errMessage)
				return
			}
			if !yield(parseMessage(rest[:n])) {
				return
			}
			rest = trimSpace(rest[n:])
			switch {
			case len(rest) > 0 && rest[0] == ',':
				rest = trimSpace(rest[1:])
			case len(rest) > 0 && rest[0] == ']':
				if len(bytes.TrimRight(rest[1:], " \t\r\n")) != 0 {
					yield(message{}, errMessage) // something after the array
				}
				return
			default:
				yield(message{}, errMessage) // a truncated array
				return
			}
		}
	}
}

// trimSpace drops the JSON whitespace at the start of b. (bytes.TrimLeft
// with a cutset builds its set on every call: a third of the cost of a
// batch element.)
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

// elementEnd returns the length of the JSON object at the start of b, or
// -1 if b does not start with a whole object. A quote laid out as the
// server writes it is found by its last key; anything else is scanned.
func elementEnd(b []byte) int {
	if bytes.HasPrefix(b, []byte(quotePrefix)) {
		// The seq key is the quote's last: its digits end at the object's
		// closing brace, the first brace (a quote has no nested object,
		// and its strings hold none). Checked from there backwards: a
		// brace is rare in JSON, where a search for the key's leading
		// quote mark stops at every key.
		if j := bytes.IndexByte(b, '}'); j > 0 {
			d := j
			for d > 0 && b[d-1] >= '0' && b[d-1] <= '9' {
				d--
			}
			if d < j && d >= len(seqKey) && string(b[d-len(seqKey):d]) == seqKey {
				return j + 1
			}
		}
	}
	return objectEnd(b)
}

// objectEnd returns the length of the JSON object (or array) at the start
// of b, by matching brackets outside strings, or -1 if it does not end in
// b. It does not validate what lies between.
func objectEnd(b []byte) int {
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return -1
	}
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// parseTime parses the server's time layout, RFC 3339 in UTC with nine
// fractional digits, by hand; other RFC 3339 forms through time.Parse.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) != timeLen || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != '.' || b[29] != 'Z' {
		t, err := time.Parse(time.RFC3339Nano, string(b))
		return t, err == nil
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	var f [7]int
	for i, r := range [7][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}, {20, 29}} {
		n, ok := num(b[r[0]:r[1]])
		if !ok {
			return time.Time{}, false
		}
		f[i] = n
	}
	if f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return time.Time{}, false
	}
	return time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6], time.UTC), true
}
