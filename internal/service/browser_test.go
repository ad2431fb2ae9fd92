package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coder/websocket"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/web"
)

// browserWait bounds every browser step: starting Chromium, one action, one
// wait for the page to reach a state. It never orders events; a step that
// takes longer is a hang, and fails the test.
const browserWait = 10 * time.Second

// offlineWait is how soon after the server stops the page must say so.
const offlineWait = 2 * time.Second

// browserZone is the time zone the browser runs in, so that the page's
// times can be checked for their zone.
const browserZone = "America/New_York"

// Page predicates for chromedp.PollFunction, polled in the page until they
// return a truthy value. They read only what a user sees: the rows of the
// table (tr[data-symbol]) and their cells, the #conn indicator, the
// banner, the dialog.
const (
	// jsRowsPriced(syms): the table holds exactly the rows syms, in that
	// order, each with a positive numeric price and an update time with
	// its zone.
	jsRowsPriced = `(syms) => {
		const trs = [...document.querySelectorAll('#rows tr[data-symbol]')];
		if (trs.map((tr) => tr.dataset.symbol).join() !== syms.join()) return false;
		return trs.every((tr) => {
			const price = tr.querySelector('.price').textContent.trim();
			const v = Number(price.replace(/,/g, ''));
			return price !== '' && Number.isFinite(v) && v > 0 &&
				/^\d\d:\d\d:\d\d E[SD]T$/.test(tr.querySelector('.updated .at').textContent.trim());
		});
	}`
	// jsRowsShown(syms, unpriced): the table holds exactly the rows syms, in
	// that order; those in unpriced show no price and a "no data" (or, for
	// a symbol the source does not know, "unknown") badge, the
	// others a price.
	jsRowsShown = `(syms, unpriced) => {
		const trs = [...document.querySelectorAll('#rows tr[data-symbol]')];
		if (trs.map((tr) => tr.dataset.symbol).join() !== syms.join()) return false;
		return trs.every((tr) => {
			const v = Number(tr.querySelector('.price').textContent.replace(/,/g, ''));
			const badge = tr.querySelector('.stale');
			return unpriced.includes(tr.dataset.symbol)
				? !badge.hidden && ['no data', 'unknown'].includes(badge.textContent) && badge.getClientRects().length > 0
				: v > 0;
		});
	}`
	// jsRowsChanged(before): the table holds exactly the rows of before (a
	// symbol -> rowText map), and every row's text differs from before's.
	jsRowsChanged = `(before) => {
		const trs = [...document.querySelectorAll('#rows tr[data-symbol]')];
		if (trs.map((tr) => tr.dataset.symbol).sort().join() !== Object.keys(before).sort().join()) return false;
		return trs.every((tr) => ` + jsRowText + ` !== before[tr.dataset.symbol]);
	}`
	// jsConn(state): #conn says state, in its text and its class.
	jsConn = `(state) => {
		const el = document.getElementById('conn');
		return el.textContent.trim() === state && el.className === state;
	}`
	// jsRowText is what a row shows that moves with each quote: its price
	// and update time, with the time's datetime (the quote's full
	// collected_at, unique to each collection). tr is the row.
	jsRowText = `(tr.querySelector('.price').textContent + ' @ ' + tr.querySelector('.updated .at').textContent +
		' (' + tr.querySelector('.updated .at').dateTime + ')')`
	// jsRowTexts is every row's jsRowText, by symbol.
	jsRowTexts = `Object.fromEntries([...document.querySelectorAll('#rows tr[data-symbol]')].map((tr) => [tr.dataset.symbol, ` + jsRowText + `]))`
	// jsSuggested({want}): the symbol box suggests exactly the symbols want,
	// in that order. (An object: chromedp drops an empty array or string
	// argument.)
	jsSuggested = `({want}) => {
		const list = document.getElementById('add-symbol').list;
		return list !== null && [...list.options].map((o) => o.value).join() === want.join();
	}`
	// jsSorted(key, dir): only the column key says it is sorted, in
	// direction dir ("ascending" or "descending"), and the rows are in that
	// order: by symbol, or by the price shown.
	jsSorted = `(key, dir) => {
		const sorted = [...document.querySelectorAll('th[aria-sort]')];
		if (sorted.length !== 1 || sorted[0].dataset.sort !== key || sorted[0].getAttribute('aria-sort') !== dir) return false;
		const trs = [...document.querySelectorAll('#rows tr[data-symbol]')];
		const vals = trs.map((tr) => key === 'symbol' ? tr.dataset.symbol : Number(tr.querySelector('.price').textContent.replace(/,/g, '')));
		for (let i = 1; i < vals.length; i++) {
			if (dir === 'ascending' ? vals[i - 1] > vals[i] : vals[i - 1] < vals[i]) return false;
		}
		return vals.length > 1;
	}`
	// jsOffline: the page says it is disconnected: the banner is shown with
	// a countdown, and every price, change and percentage is drawn in the
	// offline grey.
	jsOffline = `() => {
		const banner = document.getElementById('banner');
		if (banner.hidden || banner.getClientRects().length === 0) return false;
		if (!/^Reconnecting (in \d+ s\.|now…)$/.test(document.getElementById('countdown').textContent)) return false;
		const probe = document.createElement('span');
		probe.style.color = 'var(--offline-fg)';
		document.querySelector('main').append(probe);
		const grey = getComputedStyle(probe).color;
		probe.remove();
		const cells = [...document.querySelectorAll('#rows tr[data-symbol] :is(.price, .change, .pct)')];
		return cells.length > 0 && cells.every((el) => getComputedStyle(el).color === grey);
	}`
	// jsOnline: no banner, and no price drawn in the offline grey.
	jsOnline = `() => {
		if (!document.getElementById('banner').hidden) return false;
		return [...document.querySelectorAll('#rows tr[data-symbol]')].every((tr) =>
			!tr.querySelector('.price').matches('body.offline .price'));
	}`
	// jsCountdown(n): the banner counts down n seconds to the next attempt.
	jsCountdown = `(n) => document.getElementById('countdown').textContent === 'Reconnecting in ' + n + ' s.'`
	// jsCountdownAtLeast(n): the banner counts down n or more seconds; it
	// returns the number.
	jsCountdownAtLeast = `(n) => {
		const m = document.getElementById('countdown').textContent.match(/^Reconnecting in (\d+) s\.$/);
		return m && Number(m[1]) >= n ? Number(m[1]) : false;
	}`
	// jsAgesAtLeast(s): every row shows its age, s seconds or more.
	jsAgesAtLeast = `(s) => [...document.querySelectorAll('#rows tr[data-symbol] .age')].every((el) => {
		const m = el.textContent.match(/^(\d+)s ago$/);
		return el.getClientRects().length > 0 && m && Number(m[1]) >= s;
	})`
	// jsExpanded(sym, text): sym's row is open: its button says so and the
	// row below it is shown, holding text.
	jsExpanded = `(sym, text) => {
		const tr = document.querySelector('tr[data-symbol="' + sym + '"]');
		if (tr === null) return false;
		const btn = tr.querySelector('.sym-btn');
		const more = document.getElementById(btn.getAttribute('aria-controls'));
		return btn.getAttribute('aria-expanded') === 'true' && !more.hidden && more.getClientRects().length > 0 &&
			more.textContent.includes(text);
	}`
	// jsCollapsed(sym): sym's row is closed.
	jsCollapsed = `(sym) => {
		const btn = document.querySelector('tr[data-symbol="' + sym + '"] .sym-btn');
		return btn.getAttribute('aria-expanded') === 'false' && document.getElementById(btn.getAttribute('aria-controls')).hidden;
	}`
	// jsChart(sym, n, atLeast): the detail dialog is open on sym, with a
	// chart whose line has n points (or more, if atLeast), labelled price and
	// time axes, and the zone.
	jsChart = `(sym, n, atLeast) => {
		const d = document.getElementById('detail');
		if (!d.open || document.getElementById('detail-title').textContent !== sym) return false;
		const line = d.querySelector('svg#chart path.line');
		const points = line ? (line.getAttribute('d').match(/[ML]/g) || []).length : 0;
		if (atLeast ? points < n : points !== n) return false;
		const title = d.querySelector('.x-title');
		return d.querySelectorAll('.y-tick').length >= 2 && d.querySelectorAll('.x-tick').length >= 1 &&
			d.querySelector('.y-title').textContent === 'Price' &&
			title !== null && title.textContent.includes('` + browserZone + `') && /E[SD]T/.test(title.textContent);
	}`
	// jsOptionalColumns lists the optional columns (volume, day range,
	// previous close, market status) shown when no quote of /api/quotes
	// has their data, or hidden when some quote has.
	jsOptionalColumns = `fetch('/api/quotes').then((r) => r.json()).then(({quotes}) => {
		const num = (v) => typeof v === 'number';
		const cols = {
			volume: (q) => num(q.volume), range: (q) => num(q.low) && num(q.high), prev: (q) => num(q.prev_close),
			market: (q) => typeof q.market_status === 'string' && q.market_status !== '',
		};
		return Object.entries(cols)
			.filter(([col, has]) => quotes.some(has) !== (document.querySelector('th.col-' + col).getClientRects().length > 0))
			.map(([col]) => col);
	})`
	// jsColumns(want): the optional columns shown are exactly want, and
	// AAPL's row shows the texts want gives for them.
	jsColumns = `({want}) => Object.entries({volume: '.volume', range: '.range', prev: '.prev', market: '.market'}).every(([col, sel]) => {
		const shown = document.querySelector('th.col-' + col).getClientRects().length > 0;
		const cell = document.querySelector('tr[data-symbol="AAPL"] ' + sel);
		return col in want ? shown && cell !== null && cell.textContent === want[col] : !shown;
	})`
	// jsFlashing: some price is flashing for a change.
	jsFlashing = `() => document.getAnimations().some((a) => ['flash-up', 'flash-down'].includes(a.animationName))`
	// jsSmallTargets lists the visible controls smaller than 44x44 CSS pixels.
	jsSmallTargets = `[...document.querySelectorAll('button, input, select, summary, a[href]')]
		.filter((el) => el.getClientRects().length > 0 && !el.closest('[hidden], dialog:not([open])'))
		.map((el) => [el, el.getBoundingClientRect()])
		.filter(([, r]) => r.width < 44 || r.height < 44)
		.map(([el, r]) => (el.getAttribute('aria-label') || el.textContent.trim() || el.id || el.tagName) + ' ' +
			Math.round(r.width) + 'x' + Math.round(r.height))`
	// jsOverflow says what is wider than the viewport, if anything.
	jsOverflow = `(() => {
		const out = [];
		if (document.documentElement.scrollWidth > innerWidth) out.push('page ' + document.documentElement.scrollWidth + ' > ' + innerWidth);
		const wrap = document.querySelector('.table-wrap');
		if (wrap.scrollWidth > wrap.clientWidth) out.push('table ' + wrap.scrollWidth + ' > ' + wrap.clientWidth);
		return out;
	})()`
	// jsPageState describes the page for failure messages.
	jsPageState = `JSON.stringify({
		conn: document.getElementById('conn').textContent + ' ' + document.getElementById('retry').textContent,
		banner: document.getElementById('banner').hidden ? '' : document.getElementById('banner').textContent.replace(/\s+/g, ' '),
		message: document.getElementById('message').hidden ? '' : document.getElementById('message').textContent,
		watchlist: localStorage.getItem('tickerd.watchlist'),
		sort: localStorage.getItem('tickerd.sort'),
		suggested: [...document.getElementById('symbol-suggestions').options].map((o) => o.value).join(),
		rows: ` + jsRowTexts + `,
	})`
)

// TestBrowserDashboard drives the dashboard in headless Chromium against a
// real tickerd collecting from its embedded simulator every second: rows
// with prices and zoned update times for the configured symbols, live
// updates that flash, sorting by mouse and keyboard, a row opened by
// keyboard, removing and adding a symbol with suggestions of the others
// (kept across reloads in localStorage), a friendly answer to an unknown
// symbol, axe-core finding nothing serious in light and dark mode, and,
// when the server stops, a banner with a live countdown, greyed prices and
// growing ages within offlineWait, then reconnecting by itself when a new
// server starts on the same address. It leaves full-page screenshots,
// dashboard.png, chart-desktop.png and disconnected.png, in its artifact directory (kept with
// go test -artifacts -outputdir DIR).
func TestBrowserDashboard(t *testing.T) {
	exe := chromiumPath(t)
	axe := axeSource(t)
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

	// 1. A row with a price and a zoned time for every configured symbol;
	// every known symbol is in the table, so none is suggested.
	step(ctx, t, "open the dashboard", chromedp.Navigate(first.url+"/"))
	waitUntil(ctx, t, "#conn to say connected", jsConn, "connected")
	waitUntil(ctx, t, "priced rows for "+rowsOf(syms), jsRowsPriced, syms)
	waitUntil(ctx, t, "no suggestions while every symbol is shown", jsSuggested, suggested())
	if cols := step(ctx, t, "compare the optional columns with /api/quotes", chromedp.Evaluate[[]string](jsOptionalColumns, chromedp.EvalAwaitPromise)); len(cols) > 0 {
		t.Errorf("optional columns %v: shown = not in any quote of /api/quotes, want shown = in some quote", cols)
	}

	// 2. Prices move: every row shows a newer quote, and a changed price
	// flashes (motion is not reduced here).
	waitUntil(ctx, t, "every row to show a new quote", jsRowsChanged, rowTexts(ctx, t))
	waitUntil(ctx, t, "a price to flash", jsFlashing)

	// 3. Sorting: by price with the mouse, up then down; back to symbols
	// with the keyboard.
	step(ctx, t, "click the Price header", chromedp.Click(chromedp.CSS(`th[data-sort="price"] button`)))
	waitUntil(ctx, t, "rows by price, ascending", jsSorted, "price", "ascending")
	step(ctx, t, "click the Price header again", chromedp.Click(chromedp.CSS(`th[data-sort="price"] button`)))
	waitUntil(ctx, t, "rows by price, descending", jsSorted, "price", "descending")
	step(ctx, t, "focus the Symbol header", chromedp.Focus(chromedp.CSS(`th[data-sort="symbol"] button`)))
	step(ctx, t, "press Enter", chromedp.KeyEvent(kb.Enter))
	waitUntil(ctx, t, "rows by symbol, ascending", jsSorted, "symbol", "ascending")

	// 4. A row opens and closes from the keyboard, showing what it has
	// no room for.
	const open = "AAPL"
	step(ctx, t, "focus "+open+"'s row", chromedp.Focus(chromedp.CSS(`tr[data-symbol="`+open+`"] .sym-btn`)))
	step(ctx, t, "press Enter", chromedp.KeyEvent(kb.Enter))
	waitUntil(ctx, t, open+"'s row to open", jsExpanded, open, "Updated")
	checkAxe(ctx, t, axe, "desktop, light, a row open")
	emulateColorScheme(ctx, t, "dark")
	checkAxe(ctx, t, axe, "desktop, dark, a row open")
	emulateColorScheme(ctx, t, "")
	step(ctx, t, "press Enter", chromedp.KeyEvent(kb.Enter))
	waitUntil(ctx, t, open+"'s row to close", jsCollapsed, open)
	// Its trend opens its chart; Escape closes it.
	step(ctx, t, "click "+open+"'s trend", chromedp.Click(chromedp.CSS(`tr[data-symbol="`+open+`"] .spark-btn`)))
	waitUntil(ctx, t, open+"'s chart of 2 points or more", jsChart, open, 2, true)
	screenshot(ctx, t, "chart-desktop.png")
	step(ctx, t, "press Escape", chromedp.KeyEvent(kb.Escape))
	waitUntil(ctx, t, "the dialog to close", `() => !document.getElementById('detail').open`)

	// 5. Remove two symbols and add one back, typed in lower case. The
	// table is the server's set after the add: the removed ones must have
	// been unsubscribed. Removed symbols are suggested.
	for _, sym := range []string{sym1, sym2} {
		step(ctx, t, "click "+sym+"'s remove button", chromedp.Click(chromedp.CSS(`tr[data-symbol="`+sym+`"] .remove`)))
		step(ctx, t, sym+"'s row to disappear", chromedp.WaitNotPresent(chromedp.CSS(`tr[data-symbol="`+sym+`"]`)))
	}
	waitUntil(ctx, t, "suggestions of "+sym1+" and "+sym2, jsSuggested, suggested(sym1, sym2))
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
	waitUntil(ctx, t, "a suggestion of "+sym2, jsSuggested, suggested(sym2))
	// The watchlist (both removals and the add) survives a reload.
	step(ctx, t, "reload the page", chromedp.Reload())
	waitUntil(ctx, t, "after a reload, priced rows for "+rowsOf(without(sym2)), jsRowsPriced, without(sym2))
	waitUntil(ctx, t, "after a reload, a suggestion of "+sym2, jsSuggested, suggested(sym2))
	add(sym2)
	waitUntil(ctx, t, "after adding "+sym2+", priced rows for "+rowsOf(syms), jsRowsPriced, syms)

	// 6. A symbol the server does not collect (dynamic symbols are off):
	// a message in words, no row, and the watchlist does not keep it.
	const unknown = "ZZZQ"
	add(unknown)
	msg := waitValue[string](ctx, t, "a message about "+unknown, `(sym) => {
		const el = document.getElementById('message');
		return !el.hidden && el.textContent.includes(sym) ? el.textContent : false;
	}`, unknown)
	if !strings.Contains(msg, "available") || strings.Contains(msg, "not collected") {
		t.Errorf("message after adding %s = %q, want it to say the symbol is not available, without %q", unknown, msg, "not collected")
	}
	step(ctx, t, "reload the page", chromedp.Reload())
	waitUntil(ctx, t, "after a reload, priced rows for "+rowsOf(syms), jsRowsPriced, syms)

	// 7. The server stops: within offlineWait the page says so with a
	// banner and greys its prices; the countdown counts down and the ages
	// of the rows grow. A new server on the same address: the page
	// reconnects by itself and its rows move again. The new server pulses
	// by hand at first, so that its first quotes (seq 1) come while the
	// page still shows the old server's later ones (seq >= 2 since step
	// 2): the page must take them all the same.
	if err := first.stop(t); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	waitWithin(ctx, t, offlineWait, "#conn to say disconnected once the server stopped", jsConn, "disconnected")
	waitWithin(ctx, t, offlineWait, "the banner and greyed prices once the server stopped", jsOffline)
	n := waitValue[int](ctx, t, "a countdown of 2 s or more", jsCountdownAtLeast, 2)
	waitUntil(ctx, t, fmt.Sprintf("the countdown to go from %d s to %d s", n, n-1), jsCountdown, n-1)
	waitUntil(ctx, t, "every row's age to reach 2s", jsAgesAtLeast, 2)
	atStop := rowTexts(ctx, t)
	checkAxe(ctx, t, axe, "desktop, disconnected")
	screenshot(ctx, t, "disconnected.png")

	cfg := testConfig(config.KindSim, "", neverInTest, configured)
	cfg.Listen = strings.TrimPrefix(first.url, "http://")
	second := start(t, cfg, nil)
	waitUntil(ctx, t, "#conn to say connected after the restart", jsConn, "connected")
	pulse(t, second.svc.Collector())
	waitUntil(ctx, t, "every row to show the new server's first quote", jsRowsChanged, atStop)
	waitUntil(ctx, t, "the banner gone and prices no longer greyed", jsOnline)
	sched, err := config.ParseSchedule("@every 1s")
	if err != nil {
		t.Fatalf("ParseSchedule(%q) = %v", "@every 1s", err)
	}
	second.svc.Collector().SetSchedule(sched)
	waitUntil(ctx, t, "every row to show a live quote from the new server", jsRowsChanged, rowTexts(ctx, t))

	// 8. A full-page screenshot.
	screenshot(ctx, t, "dashboard.png")
}

// TestBrowserPhone drives the dashboard on a phone-sized touch screen
// (390x844) with reduced motion, against a tickerd that pulses by hand and
// collects ZZZZ, which its simulator does not know: ZZZZ's row says it has
// no data, and a tap on it tells why in words; every control is at least
// 44x44 px and nothing is wider than the screen; nothing flashes; a tap
// opens a row and its chart, a larger SVG of the symbol's history with
// labelled axes and the zone that grows with each quote; axe-core finds
// nothing serious, in light and dark mode. It leaves phone.png, chart.png
// and phone-dark.png in its artifact directory.
func TestBrowserPhone(t *testing.T) {
	exe := chromiumPath(t)
	axe := axeSource(t)
	const bad = "ZZZZ"
	syms := []string{"AAPL", "MSFT", "NVDA", bad}
	r := start(t, testConfig(config.KindSim, "", neverInTest, syms), nil)
	c := r.svc.Collector()
	const pulses = 3
	for range pulses {
		pulse(t, c)
	}

	ctx := newTab(t, exe)
	step(ctx, t, "emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	emulateMedia(ctx, t, &emulation.MediaFeature{Name: "prefers-reduced-motion", Value: "reduce"})
	step(ctx, t, "open the dashboard", chromedp.Navigate(r.url+"/"))
	waitUntil(ctx, t, "#conn to say connected", jsConn, "connected")
	waitUntil(ctx, t, "rows for "+strings.Join(syms, ","), jsRowsShown, syms, []string{bad})

	// The reason, in words, one tap away (on a cell, not on the button).
	step(ctx, t, "tap "+bad+"'s row", chromedp.Tap(chromedp.CSS(`tr[data-symbol="`+bad+`"] .price`)))
	waitUntil(ctx, t, bad+"'s row to open", jsExpanded, bad, "does not know "+bad)
	reason := step(ctx, t, "read "+bad+"'s reason", chromedp.Text(chromedp.CSS(`tr.more:not([hidden]) .reason`)))
	for _, jargon := range []string{"not collected", "quote:", "nasdaq", "code 1001"} {
		if strings.Contains(reason, jargon) {
			t.Errorf("%s's reason = %q, want it without %q", bad, reason, jargon)
		}
	}
	// The update time, its zone and its age stay on a phone.
	waitUntil(ctx, t, "AAPL's time and age to show", `() => {
		const tr = document.querySelector('tr[data-symbol="AAPL"]');
		const at = tr.querySelector('.updated .at'), age = tr.querySelector('.updated .age');
		return at.getClientRects().length > 0 && /E[SD]T$/.test(at.textContent) &&
			age.getClientRects().length > 0 && /^(now|\d+s ago)$/.test(age.textContent);
	}`)
	if small := step(ctx, t, "measure the controls", chromedp.Evaluate[[]string](jsSmallTargets)); len(small) > 0 {
		t.Errorf("controls smaller than 44x44 px on a phone: %v", small)
	}
	if over := step(ctx, t, "measure the page", chromedp.Evaluate[[]string](jsOverflow)); len(over) > 0 {
		t.Errorf("wider than a 390 px phone: %v", over)
	}
	checkAxe(ctx, t, axe, "phone, a stale row open")
	screenshot(ctx, t, "phone.png")

	// Reduced motion: a new quote for every row, and nothing moves.
	before := rowTexts(ctx, t)
	pulse(t, c)
	waitUntil(ctx, t, "every row to show a new quote", `(before, bad) => {
		const trs = [...document.querySelectorAll('#rows tr[data-symbol]')].filter((tr) => tr.dataset.symbol !== bad);
		return trs.every((tr) => `+jsRowText+` !== before[tr.dataset.symbol]);
	}`, before, bad)
	if n := step(ctx, t, "count animations", chromedp.Evaluate[int](`document.getAnimations().length`)); n != 0 {
		t.Errorf("document.getAnimations().length with reduced motion = %d, want 0", n)
	}

	// The chart: a point for every quote of AAPL's history (the server's
	// schedule never fires here, so it holds still); one more pulse, one
	// more point.
	const sym = "AAPL"
	step(ctx, t, "tap "+sym+"'s row", chromedp.Tap(chromedp.CSS(`tr[data-symbol="`+sym+`"] .pct`)))
	waitUntil(ctx, t, sym+"'s row to open", jsExpanded, sym, "Updated")
	step(ctx, t, "tap Show chart", chromedp.Tap(chromedp.CSS(`tr.more[data-for="`+sym+`"] .chart-btn`)))
	var hist struct {
		History []json.RawMessage `json:"history"`
	}
	if status := r.getJSON(t, "/api/quotes/"+sym+"/history", &hist); status != http.StatusOK || len(hist.History) <= pulses {
		t.Fatalf("GET /api/quotes/%s/history = %d with %d quotes, want 200 with more than %d", sym, status, len(hist.History), pulses)
	}
	n := len(hist.History)
	waitUntil(ctx, t, fmt.Sprintf("%s's chart of %d points", sym, n), jsChart, sym, n, false)
	pulse(t, c)
	waitUntil(ctx, t, fmt.Sprintf("%s's chart of %d points", sym, n+1), jsChart, sym, n+1, false)
	checkAxe(ctx, t, axe, "phone, chart open")
	screenshot(ctx, t, "chart.png")
	step(ctx, t, "tap the dialog's close button", chromedp.Tap(chromedp.CSS("#detail-close")))
	waitUntil(ctx, t, "the dialog to close", `() => !document.getElementById('detail').open`)

	emulateColorScheme(ctx, t, "dark")
	checkAxe(ctx, t, axe, "phone, dark")
	screenshot(ctx, t, "phone-dark.png")
}

// TestBrowserClientProtocol drives the dashboard's websocket client
// (web/static/tickerd-client.js, through the dashboard) against a scripted
// websocket server on loopback, to check what the real server may or may
// not do yet: frames that are a JSON array of messages or a single one
// (batch mode), a quote older than the one shown (dropped), resuming with
// "since" only after a "subscribed" that carried an epoch, a "reset" that
// makes a lower seq acceptable, and no "since" once the epoch is gone.
func TestBrowserClientProtocol(t *testing.T) {
	exe := chromiumPath(t)
	type conn struct {
		query url.Values
		ws    *websocket.Conn
		done  chan struct{} // closed by the test when it is through with ws
	}
	conns := make(chan conn)
	stop := make(chan struct{}) // closed when the test is over
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // Accept has answered
		}
		c := conn{r.URL.Query(), ws, make(chan struct{})}
		select {
		case conns <- c:
			<-c.done
		case <-stop:
		}
		ws.CloseNow()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // before srv.Close, which does not wait for hijacked connections

	ctx := newTab(t, exe)
	step(ctx, t, "open the dashboard", chromedp.Navigate(srv.URL+"/"))

	// next takes the page's next connection and its first op.
	next := func(n int) (conn, map[string]any) {
		t.Helper()
		var c conn
		select {
		case c = <-conns:
		case <-time.After(browserWait):
			t.Fatalf("connection %d: none within %v; page: %s", n, browserWait, pageState(ctx, t))
		}
		t.Cleanup(func() { close(c.done) })
		if got := c.query.Get("batch"); got != "1" {
			t.Errorf("connection %d: query batch = %q, want 1", n, got)
		}
		rctx, cancel := context.WithTimeout(ctx, browserWait)
		defer cancel()
		_, b, err := c.ws.Read(rctx)
		if err != nil {
			t.Fatalf("connection %d: Read() = %v", n, err)
		}
		var op map[string]any
		if err := json.Unmarshal(b, &op); err != nil {
			t.Fatalf("connection %d: first message %s: %v", n, b, err)
		}
		return c, op
	}
	send := func(c conn, frames ...string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, browserWait)
		defer cancel()
		for _, f := range frames {
			if err := c.ws.Write(wctx, websocket.MessageText, []byte(f)); err != nil {
				t.Fatalf("Write(%s) = %v", f, err)
			}
		}
	}
	hangUp := func(c conn) {
		t.Helper()
		if err := c.ws.Close(websocket.StatusGoingAway, "restart"); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		waitUntil(ctx, t, "#conn to say disconnected", jsConn, "disconnected")
	}
	quote := func(seq int, price float64) string {
		return fmt.Sprintf(`{"type":"quote","symbol":"AAPL","price":%v,"change":0.5,"change_pct":0.2,"collected_at":"2026-11-21T15:04:05.123456789Z","seq":%d}`, price, seq)
	}
	// full is a quote with every field a source may give.
	full := func(seq int, price float64) string {
		return fmt.Sprintf(`{"type":"quote","symbol":"AAPL","price":%v,"change":1.5,"change_pct":1.49,"volume":12345,"open":100,"high":103,"low":99.5,`+
			`"prev_close":100.5,"bid":101.9,"ask":102.1,"market_status":"Open","time":"2026-11-21T15:04:00Z","collected_at":"2026-11-21T15:04:05.123456789Z","seq":%d}`, price, seq)
	}
	const jsPrice = `(p) => { const el = document.querySelector('tr[data-symbol="AAPL"] .price'); return el !== null && el.textContent === p; }`
	const jsStale = `(stale) => { const el = document.querySelector('tr[data-symbol="AAPL"] .stale'); return el !== null && el.hidden === !stale; }`
	wantOp := func(n int, op map[string]any, want string) {
		t.Helper()
		if got, _ := json.Marshal(op); string(got) != want {
			t.Errorf("connection %d: first op = %s, want %s", n, got, want)
		}
	}

	// 1. A batch, then single frames: seq 4 after 6 is not shown (the
	// status after it proves the page has read it).
	c, op := next(1)
	wantOp(1, op, `{"op":"subscribe","symbols":["*"]}`)
	send(c, `[{"type":"subscribed","symbols":["AAPL"],"epoch":"E1"},`+quote(5, 101)+`]`, full(6, 102), quote(4, 99),
		`{"type":"status","symbol":"AAPL","stale":true,"error":"quote: http status 503 Service Unavailable","failures":1}`)
	waitUntil(ctx, t, "AAPL stale", jsStale, true)
	waitUntil(ctx, t, "AAPL at 102.00, not at seq 4's 99.00", jsPrice, "102.00")
	// With the fields, their columns.
	waitUntil(ctx, t, "the volume, day range, previous close and market columns", jsColumns,
		map[string]any{"want": map[string]string{"volume": "12.3K", "range": "99.50 – 103.00", "prev": "100.50", "market": "Open"}})
	step(ctx, t, "open AAPL's row", chromedp.Click(chromedp.CSS(`tr[data-symbol="AAPL"] .sym-btn`)))
	waitUntil(ctx, t, "AAPL's row with bid and ask", jsExpanded, "AAPL", "Bid / ask101.90 / 102.10")
	waitUntil(ctx, t, "AAPL's row with the open", jsExpanded, "AAPL", "Open100.00")
	waitUntil(ctx, t, "AAPL's row with the trade time", jsExpanded, "AAPL", "Last trade10:04:00 EST")
	waitUntil(ctx, t, "AAPL's row with the reason", jsExpanded, "AAPL", "The quote source is having trouble (HTTP 503).")
	hangUp(c)

	// 2. Resumed with the epoch and the last seq; the server has lost its
	// state: reset, and seq 1 is shown. The new connection forgets the old
	// one's stale status.
	c, op = next(2)
	wantOp(2, op, `{"op":"subscribe","since":{"epoch":"E1","seq":{"AAPL":6}},"symbols":["*"]}`)
	send(c, `[{"type":"reset","epoch":"E2"},{"type":"subscribed","symbols":["AAPL"],"epoch":"E2"},`+quote(1, 50)+`]`)
	waitUntil(ctx, t, "AAPL at 50.00 after the reset", jsPrice, "50.00")
	waitUntil(ctx, t, "AAPL not stale", jsStale, false)
	hangUp(c)

	// 3. Resumed in the new epoch; this server sends no epoch.
	c, op = next(3)
	wantOp(3, op, `{"op":"subscribe","since":{"epoch":"E2","seq":{"AAPL":1}},"symbols":["*"]}`)
	send(c, `{"type":"subscribed","symbols":["AAPL"]}`, quote(2, 51))
	waitUntil(ctx, t, "AAPL at 51.00", jsPrice, "51.00")
	hangUp(c)

	// 4. No epoch last time: no "since", and seq 1 is shown again.
	c, op = next(4)
	wantOp(4, op, `{"op":"subscribe","symbols":["*"]}`)
	send(c, `{"type":"subscribed","symbols":["AAPL"]}`, quote(1, 52))
	waitUntil(ctx, t, "AAPL at 52.00", jsPrice, "52.00")
	waitUntil(ctx, t, "no optional columns without their fields", jsColumns, map[string]any{"want": map[string]string{}})
}

// suggested is jsSuggested's argument for syms.
func suggested(syms ...string) map[string][]string {
	return map[string][]string{"want": append([]string{}, syms...)}
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
	missing(t, "chromium not found (/usr/bin/chromium or chromium on PATH): run `make test`, which installs it")
	return ""
}

// missing fails the test in CI (CI set) and skips it elsewhere.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// axeVersion is the npm axe-core the accessibility checks use; .ci/deps
// installs the same one in the same place.
const axeVersion = "4.14.1"

// axeSource returns axe-core's axe.min.js from the user's cache directory
// (tickerd/axe-core-VERSION), installing it there with npm if it is not.
func axeSource(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		missing(t, "axe-core: no cache directory: "+err.Error())
	}
	dir := filepath.Join(cache, "tickerd", "axe-core-"+axeVersion)
	file := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	if b, err := os.ReadFile(file); err == nil {
		return string(b)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing(t, "axe-core not in "+dir+" and npm not found: run `make test`, which installs them")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-save", "--no-audit", "--no-fund",
		"--ignore-scripts", "--loglevel=error", "axe-core@"+axeVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install axe-core@%s: %v\n%s", axeVersion, err, out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("after npm install: %v", err)
	}
	return string(b)
}

// axeViolation is one rule axe-core found broken, with where.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"` // CSS target: what is wrong
}

// checkAxe runs axe-core on the page as it is, injecting it first if the
// page has not got it, and fails the test for each serious or critical
// violation; lesser ones are logged.
func checkAxe(ctx context.Context, t *testing.T, src, what string) {
	t.Helper()
	if !step(ctx, t, "look for axe-core", chromedp.Evaluate[bool](`typeof axe === 'object'`)) {
		step(ctx, t, "inject axe-core", chromedp.Evaluate[chromedp.Void](src+"\n;undefined"))
	}
	vs := step(ctx, t, "run axe-core ("+what+")", chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ['violations']}).then((r) =>
		r.violations.map((v) => ({id: v.id, impact: v.impact || '', help: v.help,
			nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' '))})))`,
		chromedp.EvalAwaitPromise))
	for _, v := range vs {
		msg := fmt.Sprintf("axe-core (%s): %s %s: %s; at %s", what, v.Impact, v.ID, v.Help, strings.Join(v.Nodes, "; "))
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
}

// emulateMedia sets CSS media features (nil features: none).
func emulateMedia(ctx context.Context, t *testing.T, features ...*emulation.MediaFeature) {
	t.Helper()
	step(ctx, t, "emulate media features", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features})
		return err
	}))
}

// emulateColorScheme sets prefers-color-scheme ("dark", "light"; "" for
// the browser's own).
func emulateColorScheme(ctx context.Context, t *testing.T, scheme string) {
	t.Helper()
	emulateMedia(ctx, t, &emulation.MediaFeature{Name: "prefers-color-scheme", Value: scheme})
}

// newTab starts headless Chromium with a fresh profile and returns the
// context of its first tab, in time zone browserZone. The test's cleanup
// closes the browser and waits for it (and chromedp's goroutines) to be
// gone.
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
	step(ctx, t, "set the time zone", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tgt, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: browserZone})
		return err
	}))
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
// function) to return a truthy value for args.
func waitUntil(ctx context.Context, t *testing.T, what, pred string, args ...any) {
	t.Helper()
	waitValue[chromedp.Void](ctx, t, what, pred, args...)
}

// waitValue is waitUntil returning the truthy value.
func waitValue[T any](ctx context.Context, t *testing.T, what, pred string, args ...any) T {
	t.Helper()
	return step(ctx, t, "wait for "+what, chromedp.PollFunction[T](pred,
		chromedp.WithPollingArgs(args...),
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(browserWait)))
}

// waitWithin is waitUntil with a shorter bound d, which is what is tested.
func waitWithin(ctx context.Context, t *testing.T, d time.Duration, what, pred string, args ...any) {
	t.Helper()
	step(ctx, t, "wait at most "+d.String()+" for "+what, chromedp.PollFunction[chromedp.Void](pred,
		chromedp.WithPollingArgs(args...),
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(d)))
}

// rowTexts returns what each row shows that moves with each quote, by
// symbol.
func rowTexts(ctx context.Context, t *testing.T) map[string]string {
	t.Helper()
	return step(ctx, t, "read the rows", chromedp.Evaluate[map[string]string](jsRowTexts))
}

// screenshot saves a full-page screenshot as the artifact name.
func screenshot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	png := step(ctx, t, "take a screenshot", chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("FullScreenshot(100) = %d bytes starting %q, want a PNG", len(png), png[:min(len(png), 8)])
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("WriteFile(%q) = %v", path, err)
	}
	t.Logf("screenshot: %s", path)
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
