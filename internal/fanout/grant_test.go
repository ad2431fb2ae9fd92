package fanout

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
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

// TestGrantExpiry: when a client's token expires the connection is closed
// with 1008, within a second of the expiry.
func TestGrantExpiry(t *testing.T) {
	src := newFakeSource("AAPL")
	expiry := time.Now().Add(300 * time.Millisecond)
	grants := map[string]Grant{"short": fakeGrant{expiry: expiry}}
	h := newHarness(t, src, &Options{Grant: grantFromHeader(grants)}, nil)
	c := dialWithGrant(t, h, "short", "?symbols=AAPL", "short")
	c.expectSubscribed("AAPL")
	// The token_expired error is queued first but may be cut by the
	// close: the close's reason says it too.
	for {
		m, err := c.readErr()
		if err == nil {
			if m.Type == "error" && m.Code != CodeTokenExpired {
				t.Errorf("error at expiry = %s, want token_expired", m)
			}
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "token expired" {
			t.Fatalf("Read() at expiry = %v, want close 1008 \"token expired\"", err)
		}
		break
	}
	if late := time.Since(expiry); late > time.Second {
		t.Errorf("closed %v after the token expired, want within 1s", late)
	}
}

// TestGrantRefresh: an auth op with a fresh token keeps the connection
// past the old token's expiry and takes the new grant; a refused token
// gets invalid_token and changes nothing; an expired one closes with
// 1008.
func TestGrantRefresh(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT")
	soon := time.Now().Add(400 * time.Millisecond)
	tokens := map[string]Grant{
		"soon":  fakeGrant{patterns: []string{"AAPL"}, expiry: soon},
		"fresh": fakeGrant{expiry: time.Now().Add(time.Hour)},
	}
	verify := func(tok string) (Grant, error) {
		switch g, ok := tokens[tok]; {
		case tok == "expired":
			return nil, fmt.Errorf("verify: %w", ErrTokenExpired)
		case !ok:
			return nil, errors.New("verify: bad signature")
		default:
			return g, nil
		}
	}
	h := newHarness(t, src, &Options{Grant: grantFromHeader(tokens), Verify: verify}, nil)

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
	for time.Now().Before(soon.Add(300 * time.Millisecond)) {
		time.Sleep(50 * time.Millisecond) // past the old expiry: the connection must stay
	}
	c.send(`{"op":"list"}`)
	c.expectSubscribed("AAPL", "MSFT")

	e := dialWithGrant(t, h, "expired", "?symbols=AAPL", "fresh")
	e.expectSubscribed("AAPL")
	e.send(`{"op":"auth","token":"expired"}`)
	e.expectClose(websocket.StatusPolicyViolation)
}
