package fanout

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// readPaths are the two ways a client's reads are driven: by the Hub's
// poller (Linux) and by a reader goroutine per client (elsewhere, under
// TLS, and here with noPoll).
var readPaths = []struct {
	name   string
	noPoll bool
}{
	{"poller", false},
	{"reader_goroutine", true},
}

// pollerHere reports whether this system has the Hub's poller.
func pollerHere() bool { return runtime.GOOS == "linux" }

// TestIdleClientsHoldNoGoroutine: with the poller, idle clients hold no
// goroutine of their own once set up; with a reader goroutine each, they
// hold one each. Each client gets its subscribed message, pings the
// server and gets its pong (which, answered inside coder/websocket's
// read, would keep a goroutine there), and is then idle; the goroutines
// are counted once every client's reads wait.
func TestIdleClientsHoldNoGoroutine(t *testing.T) {
	const n = 40
	for _, path := range readPaths {
		t.Run(path.name, func(t *testing.T) {
			if !path.noPoll && !pollerHere() {
				t.Skip("no poller on " + runtime.GOOS)
			}
			src := newFakeSource("AAPL")
			h := newHarness(t, src, &Options{PingInterval: time.Hour}, func(h *harness) { h.hub.noPoll = path.noPoll })
			warm := h.dialRaw(t, "?symbols=AAPL") // starts the poller and the writers
			readSubscribed(t, warm)
			waitIdle(t, h, 1, path.noPoll)
			before := runtime.NumGoroutine()
			for i := range n {
				rc := h.dialRaw(t, "?symbols=AAPL")
				readSubscribed(t, rc)
				if err := rc.writeRaw(keyedFrame(wsOpPing, fmt.Sprint(i), [4]byte{7, 7, 7, 7})); err != nil {
					t.Fatalf("ping = %v", err)
				}
				if f, err := readRawFrame(rc.br); err != nil || f.op != wsOpPong || string(f.payload) != fmt.Sprint(i) {
					t.Fatalf("answer to ping %d = op %d %q, %v, want its pong", i, f.op, f.payload, err)
				}
			}
			waitIdle(t, h, n+1, path.noPoll)
			added := runtime.NumGoroutine() - before
			if path.noPoll && added < n {
				t.Fatalf("goroutines added by %d idle clients = %d, want at least %d (a reader each)", n, added, n)
			}
			if !path.noPoll && added >= n/4 {
				t.Fatalf("goroutines added by %d idle clients = %d, want fewer than %d", n, added, n/4)
			}
		})
	}
}

// readSubscribed reads rc's first frame, which must be "subscribed".
func readSubscribed(t *testing.T, rc *rawClient) {
	t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(waitLimit))
	if f, err := readRawFrame(rc.br); err != nil || !bytes.Contains(f.payload, []byte(`"subscribed"`)) {
		t.Fatalf("first frame = %q, %v, want subscribed", f.payload, err)
	}
}

// waitIdle waits until the Hub has n clients and, with the poller, every
// one's socket is armed (no step runs); with reader goroutines, until
// the goroutine count stops moving between two checks after n clients.
func waitIdle(t *testing.T, h *harness, n int, noPoll bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	last := -1
	for {
		h.hub.mu.Lock()
		clients, p := len(h.hub.clients), h.hub.poll
		h.hub.mu.Unlock()
		idle := clients == n
		if idle && !noPoll {
			if p == nil {
				t.Fatal("no poller started")
			}
			idle = pollerIdle(p, n)
		}
		if idle && noPoll {
			g := runtime.NumGoroutine()
			idle, last = g == last, g
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d clients idle not seen within %v (have %d)", n, waitLimit, clients)
		}
		runtime.Gosched() // the state polled has no event to wait on
	}
}

// TestSilentClientShutdown: a client that never answers the close
// handshake, whose socket is idle (armed in the poller, or its reader
// waiting), is cut after the close grace period, and Run returns: the
// socket's closing wakes its reads even though no byte ever arrives.
func TestSilentClientShutdown(t *testing.T) {
	for _, path := range readPaths {
		t.Run(path.name, func(t *testing.T) {
			src := newFakeSource("AAPL")
			h := newHarness(t, src, &Options{WriteTimeout: 100 * time.Millisecond}, func(h *harness) { h.hub.noPoll = path.noPoll })
			rc := h.dialRaw(t, "?symbols=AAPL")
			readSubscribed(t, rc)
			h.stop() // fails the test if Run does not return within waitLimit
			f, err := readRawFrame(rc.br)
			if err != nil || f.op != wsOpClose || closeCode(f.payload) != 1001 {
				t.Fatalf("frame after stop = op %d %q, %v, want close 1001", f.op, f.payload, err)
			}
		})
	}
}

// TestReadPaths: messages, pongs and a peer's close reach the Hub on
// either read path: a client answering pings with empty pongs is kept and
// its "list" op is answered, and once it drops its socket
// the Hub gives its admission back (MaxClients 1 lets the next in).
func TestReadPaths(t *testing.T) {
	for _, path := range readPaths {
		t.Run(path.name, func(t *testing.T) {
			src := newFakeSource("AAPL")
			h := newHarness(t, src, &Options{MaxClients: 1, PingInterval: 50 * time.Millisecond}, func(h *harness) { h.hub.noPoll = path.noPoll })
			rc := h.dialRaw(t, "?symbols=AAPL")
			_ = rc.conn.SetReadDeadline(time.Now().Add(waitLimit))
			pings, subscribed := 0, 0 // the list op is answered with a second "subscribed"
			for subscribed < 2 {
				f, err := readRawFrame(rc.br)
				if err != nil {
					t.Fatalf("after %d pings: read = %v", pings, err)
				}
				switch {
				case f.op == wsOpClose:
					t.Fatalf("after %d pings: close %d %q, want the connection kept", pings, closeCode(f.payload), f.payload)
				case f.op == wsOpPing:
					if err := rc.writeRaw(maskedFrame(wsOpPong, "")); err != nil {
						t.Fatalf("pong = %v", err)
					}
					if pings++; pings == 3 {
						if err := rc.writeRaw(maskedFrame(wsOpText, `{"op":"list"}`)); err != nil {
							t.Fatalf("list = %v", err)
						}
					}
				case bytes.Contains(f.payload, []byte(`"type":"subscribed"`)):
					if subscribed++; subscribed == 2 && pings < 3 {
						t.Fatalf("second subscribed after %d pings, want the answer to list, sent after 3", pings)
					}
				}
			}
			rc.conn.Close()
			waitAdmitted(t, h)
		})
	}
}
