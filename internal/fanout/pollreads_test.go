package fanout

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
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

// startIdle starts a harness on a read path (the poller, or a reader
// goroutine per client when noPoll) with one idle client, which starts
// the poller and the writers, and returns it with the goroutine count
// then. It skips the test where the poller is wanted and this GOOS has
// none.
func startIdle(t *testing.T, noPoll bool) (h *harness, goroutines int) {
	t.Helper()
	if !noPoll && !pollerHere() {
		t.Skip("no poller on " + runtime.GOOS)
	}
	h = newHarness(t, newFakeSource("AAPL"), &Options{PingInterval: time.Hour}, func(h *harness) { h.hub.noPoll = noPoll })
	readSubscribed(t, h.dialRaw(t, "?symbols=AAPL"))
	waitIdle(t, h, 1, noPoll)
	return h, runtime.NumGoroutine()
}

// TestIdleClientsHoldNoGoroutine: with the poller, idle clients hold no
// goroutine of their own once set up; with a reader goroutine each, they
// hold one each. Each client gets its subscribed message and is then
// idle; the goroutines are counted once every client's reads wait.
func TestIdleClientsHoldNoGoroutine(t *testing.T) {
	const n = 40
	for _, path := range readPaths {
		t.Run(path.name, func(t *testing.T) {
			h, before := startIdle(t, path.noPoll)
			for range n {
				readSubscribed(t, h.dialRaw(t, "?symbols=AAPL"))
			}
			waitIdle(t, h, n+1, path.noPoll)
			added := runtime.NumGoroutine() - before
			if path.noPoll && added < n-n/4 { // room for a setup goroutine counted before and gone since
				t.Fatalf("goroutines added by %d idle clients = %d, want at least %d (a reader each)", n, added, n-n/4)
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

// TestPingingClientsHoldNoGoroutine: clients that ping the server, and
// send nothing else, get a pong for every ping, carrying its payload, and
// are then as idle as the others: with the poller they hold no goroutine
// of their own, with a reader goroutine each only that one. Answered
// inside coder/websocket's read, a ping would leave a goroutine there,
// waiting with its deep stack for the client's next message (and with a
// reader goroutine, the reader waiting for it too). Client i writes the
// frames of pings[i%len(pings)], a write at a time, and reads the pongs
// each write is answered with.
func TestPingingClientsHoldNoGoroutine(t *testing.T) {
	const n = 40
	key := [4]byte{7, 7, 7, 7}
	ping := func(p string) []byte { return keyedFrame(wsOpPing, p, key) }
	long := strings.Repeat("p", 125)
	type write struct {
		b     []byte
		pongs []string // the payloads of the pongs that answer it, in order
	}
	pings := []struct {
		name   string
		writes []write
	}{
		{"empty", []write{{ping(""), []string{""}}}},
		{"payload_125", []write{{ping(long), []string{long}}}},
		{"two_in_one_write", []write{{concat(ping("a"), ping("b")), []string{"a", "b"}}}},
		{"behind_a_pong", []write{{concat(keyedFrame(wsOpPong, "", key), ping("c")), []string{"c"}}}},
		{"three_rounds", []write{{ping("1"), []string{"1"}}, {ping("2"), []string{"2"}}, {ping("3"), []string{"3"}}}},
	}
	for _, path := range readPaths {
		t.Run(path.name, func(t *testing.T) {
			h, before := startIdle(t, path.noPoll)
			for i := range n {
				p := pings[i%len(pings)]
				rc := h.dialRaw(t, "?symbols=AAPL")
				readSubscribed(t, rc)
				for _, w := range p.writes {
					if err := rc.writeRaw(w.b); err != nil {
						t.Fatalf("%s: write = %v", p.name, err)
					}
					for _, want := range w.pongs {
						f, err := readRawFrame(rc.br)
						if err != nil || f.op != wsOpPong || !f.fin || string(f.payload) != want {
							t.Fatalf("%s: readRawFrame() = op %d fin %v %q, %v; want a pong %q", p.name, f.op, f.fin, f.payload, err, want)
						}
					}
				}
			}
			waitIdle(t, h, n+1, path.noPoll)
			added := runtime.NumGoroutine() - before
			// The count before may hold a goroutine of the warm client's
			// setup that has exited since: the lower bound has room for it.
			if path.noPoll && (added < n-n/4 || added >= n+n/4) {
				t.Fatalf("goroutines added by %d pinging clients = %d, want %d to %d (a reader each, none in coder/websocket's read)", n, added, n-n/4, n+n/4-1)
			}
			if !path.noPoll && added >= n/4 {
				t.Fatalf("goroutines added by %d pinging clients = %d, want fewer than %d", n, added, n/4)
			}
		})
	}
}

// TestPingDuringClose: a client that pings right after reading the
// Hub's close frame (at shutdown), in the same write as its answer to
// the close, gets no pong, and the close handshake ends cleanly: the
// socket is closed once the client's close is read, so the client reads
// EOF, not a reset. The ping reaches coder/websocket's close handshake,
// which answered it before: the pong's write failed (its close frame was
// sent), which ended the handshake at once, and the socket was closed
// with the client's close (or the part of it not read ahead) unread,
// which makes the kernel reset the connection. Python's websockets pings
// with 4 bytes of payload; 125 is the most a ping carries. (A ping taken
// off the socket by the reads once the close frame is queued:
// TestPingAfterCloseQueued.)
func TestPingDuringClose(t *testing.T) {
	pings := []struct {
		name    string
		payload string
	}{
		{"payload_4", "\x01\x02\x03\x04"},
		{"payload_125", strings.Repeat("p", 125)},
	}
	for _, path := range readPaths {
		for _, p := range pings {
			t.Run(path.name+"_"+p.name, func(t *testing.T) {
				if !path.noPoll && !pollerHere() {
					t.Skip("no poller on " + runtime.GOOS)
				}
				src := newFakeSource("AAPL")
				h := newHarness(t, src, &Options{PingInterval: time.Hour}, func(h *harness) { h.hub.noPoll = path.noPoll })
				rc := h.dialRaw(t, "?symbols=AAPL")
				readSubscribed(t, rc)
				h.cancel() // Run closes the client with 1001; h.stop waits for it below
				f, err := readRawFrame(rc.br)
				if err != nil || f.op != wsOpClose || closeCode(f.payload) != 1001 {
					t.Fatalf("frame after shutdown = op %d %q, %v; want a close 1001", f.op, f.payload, err)
				}
				// Once the handshake waits in the socket's read, holding
				// batchConn's read lock, it reads the ping itself: neither a
				// poller step nor the reader can take it off first.
				deadline := time.Now().Add(waitLimit)
				for !closeHandshakeReads() {
					if time.Now().After(deadline) {
						t.Fatalf("coder/websocket's close handshake not seen reading the socket within %v", waitLimit)
					}
					runtime.Gosched() // the goroutines' state has no event to wait on
				}
				ping := keyedFrame(wsOpPing, p.payload, [4]byte{1, 2, 3, 4})
				if err := rc.writeRaw(concat(ping, maskedFrame(wsOpClose, "\x03\xe9"))); err != nil {
					t.Fatalf("ping and close = %v", err)
				}
				if f, err := readRawFrame(rc.br); !errors.Is(err, io.EOF) {
					t.Fatalf("after the close frame: readRawFrame() = op %d %q, %v; want io.EOF", f.op, f.payload, err)
				}
				h.stop()
			})
		}
	}
}

// closeHandshakeReads reports whether a goroutine is in coder/websocket's
// close handshake, blocked in a read of the socket (waiting for bytes, or
// for the reader's wait to give the descriptor up).
func closeHandshakeReads() bool {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		blocked := strings.Contains(g, "[IO wait") || strings.Contains(g, "[semacquire")
		if blocked && strings.Contains(g, "(*Conn).waitCloseHandshake") && strings.Contains(g, "internal/poll.(*FD).Read(") {
			return true
		}
	}
	return false
}
