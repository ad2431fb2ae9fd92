// Package httpx speaks HTTP/1.1 with pipelining over a single connection.
//
// Client keeps one connection to one origin and writes every request onto
// it without waiting for earlier responses; responses are matched to
// requests strictly in order (RFC 9112 section 9.3.2). Server serves an
// ordinary http.Handler, reading pipelined requests ahead and writing
// responses in request order.
//
// Both are built on internal/vanilla: the request queue, the hand-off from
// the writer loop to the reader loop, and the hand-off of each response to
// its caller are vanilla primitives, so every wait is cancellable and every
// close reaches whoever is parked.
package httpx
