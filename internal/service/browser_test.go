package service_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickerd/tickerd/internal/config"
)

// browserWait bounds every browser step: starting Chromium, one action, one
// wait for the page to reach a state. It never orders events; a step that
// takes longer is a hang, and fails the test.
const browserWait = 10 * time.Second

// Page predicates for chromedp.PollFunction, polled in the page until they
// return a truthy value. They read only what a user sees: the rows of the
// table (tr[data-symbol]) and their cells, and the #conn indicator.
const (
	// jsRowsPriced(syms): the table holds exactly the rows syms, in that
	// (sorted) order, each with a positive numeric price and an update
	// time.
	jsRowsPriced = `(syms) => {
		const trs = [...document.querySelectorAll('#rows tr')];
		if (trs.map((tr) => tr.dataset.symbol).join() !== syms.join()) return false;
		return trs.every((tr) => {
			const price = tr.querySelector('.price').textContent.trim();
			const v = Number(price.replace(/,/g, ''));
			return price !== '' && Number.isFinite(v) && v > 0 &&
				!['', '–'].includes(tr.querySelector('.updated').textContent.trim());
		});
	}`
	// jsRowsChanged(before): the table holds exactly the rows of before (a
	// symbol -> rowText map), and every row's text differs from before's.
	jsRowsChanged = `(before) => {
		const trs = [...document.querySelectorAll('#rows tr')];
		if (trs.map((tr) => tr.dataset.symbol).sort().join() !== Object.keys(before).sort().join()) return false;
		return trs.every((tr) => ` + jsRowText + ` !== before[tr.dataset.symbol]);
	}`
	// jsConn(state): #conn says state, in its text and its class.
	jsConn = `(state) => {
		const el = document.getElementById('conn');
		return el.textContent.trim() === state && el.className === state;
	}`
	// jsRowText is what a row shows that moves with each quote: its price
	// and update time, with the time's tooltip (the quote's full
	// collected_at, unique to each collection). tr is the row.
	jsRowText = `(tr.querySelector('.price').textContent + ' @ ' + tr.querySelector('.updated').textContent +
		' (' + tr.querySelector('.updated').title + ')')`
	// jsRowTexts is every row's jsRowText, by symbol.
	jsRowTexts = `Object.fromEntries([...document.querySelectorAll('#rows tr')].map((tr) => [tr.dataset.symbol, ` + jsRowText + `]))`
	// jsPageState describes the page for failure messages.
	jsPageState = `JSON.stringify({
		conn: document.getElementById('conn').textContent + ' ' + document.getElementById('retry').textContent,
		message: document.getElementById('message').hidden ? '' : document.getElementById('message').textContent,
		watchlist: localStorage.getItem('tickerd.watchlist'),
		rows: ` + jsRowTexts + `,
	})`
)

// TestBrowserDashboard drives the dashboard in headless Chromium against a
// real tickerd collecting from its embedded simulator every second: rows
// with prices for the configured symbols, live updates, removing and
// adding a symbol (kept across reloads in localStorage), and reconnecting
// by itself when the server stops and a new one starts on the same
// address. It leaves a full-page screenshot, dashboard.png, in its
// artifact directory (kept with go test -artifacts -outputdir DIR).
func TestBrowserDashboard(t *testing.T) {
	exe := chromiumPath(t)
	configured := config.Default().Symbols
	syms := slices.Sorted(slices.Values(configured))
	// Removed, then added back one at a time. Rows are in symbol order.
	const sym1, sym2 = "MSFT", "TSLA"
	if !slices.Contains(syms, sym1) || !slices.Contains(syms, sym2) {
		t.Fatalf("config.Default().Symbols = %v, want it to hold %s and %s", configured, sym1, sym2)
	}
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(syms), func(s string) bool { return slices.Contains(drop, s) })
	}
	rowsOf := func(list []string) string { return strings.Join(list, ",") }

	first := start(t, testConfig(config.KindSim, "", "@every 1s", configured), nil)
	ctx := newTab(t, exe)

	// 1. A row with a price for every configured symbol.
	step(ctx, t, "open the dashboard", chromedp.Navigate(first.url+"/"))
	waitUntil(ctx, t, "#conn to say connected", jsConn, "connected")
	waitUntil(ctx, t, "priced rows for "+rowsOf(syms), jsRowsPriced, syms)

	// 2. Prices move: every row shows a newer quote.
	waitUntil(ctx, t, "every row to show a new quote", jsRowsChanged, rowTexts(ctx, t))

	// 3. Remove two symbols and add one back, typed in lower case. The
	// table is the server's set after the add: the removed ones must have
	// been unsubscribed.
	for _, sym := range []string{sym1, sym2} {
		step(ctx, t, "click "+sym+"'s remove button", chromedp.Click(chromedp.CSS(`tr[data-symbol="`+sym+`"] .remove`)))
		step(ctx, t, sym+"'s row to disappear", chromedp.WaitNotPresent(chromedp.CSS(`tr[data-symbol="`+sym+`"]`)))
	}
	add := func(sym string) {
		t.Helper()
		step(ctx, t, "type "+sym+" into #add-symbol", chromedp.SendKeys(chromedp.CSS("#add-symbol"), strings.ToLower(sym)))
		step(ctx, t, "click #add-btn", chromedp.Click(chromedp.CSS("#add-btn")))
	}
	add(sym1)
	waitUntil(ctx, t, "after adding "+sym1+", priced rows for "+rowsOf(without(sym2)), jsRowsPriced, without(sym2))
	if v := step(ctx, t, "read #add-symbol", chromedp.Value(chromedp.CSS("#add-symbol"))); v != "" {
		t.Errorf("#add-symbol after adding = %q, want it cleared", v)
	}
	// The watchlist (both removals and the add) survives a reload.
	step(ctx, t, "reload the page", chromedp.Reload())
	waitUntil(ctx, t, "after a reload, priced rows for "+rowsOf(without(sym2)), jsRowsPriced, without(sym2))
	add(sym2)
	waitUntil(ctx, t, "after adding "+sym2+", priced rows for "+rowsOf(syms), jsRowsPriced, syms)
	step(ctx, t, "reload the page", chromedp.Reload())
	waitUntil(ctx, t, "after a reload, priced rows for "+rowsOf(syms), jsRowsPriced, syms)

	// 4. The server stops: the page says so. A new server on the same
	// address: the page reconnects by itself and its rows move again. The
	// new server pulses by hand at first, so that its first quotes (seq 1)
	// come while the page still shows the old server's later ones (seq >= 2
	// since step 2): the page must take them all the same.
	if err := first.stop(t); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	waitUntil(ctx, t, "#conn to say disconnected once the server stopped", jsConn, "disconnected")
	atStop := rowTexts(ctx, t)
	cfg := testConfig(config.KindSim, "", neverInTest, configured)
	cfg.Listen = strings.TrimPrefix(first.url, "http://")
	second := start(t, cfg, nil)
	waitUntil(ctx, t, "#conn to say connected after the restart", jsConn, "connected")
	pulse(t, second.svc.Collector())
	waitUntil(ctx, t, "every row to show the new server's first quote", jsRowsChanged, atStop)
	sched, err := config.ParseSchedule("@every 1s")
	if err != nil {
		t.Fatalf("ParseSchedule(%q) = %v", "@every 1s", err)
	}
	second.svc.Collector().SetSchedule(sched)
	waitUntil(ctx, t, "every row to show a live quote from the new server", jsRowsChanged, rowTexts(ctx, t))

	// 5. A full-page screenshot.
	png := step(ctx, t, "take a screenshot", chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("FullScreenshot(100) = %d bytes starting %q, want a PNG", len(png), png[:min(len(png), 8)])
	}
	path := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("WriteFile(%q) = %v", path, err)
	}
	t.Logf("screenshot: %s", path)
}

// chromiumPath returns Debian's chromium (/usr/bin/chromium, or chromium on
// PATH). Without it the test fails in CI (CI set) and is skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "chromium not found (/usr/bin/chromium or chromium on PATH): run `make test`, which installs it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newTab starts headless Chromium with a fresh profile and returns the
// context of its first tab. The test's cleanup closes the browser and
// waits for it (and chromedp's goroutines) to be gone.
func newTab(t *testing.T, exe string) context.Context {
	t.Helper()
	profile := t.TempDir() // removed after the browser is gone (cleanups run last first)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"), // prices formatted as 1,234.56
		chromedp.WindowSize(1024, 768),
		chromedp.UserDataDir(profile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()   // closes the browser; returns once it has exited
		cancelAlloc() // returns once the allocator's goroutines are gone
	})
	// The first Run starts the browser, which lives as long as ctx: it
	// gets no timeout of its own, so the timer stands guard instead.
	timer := time.AfterFunc(browserWait, cancelTab)
	_, err := chromedp.Run(ctx, chromedp.Steps())
	if !timer.Stop() {
		t.Fatalf("starting %s took more than %v", exe, browserWait)
	}
	if err != nil {
		t.Fatalf("starting %s: chromedp.Run() = %v, want nil", exe, err)
	}
	return ctx
}

// step runs a within browserWait and returns its value. On error it fails
// the test with what it was doing and the state of the page.
func step[T any](ctx context.Context, t *testing.T, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: chromedp.Run() = %v, want nil; page: %s", what, err, pageState(ctx, t))
	}
	return v
}

// waitUntil waits within browserWait for the page predicate pred (a JS
// function) to return a truthy value for arg.
func waitUntil(ctx context.Context, t *testing.T, what, pred string, arg any) {
	t.Helper()
	step(ctx, t, "wait for "+what, chromedp.PollFunction[chromedp.Void](pred,
		chromedp.WithPollingArgs(arg),
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(browserWait)))
}

// rowTexts returns what each row shows that moves with each quote, by
// symbol.
func rowTexts(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	return step(ctx, t, "read the rows", chromedp.Evaluate[map[string]string](jsRowTexts))
}

// pageState describes the page for a failure message, and saves a
// screenshot of it as the artifact failure.png.
func pageState(ctx context.Context, t *testing.T) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](jsPageState))
	if err != nil {
		state = "(unreadable: " + err.Error() + ")"
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(t.ArtifactDir(), "failure.png")
		if os.WriteFile(path, png, 0o644) == nil {
			state += "; screenshot: " + path
		}
	}
	return state
}
