package fanout

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
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
	// Expiry is when the grant ends (zero: never): the Hub then queues a
	// token_expired error and closes the connection with 1008 and the
	// reason "token expired" (the close may cut the error frame; its
	// reason always says it).
	Expiry() time.Time
}

// ErrTokenExpired is what Options.Verify's error wraps for a token that
// has expired; it also ends a connection whose grant has expired.
var ErrTokenExpired = errors.New("fanout: token expired")

// grantOf returns r's grant from Options.Grant, nil without one.
func (h *Hub) grantOf(r *http.Request) Grant {
	if h.opts.Grant == nil {
		return nil
	}
	return h.opts.Grant(r)
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

// watchExpiry arms the close of c at its grant's expiry (again, for a
// grant replaced by an auth op); the returned func disarms it for good. A
// grant that has expired already closes at once.
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
	// Runs once, at expiry, unless disarmed or re-armed: queues the
	// error (sent if the socket takes it before the close) and ends the
	// connection.
	t := time.AfterFunc(time.Until(exp), func() {
		c.replyError(newError(CodeTokenExpired, "token expired"))
		c.stop(ErrTokenExpired)
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
func (h *Hub) reauth(c *client, token string) {
	if h.opts.Verify == nil {
		c.replyError(newError(CodeBadRequest, "auth: this server takes no tokens"))
		return
	}
	g, err := h.opts.Verify(token)
	switch {
	case errors.Is(err, ErrTokenExpired):
		c.replyError(newError(CodeTokenExpired, "token expired"))
		c.stop(ErrTokenExpired)
	case err != nil:
		h.log.Debug("websocket auth refused", "remote", c.remote, "error", err)
		c.replyError(newError(CodeInvalidToken, "invalid token"))
	default:
		h.mu.Lock()
		c.grant = g // read under h.mu (subscribe, extendStars)
		h.mu.Unlock()
		c.watchExpiry()
		c.replySubscribed()
	}
}
