// tickerd dashboard: a live quote table fed by the websocket API at /ws,
// through the client module beside it (tickerd-client.js).
//
// The watchlist (what the user asked for) lives in localStorage; "*" means
// every configured symbol and is the default. The table shows the server's
// subscription set: every "subscribed" message is authoritative. Each row
// opens (click, tap, Enter) to show what the row has no room for: the
// reason a symbol is stale, the day's figures, and a button for its chart.
import { TickerClient, normalizeSymbol } from './tickerd-client.js';

const STORE_KEY = 'tickerd.watchlist';
const SORT_KEY = 'tickerd.sort';
const MAX_POINTS = 300; // history kept per symbol, like the server's default
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
const rowsEl = $('rows'), connEl = $('conn'), retryEl = $('retry');
const msgEl = $('message'), emptyEl = $('empty'), input = $('add-symbol');
const tableEl = $('quotes'), bannerEl = $('banner'), countdownEl = $('countdown');
const suggestEl = $('symbol-suggestions');
const rowTemplate = $('row-template'), moreTemplate = $('more-template');
const dialog = $('detail'), chartEl = $('chart');

const reducedMotion = matchMedia('(prefers-reduced-motion: reduce)');

// ---- time -------------------------------------------------------------

const zoneName = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
const timeFmt = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short',
});
const axisFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const axisFmtMin = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });

// zoneAbbr is the short name of the page's time zone at d ("EST", "GMT+1").
function zoneAbbr(d) {
  const p = timeFmt.formatToParts(d).find((x) => x.type === 'timeZoneName');
  return p ? p.value : '';
}

// parseTime reads an RFC 3339 time with up to nine fractional digits,
// keeping the milliseconds Date can hold; null when absent or unreadable.
function parseTime(s) {
  if (typeof s !== 'string' || s === '') return null;
  const d = new Date(s.replace(/(\.\d{3})\d+/, '$1'));
  return isNaN(d) ? null : d;
}

// fmtAge says how long ago ms was: "now", "12s ago", "3 min ago", "2 h ago".
function fmtAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 1) return 'now';
  if (s < 60) return s + 's ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

// ---- numbers ----------------------------------------------------------

const compactFmt = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const intFmt = new Intl.NumberFormat();

function fmtPrice(p) {
  if (typeof p !== 'number') return '–';
  return p.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: p < 1 ? 4 : 2 });
}

function fmtSigned(v, digits) {
  if (typeof v !== 'number') return '–';
  return (v > 0 ? '+' : v < 0 ? '−' : '') + Math.abs(v).toFixed(digits);
}

const has = (v) => typeof v === 'number' && Number.isFinite(v);
const hasRange = (q) => q && has(q.low) && has(q.high);

// ---- watchlist --------------------------------------------------------

function loadWatchlist() {
  const params = new URLSearchParams(location.search);
  if (params.has('symbols')) { // ?symbols=AAPL,MSFT sets the watchlist once
    const list = [...new Set(params.get('symbols').split(',').map(normalizeSymbol).filter(Boolean))];
    saveWatchlist(list);
    params.delete('symbols');
    const q = params.toString();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : '') + location.hash);
    return list;
  }
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY));
    if (Array.isArray(v)) {
      return [...new Set(v.filter((s) => typeof s === 'string').map(normalizeSymbol).filter(Boolean))];
    }
  } catch (e) { /* unreadable: use the default */ }
  return ['*'];
}

function saveWatchlist(list) {
  try { localStorage.setItem(STORE_KEY, JSON.stringify(list)); } catch (e) { /* private mode */ }
}

// ---- state ------------------------------------------------------------

// ---- access token -------------------------------------------------------

// A server with auth on wants a token: from /?token=... (kept in this
// tab's sessionStorage and taken out of the address bar, so that it is
// not bookmarked, shared or logged by the next page), or typed into the
// token form, which the page shows when the server refuses it.
const TOKEN_KEY = 'tickerd.token';

function takeToken() {
  const url = new URL(location.href);
  const t = url.searchParams.get('token');
  if (t) {
    try { sessionStorage.setItem(TOKEN_KEY, t); } catch (e) { /* private mode: this page only */ }
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return t;
  }
  try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
}

const token = takeToken();

// apiHeaders are the headers of the page's REST requests.
function apiHeaders() {
  const h = { Accept: 'application/json' };
  if (token) h.Authorization = 'Bearer ' + token;
  return h;
}

// askToken shows the token form instead of the table and stops the client.
function askToken(why) {
  client.close();
  $('token-why').textContent = why;
  $('token-form').hidden = false;
  $('add-form').hidden = true;
  tableEl.closest('.table-wrap').hidden = true;
  $('token').focus();
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  try { sessionStorage.setItem(TOKEN_KEY, $('token').value.trim()); } catch (e) { /* private mode */ }
  location.reload();
});

const client = new TickerClient({ symbols: loadWatchlist(), token });
const rows = new Map(); // symbol -> row state, see addRow
let known = [];         // the server's configured symbols, from GET /api/quotes
let conn = { state: 'connecting', retryAt: 0, attempt: 0 };
let lostAt = 0;         // when the connection was lost; 0 while connected
let msgTimer = 0;
let sort = { key: 'symbol', dir: 'ascending' }; // set by loadSort at the end, once SORTS exists
let chartSym = '';      // the symbol shown in the detail dialog, if open
let layoutQueued = false;

function loadSort() {
  try {
    const v = JSON.parse(localStorage.getItem(SORT_KEY));
    if (v && typeof v.key === 'string' && SORTS[v.key] && (v.dir === 'ascending' || v.dir === 'descending')) return v;
  } catch (e) { /* default */ }
  return { key: 'symbol', dir: 'ascending' };
}

// ---- connection -------------------------------------------------------

client.addEventListener('state', (ev) => {
  conn = ev.detail;
  const open = conn.state === 'open';
  connEl.textContent = open ? 'connected' : 'disconnected';
  connEl.className = open ? 'connected' : 'disconnected';
  if (open) {
    lostAt = 0;
  } else if (!lostAt && (conn.state === 'closed' || conn.attempt > 0)) {
    lostAt = Date.now();
  }
  document.body.classList.toggle('offline', lostAt !== 0);
  bannerEl.hidden = lostAt === 0;
  $('banner-since').textContent = lostAt ? 'Since ' + timeFmt.format(lostAt) + '.' : '';
  retryEl.textContent = !open && !lostAt ? 'connecting…' : '';
  tick();
});

client.addEventListener('open', (ev) => {
  // Every subscribe resends the stale status of stale symbols: start
  // from "not stale". Without resume the server may have restarted and
  // numbered from 1 again: what the rows kept by seq is void.
  for (const r of rows.values()) {
    applyStatus(r, { stale: false });
    if (!ev.detail.resumed) r.points = [];
    loadHistory(r);
  }
  if (client.symbols.length === 0) renderSet([]);
});

client.addEventListener('reset', () => {
  for (const r of rows.values()) {
    r.points = [];
    loadHistory(r);
  }
});

client.addEventListener('subscribed', (ev) => {
  renderSet(Array.isArray(ev.detail.symbols) ? ev.detail.symbols : []);
  saveWatchlist(client.symbols);
});

client.addEventListener('quote', (ev) => {
  const m = ev.detail;
  const r = rows.get(m.symbol);
  if (!r || typeof m.price !== 'number') return;
  applyQuote(r, m, true);
  addPoints(r, [point(m)]);
  drawSpark(r);
  if (chartSym === r.sym) drawDetail();
  queueLayout();
});

client.addEventListener('status', (ev) => {
  const r = rows.get(ev.detail.symbol);
  if (r) applyStatus(r, ev.detail);
});

client.addEventListener('error', (ev) => {
  if (ev.detail.code === 'token_expired') {
    askToken('Your access token expired. Enter a new one.');
    return;
  }
  showMessage(friendlyError(ev.detail));
  saveWatchlist(client.symbols);
});

$('retry-now').addEventListener('click', () => client.retryNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') client.retryNow();
});

// tick runs every 250 ms: the reconnect countdown and the rows' ages.
let lastTick = 0;
function tick() {
  const now = Date.now();
  if (lostAt) {
    let text;
    if (conn.state === 'closed' && conn.retryAt > now) {
      const s = Math.ceil((conn.retryAt - now) / 1000);
      text = 'Reconnecting in ' + s + ' s.';
    } else {
      text = 'Reconnecting now…';
    }
    if (countdownEl.textContent !== text) countdownEl.textContent = text;
  }
  const second = Math.floor(now / 1000) !== Math.floor(lastTick / 1000);
  lastTick = now;
  for (const r of rows.values()) {
    const text = r.at ? fmtAge(now - r.at) : '';
    if (r.age.textContent !== text) r.age.textContent = text;
    if (second && !r.more.hidden) renderFacts(r); // its "Updated … (12s ago)"
  }
  if (second && chartSym && rows.has(chartSym)) fillFacts($('detail-facts'), facts(rows.get(chartSym)));
  if (sort.key === 'updated') queueLayout();
}
setInterval(tick, 250);

// ---- messages ---------------------------------------------------------

function list(syms) {
  if (syms.length <= 1) return syms.join('');
  return syms.slice(0, -1).join(', ') + ' and ' + syms[syms.length - 1];
}

// friendlyError turns an "error" message into words for a person.
function friendlyError(e) {
  const syms = e.symbols || [];
  const many = syms.length > 1;
  switch (e.code) {
    case 'unknown_symbol': {
      if (syms.some((s) => rows.has(s))) {
        return list(syms) + (many ? ' are' : ' is') + ' no longer collected by this server, so ' +
          (many ? 'they were' : 'it was') + ' taken off your list.';
      }
      const what = syms.length ? list(syms) : 'That symbol';
      return what + (many ? " aren't" : " isn't") + ' available here: this server only shows the symbols it is set up to collect' +
        (known.length ? ', such as ' + list(known.slice(0, 4)) + '. Pick one from the suggestions.' : '.');
    }
    case 'invalid_symbol':
      return (syms.length ? '“' + list(syms) + '” is not' : 'That is not') +
        ' a valid symbol. Use 1 to 12 letters, digits, “.”, “-” or “^”.';
    case 'too_many_symbols':
      return 'Could not add ' + (syms.length ? list(syms) : 'that symbol') + ': the server is already collecting as many symbols as it allows for visitors.';
    case 'rate_limited':
      return 'Too many changes at once. Wait a second and try again.';
    default:
      return 'The server could not do that' + (e.message ? ' (' + e.message + ')' : '') + '.';
  }
}

function showMessage(text) {
  msgEl.textContent = text;
  msgEl.hidden = false;
  clearTimeout(msgTimer);
  msgTimer = setTimeout(() => { msgEl.hidden = true; }, 10000);
}

// friendlyReason explains in words why a symbol is stale, from the
// server's error text.
function friendlyReason(r) {
  const err = r.error || '';
  const quoted = (err.match(/"([^"]+)"\s*$/) || [])[1];
  let why;
  if (/unknown symbol/i.test(err)) {
    why = 'The quote source does not know ' + r.sym + '. Check the spelling.';
  } else if (/http status (\d+)/i.test(err)) {
    const code = Number(err.match(/http status (\d+)/i)[1]);
    why = code === 429 ? 'The quote source is limiting how often we may ask (HTTP 429).'
      : code >= 500 ? 'The quote source is having trouble (HTTP ' + code + ').'
        : 'The quote source refused the request (HTTP ' + code + ').';
  } else if (/upstream error/i.test(err)) {
    why = 'The quote source reported a problem' + (quoted ? ': “' + quoted + '”.' : '.');
  } else if (/malformed/i.test(err)) {
    why = 'The quote source sent an answer tickerd could not read.';
  } else if (/too large/i.test(err)) {
    why = 'The quote source sent an answer that was too large.';
  } else if (/unavailable|refused|dial|reset|eof|closed|timeout|deadline/i.test(err)) {
    why = 'tickerd cannot reach the quote source right now.';
  } else {
    why = 'The last attempt to get a price failed.';
  }
  const last = r.at ? ' Last good price ' + fmtPrice(r.q.price) + ' at ' + timeFmt.format(r.at) + ' (' + fmtAge(Date.now() - r.at) + ').'
    : ' No price received yet.';
  return why + last + (r.unknown ? ' tickerd asks again less and less often.' : ' tickerd keeps trying on every update.');
}

// ---- table ------------------------------------------------------------

function renderSet(symbols) {
  const want = new Set(symbols);
  for (const [sym, r] of rows) {
    if (!want.has(sym)) dropRow(r);
  }
  for (const sym of symbols) {
    if (!rows.has(sym)) loadHistory(addRow(sym));
  }
  emptyEl.hidden = rows.size > 0;
  updateSuggestions();
  queueLayout();
}

let rowIds = 0;

function addRow(sym) {
  const tr = rowTemplate.content.firstElementChild.cloneNode(true);
  const more = moreTemplate.content.firstElementChild.cloneNode(true);
  tr.dataset.symbol = sym;
  more.dataset.for = sym;
  more.id = 'more-' + (++rowIds);
  const q = (sel) => tr.querySelector(sel);
  const r = {
    sym, tr, more, q: null, at: 0, stale: false, error: '', failures: 0, points: [], hist: 0,
    name: q('.name'), price: q('.price'), change: q('.change'), pct: q('.pct'), volume: q('.volume'),
    range: q('.range'), prev: q('.prev'), market: q('.market'), spark: q('.spark'),
    line: q('.spark polyline'), time: q('.updated .at'), age: q('.updated .age'), badge: q('.stale'),
    button: q('.sym-btn'), reason: more.querySelector('.reason'), facts: more.querySelector('.facts'),
    chartBtn: more.querySelector('.chart-btn'),
  };
  r.name.textContent = sym;
  r.button.setAttribute('aria-controls', more.id);
  r.button.addEventListener('click', (ev) => { ev.stopPropagation(); toggleMore(r); });
  tr.addEventListener('click', (ev) => { // the whole row opens it, for fingers
    if (!ev.target.closest('button')) toggleMore(r);
  });
  const spark = q('.spark-btn');
  spark.setAttribute('aria-label', 'Chart of ' + sym);
  spark.addEventListener('click', (ev) => { ev.stopPropagation(); openDetail(sym); });
  r.chartBtn.setAttribute('aria-label', 'Show chart of ' + sym);
  r.chartBtn.addEventListener('click', () => openDetail(sym));
  const remove = q('.remove');
  remove.setAttribute('aria-label', 'Remove ' + sym);
  remove.title = 'Remove ' + sym;
  remove.addEventListener('click', (ev) => { ev.stopPropagation(); removeSymbol(sym); });
  rowsEl.append(tr, more);
  rows.set(sym, r);
  renderFacts(r);
  return r;
}

function dropRow(r) {
  r.tr.remove();
  r.more.remove();
  rows.delete(r.sym);
  if (chartSym === r.sym) dialog.close();
}

function toggleMore(r, open = r.more.hidden) {
  r.more.hidden = !open;
  r.button.setAttribute('aria-expanded', String(open));
  r.tr.classList.toggle('open', open);
  if (open) renderFacts(r);
}

// loadHistory fetches r's history and merges it into r.points; the last
// one is shown if it is newer than what the websocket brought.
function loadHistory(r) {
  const n = ++r.hist;
  fetch('/api/quotes/' + encodeURIComponent(r.sym) + '/history', { headers: apiHeaders() })
    .then((resp) => (resp.ok ? resp.json() : null))
    .then((body) => {
      if (!body || !Array.isArray(body.history) || rows.get(r.sym) !== r || r.hist !== n) return;
      const hist = body.history.filter((q) => typeof q.price === 'number' && typeof q.seq === 'number');
      addPoints(r, hist.map(point));
      const last = hist[hist.length - 1];
      if (last && last.seq > client.lastSeq(r.sym) && !(r.q && r.q.seq >= last.seq)) applyQuote(r, last, false);
      drawSpark(r);
      if (chartSym === r.sym) drawDetail();
      queueLayout();
    })
    .catch(() => { /* no history: the charts start empty */ });
}

function point(q) {
  const t = parseTime(q.collected_at);
  return { seq: q.seq, price: q.price, t: t ? t.getTime() : 0 };
}

function addPoints(r, pts) {
  const bySeq = new Map();
  for (const p of r.points) bySeq.set(p.seq, p);
  for (const p of pts) bySeq.set(p.seq, p);
  r.points = [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(-MAX_POINTS);
}

function setDir(el, v) {
  el.classList.toggle('up', v > 0);
  el.classList.toggle('down', v < 0);
}

function applyQuote(r, q, live) {
  const prev = r.q ? r.q.price : null;
  r.q = q;
  r.price.textContent = fmtPrice(q.price);
  r.change.textContent = fmtSigned(q.change, 2);
  r.pct.textContent = has(q.change_pct) ? fmtSigned(q.change_pct, 2) + '%' : '–';
  setDir(r.change, q.change);
  setDir(r.pct, q.change);
  r.volume.textContent = has(q.volume) ? compactFmt.format(q.volume) : '–';
  r.volume.title = has(q.volume) ? intFmt.format(q.volume) + ' shares' : '';
  r.range.textContent = hasRange(q) ? fmtPrice(q.low) + ' – ' + fmtPrice(q.high) : '–';
  r.prev.textContent = has(q.prev_close) ? fmtPrice(q.prev_close) : '–';
  r.market.textContent = typeof q.market_status === 'string' && q.market_status ? q.market_status : '–';
  if (live && prev !== null && prev !== q.price && !reducedMotion.matches) {
    r.price.classList.remove('flash-up', 'flash-down');
    void r.price.offsetWidth; // restart the animation
    r.price.classList.add(q.price > prev ? 'flash-up' : 'flash-down');
  }
  const when = parseTime(q.collected_at);
  r.at = when ? when.getTime() : 0;
  if (when) {
    r.time.textContent = timeFmt.format(when);
    r.time.dateTime = q.collected_at;
    r.time.title = fullFmt.format(when);
    r.age.textContent = fmtAge(Date.now() - r.at);
  }
  if (!r.more.hidden) renderFacts(r);
  applyStatus(r, r); // the badge's wording depends on having a price
}

function applyStatus(r, m) {
  // An unknown symbol (the source does not know it) shows like a stale
  // one, with its own words.
  r.unknown = !!m.unknown;
  r.stale = !!m.stale || r.unknown;
  r.error = r.stale ? m.error || '' : '';
  r.failures = r.stale ? m.failures || 0 : 0;
  r.badge.hidden = !r.stale;
  r.badge.textContent = r.unknown ? 'unknown' : r.q ? 'stale' : 'no data';
  r.badge.title = r.stale ? friendlyReason(r) : '';
  r.tr.classList.toggle('is-stale', r.stale);
  r.reason.hidden = !r.stale;
  r.reason.textContent = r.stale ? friendlyReason(r) : '';
  if (chartSym === r.sym) drawDetail();
}

// facts lists what a row knows in words, for its expanded view and the
// detail dialog.
function facts(r) {
  const q = r.q || {};
  const out = [];
  const add = (k, v) => { if (v) out.push([k, v]); };
  add('Price', has(q.price) ? fmtPrice(q.price) : '');
  add('Change', has(q.price) ? fmtSigned(q.change, 2) + ' (' + fmtSigned(q.change_pct, 2) + '%)' : '');
  add('Open', has(q.open) ? fmtPrice(q.open) : '');
  add('Day range', hasRange(q) ? fmtPrice(q.low) + ' – ' + fmtPrice(q.high) : '');
  add('Previous close', has(q.prev_close) ? fmtPrice(q.prev_close) : '');
  add('Bid / ask', has(q.bid) && has(q.ask) ? fmtPrice(q.bid) + ' / ' + fmtPrice(q.ask) : '');
  add('Volume', has(q.volume) ? intFmt.format(q.volume) : '');
  add('Market', typeof q.market_status === 'string' ? q.market_status : '');
  const trade = parseTime(q.time);
  add('Last trade', trade ? timeFmt.format(trade) : '');
  add('Updated', r.at ? timeFmt.format(r.at) + ' (' + fmtAge(Date.now() - r.at) + ')' : 'not yet');
  return out;
}

function fillFacts(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = k;
    dd.textContent = v;
    const div = document.createElement('div');
    div.append(dt, dd);
    return [div];
  }));
}

function renderFacts(r) {
  fillFacts(r.facts, facts(r));
  r.chartBtn.hidden = r.points.length === 0 && !r.q; // nothing to draw
}

function drawSpark(r) {
  const ps = r.points;
  if (ps.length === 0) {
    r.line.setAttribute('points', '');
    return;
  }
  let lo = Infinity, hi = -Infinity;
  for (const p of ps) { lo = Math.min(lo, p.price); hi = Math.max(hi, p.price); }
  const span = hi - lo || 1;
  const n = Math.max(ps.length - 1, 1);
  const pts = ps.map((p, i) => {
    const x = ps.length === 1 ? 100 : (i / n) * 100;
    const y = hi === lo ? 12 : 22 - ((p.price - lo) / span) * 20;
    return x.toFixed(2) + ',' + y.toFixed(2);
  });
  if (ps.length === 1) pts.unshift('0,' + pts[0].split(',')[1]);
  r.line.setAttribute('points', pts.join(' '));
  const first = ps[0].price, last = ps[ps.length - 1].price;
  r.spark.classList.toggle('up', last > first);
  r.spark.classList.toggle('down', last < first);
}

// ---- sorting and optional columns ----------------------------------------

// SORTS: per column, the value a row sorts by (null sorts last).
const SORTS = {
  symbol: (r) => r.sym,
  price: (r) => (r.q ? r.q.price : null),
  change: (r) => (r.q && has(r.q.change) ? r.q.change : null),
  pct: (r) => (r.q && has(r.q.change_pct) ? r.q.change_pct : null),
  volume: (r) => (r.q && has(r.q.volume) ? r.q.volume : null),
  range: (r) => (hasRange(r.q) && r.q.high > r.q.low ? (r.q.price - r.q.low) / (r.q.high - r.q.low) : null),
  prev: (r) => (r.q && has(r.q.prev_close) ? r.q.prev_close : null),
  market: (r) => (r.q && typeof r.q.market_status === 'string' ? r.q.market_status : null),
  updated: (r) => r.at || null,
};

// OPTIONAL: columns shown only when some row has the field.
const OPTIONAL = {
  volume: (q) => has(q.volume),
  range: hasRange,
  prev: (q) => has(q.prev_close),
  market: (q) => typeof q.market_status === 'string' && q.market_status !== '',
};

function compareRows(a, b) {
  const va = SORTS[sort.key](a), vb = SORTS[sort.key](b);
  if (va === null || vb === null) {
    if (va !== vb) return va === null ? 1 : -1; // missing last, either way
  } else if (va !== vb) {
    const c = typeof va === 'string' ? va.localeCompare(vb) : va - vb;
    return sort.dir === 'ascending' ? c : -c;
  }
  return a.sym < b.sym ? -1 : a.sym > b.sym ? 1 : 0;
}

function queueLayout() {
  if (layoutQueued) return;
  layoutQueued = true;
  requestAnimationFrame(layout);
}

// layout puts the rows in sort order and shows the optional columns the
// rows have data for. It runs at most once a frame.
function layout() {
  layoutQueued = false;
  for (const [col, test] of Object.entries(OPTIONAL)) {
    let any = false;
    for (const r of rows.values()) {
      if (r.q && test(r.q)) { any = true; break; }
    }
    tableEl.classList.toggle('has-' + col, any);
  }
  const sorted = [...rows.values()].sort(compareRows);
  const current = [...rowsEl.querySelectorAll('tr.row')];
  if (sorted.every((r, i) => current[i] === r.tr)) return;
  const focused = document.activeElement;
  rowsEl.append(...sorted.flatMap((r) => [r.tr, r.more]));
  if (focused && focused !== document.activeElement && rowsEl.contains(focused)) focused.focus({ preventScroll: true });
}

function renderSortHeaders() {
  for (const th of tableEl.querySelectorAll('th[data-sort]')) {
    const active = th.dataset.sort === sort.key;
    if (active) th.setAttribute('aria-sort', sort.dir);
    else th.removeAttribute('aria-sort');
    th.querySelector('.arrow').textContent = active ? (sort.dir === 'ascending' ? ' ▲' : ' ▼') : '';
  }
}

for (const th of tableEl.querySelectorAll('th[data-sort]')) {
  th.querySelector('button').addEventListener('click', () => {
    const key = th.dataset.sort;
    sort = { key, dir: sort.key === key && sort.dir === 'ascending' ? 'descending' : 'ascending' };
    try { localStorage.setItem(SORT_KEY, JSON.stringify(sort)); } catch (e) { /* private mode */ }
    renderSortHeaders();
    queueLayout();
  });
}

// ---- suggestions ------------------------------------------------------

// loadKnown fetches the server's symbols for the suggestions.
function loadKnown() {
  fetch('/api/quotes', { headers: apiHeaders() })
    .then((resp) => {
      if (resp.status === 401) {
        askToken(token ? 'The server refused this token (wrong or expired). Enter another.' : 'This tickerd needs an access token.');
        return null;
      }
      return resp.ok ? resp.json() : null;
    })
    .then((body) => {
      if (!body || !Array.isArray(body.quotes)) return;
      known = body.quotes.map((q) => q.symbol).filter((s) => typeof s === 'string').sort();
      updateSuggestions();
    })
    .catch(() => { /* keep what we had */ });
}

// updateSuggestions offers the known symbols that are not in the table.
function updateSuggestions() {
  const want = known.filter((s) => !rows.has(s));
  const have = [...suggestEl.options].map((o) => o.value);
  if (have.join() === want.join()) return;
  suggestEl.replaceChildren(...want.map((s) => {
    const o = document.createElement('option');
    o.value = s;
    return o;
  }));
}

let knownAt = 0;
input.addEventListener('focus', () => { // symbols may have been added by a reload
  if (Date.now() - knownAt > 10000) {
    knownAt = Date.now();
    loadKnown();
  }
});

// ---- detail dialog ------------------------------------------------------

function openDetail(sym) {
  const r = rows.get(sym);
  if (!r) return;
  chartSym = sym;
  if (!dialog.open) dialog.showModal();
  drawDetail();
  if (r.points.length === 0) loadHistory(r);
}

dialog.addEventListener('close', () => { chartSym = ''; });
$('detail-close').addEventListener('click', () => dialog.close());
dialog.addEventListener('click', (ev) => { if (ev.target === dialog) dialog.close(); }); // the backdrop
new ResizeObserver(() => { if (chartSym) drawDetail(); }).observe(chartEl);

function drawDetail() {
  const r = rows.get(chartSym);
  if (!r) return;
  $('detail-title').textContent = r.sym;
  const q = r.q;
  $('detail-summary').textContent = q
    ? fmtPrice(q.price) + '  ' + fmtSigned(q.change, 2) + ' (' + fmtSigned(q.change_pct, 2) + '%)' +
      (r.at ? ', updated ' + timeFmt.format(r.at) : '')
    : 'No price yet.';
  const reason = $('detail-reason');
  reason.hidden = !r.stale;
  reason.textContent = r.stale ? friendlyReason(r) : '';
  fillFacts($('detail-facts'), facts(r));
  drawChart(chartEl, r);
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) that
// cuts span into about n parts.
function niceStep(span, n) {
  const raw = span / Math.max(n, 1);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

function svg(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// drawChart draws r's history into the svg el: a line of every point by
// collection time, price and time axes with labels, the time zone.
function drawChart(el, r) {
  const ps = r.points.filter((p) => p.t > 0);
  const w = Math.max(260, Math.round(el.getBoundingClientRect().width || 640));
  const h = Math.round(Math.min(360, Math.max(220, w * 0.5)));
  el.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  el.setAttribute('height', h);
  for (const c of [...el.children]) {
    if (c.tagName !== 'title' && c.tagName !== 'desc') c.remove();
  }
  const zone = zoneAbbr(new Date());
  const m = { l: 64, r: 14, t: 14, b: 48 };
  const pw = w - m.l - m.r, ph = h - m.t - m.b;
  $('chart-title').textContent = r.sym + ' price history';
  if (ps.length === 0) {
    $('chart-desc').textContent = 'No history yet.';
    el.append(svg('text', { x: w / 2, y: h / 2, 'text-anchor': 'middle', class: 'empty' }, 'No history yet'));
    return;
  }
  let lo = Infinity, hi = -Infinity;
  for (const p of ps) { lo = Math.min(lo, p.price); hi = Math.max(hi, p.price); }
  if (hi === lo) { const pad = Math.max(hi * 0.001, 0.01); lo -= pad; hi += pad; }
  const ystep = niceStep(hi - lo, 4);
  const y0 = Math.floor(lo / ystep) * ystep, y1 = Math.ceil(hi / ystep) * ystep;
  let t0 = ps[0].t, t1 = ps[ps.length - 1].t;
  if (t1 === t0) { t0 -= 1000; t1 += 1000; }
  const X = (t) => m.l + ((t - t0) / (t1 - t0)) * pw;
  const Y = (v) => m.t + ph - ((v - y0) / (y1 - y0)) * ph;

  const grid = svg('g', { class: 'grid' });
  const axes = svg('g', { class: 'axis' });
  const digits = Math.max(0, -Math.floor(Math.log10(ystep)));
  for (let v = y0; v <= y1 + ystep / 2; v += ystep) {
    const y = Y(v).toFixed(1);
    grid.append(svg('line', { x1: m.l, x2: w - m.r, y1: y, y2: y }));
    axes.append(svg('text', { x: m.l - 6, y, 'text-anchor': 'end', 'dominant-baseline': 'middle', class: 'tick y-tick' },
      v.toLocaleString(undefined, { minimumFractionDigits: Math.min(digits, 4), maximumFractionDigits: Math.min(digits, 4) })));
  }
  const maxTicks = Math.max(2, Math.floor(pw / 90));
  const tstep = TIME_STEPS.find((s) => (t1 - t0) / s <= maxTicks) || 86400000;
  const fmt = tstep >= 60000 ? axisFmtMin : axisFmt;
  let xticks = 0;
  for (let t = Math.ceil(t0 / tstep) * tstep; t <= t1; t += tstep) {
    const x = X(t);
    // Labels near an edge are anchored to stay inside the chart.
    const anchor = x > w - m.r - 32 ? 'end' : x < m.l + 32 ? 'start' : 'middle';
    grid.append(svg('line', { x1: x.toFixed(1), x2: x.toFixed(1), y1: m.t, y2: m.t + ph }));
    axes.append(svg('text', { x: x.toFixed(1), y: m.t + ph + 16, 'text-anchor': anchor, class: 'tick x-tick' }, fmt.format(t)));
    xticks++;
  }
  if (xticks === 0) { // all within a second: label where the line starts
    axes.append(svg('text', { x: m.l, y: m.t + ph + 16, 'text-anchor': 'start', class: 'tick x-tick' }, axisFmt.format(ps[0].t)));
  }
  axes.append(svg('line', { x1: m.l, x2: m.l, y1: m.t, y2: m.t + ph, class: 'axis-line' }));
  axes.append(svg('line', { x1: m.l, x2: w - m.r, y1: m.t + ph, y2: m.t + ph, class: 'axis-line' }));
  axes.append(svg('text', { x: m.l + pw / 2, y: h - 6, 'text-anchor': 'middle', class: 'axis-title x-title' },
    'Time (' + zone + ', ' + zoneName + ')'));
  axes.append(svg('text', { x: 14, y: m.t + ph / 2, 'text-anchor': 'middle', class: 'axis-title y-title',
    transform: 'rotate(-90 14 ' + (m.t + ph / 2) + ')' }, 'Price'));

  const d = ps.map((p, i) => (i ? 'L' : 'M') + X(p.t).toFixed(1) + ',' + Y(p.price).toFixed(1)).join(' ');
  const dir = ps[ps.length - 1].price > ps[0].price ? 'up' : ps[ps.length - 1].price < ps[0].price ? 'down' : '';
  const area = svg('path', { class: 'area', d: d + ' L' + X(ps[ps.length - 1].t).toFixed(1) + ',' + (m.t + ph) + ' L' + X(ps[0].t).toFixed(1) + ',' + (m.t + ph) + ' Z' });
  const line = svg('path', { class: 'line ' + dir, d, 'data-points': ps.length });
  const last = ps[ps.length - 1];
  const dot = svg('circle', { class: 'dot ' + dir, cx: X(last.t).toFixed(1), cy: Y(last.price).toFixed(1), r: 3.5 });
  el.append(grid, area, line, dot, axes);
  $('chart-desc').textContent = ps.length + ' updates from ' + timeFmt.format(ps[0].t) + ' to ' + timeFmt.format(last.t) +
    ', between ' + fmtPrice(lo) + ' and ' + fmtPrice(hi) + '; last ' + fmtPrice(last.price) + '.';
}

// ---- user actions -----------------------------------------------------

function addSymbol(raw) {
  const sym = normalizeSymbol(raw);
  if (!sym || sym === '*') {
    showMessage('“' + raw.trim() + '” is not a valid symbol. Use 1 to 32 letters, digits or “. - ^ / : = _”.');
    return false;
  }
  if (rows.has(sym)) {
    showMessage(sym + ' is already in the table.');
    return true;
  }
  msgEl.hidden = true;
  client.subscribe([sym]);
  saveWatchlist(client.symbols);
  return true;
}

function removeSymbol(sym) {
  client.unsubscribe([sym]);
  saveWatchlist(client.symbols);
  const r = rows.get(sym);
  if (r) dropRow(r);
  emptyEl.hidden = rows.size > 0;
  updateSuggestions();
}

$('add-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (addSymbol(input.value)) input.value = '';
  input.focus();
});

$('reset-btn').addEventListener('click', () => {
  client.unsubscribe(['*']);
  client.subscribe(['*']);
  saveWatchlist(client.symbols);
});

$('zone-note').textContent = 'Times are in ' + zoneName + ' (' + zoneAbbr(new Date()) + ').';
sort = loadSort();
renderSortHeaders();
loadKnown();
client.connect();
