package fanout

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/quote"
)

// Ops a client may send.
const (
	opSubscribe   = "subscribe"
	opUnsubscribe = "unsubscribe"
	opList        = "list"
	opAuth        = "auth" // a fresh token for the connection: {"op":"auth","token":"..."}
)

// maxTokenLen bounds the token of an auth op.
const maxTokenLen = 8 << 10

// Codes of "error" messages.
const (
	CodeBadRequest     = "bad_request"      // not a JSON object with a string op, or a bad symbols list
	CodeUnknownOp      = "unknown_op"       // op is not subscribe, unsubscribe or list
	CodeInvalidSymbol  = "invalid_symbol"   // a symbol config.NormalizeSymbol rejects
	CodeUnknownSymbol  = "unknown_symbol"   // a valid symbol that is not (or no longer) collected
	CodeTooManySymbols = "too_many_symbols" // past MaxSymbolsPerClient or MaxDynamicSymbols
	CodeRateLimited    = "rate_limited"     // past OpsPerSecond; the message was ignored
	CodeForbidden      = "forbidden"        // the client's token does not allow a symbol it named; the set is unchanged
	CodeTokenExpired   = "token_expired"    // the client's token expired: the connection closes with 1008
	CodeInvalidToken   = "invalid_token"    // an auth op's token was refused: the connection keeps its grant, or closes with 1008 if it had none (AuthFirst)
	CodeAuthRequired   = "auth_required"    // a client without a token (AuthFirst) sent something else first, or nothing within AuthWait: the connection closes with 1008
)

// timeLayout is RFC 3339 with nanoseconds, always nine digits.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// request is a message from a client.
type request struct {
	Op      string          `json:"op"`
	Symbols []string        `json:"symbols"`
	Since   json.RawMessage `json:"since"` // subscribe only: where a resuming client left off
	Token   string          `json:"token"` // auth only

	since *since // Since parsed by parseRequest; nil without one
}

// wireError is an "error" message for a client.
type wireError struct {
	Type    string   `json:"type"` // "error"
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Symbols []string `json:"symbols,omitempty"` // the symbols concerned, when the server unsubscribed them
}

func newError(code, msg string) *wireError {
	return &wireError{Type: "error", Code: code, Message: msg}
}

// parseRequest decodes one client message. A request it returns has a
// known op and, for subscribe and unsubscribe, at least one symbol (not yet
// normalised); a subscribe's "since" is parsed into req.since, naming at
// most maxSyms symbols. Only a subscribe may carry "since".
func parseRequest(data []byte, maxSyms int, norm normalizer) (request, *wireError) {
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		return request{}, newError(CodeBadRequest, "want a JSON object such as {\"op\":\"subscribe\",\"symbols\":[\"AAPL\"]}: "+err.Error())
	}
	switch req.Op {
	case "":
		return request{}, newError(CodeBadRequest, "missing op")
	case opSubscribe, opUnsubscribe:
		if len(req.Symbols) == 0 {
			return request{}, newError(CodeBadRequest, req.Op+": want a non-empty symbols list")
		}
	case opList:
	case opAuth:
		if req.Token == "" || len(req.Token) > maxTokenLen || len(req.Symbols) > 0 {
			return request{}, newError(CodeBadRequest, "auth: want {\"op\":\"auth\",\"token\":\"...\"}, a token of at most "+strconv.Itoa(maxTokenLen)+" bytes and no symbols")
		}
	default:
		return request{}, newError(CodeUnknownOp, "unknown op "+shortQuote(req.Op)+": want subscribe, unsubscribe, list or auth")
	}
	if req.Op != opSubscribe {
		if len(req.Since) > 0 {
			return request{}, newError(CodeBadRequest, req.Op+": since is for subscribe only")
		}
		return req, nil
	}
	s, werr := parseSince(req.Since, maxSyms, norm)
	if werr != nil {
		return request{}, werr
	}
	req.since = s
	return req, nil
}

// normalizer is Options.NormalizeSymbol, with its default.
type normalizer func(string) (string, error)

// normalize returns the normalised form of a symbol from a client, or an
// invalid_symbol error naming it and saying the source's syntax.
func (f normalizer) normalize(s string) (string, *wireError) {
	n, err := f(s)
	if err != nil {
		return "", newError(CodeInvalidSymbol, "invalid symbol "+shortQuote(s)+": "+symbolSyntax(err))
	}
	return n, nil
}

// symbolSyntax says what a symbol should look like, from the error that
// rejected it: the source's own words when it gives them (a
// *quote.SymbolError), else the default syntax's.
func symbolSyntax(err error) string {
	if se, ok := errors.AsType[*quote.SymbolError](err); ok {
		return se.Reason
	}
	return "want 1 to " + strconv.Itoa(config.MaxSymbolLen) + " letters, digits, '.', '-' or '^'"
}

// shortQuote quotes s for a message, cut to a readable length.
func shortQuote(s string) string {
	const maxLen = 40
	if len(s) > maxLen {
		return strconv.Quote(s[:maxLen]) + "..."
	}
	return strconv.Quote(s)
}

// QuoteMessage is the JSON object of a quote as the websocket API sends it
// ("type":"quote"); other JSON APIs showing quotes use the same fields.
// Times are RFC 3339 in UTC with nine fractional digits; Volume and Time
// are omitted when the source did not report them.
type QuoteMessage struct {
	Type      string  `json:"type,omitempty"`
	Symbol    string  `json:"symbol"`
	Price     float64 `json:"price,omitempty"` // > 0 in every quote; absent only before the first
	Change    float64 `json:"change"`
	ChangePct float64 `json:"change_pct"`
	Volume    *int64  `json:"volume,omitempty"`
	Time      string  `json:"time,omitempty"`
	// What the source gives besides the price, each left out when it
	// does not give it.
	Open         float64 `json:"open,omitempty"`
	High         float64 `json:"high,omitempty"`
	Low          float64 `json:"low,omitempty"`
	PrevClose    float64 `json:"prev_close,omitempty"`
	Bid          float64 `json:"bid,omitempty"`
	Ask          float64 `json:"ask,omitempty"`
	MarketStatus string  `json:"market_status,omitempty"`
	// collected_at and seq come last: load tools read them from the end.
	CollectedAt string `json:"collected_at,omitempty"` // empty only before a symbol's first quote
	Seq         uint64 `json:"seq"`
}

// NewQuoteMessage returns the JSON form of q, with Type "quote".
func NewQuoteMessage(q quote.Quote) QuoteMessage {
	m := QuoteMessage{
		Type:      "quote",
		Symbol:    q.Symbol,
		Price:     q.Price,
		Change:    q.Change,
		ChangePct: q.ChangePct,
		Seq:       q.Seq,

		Open: q.Open, High: q.High, Low: q.Low, PrevClose: q.PrevClose,
		Bid: q.Bid, Ask: q.Ask, MarketStatus: q.MarketStatus,
	}
	if !q.CollectedAt.IsZero() {
		m.CollectedAt = formatTime(q.CollectedAt)
	}
	if q.HasVolume {
		v := q.Volume
		m.Volume = &v
	}
	if !q.Time.IsZero() {
		m.Time = formatTime(q.Time)
	}
	return m
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// statusMessage says whether a symbol is stale, or unknown to the source.
type statusMessage struct {
	Type     string `json:"type"` // "status"
	Symbol   string `json:"symbol"`
	Stale    bool   `json:"stale"`
	Unknown  bool   `json:"unknown,omitempty"`
	Error    string `json:"error,omitempty"`
	Failures int    `json:"failures"`
}

// subscribedMessage lists a client's whole subscription set.
type subscribedMessage struct {
	Type    string   `json:"type"` // "subscribed"
	Symbols []string `json:"symbols"`
	// Epoch is the epoch of the seqs the client gets: its seqs of another
	// epoch mean nothing here. Empty (left out) only with a Board whose
	// EpochValue is unset.
	Epoch string `json:"epoch,omitempty"`
	// Recovered, in the reply to a subscribe with "since" only (then
	// present even when empty), lists the symbols of that subscribe that
	// were resumed: the client's seq of the epoch was honoured, and the
	// server had that seq or a newer one, so the client gets only newer
	// quotes. Sorted.
	Recovered []string `json:"recovered,omitzero"`
}

// resetMessage tells a client that seqs start again: the epoch changed.
// Its seqs of the old epoch mean nothing; the snapshots of the new one
// follow.
type resetMessage struct {
	Type  string `json:"type"` // "reset"
	Epoch string `json:"epoch"`
}

// update is one version of a symbol's Snapshot, rendered once for every
// client. It is immutable once made.
type update struct {
	ver    uint64   // the Value's version
	ep     epochRef // the board's epoch the version belongs to
	seq    uint64   // Quote.Seq; 0 without a quote
	stale  bool     // stale or unknown: whether the client is told of a problem
	quote  []byte   // the "quote" message; nil without a quote
	status []byte   // the "status" message
}

// newUpdate renders version ver of sym's snapshot. A quote that cannot be
// encoded (a non-finite number) is left out.
func newUpdate(sym string, snap board.Snapshot, ver uint64, ep epochRef) *update {
	u := &update{ver: ver, ep: ep, stale: snap.Stale || snap.Unknown}
	if snap.HasQuote() {
		q := snap.Quote
		q.Symbol = sym
		if b, err := json.Marshal(NewQuoteMessage(q)); err == nil {
			u.quote, u.seq = b, q.Seq
		}
	}
	st := statusMessage{Type: "status", Symbol: sym, Stale: snap.Stale, Unknown: snap.Unknown, Failures: snap.Failures}
	if snap.Stale || snap.Unknown {
		st.Error = snap.Err
	}
	u.status = encode(st)
	return u
}

// encode encodes a message made only of strings, bools and integers, which
// cannot fail; should it, the client gets an error message instead.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"type":"error","code":"internal","message":"message could not be encoded"}`)
	}
	return b
}
