// tickerd dashboard: a live quote table fed by the websocket API at /ws.
//
// The watchlist (what the user asked for) lives in localStorage; "*" means
// every configured symbol and is the default. The table shows the server's
// subscription set: every "subscribed" message is authoritative.
'use strict';

(() => {
  const STORE_KEY = 'tickerd.watchlist';
  const MAX_POINTS = 300;                  // sparkline history, like the server's default
  const SYMBOL_RE = /^[A-Za-z0-9.^-]{1,12}$/; // config.NormalizeSymbol's rule
  const BACKOFF_MIN = 500, BACKOFF_MAX = 30000; // ms

  const $ = (id) => document.getElementById(id);
  const rowsEl = $('rows'), connEl = $('conn'), retryEl = $('retry');
  const msgEl = $('message'), emptyEl = $('empty'), input = $('add-symbol');
  const template = $('row-template');

  let watchlist = loadWatchlist();
  const rows = new Map();  // symbol -> row state
  let ws = null;           // the live socket, if any
  let generation = 0;      // counts connections; rows are refreshed on each
  let backoff = BACKOFF_MIN;
  let retryTimer = 0, msgTimer = 0;
  let lastAdded = '';      // the symbol of the latest add, until its answer

  // ---- watchlist ------------------------------------------------------

  function normalize(s) {
    s = s.trim();
    return s === '*' ? s : SYMBOL_RE.test(s) ? s.toUpperCase() : '';
  }

  function loadWatchlist() {
    const params = new URLSearchParams(location.search);
    if (params.has('symbols')) { // ?symbols=AAPL,MSFT sets the watchlist once
      const list = [...new Set(params.get('symbols').split(',').map(normalize).filter(Boolean))];
      saveWatchlist(list);
      params.delete('symbols');
      const q = params.toString();
      history.replaceState(null, '', location.pathname + (q ? '?' + q : '') + location.hash);
      return list;
    }
    try {
      const v = JSON.parse(localStorage.getItem(STORE_KEY));
      if (Array.isArray(v)) {
        return [...new Set(v.filter((s) => typeof s === 'string').map(normalize).filter(Boolean))];
      }
    } catch (e) { /* unreadable: use the default */ }
    return ['*'];
  }

  function saveWatchlist(list) {
    try { localStorage.setItem(STORE_KEY, JSON.stringify(list)); } catch (e) { /* private mode */ }
  }

  function setWatchlist(list) {
    watchlist = [...new Set(list)];
    saveWatchlist(watchlist);
  }

  // ---- connection -----------------------------------------------------

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function setConn(connected, detail) {
    connEl.textContent = connected ? 'connected' : 'disconnected';
    connEl.className = connected ? 'connected' : 'disconnected';
    retryEl.textContent = detail || '';
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const sock = new WebSocket(proto + '//' + location.host + '/ws');
    ws = sock;
    setConn(false, 'connecting…');
    sock.onopen = () => {
      if (ws !== sock) return;
      backoff = BACKOFF_MIN;
      generation++;
      setConn(true);
      if (watchlist.length > 0) {
        send({ op: 'subscribe', symbols: watchlist });
      } else {
        renderSet([]);
      }
    };
    sock.onmessage = (ev) => {
      if (ws !== sock) return;
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      handle(m);
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      reconnectLater(ev.reason);
    };
  }

  function reconnectLater(reason) {
    const delay = Math.round(backoff * (0.8 + Math.random() * 0.4));
    backoff = Math.min(backoff * 2, BACKOFF_MAX);
    setConn(false, 'reconnecting in ' + Math.ceil(delay / 1000) + 's');
    connEl.title = reason ? 'closed: ' + reason : '';
    retryTimer = setTimeout(connect, delay);
  }

  // Reconnect at once when the network comes back or the page is shown.
  function reconnectNow() {
    if (!ws && retryTimer) connect();
  }
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectNow();
  });

  // ---- messages -------------------------------------------------------

  function handle(m) {
    switch (m.type) {
      case 'subscribed': renderSet(Array.isArray(m.symbols) ? m.symbols : []); lastAdded = ''; break;
      case 'quote': onQuote(m); break;
      case 'status': onStatus(m); break;
      case 'error': onError(m); break;
    }
  }

  function onError(m) {
    showMessage(m.message || m.code);
    const gone = Array.isArray(m.symbols) ? m.symbols : [];
    if (m.code === 'unknown_symbol' && gone.length > 0) {
      // Not collected (any more): forget them, and ask again for the rest
      // in case they made a whole subscribe fail.
      setWatchlist(watchlist.filter((s) => !gone.includes(s)));
      if (watchlist.length > 0) send({ op: 'subscribe', symbols: watchlist });
    } else if (lastAdded && (m.code === 'too_many_symbols' || m.code === 'invalid_symbol')) {
      setWatchlist(watchlist.filter((s) => s !== lastAdded));
    }
    lastAdded = '';
  }

  function showMessage(text) {
    msgEl.textContent = text;
    msgEl.hidden = false;
    clearTimeout(msgTimer);
    msgTimer = setTimeout(() => { msgEl.hidden = true; }, 8000);
  }

  // ---- table ----------------------------------------------------------

  function renderSet(symbols) {
    const want = new Set(symbols);
    for (const [sym, r] of rows) {
      if (!want.has(sym)) {
        r.tr.remove();
        rows.delete(sym);
      }
    }
    for (const sym of symbols) {
      let r = rows.get(sym);
      if (!r) {
        r = addRow(sym);
      }
      if (r.generation !== generation) refresh(r); // new connection: seqs may have restarted
    }
    emptyEl.hidden = rows.size > 0;
  }

  function addRow(sym) {
    const tr = template.content.firstElementChild.cloneNode(true);
    tr.dataset.symbol = sym;
    const r = {
      sym, tr, generation: -1, seq: 0, price: null, points: [],
      name: tr.querySelector('.name'), price_: tr.querySelector('.price'),
      change: tr.querySelector('.change'), pct: tr.querySelector('.pct'),
      spark: tr.querySelector('.spark'), line: tr.querySelector('.spark polyline'),
      updated: tr.querySelector('.updated'), stale: tr.querySelector('.stale'),
    };
    r.name.textContent = sym;
    const remove = tr.querySelector('.remove');
    remove.setAttribute('aria-label', 'Remove ' + sym);
    remove.title = 'Remove ' + sym;
    remove.addEventListener('click', () => removeSymbol(sym));
    // Keep rows sorted, like the server's set.
    let before = null;
    for (const other of rowsEl.children) {
      if (other.dataset.symbol > sym) { before = other; break; }
    }
    rowsEl.insertBefore(tr, before);
    rows.set(sym, r);
    return r;
  }

  // refresh forgets what the row knew from an earlier connection (the
  // server may have restarted its sequences; the new snapshot says again
  // whether it is stale) and reloads its history.
  function refresh(r) {
    r.generation = generation;
    r.seq = 0;
    r.points = [];
    onStatus({ symbol: r.sym, stale: false });
    const gen = generation;
    fetch('/api/quotes/' + encodeURIComponent(r.sym) + '/history', { headers: { Accept: 'application/json' } })
      .then((resp) => (resp.ok ? resp.json() : null))
      .then((body) => {
        if (!body || !Array.isArray(body.history) || rows.get(r.sym) !== r || r.generation !== gen) return;
        const pts = body.history
          .filter((q) => typeof q.price === 'number' && typeof q.seq === 'number')
          .map((q) => ({ seq: q.seq, price: q.price }));
        mergePoints(r, pts);
        const last = body.history[body.history.length - 1];
        if (last && last.seq > r.seq) applyQuote(r, last, false);
        drawSpark(r);
      })
      .catch(() => { /* no history: the sparkline starts empty */ });
  }

  function mergePoints(r, pts) {
    const bySeq = new Map();
    for (const p of r.points.concat(pts)) bySeq.set(p.seq, p);
    r.points = [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(-MAX_POINTS);
  }

  function onQuote(m) {
    const r = rows.get(m.symbol);
    if (!r || typeof m.price !== 'number' || !(m.seq > r.seq)) return;
    applyQuote(r, m, true);
    r.points.push({ seq: m.seq, price: m.price });
    if (r.points.length > MAX_POINTS) r.points.splice(0, r.points.length - MAX_POINTS);
    drawSpark(r);
  }

  function applyQuote(r, q, live) {
    r.seq = q.seq;
    const prev = r.price;
    r.price = q.price;
    r.price_.textContent = fmtPrice(q.price);
    r.change.textContent = fmtSigned(q.change, 2);
    r.pct.textContent = fmtSigned(q.change_pct, 2) + '%';
    const dir = q.change > 0 ? 'up' : q.change < 0 ? 'down' : '';
    for (const el of [r.change, r.pct]) {
      el.classList.toggle('up', dir === 'up');
      el.classList.toggle('down', dir === 'down');
    }
    if (live && prev !== null && prev !== q.price) {
      const cls = q.price > prev ? 'flash-up' : 'flash-down';
      r.price_.classList.remove('flash-up', 'flash-down');
      void r.price_.offsetWidth; // restart the animation
      r.price_.classList.add(cls);
    }
    const when = parseTime(q.collected_at);
    if (when) {
      r.updated.textContent = when.toLocaleTimeString();
      r.updated.title = q.collected_at;
    }
  }

  function onStatus(m) {
    const r = rows.get(m.symbol);
    if (!r) return;
    r.stale.hidden = !m.stale;
    r.stale.title = m.stale ? (m.error || 'stale') + (m.failures ? ' (' + m.failures + ' failed attempts)' : '') : '';
    r.tr.classList.toggle('is-stale', !!m.stale);
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

  // ---- formatting -----------------------------------------------------

  function fmtPrice(p) {
    return p.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: p < 1 ? 4 : 2 });
  }

  function fmtSigned(v, digits) {
    if (typeof v !== 'number') return '–';
    return (v > 0 ? '+' : '') + v.toFixed(digits);
  }

  // parseTime reads an RFC 3339 time with up to nine fractional digits,
  // keeping the milliseconds Date can hold.
  function parseTime(s) {
    if (typeof s !== 'string') return null;
    const d = new Date(s.replace(/(\.\d{3})\d+/, '$1'));
    return isNaN(d) ? null : d;
  }

  // ---- user actions ---------------------------------------------------

  function addSymbol(raw) {
    const sym = normalize(raw);
    if (!sym || sym === '*') {
      showMessage('Invalid symbol: use 1 to 12 letters, digits, ".", "-" or "^".');
      return false;
    }
    if (rows.has(sym)) {
      showMessage(sym + ' is already in the table.');
      return true;
    }
    setWatchlist(watchlist.concat(sym));
    lastAdded = sym;
    send({ op: 'subscribe', symbols: [sym] });
    return true;
  }

  function removeSymbol(sym) {
    // With "*" the list becomes explicit: what is shown, minus sym.
    const base = watchlist.includes('*') ? [...rows.keys()] : watchlist;
    setWatchlist(base.filter((s) => s !== sym && s !== '*'));
    const r = rows.get(sym);
    if (r) {
      r.tr.remove();
      rows.delete(sym);
    }
    emptyEl.hidden = rows.size > 0;
    send({ op: 'unsubscribe', symbols: [sym] });
  }

  $('add-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (addSymbol(input.value)) input.value = '';
    input.focus();
  });

  $('reset-btn').addEventListener('click', () => {
    setWatchlist(['*']);
    send({ op: 'unsubscribe', symbols: ['*'] });
    send({ op: 'subscribe', symbols: ['*'] });
  });

  setConn(false, 'connecting…');
  connect();
})();
