package service

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// perIPLimit caps the websocket connections open at once from one client:
// one address for IPv4, one /64 for IPv6 (what one host is usually given,
// so that a client cannot step around the cap by changing addresses). The
// client is the peer, or, when the peer is a trusted proxy, the rightmost
// address of X-Forwarded-For that is not one (see clientAddr). A
// connection counts from before the upgrade until the hijacked
// connection is closed. The table holds only clients with connections
// open, so it is bounded by the connection cap. Safe for concurrent use.
type perIPLimit struct {
	max      int
	trusted  []netip.Prefix
	rejected prometheus.Counter

	mu   sync.Mutex
	open map[netip.Prefix]int // guarded by mu; no zero entries
}

// newPerIPLimit returns the limit, registering its counter with reg; nil
// when max is 0 (no cap).
func newPerIPLimit(max int, trusted []netip.Prefix, reg prometheus.Registerer) *perIPLimit {
	if max <= 0 {
		return nil
	}
	l := &perIPLimit{max: max, trusted: trusted, open: make(map[netip.Prefix]int),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickerd_ws_per_ip_rejected_total",
			Help: "Websocket upgrades refused with 429: the client had websocket.max_clients_per_ip connections open.",
		})}
	reg.MustRegister(l.rejected)
	return l
}

// wrap returns next behind the limit; a nil l returns next.
func (l *perIPLimit) wrap(next http.HandlerFunc) http.HandlerFunc {
	if l == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := clientKey(r, l.trusted)
		if !ok {
			next(w, r) // not TCP: nothing to count by
			return
		}
		if !l.acquire(key) {
			l.rejected.Inc()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":"too many websocket connections from this address"}` + "\n")) // the client may be gone
			return
		}
		hw := &hijackHook{ResponseWriter: w, release: func() { l.releaseKey(key) }}
		// Deferred, so that a panic net/http recovers does not keep the
		// slot for good.
		defer func() {
			if !hw.hooked {
				l.releaseKey(key) // not upgraded, or not on a limitConn: nothing holds the slot
			}
		}()
		next(hw, r)
	}
}

func (l *perIPLimit) acquire(key netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return false
	}
	l.open[key]++
	return true
}

func (l *perIPLimit) releaseKey(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] <= 1 {
		delete(l.open, key)
		return
	}
	l.open[key]--
}

// clientKey returns the key of r's client for perIPLimit: its address
// (see clientAddr) for IPv4, its /64 for IPv6.
func clientKey(r *http.Request, trusted []netip.Prefix) (netip.Prefix, bool) {
	a, ok := clientAddr(r, trusted)
	if !ok {
		return netip.Prefix{}, false
	}
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits) // cannot fail: bits fits a
	return p, true
}

// clientAddr returns the address of r's client: the peer's, unless the
// peer is a trusted proxy; then X-Forwarded-For (every such header, in
// order, as one list) is read from the right, past trusted proxies, and
// the first address that is not one is the client. A malformed entry
// ends the walk at the last trusted hop, which is then taken as the
// client: nothing left of it can be believed. ok is false when the peer's
// address is not an IP (a pipe in a test).
func clientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	client := ap.Addr().Unmap().WithZone("")
	if !inPrefixes(trusted, client) {
		return client, true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, err := parseHop(h)
		if err != nil {
			return client, true
		}
		client = a.Unmap().WithZone("")
		if !inPrefixes(trusted, client) {
			return client, true
		}
	}
	return client, true
}

// parseHop parses one X-Forwarded-For entry: an address, or (as some
// load balancers write it) an address with a port, IPv6 in brackets.
func parseHop(h string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr(), nil
	}
	return netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
}

func inPrefixes(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hijackHook is the ResponseWriter the websocket hub upgrades through:
// when the connection is hijacked, release is arranged to run once the
// connection (a limitConn, under TLS or not) is closed.
type hijackHook struct {
	http.ResponseWriter
	release func()
	hooked  bool // release arranged; set by Hijack in the handler's goroutine
}

// Unwrap gives http.ResponseController the underlying ResponseWriter.
func (w *hijackHook) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes the connection over from net/http.
func (w *hijackHook) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	lc, _ := conn.(*limitConn)
	if tc, ok := conn.(*tls.Conn); ok {
		lc, _ = tc.NetConn().(*limitConn)
	}
	if lc != nil {
		w.hooked = true
		lc.afterClose(w.release)
	}
	return conn, brw, nil
}
