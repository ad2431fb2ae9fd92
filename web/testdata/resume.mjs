// resume.mjs checks how tickerd-client.js resumes, under node with a fake
// WebSocket: a resume that fits one message is one subscribe; a longer one
// is split into subscribes under the server's 4 KiB limit that together
// ask for every wanted symbol, each seq in the part of its symbol. It
// prints "ok" or throws. Run by web's TestClientResumeParts.
globalThis.location = { protocol: 'http:', host: '127.0.0.1' };
globalThis.window = { addEventListener() {}, removeEventListener() {} };
const sent = [];
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor() { this.readyState = 1; }
  send(m) { sent.push(m); }
  close() {}
};
import { pathToFileURL } from 'node:url';

const { TickerClient } = await import(pathToFileURL(process.argv[2]).href);

function resume(wanted, seqs) {
  sent.length = 0;
  const c = new TickerClient({ symbols: wanted });
  c._epoch = '0123456789abcdef';
  c._resumable = true;
  for (const [s, n] of Object.entries(seqs)) c._seqs.set(s, n);
  c.connect();
  c._ws.onopen();
  return sent.map((m) => {
    if (m.length > 4096) throw new Error(`message of ${m.length} bytes, over 4096`);
    return JSON.parse(m);
  });
}

// Small: one message, as always.
const one = resume(['*'], { AAPL: 6 });
if (one.length !== 1 || JSON.stringify(one[0]) !== '{"op":"subscribe","symbols":["*"],"since":{"epoch":"0123456789abcdef","seq":{"AAPL":6}}}') {
  throw new Error('small resume = ' + JSON.stringify(one));
}

// Large: 500 symbols, two in three with a seq.
const syms = Array.from({ length: 500 }, (_, i) => 'S' + String(i).padStart(4, '0') + 'XYZW');
const seqs = {};
syms.forEach((s, i) => { if (i % 3) seqs[s] = 1000000 + i; });
for (const star of [false, true]) {
  const msgs = resume(star ? ['*'] : syms, seqs);
  if (msgs.length < 2) throw new Error(`star ${star}: ${msgs.length} message, want several`);
  const asked = new Set();
  const got = {};
  for (const m of msgs) {
    if (m.op !== 'subscribe' || m.since.epoch !== '0123456789abcdef') throw new Error('part ' + JSON.stringify(m));
    m.symbols.forEach((s) => asked.add(s));
    for (const [s, n] of Object.entries(m.since.seq)) {
      if (!m.symbols.includes(s)) throw new Error(`seq of ${s} in a part without it`);
      got[s] = n;
    }
  }
  const want = star ? [...Object.keys(seqs), '*'] : syms;
  if (asked.size !== want.length || !want.every((s) => asked.has(s))) {
    throw new Error(`star ${star}: asked for ${asked.size} symbols, want ${want.length}`);
  }
  if (JSON.stringify(got) !== JSON.stringify(seqs)) throw new Error(`star ${star}: seqs sent differ from the client's`);
  if (star && msgs[msgs.length - 1].symbols.join() !== '*') throw new Error('"*" not last');
}
console.log('ok');
