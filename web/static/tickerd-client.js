// tickerd-client.js: a small browser client for tickerd's websocket API
// (GET /ws), as an ES module with no dependencies. The dashboard uses it;
// any page served by tickerd (or allowed by its websocket.allowed_origins)
// can too:
//
//   import { TickerClient } from './tickerd-client.js';
//
//   const client = new TickerClient({ symbols: ['AAPL', 'MSFT'] }); // or ['*']
//   client.addEventListener('quote', (ev) => console.log(ev.detail.symbol, ev.detail.price));
//   client.addEventListener('state', (ev) => console.log(ev.detail.state));   // connecting | open | closed
//   client.connect();
//   client.subscribe(['NVDA']);
//   client.unsubscribe(['MSFT']);
//   client.close();                                                          // for good
//
// What it does for you:
//
// - Batch mode. It connects to /ws?batch=1 and accepts every frame either
//   as one JSON message or as a JSON array of messages, so it works with
//   servers that batch and servers that do not.
// - Subscriptions. It remembers the symbols you want (subscribe adds,
//   unsubscribe removes; "*" is every configured symbol) and subscribes to
//   them again on every connection. Symbols the server rejects or stops
//   collecting are forgotten (see the "error" event).
// - Order. It drops a quote whose seq is not above the last one it passed
//   on for that symbol, so listeners never see a symbol go back.
// - Resume. It keeps, per symbol, the last seq it passed on, and the epoch
//   of the last "subscribed" message. If that message carried an "epoch"
//   (servers with resume support send one), it reconnects with
//   {"op":"subscribe","symbols":[...],"since":{"epoch":E,"seq":{"AAPL":17}}}
//   and the server sends only what is newer (its "subscribed" lists the
//   symbols it resumed in "recovered"); a server of another epoch answers
//   {"type":"reset"} first and sends everything. A resume too long for one
//   message (the server takes at most 4 KiB) goes in several subscribes,
//   each with the seqs of its symbols. Without an epoch it never sends
//   "since", and forgets the seqs on each new connection (a restarted server
//   numbers from 1 again). {"type":"reset"}, which the server also sends
//   when its seqs restart while connected, forgets them too.
// - Reconnect. After a close it reconnects with capped, jittered
//   exponential backoff (options.backoffMin to options.backoffMax, each delay
//   drawn between half and all of the current step). retryNow() skips the
//   wait; the page's "online" event does too, and "offline" closes the socket.
//
// Events (a TickerClient is an EventTarget; each event's data is ev.detail):
//
//   state       {state: 'connecting'|'open'|'closed', attempt, delay, retryAt, code, reason}
//               delay (ms) and retryAt (Date.now() ms) say when the next attempt is, once closed
//   open        {resumed}  a connection is up and the subscribe went out; resumed: "since" was sent
//   subscribed  the server's "subscribed" message: {symbols, epoch?, recovered?, ...}
//               recovered (after a resume) lists the symbols resumed from their seq
//   quote       a "quote" message, newer than the last one of its symbol
//   status      a "status" message: {symbol, stale, error, failures}
//   error       an "error" message: {code, message, symbols}; symbols is the
//               server's list or, for a rejected subscribe, the symbols it asked for
//   reset       {epoch} the server's sequences restarted: forget what you kept by seq
//   message     every message, whatever its type, before the specific event
//
// A TickerClient is for one page's main thread; nothing in it blocks.

// The widest of the sources' symbol syntaxes (the json kind's: EUR/USD,
// BINANCE:BTCUSDT); the server checks its source's own and says why it
// refuses a symbol.
const SYMBOL_RE = /^[A-Za-z0-9.^\/:=_-]{1,32}$/;
const MAX_MESSAGE = 4096; // the server's limit on a client message, in bytes

/** normalizeSymbol returns s upper-cased if it is a valid symbol or "*", and '' otherwise. */
export function normalizeSymbol(s) {
  s = String(s).trim();
  return s === '*' ? s : SYMBOL_RE.test(s) ? s.toUpperCase() : '';
}

export class TickerClient extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string} [options.url] websocket URL; default: /ws on this page's host
   * @param {string[]} [options.symbols] symbols to subscribe to on connect
   * @param {boolean} [options.batch] ask for batched frames (?batch=1); default true
   * @param {number} [options.backoffMin] first reconnect step, ms; default 500
   * @param {number} [options.backoffMax] reconnect cap, ms; default 30000
   * @param {string} [options.token] access token, sent as ?token= (a browser
   *   cannot set headers on a websocket); needed when the server has auth on
   */
  constructor(options = {}) {
    super();
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = options.url || proto + '//' + location.host + '/ws';
    if (url.startsWith('/')) url = proto + '//' + location.host + url;
    if (options.batch !== false) url += (url.includes('?') ? '&' : '?') + 'batch=1';
    if (options.token) url += (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(options.token);
    this.url = url;
    this.backoffMin = options.backoffMin || 500;
    this.backoffMax = options.backoffMax || 30000;
    this._wanted = new Set((options.symbols || []).map(normalizeSymbol).filter(Boolean));
    this._server = [];        // the server's set, from the last "subscribed"
    this._seqs = new Map();   // symbol -> last seq passed on
    this._epoch = null;       // epoch of the last "subscribed" that had one
    this._resumable = false;  // whether the last "subscribed" carried an epoch
    this._pending = [];       // symbols of the latest subscribe, until its answer
    this._ws = null;
    this._attempt = 0;        // failed connections in a row
    this._timer = 0;
    this._closed = true;
    this._online = () => this.retryNow();
    this._offline = () => { if (this._ws) this._ws.close(4000, 'offline'); };
  }

  /** symbols returns the symbols the client wants, sorted ("*" stays "*"). */
  get symbols() { return [...this._wanted].sort(); }

  /** serverSymbols returns the server's subscription set, from its last "subscribed". */
  get serverSymbols() { return this._server.slice(); }

  /** state is 'connecting', 'open' or 'closed'. */
  get state() {
    if (this._ws && this._ws.readyState === WebSocket.OPEN) return 'open';
    return this._ws ? 'connecting' : 'closed';
  }

  /** lastSeq returns the last seq passed on for symbol, or 0. */
  lastSeq(symbol) { return this._seqs.get(symbol) || 0; }

  /** connect starts connecting (and reconnecting, until close). */
  connect() {
    if (!this._closed) return;
    this._closed = false;
    window.addEventListener('online', this._online);
    window.addEventListener('offline', this._offline);
    this._open();
  }

  /** close closes the connection for good: no more reconnects. */
  close() {
    this._closed = true;
    clearTimeout(this._timer);
    this._timer = 0;
    window.removeEventListener('online', this._online);
    window.removeEventListener('offline', this._offline);
    const ws = this._ws;
    this._ws = null;
    if (ws) ws.close(1000, 'bye');
    this._emit('state', { state: 'closed', attempt: this._attempt, delay: 0, retryAt: 0, code: 1000, reason: 'closed by the page' });
  }

  /** retryNow reconnects at once if the client is waiting to reconnect. */
  retryNow() {
    if (!this._closed && !this._ws) this._open();
  }

  /** subscribe adds symbols to the wanted set and asks the server for them. */
  subscribe(symbols) {
    const syms = symbols.map(normalizeSymbol).filter(Boolean);
    if (syms.length === 0) return;
    for (const s of syms) this._wanted.add(s);
    this._pending = syms.filter((s) => s !== '*');
    this._send({ op: 'subscribe', symbols: syms });
  }

  /**
   * unsubscribe removes symbols from the wanted set ("*": all of them) and
   * tells the server. With "*" wanted, the set becomes explicit: the
   * server's current set minus symbols.
   */
  unsubscribe(symbols) {
    const syms = symbols.map(normalizeSymbol).filter(Boolean);
    if (syms.length === 0) return;
    if (syms.includes('*')) {
      this._wanted.clear();
    } else {
      if (this._wanted.has('*')) this._wanted = new Set(this._server);
      for (const s of syms) this._wanted.delete(s);
    }
    this._send({ op: 'unsubscribe', symbols: syms });
  }

  // ---- connection ---------------------------------------------------

  _send(msg) {
    const ws = this._ws;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  _open() {
    clearTimeout(this._timer);
    this._timer = 0;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (e) { // a malformed URL: nothing to retry
      this._closed = true;
      this._emit('state', { state: 'closed', attempt: this._attempt, delay: 0, retryAt: 0, code: 0, reason: String(e) });
      return;
    }
    this._ws = ws;
    this._emit('state', { state: 'connecting', attempt: this._attempt, delay: 0, retryAt: 0, code: 0, reason: '' });
    ws.onopen = () => {
      if (this._ws !== ws) return;
      this._emit('state', { state: 'open', attempt: this._attempt, delay: 0, retryAt: 0, code: 0, reason: '' });
      const resumed = this._subscribeAll();
      this._emit('open', { resumed });
    };
    ws.onmessage = (ev) => {
      if (this._ws !== ws) return;
      this._attempt = 0; // the server talks to us: the next drop starts backing off afresh
      let data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      for (const m of Array.isArray(data) ? data : [data]) {
        if (m && typeof m === 'object') this._handle(m);
      }
    };
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      if (this._closed) return;
      const step = Math.min(this.backoffMax, this.backoffMin * 2 ** Math.min(this._attempt, 20));
      const delay = Math.round(step / 2 + Math.random() * step / 2);
      this._attempt++;
      this._timer = setTimeout(() => this._open(), delay);
      this._emit('state', { state: 'closed', attempt: this._attempt, delay, retryAt: Date.now() + delay, code: ev.code, reason: ev.reason });
    };
  }

  // _subscribeAll subscribes to the wanted set on a new connection, with
  // "since" when the server said it can resume. It reports whether it did.
  _subscribeAll() {
    const symbols = this.symbols;
    this._pending = [];
    if (symbols.length === 0) {
      this._seqs.clear();
      this._send({ op: 'list' });
      return false;
    }
    if (this._resumable && this._epoch !== null) {
      const all = this._wanted.has('*');
      const seq = {};
      for (const [s, n] of this._seqs) {
        if (n > 0 && (all || this._wanted.has(s))) seq[s] = n;
      }
      const msg = { op: 'subscribe', symbols, since: { epoch: this._epoch, seq } };
      if (JSON.stringify(msg).length <= MAX_MESSAGE) {
        this._send(msg);
      } else {
        this._resumeInParts(all, symbols, seq);
      }
      return true;
    }
    this._seqs.clear(); // no resume: the server may number from 1 again
    this._send({ op: 'subscribe', symbols });
    return false;
  }

  // _resumeInParts sends a resume that does not fit in one message as
  // several subscribes, each under MAX_MESSAGE: the symbols with a seq,
  // each part with the seqs of its symbols, then the others ("*" last, when
  // every configured symbol is wanted). The server resets (another epoch)
  // on the first and sends everything; a later part with the same since
  // gets no second reset.
  _resumeInParts(all, symbols, seq) {
    const base = JSON.stringify({ op: 'subscribe', symbols: [], since: { epoch: this._epoch, seq: {} } }).length;
    let part = [];
    let size = base;
    const flush = () => {
      if (part.length === 0) return;
      const s = {};
      for (const sym of part) if (seq[sym] > 0) s[sym] = seq[sym];
      this._send({ op: 'subscribe', symbols: part, since: { epoch: this._epoch, seq: s } });
      part = [];
      size = base;
    };
    const add = (sym, n) => {
      const more = sym.length + 3 + (n > 0 ? sym.length + 4 + String(n).length : 0); // "S", and "S":n,
      if (size + more > MAX_MESSAGE) flush();
      part.push(sym);
      size += more;
    };
    for (const [sym, n] of Object.entries(seq)) add(sym, n);
    flush();
    for (const sym of all ? ['*'] : symbols) {
      if (!(seq[sym] > 0)) add(sym, 0);
    }
    flush();
  }

  // ---- messages ------------------------------------------------------

  _handle(m) {
    this._emit('message', m);
    switch (m.type) {
      case 'subscribed': {
        this._server = Array.isArray(m.symbols) ? m.symbols.slice() : [];
        this._pending = [];
        if (typeof m.epoch === 'string' || typeof m.epoch === 'number') {
          if (this._epoch !== null && this._epoch !== m.epoch) this._reset(m.epoch);
          this._epoch = m.epoch;
          this._resumable = true;
        } else {
          this._epoch = null;
          this._resumable = false;
        }
        this._emit('subscribed', m);
        break;
      }
      case 'quote': {
        if (typeof m.symbol !== 'string' || typeof m.seq !== 'number') return;
        if (m.seq <= this.lastSeq(m.symbol)) return;
        this._seqs.set(m.symbol, m.seq);
        this._emit('quote', m);
        break;
      }
      case 'status':
        if (typeof m.symbol === 'string') this._emit('status', m);
        break;
      case 'reset':
        this._reset(m.epoch === undefined ? null : m.epoch);
        if (m.epoch !== undefined) this._epoch = m.epoch;
        break;
      case 'error': {
        let symbols = Array.isArray(m.symbols) ? m.symbols : [];
        if (symbols.length === 0 && (m.code === 'invalid_symbol' || m.code === 'too_many_symbols' || m.code === 'unknown_symbol')) {
          symbols = this._pending; // the subscribe it answers
        }
        this._pending = [];
        if (m.code === 'unknown_symbol' || m.code === 'invalid_symbol' || m.code === 'too_many_symbols') {
          const drop = symbols.filter((s) => this._wanted.has(s));
          for (const s of drop) this._wanted.delete(s);
          // A rejected subscribe changed nothing, even for its good
          // symbols: ask again for what is still wanted.
          if (drop.length > 0 && this._wanted.size > 0 && !this._wanted.has('*')) {
            this._send({ op: 'subscribe', symbols: this.symbols });
          }
        }
        this._emit('error', { code: m.code || '', message: m.message || '', symbols });
        break;
      }
    }
  }

  _reset(epoch) {
    this._seqs.clear();
    this._emit('reset', { epoch });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
