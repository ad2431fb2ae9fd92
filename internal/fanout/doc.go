// Package fanout is tickerd's websocket API: a Hub serves GET /ws and fans
// each collected symbol's snapshots out to the clients subscribed to it.
//
//	hub := fanout.New(b, coll, &fanout.Options{Registerer: reg}) // b *board.Board; coll the Demand
//	mux.Handle("GET /ws", hub)
//	go hub.Run(ctx) // returns once ctx has ended and every client has gone
//
// # Protocol
//
// Messages are JSON objects in text frames, one message per frame. A
// client connecting with GET /ws?batch=1 gets every frame as a JSON array
// of one or more messages instead, each exactly as it is without batch,
// in the same order: the replies and quotes waiting for the client when
// the server writes (the quotes of a pulse, gathered for BatchDelay) go in
// as few frames as fit under 32 KiB each. For example, one frame:
//
//	[{"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,"volume":111677,"time":"2026-11-21T15:04:00.000000000Z","collected_at":"2026-11-21T15:04:05.123456789Z","seq":17},
//	 {"type":"quote","symbol":"MSFT","price":472.12,"change":-1.2,"change_pct":-0.25,"collected_at":"2026-11-21T15:04:05.123456789Z","seq":9},
//	 {"type":"status","symbol":"MSFT","stale":false,"failures":0}]
//
// A batch value other than 1, true, 0 or false gets HTTP 400. Clients'
// messages are never arrays. A client sends ops:
//
//	{"op":"subscribe","symbols":["AAPL","MSFT"]}  "*" means every configured symbol, live (below)
//	{"op":"subscribe","symbols":["AAPL","MSFT"],"since":{"epoch":"6f1d2c3b4a5e6f70","seq":{"AAPL":17,"MSFT":4}}}
//	{"op":"unsubscribe","symbols":["AAPL"]}       "*" means all of the client's symbols
//	{"op":"list"}
//
// Symbols are normalised with config.NormalizeSymbol ("aapl" is AAPL).
// GET /ws?symbols=AAPL,MSFT subscribes on connect, and
// GET /ws?symbols=AAPL,MSFT&since=<the since object, URL-encoded> resumes
// on connect. The server sends:
//
//	{"type":"subscribed","symbols":["AAPL","MSFT"],"epoch":"6f1d2c3b4a5e6f70"}
//	{"type":"subscribed","symbols":["AAPL","MSFT"],"epoch":"6f1d2c3b4a5e6f70","recovered":["AAPL"]}
//	{"type":"reset","epoch":"9a8b7c6d5e4f3a2b"}
//	{"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,"volume":111677,
//	 "time":"2026-11-21T15:04:00.000000000Z","collected_at":"2026-11-21T15:04:05.123456789Z","seq":17}
//	{"type":"status","symbol":"AAPL","stale":true,"error":"quote: http status 503 Service Unavailable","failures":3}
//	{"type":"error","code":"invalid_symbol","message":"invalid symbol \"A B\": ..."}
//
// "subscribed" carries the client's whole set, sorted, after every
// subscribe, unsubscribe and list, and the epoch of the seqs the client
// gets. After a subscribe, each newly
// subscribed symbol that has a quote gets it (and a stale status if it is
// stale) before any later update of it. "quote" goes out for every new
// quote (volume and time are left out when the source did not give them);
// seq never goes down for a symbol on one connection, though a client that
// falls behind skips intermediate quotes. "status" goes out when a symbol
// turns stale or recovers.
//
// # Epochs and resume
//
// seq counts per symbol within an epoch: the board's epoch id, new with
// each process start in a single process, and with each bucket in cluster
// mode (the same on every instance). When the epoch changes (the bucket was
// lost and made anew) seqs start again: every client that has been told
// an epoch gets {"type":"reset","epoch":"..."} before any quote of the new
// epoch, and no quote of the old one after it; then the new epoch's
// snapshots of its symbols, whatever their seq. A client must forget the
// seqs it has on "reset".
//
// A client that reconnects (to this instance or another) may resume: it
// subscribes with "since", the epoch of its last "subscribed" and the last
// seq it has of each symbol. If the epoch is the server's, each symbol of
// since gets its current quote only if its seq is higher than the
// client's, its status if it is stale or unknown, and from then on only
// quotes newer than the client's: never one it has. "recovered" (present,
// possibly empty, in the reply to every subscribe with since) lists the
// symbols so resumed, for which the server had the client's seq or a newer
// one. A symbol of since whose seq the server does not have yet (an
// instance whose watch is a little behind) is waited for, up to
// Options.ResumeWait (cluster.resume_wait; no wait in a single process),
// before the answer; past it the symbol is not recovered, and still gets
// no quote up to the client's seq. The other symbols of the subscribe get
// full snapshots. If the epoch is not the server's, the client gets
// "reset" first, then "subscribed" (recovered empty) and full snapshots of
// all its symbols. A resuming client:
//
//	> {"op":"subscribe","symbols":["AAPL","MSFT"],"since":{"epoch":"6f1d2c3b4a5e6f70","seq":{"AAPL":17,"MSFT":4}}}
//	< {"type":"subscribed","symbols":["AAPL","MSFT"],"epoch":"6f1d2c3b4a5e6f70","recovered":["AAPL","MSFT"]}
//	< {"type":"quote","symbol":"MSFT",...,"seq":6}           AAPL is still at 17: nothing for it
//	< {"type":"status","symbol":"MSFT","stale":true,"error":"...","failures":3}
//
// and the same after the server's seqs restarted:
//
//	< {"type":"reset","epoch":"9a8b7c6d5e4f3a2b"}
//	< {"type":"subscribed","symbols":["AAPL","MSFT"],"epoch":"9a8b7c6d5e4f3a2b","recovered":[]}
//	< {"type":"quote","symbol":"AAPL",...,"seq":2}
//	< {"type":"quote","symbol":"MSFT",...,"seq":1}
//
// since is checked strictly, and a bad one gets bad_request (the
// connection stays): an object with "epoch", a string of 1 to 64 bytes,
// and "seq", an object of at most MaxSymbolsPerClient valid symbols, each
// once after normalisation, mapped to integers from 0 to 2^64-1; only a
// subscribe may carry it. Symbols of since that the subscribe does not add
// (not in its list, or subscribed already) are ignored; seq 0 is the same
// as no seq. In the query, since is at most 4 KiB like a message, given
// once, with symbols. A resume too long for one message goes in several
// subscribes with the same since epoch: only the first gets a "reset".
//
// A subscribe that waits (for ResumeWait, or for a dynamic symbol, below)
// holds up only the client's later messages, which are carried out in
// order once it is done (up to 8 wait; more get rate_limited). The
// client's reader goes on reading, pings are answered, other clients are
// not affected.
//
// A bad message gets an "error" (codes: bad_request, unknown_op,
// invalid_symbol, unknown_symbol, too_many_symbols, rate_limited) and the
// connection stays; a rejected request changes nothing, even if only one
// of its symbols is at fault. When a symbol stops being collected
// (it leaves the board's symbol set) its subscribers get an unknown_symbol error listing it in
// "symbols", then a "subscribed" without it.
//
// "*" is live: a client that subscribed to it follows the configured
// set (the board's Symbols().Configured; not the symbols clients added)
// until it unsubscribes from "*". A symbol that a reload adds to the set
// joins the client's set, which the client learns from a "subscribed"
// followed by the symbol's snapshot, as after a subscribe; one the reload
// removes leaves it with unknown_symbol, as for every subscriber. A
// symbol the client unsubscribed from by name stays out unless a later
// subscribe names it (it is not added again while it stays configured).
// "*" counts against MaxSymbolsPerClient like the symbols it stands for:
// a subscribe to "*" that would pass the limit is refused, and of the
// symbols a reload adds, those past the limit (the last ones in the
// configured order) are left out and named in "symbols" of a
// too_many_symbols error; they are not added later when room frees up,
// but symbols added by later reloads are, as far as the room goes. So a
// client's set never passes the limit.
//
// With Options.DynamicSymbols, subscribing to a valid symbol that is not
// collected starts collecting it (Demand.Add) while at least one client is
// subscribed to it, up to MaxDynamicSymbols such symbols; the last client
// leaving stops it (Demand.Remove). In cluster mode the symbol reaches the
// board only once the leader has taken it up: the subscribe waits for it
// up to Options.DemandWait (default 5s), then answers as usual, or, if it
// has not come, with unknown_symbol naming it (and the Hub gives it up
// with Demand.Remove). Subscribes of several clients waiting for one
// symbol share one Add.
//
// # Tokens
//
// With Options.Grant, a client's token limits what it may subscribe to (a
// symbol it does not allow is forbidden, the set unchanged), how many, and
// whether it may have symbols collected. At the grant's expiry the client
// gets token_expired and then a close with 1008: the closer queues the
// error in the connection's write queue ahead of the close frame, so the
// close never cuts it. {"op":"auth","token":"..."} replaces the grant
// without reconnecting (Options.Verify). With Options.AuthFirst a client
// may connect without a token and must send that op first, within
// AuthWait (5s); until then it is sent nothing (see AuthFirst).
//
// # Limits
//
// Client messages are limited to 4 KiB (a larger one closes the connection
// with 1009) and to OpsPerSecond (a token bucket, default 20/s with a
// burst of 40). Past MaxClients, upgrades get HTTP 503 before upgrading; a
// foreign Origin gets 403. The server pings every PingInterval (a ping
// without payload); a client that has sent no pong by the next ping is
// closed with 1008. Any pong counts. A client's ping is answered with a
// pong carrying its payload, until the server's close frame is sent. On
// shutdown every client is closed with 1001. A peer that does not answer
// a close within WriteTimeout (clamped to 1s..5s) is cut off.
//
// # Slow clients
//
// A client whose socket takes no bytes at all for WriteTimeout while the
// server has frames for it is closed with 1008: the close frame goes
// behind the frames its socket holds, and the connection is cut at most
// 1s later, so within WriteTimeout + 1s of the socket's last progress. A
// client that reads, however slowly, stays: it gets each symbol's newest
// quote and skips the ones it had no time for (coalescing, counted in
// tickerd_ws_updates_skipped_total). Progress is measured by the kernel
// taking bytes, which it does in steps of about a segment and the
// client's window: on a real network a few KiB, on loopback up to 64 KiB.
//
// What a connected client holds is bounded whatever the kernel's buffer
// autotuning: each websocket socket's send buffer is set to SendBuffer
// (SO_SNDBUF, default 32 KiB; setting it turns autotuning off on Linux,
// where the kernel doubles the value for its bookkeeping, so 64 KiB; macOS
// and Windows fix the buffer too, untested here),
// the Hub's write queue in user space holds at most maxBatch (32 KiB) plus
// one message, and its outbox one pointer to a shared rendered update per
// subscribed symbol plus at most 16 replies. So per client, about
// 2 x SendBuffer + 33 KiB + 8 bytes per subscription on Linux. When a
// client is cut, the frames still queued in user space move to the kernel
// with the close frame (the send buffer is raised for them), and the kernel
// drops them when it gives up on the peer.
//
// # Fan-out
//
// One watcher goroutine per collected symbol watches the symbol's
// vanilla.Value (Value.Watch) and offers each new version to the
// subscribers. Offering never blocks: each client holds at most one
// pending update per symbol, replaced by a newer one (counted as skipped).
// So a slow client costs memory bounded by its subscriptions, and never
// delays the others. Each update is rendered to JSON once for every client.
//
// Each update knows the epoch it belongs to (the epoch is read before and
// after the symbol's Value, and the board clears every Value before it
// changes epochs), and each client the epoch it was last told. Whoever
// sends for a client queues a "reset" before the first update of a newer
// epoch and drops updates of an older one, so the order holds however the
// symbol watchers and the epoch watcher interleave.
//
// A client with something to send is queued, once, for a small pool of
// writer goroutines (16 per GOMAXPROCS). BatchDelay (2ms) after it was
// queued, a writer takes its whole outbox and sends it with one socket
// write that never blocks, so that the quotes of a pulse reach a client in
// a few writes rather than one each; sooner once every symbol the client is
// subscribed to has an update pending, since nothing more of the pulse can
// come for it. A writer that has been sending for a millisecond yields, so
// that what the collection readied meanwhile runs first: on a busy core a
// pulse is collected sooner, instead of at the pace of its first quotes'
// writes, and each client's turn then finds more of it pending. If the
// socket does not take it all, the client gets a goroutine of its own until
// its outbox is empty, bounded by WriteTimeout without progress. Otherwise
// an idle client has no goroutine at all on Linux: the Hub's poller, one
// goroutine blocked in epoll_wait, watches the sockets of idle clients,
// each armed for one event at a time, and when one is readable (or closed)
// a goroutine reads and carries out what came, arms the socket again and
// exits. The pings and pongs at the head of a client's stream it takes off
// the socket itself, before coder/websocket's read is ever entered (which,
// once entered, answers a ping and then waits, with a deep stack, for the
// client's next message): pongs are counted, and each ping is answered with
// a pong carrying its payload, queued like every other frame of the
// client's. A client that pings the server (Python's websockets does every
// 20 s) thus holds no goroutine between its pings either. Only a ping not
// wholly there when the socket is looked at (cut across TCP segments) is
// left to coder/websocket's read, which answers it and keeps its goroutine
// until the client's next message. Once the close frame is queued, pings
// are not answered at all, by the Hub or by coder/websocket, so nothing
// follows the close frame, and a ping that reaches coder/websocket's close
// handshake does not end it before the client's close is read (the socket
// closed with that unread would reset the connection). Elsewhere, and under
// TLS, each client has a reader goroutine whose stack stays at the 2 KiB a
// goroutine starts with: between messages it waits in the runtime's poller
// for the socket to be readable, taking pings and pongs off as the poller's
// steps do (on unix; on Windows inside coder/websocket's read), and each
// message is read and carried out on a goroutine that exits. The reader's
// goroutine was about 2.5 KiB of the 12-13 KiB of memory a client took at
// 10,000 clients (docs/benchmarks.md, sessions 6 and 7), of which 1.5 KiB
// is coder/websocket's connection.
//
// Without ?batch=1 the frames of a batch share a socket write; with it
// they are one frame, which costs the client one frame and one JSON
// document instead of one each per message.
//
// # Framing
//
// The Hub writes its text frames itself (batchConn), and coder/websocket
// only its control frames, each whole in one Write. That rests on
// invariants, each pinned by a test: the client's connection is held
// only as a wsConn, which lacks coder/websocket's Write and Writer, so
// no fan-out code can write a data frame through the library
// (TestNoDataWritePath); compression is off explicitly, so no extension
// is ever negotiated and unmasked, uncompressed frames are right
// (TestNoCompression); a control frame's Write succeeds only once its
// last byte is in the socket, and fails if the queue it joined is
// dropped; and a stress test reads the raw TCP stream with a strict RFC
// 6455 parser while pings, closes and shutdown hit large batches
// (TestFramingStress). A client's frame header announcing a message past
// the 4 KiB limit closes the connection with 1009 at that header, before
// any of the payload is read (coder/websocket's own limit would read the
// first 4 KiB of it).
//
// # Panics
//
// A panic in any goroutine of the Hub (the symbol and epoch watchers, the
// writers, the poller, a connection's setup and reader (or its poller's
// steps), its op and slow-write
// goroutines, its ping timer and closer) is not recovered: it crashes the process, with
// the panic value and every goroutine's stack on stderr, as an
// unrecovered panic in any Go goroutine does, and as the vanilla Hub
// that runs the watchers and writers decides. Most of the Hub's work is
// done with Hub.mu or a client's mu held, and some of it (NormalizeSymbol,
// the Demand's Add and Remove, the Board's methods) is the caller's
// code: recovering would leave those locks held and Run waiting for ever
// for goroutines that never finish, so a crash is the only outcome that
// is both loud and safe. TestPanicCrashesProcess shows it for a panic in
// NormalizeSymbol and Demand.Add (the reader's op goroutine, Hub.mu
// held), in Board.Symbols (Run's watcher, Hub.mu held) and in the
// connection's own goroutine. The one exception is ServeHTTP itself,
// which runs on net/http's goroutine: net/http recovers a handler's
// panic, and ServeHTTP releases its admission then, so Run does not wait
// for a connection that never started.
package fanout
