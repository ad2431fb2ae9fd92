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
//	{"op":"subscribe","symbols":["AAPL","MSFT"]}  "*" means every configured symbol
//	{"op":"unsubscribe","symbols":["AAPL"]}       "*" means all of the client's symbols
//	{"op":"list"}
//
// Symbols are normalised with config.NormalizeSymbol ("aapl" is AAPL).
// GET /ws?symbols=AAPL,MSFT subscribes on connect. The server sends:
//
//	{"type":"subscribed","symbols":["AAPL","MSFT"]}
//	{"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,"volume":111677,
//	 "time":"2026-11-21T15:04:00.000000000Z","collected_at":"2026-11-21T15:04:05.123456789Z","seq":17}
//	{"type":"status","symbol":"AAPL","stale":true,"error":"quote: http status 503 Service Unavailable","failures":3}
//	{"type":"error","code":"invalid_symbol","message":"invalid symbol \"A B\": ..."}
//
// "subscribed" carries the client's whole set, sorted, after every
// subscribe, unsubscribe and list. After a subscribe, each newly
// subscribed symbol that has a quote gets it (and a stale status if it is
// stale) before any later update of it. "quote" goes out for every new
// quote (volume and time are left out when the source did not give them);
// seq never goes down for a symbol on one connection, though a client that
// falls behind skips intermediate quotes. "status" goes out when a symbol
// turns stale or recovers.
//
// A bad message gets an "error" (codes: bad_request, unknown_op,
// invalid_symbol, unknown_symbol, too_many_symbols, rate_limited) and the
// connection stays; a rejected request changes nothing, even if only one
// of its symbols is at fault. When a symbol stops being collected
// (it leaves the board's symbol set) its subscribers get an unknown_symbol error listing it in
// "symbols", then a "subscribed" without it.
//
// With Options.DynamicSymbols, subscribing to a valid symbol that is not
// collected starts collecting it (Demand.Add) while at least one client is
// subscribed to it, up to MaxDynamicSymbols such symbols; the last client
// leaving stops it (Demand.Remove).
//
// # Limits
//
// Client messages are limited to 4 KiB (a larger one closes the connection
// with 1009) and to OpsPerSecond (a token bucket, default 20/s with a
// burst of 40). Past MaxClients, upgrades get HTTP 503 before upgrading; a
// foreign Origin gets 403. The server pings every PingInterval. On
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
// A client with something to send is queued, once, for a small pool of
// writer goroutines (16 per GOMAXPROCS). BatchDelay (2ms) after it was
// queued, a writer takes its whole outbox and sends it with one socket
// write that never blocks, so that the quotes of a pulse reach a client in
// a few writes rather than one each. If the socket does not take it all,
// the client gets a goroutine of its own until its outbox is empty, bounded
// by WriteTimeout without progress. Otherwise a client has a single goroutine, its
// reader, whose stack stays small: its messages are carried out on a
// goroutine that exits. With 10,000 clients this takes about 17 KiB of
// memory per client (docs/benchmarks.md).
//
// Without ?batch=1 the frames of a batch share a socket write; with it
// they are one frame, which costs the client one frame and one JSON
// document instead of one each per message.
package fanout
