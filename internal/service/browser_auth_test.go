package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserToken drives the dashboard against a tickerd with auth on:
// without a token the page asks for one instead of showing an empty
// table; /?token=... shows live quotes (the websocket and REST both carry
// it), takes the token out of the address bar and keeps it in the tab's
// sessionStorage, so that a reload still works; a refused token asks
// again, saying so.
func TestBrowserToken(t *testing.T) {
	exe := chromiumPath(t)
	axe := axeSource(t)
	cfg := authConfig(t)
	cfg.Symbols = []string{"AAPL", "MSFT"}
	r := start(t, cfg, nil)
	pulse(t, r.svc.Collector())
	good := hs256(t, authSecret, time.Hour)

	ctx := newTab(t, exe)
	step(ctx, t, "open the dashboard without a token", chromedp.Navigate(r.url+"/"))
	waitUntil(ctx, t, "the token form", `() => {
		const f = document.getElementById('token-form');
		return !f.hidden && f.getClientRects().length > 0 && document.querySelector('.table-wrap').hidden &&
			document.getElementById('token-why').textContent.includes('needs an access token');
	}`)
	checkAxe(ctx, t, axe, "token form")

	step(ctx, t, "open the dashboard with ?token=", chromedp.Navigate(r.url+"/?token="+good))
	waitUntil(ctx, t, "#conn to say connected", jsConn, "connected")
	waitUntil(ctx, t, "rows for AAPL,MSFT", jsRowsPriced, []string{"AAPL", "MSFT"})
	loc := step(ctx, t, "read the address", chromedp.Evaluate[string](`location.href`))
	if strings.Contains(loc, "token") {
		t.Errorf("address bar = %s, want the token taken out", loc)
	}
	if kept := step(ctx, t, "read sessionStorage", chromedp.Evaluate[string](`sessionStorage.getItem('tickerd.token')`)); kept != good {
		t.Errorf("sessionStorage tickerd.token = %q, want the token", kept)
	}
	step(ctx, t, "reload", chromedp.Reload())
	waitUntil(ctx, t, "rows for AAPL,MSFT after a reload", jsRowsPriced, []string{"AAPL", "MSFT"})

	step(ctx, t, "keep a refused token", chromedp.Evaluate[any](`sessionStorage.setItem('tickerd.token', 'not-a-token'), null`))
	step(ctx, t, "reload", chromedp.Reload())
	waitUntil(ctx, t, "the token form saying the token was refused", `() =>
		!document.getElementById('token-form').hidden && document.getElementById('token-why').textContent.includes('refused')`)
	step(ctx, t, "type the good token", chromedp.SendKeys("#token", good))
	// The form reloads the page: wait for that navigation, then poll.
	sctx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	if _, err := chromedp.RunResponse(sctx, chromedp.Click(`#token-form button[type="submit"]`)); err != nil {
		t.Fatalf("press Show quotes: chromedp.RunResponse() = %v, want the page reloaded", err)
	}
	waitUntil(ctx, t, "rows for AAPL,MSFT after signing in", jsRowsPriced, []string{"AAPL", "MSFT"})
}
