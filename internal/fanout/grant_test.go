package fanout

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeGrant allows the symbols matching its patterns (nil: all).
type fakeGrant struct {
	patterns []string
	max      int
	dynamic  bool
	expiry   time.Time
}

func (g fakeGrant) Allows(sym string) bool {
	if g.patterns == nil {
		return true
	}
	return slices.ContainsFunc(g.patterns, func(p string) bool { ok, _ := path.Match(p, sym); return ok })
}
func (g fakeGrant) MaxSymbols() int   { return g.max }
func (g fakeGrant) Dynamic() bool     { return g.dynamic }
func (g fakeGrant) Expiry() time.Time { return g.expiry }

// grantFromHeader gives each test client the grant named by its
// X-Test-Grant header.
func grantFromHeader(grants map[string]Grant) func(*http.Request) Grant {
	return func(r *http.Request) Grant { return grants[r.Header.Get("X-Test-Grant")] }
}

func dialWithGrant(t *testing.T, h *harness, name, query, grant string) *wsClient {
	t.Helper()
	return h.dial(t, name, query, &websocket.DialOptions{HTTPHeader: http.Header{"X-Test-Grant": {grant}}})
}

// TestGrant: a client's token limits what it may subscribe to: a symbol
// it does not allow is forbidden and changes nothing, "*" means the
// configured symbols it allows (and stays so as the set grows),
// max_symbols lowers the per-client limit, and without dynamic a symbol
// that is not collected is not asked for.
func TestGrant(t *testing.T) {
	src := newFakeSource("AAPL", "AMZN", "MSFT", "NVDA")
	grants := map[string]Grant{
		"a_only": fakeGrant{patterns: []string{"A*"}, dynamic: true},
		"two":    fakeGrant{max: 2, dynamic: true},
		"static": fakeGrant{},
	}
	h := newHarness(t, src, &Options{DynamicSymbols: true, MaxDynamicSymbols: 10, Grant: grantFromHeader(grants)}, nil)

	t.Run("forbidden", func(t *testing.T) {
		c := dialWithGrant(t, h, "a_only", "?symbols=AAPL", "a_only")
		c.expectSubscribed("AAPL")
		c.send(`{"op":"subscribe","symbols":["AMZN","MSFT"]}`)
		if m := c.expectError(CodeForbidden); !slices.Equal(m.Symbols, []string{"MSFT"}) {
			t.Errorf("forbidden error symbols = %v, want [MSFT]", m.Symbols)
		}
		c.send(`{"op":"list"}`)
		c.expectSubscribed("AAPL") // unchanged: not even AMZN
	})
	t.Run("star_is_what_the_token_allows", func(t *testing.T) {
		c := dialWithGrant(t, h, "a_star", "", "a_only")
		c.send(`{"op":"subscribe","symbols":["*"]}`)
		c.expectSubscribed("AAPL", "AMZN")
		src.setSymbols("AAPL", "AMZN", "MSFT", "NVDA", "ADBE", "TSLA") // a reload adds ADBE and TSLA
		c.expectSubscribed("AAPL", "ADBE", "AMZN")
	})
	t.Run("max_symbols", func(t *testing.T) {
		c := dialWithGrant(t, h, "two", "?symbols=AAPL,MSFT", "two")
		c.expectSubscribed("AAPL", "MSFT")
		c.send(`{"op":"subscribe","symbols":["NVDA"]}`)
		c.expectError(CodeTooManySymbols)
	})
	t.Run("no_dynamic", func(t *testing.T) {
		c := dialWithGrant(t, h, "static", "", "static")
		c.send(`{"op":"subscribe","symbols":["ZNEW"]}`)
		if m := c.expectError(CodeUnknownSymbol); !slices.Equal(m.Symbols, []string{"ZNEW"}) {
			t.Errorf("unknown_symbol symbols = %v, want [ZNEW]", m.Symbols)
		}
		src.mu.Lock()
		asked := slices.Contains(src.dynamic, "ZNEW")
		src.mu.Unlock()
		if asked {
			t.Error("ZNEW was asked of the Demand for a client whose token does not allow it")
		}
	})
}

// fakeClock is the Hub's clock in a test: Now stands still until Advance,
// which runs the timers it makes due, in order, before it returns (so a
// deadline that Advance did not reach has certainly not fired). A timer
// due already when it is made runs on a goroutine of its own, as
// time.AfterFunc's would, since its caller may hold locks that its
// function takes.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	clk  *fakeClock
	at   time.Time
	f    func()
	done bool // fired or stopped; guarded by clk.mu
}

func newFakeClock() *fakeClock { return &fakeClock{now: collectedAt} }

// install makes clk the Hub's clock; for newHarness's tweak.
func (clk *fakeClock) install(h *harness) { h.hub.now, h.hub.at = clk.Now, clk.At }

func (clk *fakeClock) Now() time.Time {
	clk.mu.Lock()
	defer clk.mu.Unlock()
	return clk.now
}

// At runs f at when: in the Advance that reaches it, or at once if the
// clock is there already.
func (clk *fakeClock) At(when time.Time, f func()) timer {
	clk.mu.Lock()
	defer clk.mu.Unlock()
	t := &fakeTimer{clk: clk, at: when, f: f}
	if !when.After(clk.now) {
		t.done = true
		go f() // exits when f returns
		return t
	}
	clk.timers = append(clk.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock on by d and runs the timers due by then.
func (clk *fakeClock) Advance(d time.Duration) {
	clk.mu.Lock()
	clk.now = clk.now.Add(d)
	var due []*fakeTimer
	keep := clk.timers[:0]
	for _, t := range clk.timers {
		switch {
		case t.done:
		case !t.at.After(clk.now):
			t.done = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	clk.timers = keep
	clk.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}

// expectEnd reads the next message, which must be an error with code,
// and then the close, which must be 1008 with reason: the error is never
// cut by the close.
func (w *wsClient) expectEnd(code, reason string) {
	w.t.Helper()
	m, err := w.readErr()
	if err != nil {
		w.t.Fatalf("%s: Read() = %v, want error %q before the close", w.name, err, code)
	}
	if m.Type != "error" || m.Code != code || m.Message == "" {
		w.t.Fatalf("%s: Read() = %s, want error %q before the close", w.name, m, code)
	}
	_, err = w.readErr()
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != reason {
		w.t.Fatalf("%s: Read() after the error = %v, want close 1008 %q", w.name, err, reason)
	}
}

// TestGrantExpiry: when a client's token expires the connection gets a
// token_expired error and then a close with 1008, at the expiry on the
// Hub's clock and not before; the error is never cut by the close, in
// batch mode neither (where it is an array of one).
func TestGrantExpiry(t *testing.T) {
	src := newFakeSource("AAPL")
	clk := newFakeClock()
	const ttl = 10 * time.Minute
	grants := map[string]Grant{"short": fakeGrant{expiry: clk.Now().Add(ttl)}}
	h := newHarness(t, src, &Options{Grant: grantFromHeader(grants)}, clk.install)
	c := dialWithGrant(t, h, "short", "?symbols=AAPL", "short")
	b := dialWithGrant(t, h, "short_batch", "?symbols=AAPL&batch=1", "short")
	c.expectSubscribed("AAPL")
	if got, _ := b.readFrame(); len(got) != 1 || got[0].Type != "subscribed" {
		t.Fatalf("first batch frame = %v, want [subscribed]", got)
	}

	clk.Advance(ttl - time.Millisecond) // just before: both stay
	c.send(`{"op":"list"}`)
	c.expectSubscribed("AAPL")
	b.send(`{"op":"list"}`)
	if got, _ := b.readFrame(); len(got) != 1 || got[0].Type != "subscribed" {
		t.Fatalf("batch frame after list = %v, want [subscribed]", got)
	}

	clk.Advance(time.Millisecond) // the expiry
	c.expectEnd(CodeTokenExpired, "token expired")
	if got, _ := b.readFrame(); len(got) != 1 || got[0].Type != "error" || got[0].Code != CodeTokenExpired {
		t.Fatalf("batch frame at expiry = %v, want [token_expired error]", got)
	}
	if err := b.closed(websocket.StatusPolicyViolation); err != nil {
		t.Fatal(err)
	}
}

// TestGrantRefresh: an auth op with a fresh token keeps the connection
// past the old token's expiry and takes the new grant; a refused token
// gets invalid_token and changes nothing; an expired one gets
// token_expired and a close with 1008.
func TestGrantRefresh(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	clk := newFakeClock()
	soon := clk.Now().Add(time.Minute)
	tokens := map[string]Grant{
		"soon":  fakeGrant{patterns: []string{"AAPL"}, expiry: soon},
		"fresh": fakeGrant{expiry: clk.Now().Add(time.Hour)},
	}
	h := newHarness(t, src, &Options{Grant: grantFromHeader(tokens), Verify: fakeVerify(tokens)}, clk.install)

	c := dialWithGrant(t, h, "refreshed", "?symbols=AAPL", "soon")
	c.expectSubscribed("AAPL")
	c.send(`{"op":"auth","token":"bad"}`)
	c.expectError(CodeInvalidToken)
	c.send(`{"op":"subscribe","symbols":["MSFT"]}`)
	c.expectError(CodeForbidden) // the old grant still holds
	c.send(`{"op":"auth","token":"fresh"}`)
	c.expectSubscribed("AAPL")
	c.send(`{"op":"subscribe","symbols":["MSFT"]}`)
	c.expectSubscribed("AAPL", "MSFT") // the new grant allows it
	clk.Advance(2 * time.Minute)       // past the old expiry: the connection must stay
	c.send(`{"op":"list"}`)
	c.expectSubscribed("AAPL", "MSFT")

	e := dialWithGrant(t, h, "expired", "?symbols=AAPL", "fresh")
	e.expectSubscribed("AAPL")
	e.send(`{"op":"auth","token":"expired"}`)
	e.expectEnd(CodeTokenExpired, "token expired")
}

// fakeVerify is an Options.Verify over tokens: "expired" has expired,
// a token not in tokens is refused.
func fakeVerify(tokens map[string]Grant) func(string) (Grant, error) {
	return func(tok string) (Grant, error) {
		switch g, ok := tokens[tok]; {
		case tok == "expired":
			return nil, fmt.Errorf("verify: %w", ErrTokenExpired)
		case !ok:
			return nil, errors.New("verify: bad signature")
		default:
			return g, nil
		}
	}
}

// TestAuthFirst: a client that upgrades without a token (AuthFirst) must
// send an auth op first, within AuthWait on the Hub's clock: a valid token
// is answered with "subscribed" (of the upgrade's ?symbols=, subscribed to
// only then, under the token's grant), anything else ends the connection
// with an error and then 1008, and so does silence; a client that came
// with a token is not asked for one.
func TestAuthFirst(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	src.set(t, "AAPL", snapQuote("AAPL", 1))
	clk := newFakeClock()
	tokens := map[string]Grant{
		"fresh":     fakeGrant{dynamic: true},
		"msft_only": fakeGrant{patterns: []string{"MSFT"}},
		"soon":      fakeGrant{expiry: clk.Now().Add(time.Hour)},
	}
	opts := &Options{
		Grant:     grantFromHeader(tokens),
		Verify:    fakeVerify(tokens),
		AuthFirst: func(r *http.Request) bool { return r.Header.Get("X-Test-Grant") == "" },
	}
	h := newHarness(t, src, opts, clk.install)

	tests := []struct {
		name   string
		query  string
		first  string // the first message; "" sends none
		code   string // the error code that ends the connection; "" when it stays
		reason string // the close reason
	}{
		{"wrong_op", "?symbols=AAPL", `{"op":"subscribe","symbols":["AAPL"]}`, CodeAuthRequired, "authentication required"},
		{"list", "", `{"op":"list"}`, CodeAuthRequired, "authentication required"},
		{"not_json", "", `hello`, CodeAuthRequired, "authentication required"},
		{"auth_without_token", "", `{"op":"auth"}`, CodeAuthRequired, "authentication required"},
		{"invalid_token", "", `{"op":"auth","token":"bad"}`, CodeInvalidToken, "invalid token"},
		{"expired_token", "", `{"op":"auth","token":"expired"}`, CodeTokenExpired, "token expired"},
		{"timeout", "?symbols=AAPL", "", CodeAuthRequired, "authentication timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial(t, tc.name, tc.query, nil)
			if tc.first != "" {
				c.send(tc.first)
			} else {
				clk.Advance(AuthWait)
			}
			c.expectEnd(tc.code, tc.reason) // the first thing the client gets: no quote, no "subscribed"
		})
	}

	t.Run("ok", func(t *testing.T) {
		c := h.dial(t, "ok", "", nil)
		c.send(`{"op":"auth","token":"fresh"}`)
		c.expectSubscribed()
		c.send(`{"op":"subscribe","symbols":["AAPL"]}`)
		c.expectSubscribed("AAPL")
		c.expectQuote("AAPL", 1)
		clk.Advance(2 * AuthWait) // no deadline once authenticated
		c.send(`{"op":"list"}`)
		c.expectSubscribed("AAPL")
	})
	t.Run("just_in_time", func(t *testing.T) {
		c := h.dial(t, "just_in_time", "?symbols=AAPL", nil)
		clk.Advance(AuthWait - time.Millisecond)
		c.send(`{"op":"auth","token":"fresh"}`)
		c.expectSubscribed("AAPL") // the upgrade's symbols, subscribed to now
		c.expectQuote("AAPL", 1)
		clk.Advance(time.Millisecond) // the old deadline: disarmed
		c.send(`{"op":"list"}`)
		c.expectSubscribed("AAPL")
	})
	t.Run("query_under_token_grant", func(t *testing.T) {
		c := h.dial(t, "query_under_token_grant", "?symbols=AAPL", nil)
		c.send(`{"op":"auth","token":"msft_only"}`)
		if m := c.expectError(CodeForbidden); !slices.Equal(m.Symbols, []string{"AAPL"}) {
			t.Errorf("forbidden error symbols = %v, want [AAPL]", m.Symbols)
		}
		c.send(`{"op":"subscribe","symbols":["MSFT"]}`)
		c.expectSubscribed("MSFT")
	})
	t.Run("then_expiry", func(t *testing.T) {
		c := h.dial(t, "then_expiry", "", nil)
		c.send(`{"op":"auth","token":"soon"}`)
		c.expectSubscribed()
		clk.Advance(time.Hour)
		c.expectEnd(CodeTokenExpired, "token expired")
	})
	t.Run("came_with_token", func(t *testing.T) {
		c := dialWithGrant(t, h, "came_with_token", "?symbols=AAPL", "fresh")
		c.expectSubscribed("AAPL")
		c.expectQuote("AAPL", 1)
		clk.Advance(2 * AuthWait)
		c.send(`{"op":"list"}`)
		c.expectSubscribed("AAPL")
	})
}
