package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickerd/tickerd/internal/sim"
)

// fault is one way the upstream misbehaves during a phase. The ones that
// name "the victim" hit only its requests (and, on a pipelined
// connection, whatever is queued behind them); the others hit every
// answer.
type fault string

const (
	faultNone       fault = "healthy"
	faultHang       fault = "hang"         // the victim's answer never comes
	faultTrickle    fault = "trickle"      // the victim's answer comes one byte every 100ms
	faultFlood1xx   fault = "flood_1xx"    // the victim gets "100 Continue" every 10ms, never an answer
	faultGarbage    fault = "garbage"      // the victim's status line is garbage
	faultHuge       fault = "huge"         // the victim's body is 100 MB of zeros
	faultWrongSym   fault = "wrong_symbol" // the victim's answer is another symbol's quote
	faultStray      fault = "stray"        // every 7th answer is sent twice: the second nobody asked for
	faultCloseEvery fault = "close_every"  // every answer carries Connection: close, and the connection closes
	faultReset      fault = "reset"        // the connection is reset (RST) after every 5th answer
)

// faults are the phases of a round, in order.
var faults = []fault{faultHang, faultTrickle, faultFlood1xx, faultGarbage, faultHuge, faultWrongSym, faultStray, faultCloseEvery, faultReset}

// hugeBody is the length a faultHuge answer announces.
const hugeBody = 100 << 20

// upstream is the hostile quote source: nasdaq-shaped answers from a
// simulated exchange, written by hand on raw TCP so that they can be
// wrong in ways net/http would not allow.
//
// serve runs it; setFault changes the fault at any time (safe
// concurrently). A connection goroutine that blocks for its fault (hang,
// flood) does so until the fault changes or serve's context ends.
type upstream struct {
	ln       net.Listener
	victim   string
	other    string // whose quote faultWrongSym sends instead
	exchange *sim.Exchange
	requests atomic.Int64 // requests read, all connections
	conns    atomic.Int64 // connections accepted

	mu sync.Mutex
	// Guarded by mu.
	fault   fault
	changed chan struct{} // closed when fault changes
}

func newUpstream(ln net.Listener, victim, other string) *upstream {
	return &upstream{ln: ln, victim: victim, other: other, exchange: sim.New(&sim.Options{Seed: 7}), fault: faultNone, changed: make(chan struct{})}
}

// setFault makes f the fault from now on; connections blocked in the old
// one give up.
func (u *upstream) setFault(f fault) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.fault = f
	close(u.changed)
	u.changed = make(chan struct{})
}

func (u *upstream) current() (fault, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fault, u.changed
}

// serve accepts connections until ctx ends, then closes the listener and
// every connection and returns once their goroutines are gone.
func (u *upstream) serve(ctx context.Context) error {
	var wg sync.WaitGroup
	// Closes the listener (ending Accept) when ctx ends.
	stop := context.AfterFunc(ctx, func() { u.ln.Close() })
	defer stop()
	var err error
	for {
		c, aerr := u.ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("accept: %w", aerr)
			}
			break
		}
		u.conns.Add(1)
		wg.Add(1)
		// Exits when the connection ends, its fault says so, or ctx ends
		// (which closes the connection).
		go func() {
			defer wg.Done()
			defer c.Close()
			closeOnDone := context.AfterFunc(ctx, func() { c.Close() })
			defer closeOnDone()
			u.serveConn(ctx, c)
		}()
	}
	wg.Wait()
	return err
}

// serveConn answers c's pipelined requests in order, each as the fault of
// the moment says.
func (u *upstream) serveConn(ctx context.Context, c net.Conn) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	for n := 1; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		u.requests.Add(1)
		f, changed := u.current()
		sym := symbolOf(req.URL.Path)
		victim := sym != "" && sym == u.victim
		switch {
		case victim && f == faultHang:
			bw.Flush()
			wait(ctx, changed)
			return
		case victim && f == faultTrickle:
			bw.Flush()
			if !trickle(ctx, c, u.answer(sym, false), changed) {
				return
			}
			continue
		case victim && f == faultFlood1xx:
			bw.Flush()
			flood(ctx, c, changed)
			return
		case victim && f == faultGarbage:
			bw.WriteString("HTTP/1.1 2OO K\x00\r\nContent-Length: zero\r\n\r\n")
		case victim && f == faultHuge:
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(hugeBody) + "\r\n\r\n")
			bw.Flush()
			streamZeros(ctx, c, changed)
			return
		case victim && f == faultWrongSym:
			bw.Write(u.answer(u.other, false))
		default:
			a := u.answer(sym, f == faultCloseEvery)
			bw.Write(a)
			if f == faultStray && n%7 == 0 {
				bw.Write(a) // an answer nobody asked for
			}
		}
		switch {
		case f == faultCloseEvery:
			bw.Flush()
			return
		case f == faultReset && n%5 == 0:
			bw.Flush()
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // close sends RST
			}
			return
		}
		if br.Buffered() == 0 { // nothing more pipelined: send what we have
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// answer renders the simulated exchange's answer for sym as raw HTTP/1.1.
func (u *upstream) answer(sym string, closeConn bool) []byte {
	rec := httptest.NewRecorder()
	u.exchange.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/quote/"+sym+"/info", nil))
	resp := rec.Result()
	if closeConn {
		resp.Close = true
		resp.Header.Set("Connection", "close")
	}
	var b strings.Builder
	resp.Write(&b) // to a strings.Builder: cannot fail
	return []byte(b.String())
}

// symbolOf returns the symbol of a nasdaq quote path, "" for any other.
func symbolOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/api/quote/")
	if !ok {
		return ""
	}
	sym, ok := strings.CutSuffix(rest, "/info")
	if !ok || strings.Contains(sym, "/") {
		return ""
	}
	return strings.ToUpper(sym)
}

// wait blocks until the fault changes or ctx ends.
func wait(ctx context.Context, changed <-chan struct{}) {
	select {
	case <-changed:
	case <-ctx.Done():
	}
}

// trickle writes data one byte every 100ms until it is all written (true)
// or the write fails, the fault changes or ctx ends (false).
func trickle(ctx context.Context, w io.Writer, data []byte, changed <-chan struct{}) bool {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := range data {
		select {
		case <-t.C:
		case <-changed:
			return false
		case <-ctx.Done():
			return false
		}
		if _, err := w.Write(data[i : i+1]); err != nil {
			return false
		}
	}
	return true
}

// flood writes "100 Continue" every 10ms until a write fails, the fault
// changes or ctx ends.
func flood(ctx context.Context, w io.Writer, changed <-chan struct{}) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-changed:
			return
		case <-ctx.Done():
			return
		}
		if _, err := io.WriteString(w, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return
		}
	}
}

// streamZeros writes zeros as fast as the peer takes them, up to
// hugeBody, until a write fails, the fault changes or ctx ends.
func streamZeros(ctx context.Context, w io.Writer, changed <-chan struct{}) {
	chunk := make([]byte, 32<<10)
	for sent := 0; sent < hugeBody; sent += len(chunk) {
		select {
		case <-changed:
			return
		case <-ctx.Done():
			return
		default:
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}
