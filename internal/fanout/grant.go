package fanout

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Grant is what a client's token allows it: *auth.Principal is one. A nil
// Grant (no auth, or an API key) allows everything. Its methods must be
// safe for concurrent use; the Hub calls them with its locks held, so they
// must not block or call back into the Hub.
type Grant interface {
	// Allows reports whether the client may subscribe to sym.
	Allows(sym string) bool
	// MaxSymbols is how many symbols the client may subscribe to at once;
	// 0 means the Hub's MaxSymbolsPerClient alone.
	MaxSymbols() int
	// Dynamic reports whether the client may cause a symbol that is not
	// collected to be collected.
	Dynamic() bool
	// Expiry is when the grant ends (zero: never): the Hub then sends a
	// token_expired error and closes the connection with 1008 and the
	// reason "token expired", the error first.
	Expiry() time.Time
}

// ErrTokenExpired is what Options.Verify's error wraps for a token that
// has expired; it also ends a connection whose grant has expired.
var ErrTokenExpired = errors.New("fanout: token expired")

// Causes of a connection closed for want of a valid token (with
// ErrTokenExpired), each with its error message first (see authEnd).
var (
	errInvalidToken = errors.New("fanout: invalid token")
	errAuthRequired = errors.New("fanout: first message not an auth op")
	errAuthTimeout  = errors.New("fanout: no auth op in time")
)

// AuthWait is how long a client that upgraded without a token
// (Options.AuthFirst) has to send {"op":"auth","token":"..."}.
const AuthWait = 5 * time.Second

// authEnd is the cause of a connection closed over its token: the closer
// sends msg, an error message, through the connection's write queue (so
// that it goes out after what was queued before it and before the close
// frame), then closes with 1008 and reason.
type authEnd struct {
	err    error  // ErrTokenExpired, errInvalidToken, errAuthRequired or errAuthTimeout
	reason string // the close reason
	msg    *wireError
}

func (e *authEnd) Error() string { return e.err.Error() }
func (e *authEnd) Unwrap() error { return e.err }

// The ends of a connection over its token.
func expiredEnd() *authEnd {
	return &authEnd{ErrTokenExpired, "token expired", newError(CodeTokenExpired, "token expired")}
}

func invalidEnd() *authEnd {
	return &authEnd{errInvalidToken, "invalid token", newError(CodeInvalidToken, "invalid token")}
}

func requiredEnd(why string) *authEnd {
	return &authEnd{errAuthRequired, "authentication required", newError(CodeAuthRequired,
		"the first message must be {\"op\":\"auth\",\"token\":\"...\"}: "+why)}
}

func timeoutEnd() *authEnd {
	return &authEnd{errAuthTimeout, "authentication timeout", newError(CodeAuthRequired,
		"no {\"op\":\"auth\",\"token\":\"...\"} within "+AuthWait.String())}
}

// authCloseReason returns the close reason of cause when it is an
// authEnd: such a connection is closed with 1008.
func authCloseReason(cause error) (string, bool) {
	if e, ok := errors.AsType[*authEnd](cause); ok {
		return e.reason, true
	}
	return "", false
}

// sendFarewell queues the error message of cause, when it is an authEnd,
// in the connection's write queue, behind what the writers queued there
// already; the close frame the closer writes next goes behind it, and
// sends it. Only the closer calls it, once the connection is stopped: the
// pool writers queue nothing more by then, but for a frame one of them
// was queuing (which goes before the close frame too).
func (c *client) sendFarewell(cause error) {
	e, ok := errors.AsType[*authEnd](cause)
	if !ok {
		return
	}
	f := frame{encode(e.msg), kindError}
	var err error
	if c.batch {
		err = c.bc.appendArray([]frame{f})
	} else {
		err = c.bc.appendText(f.b)
	}
	if err != nil {
		return // the connection has failed, or is closing already: nothing more goes
	}
	var sent sentCounts
	sent.add(f)
	c.h.m.sent(&sent)
}

// timer is what the Hub's deadlines need of a *time.Timer.
type timer interface{ Stop() bool }

// afterTime runs f on a goroutine of its own at when, by the system's
// clock (time.Now, the Hub's default clock), like time.AfterFunc.
func afterTime(when time.Time, f func()) timer { return time.AfterFunc(time.Until(when), f) }

// authPending is the grant of a client that upgraded without a token and
// has not authenticated yet (Options.AuthFirst): it allows nothing, and
// it expires at the deadline of the client's auth op. It holds back the
// symbols and since of the upgrade's query, which are subscribed to once
// the client has authenticated.
type authPending struct {
	deadline time.Time
	q        query // only symbols and since
}

func (*authPending) Allows(string) bool  { return false }
func (*authPending) MaxSymbols() int     { return 0 }
func (*authPending) Dynamic() bool       { return false }
func (p *authPending) Expiry() time.Time { return p.deadline }

// grantOf returns r's grant from Options.Grant, nil without one, and the
// query to carry out on connect: for a client that must authenticate by
// its first message (Options.AuthFirst) an authPending grant, which holds
// back the query's symbols and since.
func (h *Hub) grantOf(r *http.Request, q query) (Grant, query) {
	if h.opts.AuthFirst != nil && h.opts.AuthFirst(r) {
		p := &authPending{deadline: h.now().Add(AuthWait), q: query{symbols: q.symbols, since: q.since}}
		q.symbols, q.since = nil, nil
		return p, q
	}
	if h.opts.Grant == nil {
		return nil, q
	}
	return h.opts.Grant(r), q
}

// allows reports whether c's grant covers sym.
func (c *client) allows(sym string) bool { return c.grant == nil || c.grant.Allows(sym) }

// limit is how many symbols c may hold: MaxSymbolsPerClient, or its
// grant's max_symbols when lower.
func (c *client) limit() int {
	max := c.h.opts.MaxSymbolsPerClient
	if c.grant != nil {
		if g := c.grant.MaxSymbols(); g > 0 && g < max {
			max = g
		}
	}
	return max
}

// dynamicAllowed reports whether c may have symbols collected for it.
func (c *client) dynamicAllowed() bool { return c.grant == nil || c.grant.Dynamic() }

// checkGrant returns a forbidden error naming the symbols of raw (as
// named, "*" aside) that c's grant does not cover, nil if it covers them
// all. raw has been resolved already, so every name normalises.
func (c *client) checkGrant(raw []string, norm normalizer) *wireError {
	if c.grant == nil {
		return nil
	}
	var denied []string
	for _, s := range raw {
		if s == "*" {
			continue
		}
		if n, err := norm(s); err == nil && !c.grant.Allows(n) {
			denied = append(denied, n)
		}
	}
	if len(denied) == 0 {
		return nil
	}
	return &wireError{Type: "error", Code: CodeForbidden, Symbols: denied,
		Message: "the token does not allow " + strings.Join(denied, ", ")}
}

// allowedOnly returns the names c's grant covers, in order: "*" means the
// configured symbols the token allows.
func (c *client) allowedOnly(names []string) []string {
	if c.grant == nil {
		return names
	}
	out := names[:0:0]
	for _, n := range names {
		if c.grant.Allows(n) {
			out = append(out, n)
		}
	}
	return out
}

// tooMany is the error for a subscribe that would take c past its limit.
func (c *client) tooMany(add int) *wireError {
	return newError(CodeTooManySymbols, "subscribing to "+strconv.Itoa(add)+
		" more symbols would exceed the limit of "+strconv.Itoa(c.limit())+" per client")
}

// watchExpiry arms the end of c at its grant's expiry (again, for a grant
// replaced by an auth op), on the Hub's clock; the returned func disarms
// it for good. A grant that has expired already ends c at once. The end
// of a token's grant is expiredEnd; that of an authPending grant, the
// deadline of the client's auth op, timeoutEnd.
func (c *client) watchExpiry() (disarm func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expT != nil {
		c.expT.Stop()
		c.expT = nil
	}
	if c.grant == nil || c.done {
		return func() {}
	}
	exp := c.grant.Expiry()
	if exp.IsZero() {
		return func() {}
	}
	end := expiredEnd
	if _, ok := c.grant.(*authPending); ok {
		end = timeoutEnd
	}
	// Runs once, at expiry, on a goroutine of its own: ends the connection
	// unless this timer has been replaced or stopped meanwhile (an auth op
	// that raced it) or the connection is being torn down. t is read under
	// c.mu, which watchExpiry holds until t is set.
	var t timer
	t = c.h.at(exp, func() {
		c.mu.Lock()
		current := c.expT == t && !c.done
		if current {
			c.expT = nil
		}
		c.mu.Unlock()
		if current {
			c.stop(end())
		}
	})
	c.expT = t
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.expT != nil {
			c.expT.Stop()
			c.expT = nil
		}
	}
}

// reauth takes a fresh token from an auth op: a valid one replaces c's
// grant (subscriptions stay) and its expiry, and is answered with
// "subscribed"; an expired one ends the connection as an expiry does;
// any other is refused with invalid_token and c keeps its grant. The
// client is told nothing about why beyond that; Verify's error is logged
// at debug, without the token.
//
// For a client that has not authenticated yet (an authPending grant) a
// refused token ends the connection, with invalid_token and 1008; a valid
// one is followed by the upgrade query's subscribe, if it had one, which
// reauth returns when it must wait (see handle).
func (h *Hub) reauth(c *client, token string) *pendingSub {
	pending, first := c.grant.(*authPending) // c.grant changes only here, in the same goroutine chain
	if h.opts.Verify == nil {
		if first {
			c.stop(invalidEnd())
			return nil
		}
		c.replyError(newError(CodeBadRequest, "auth: this server takes no tokens"))
		return nil
	}
	g, err := h.opts.Verify(token)
	switch {
	case errors.Is(err, ErrTokenExpired):
		c.stop(expiredEnd())
		return nil
	case err != nil:
		h.log.Debug("websocket auth refused", "remote", c.remote, "first", first, "error", err)
		if first {
			c.stop(invalidEnd())
			return nil
		}
		c.replyError(newError(CodeInvalidToken, "invalid token"))
		return nil
	}
	h.mu.Lock()
	c.grant = g // read under h.mu (subscribe, extendStars)
	h.mu.Unlock()
	c.watchExpiry()
	if first && (len(pending.q.symbols) > 0 || pending.q.since != nil) {
		req, werr := pending.q.request(h.opts.MaxSymbolsPerClient, h.opts.NormalizeSymbol)
		if werr != nil {
			c.replyError(werr)
			return nil
		}
		return h.handle(c, req) // answered with "subscribed", as on connect
	}
	c.replySubscribed()
	return nil
}

// firstMessage carries out the first message of a client that has not
// authenticated yet: an auth op is checked (reauth); anything else ends
// the connection with auth_required and 1008.
func (h *Hub) firstMessage(c *client, m message) *pendingSub {
	if m.typ != websocket.MessageText {
		c.stop(requiredEnd("got a binary message"))
		return nil
	}
	req, werr := parseRequest(m.data, h.opts.MaxSymbolsPerClient, h.opts.NormalizeSymbol)
	switch {
	case werr != nil:
		c.stop(requiredEnd(werr.Message))
		return nil
	case req.Op != opAuth:
		c.stop(requiredEnd("got op " + shortQuote(req.Op)))
		return nil
	}
	return h.reauth(c, req.Token)
}
