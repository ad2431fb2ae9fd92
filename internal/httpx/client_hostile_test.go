package httpx

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// cliTrickle writes s one byte per tick until it is all written, the
// connection fails or the server closes; then, if forever, it repeats its
// last byte. The ticker is the fault being simulated (an upstream that
// trickles), not a way to order events.
func (c *cliRawConn) trickle(s string, every time.Duration, forever bool) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; i < len(s) || forever; i++ {
		select {
		case <-tick.C:
		case <-c.srv.done:
			return
		}
		if c.send(s[min(i, len(s)-1):][:1]) != nil {
			return
		}
	}
}

// A hung head of the line costs one request, not all: GET /hang is answered
// late (never, or its head trickles, or it floods 100 Continue, or its body
// trickles) or its caller gives up, with /a, /b and /c pipelined behind it
// on the same connection. The connection is reset; /hang fails as its case
// says and is never sent again; /a, /b and /c are sent again on a new
// connection and get their own answers. ResponseTimeout is an hour where
// the case must not depend on it.
func TestClientHungHeadOfLine(t *testing.T) {
	const short = 300 * time.Millisecond
	for _, tc := range []struct {
		name   string
		opts   Options
		fault  func(c *cliRawConn) // on the first connection, with /hang, /a, /b, /c read
		cancel bool                // /hang's caller gives up once all four are written
		want   func(r cliResult) bool
		failed uint64 // Stats.Failures: /hang's, if it fails with a *ConnError
	}{
		{name: "hang", opts: Options{ResponseTimeout: short},
			fault: func(c *cliRawConn) { io.Copy(io.Discard, c.br) },
			want: func(r cliResult) bool {
				var ce *ConnError
				return errors.As(r.err, &ce) && ce.Op == "read" && ce.Processed && !ce.Retried && errors.Is(r.err, ErrResponseTimeout)
			}, failed: 1},
		{name: "trickle_head", opts: Options{ResponseTimeout: short},
			fault: func(c *cliRawConn) { c.trickle("HTTP/1.1 200 OK\r\nX-Slow: ", 10*time.Millisecond, true) },
			want:  func(r cliResult) bool { return errors.Is(r.err, ErrResponseTimeout) }, failed: 1},
		{name: "flood_1xx", opts: Options{ResponseTimeout: time.Hour},
			fault: func(c *cliRawConn) {
				for c.send("HTTP/1.1 100 Continue\r\n\r\n") == nil {
				}
			},
			want: func(r cliResult) bool {
				var ce *ConnError
				return errors.As(r.err, &ce) && ce.Processed && errors.Is(r.err, ErrProtocol)
			}, failed: 1},
		{name: "trickle_body", opts: Options{ResponseTimeout: time.Hour, BodyTimeout: short},
			fault: func(c *cliRawConn) {
				if c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n") == nil {
					c.trickle("x", 10*time.Millisecond, true)
				}
			},
			want: func(r cliResult) bool { return r.resp != nil && errors.Is(r.err, ErrBodyTimeout) }},
		{name: "caller_gone", opts: Options{ResponseTimeout: time.Hour}, cancel: true,
			fault: func(c *cliRawConn) { io.Copy(io.Discard, c.br) },
			want:  func(r cliResult) bool { return errors.Is(r.err, context.Canceled) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 4)
			srv := newCliRawServer(t, func(c *cliRawConn) {
				if c.N > 0 {
					c.echo()
					return
				}
				if c.warm() && c.notifyNext(got, 4) {
					tc.fault(c)
				}
			})
			opts := tc.opts
			c := cliNewClient(t, srv.URL, &opts)
			ctx := cliCtx(t)
			cliWarm(t, ctx, c)

			hctx, cancelHang := context.WithCancel(ctx)
			defer cancelHang()
			hang := cliGo(hctx, c, http.MethodGet, "/hang", nil)
			<-got
			rest := map[string]<-chan cliResult{}
			for _, p := range []string{"/a", "/b", "/c"} {
				rest[p] = cliGo(ctx, c, http.MethodGet, p, nil)
				<-got
			}
			if tc.cancel {
				cancelHang()
			}
			if r := cliWait(t, ctx, hang); !tc.want(r) {
				t.Errorf("Do(/hang) = %v, %#v", r.resp, r.err)
			}
			for p, ch := range rest {
				if r := cliWait(t, ctx, ch); r.err != nil || r.body != p {
					t.Errorf("Do(%s) = %q, %v, want %q, nil", p, r.body, r.err, p)
				}
			}
			if a, b := srv.seenOn(0), srv.seenOn(1); !slices.Equal(a, []string{"GET /warm", "GET /hang", "GET /a", "GET /b", "GET /c"}) ||
				!slices.Equal(b, []string{"GET /a", "GET /b", "GET /c"}) {
				t.Errorf("connections saw %q and %q, want /hang once, /a /b /c again on the second", a, b)
			}
			cliCheckStats(t, c, Stats{Requests: 5, Dials: 2, ConnErrors: 1, Retries: 3, Failures: tc.failed, Resets: 1, Connected: true})
		})
	}
}

// Bytes with no request outstanding answer nothing: the connection is
// reset before they can be taken for the next request's answer.
func TestClientStrayResponse(t *testing.T) {
	cue, closed := make(chan struct{}), make(chan struct{})
	srv := newCliRawServer(t, func(c *cliRawConn) {
		if c.N > 0 {
			c.echo()
			return
		}
		if !c.warm() || !c.wait(cue) || c.send(cliResp(200, "/stray")) != nil {
			return
		}
		io.Copy(io.Discard, c.br) // until the client closes the connection
		close(closed)
	})
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)
	close(cue)
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("the client kept the connection after a stray response")
	}
	if got, err := cliGet(ctx, c, "/b"); err != nil || got != "/b" {
		t.Fatalf("Do(/b) = %q, %v, want /b, nil", got, err)
	}
	if got := srv.seenOn(1); !slices.Equal(got, []string{"GET /b"}) {
		t.Errorf("second connection saw %q, want [GET /b]", got)
	}
	cliCheckStats(t, c, Stats{Requests: 2, Dials: 2, Resets: 1, Connected: true})
}

// A caller that sees its answer is for another request (the server sent
// one response twice) resets the connection: the request still unanswered
// behind it is sent again on a new connection and gets its own answer.
func TestClientResetMisaligned(t *testing.T) {
	got := make(chan string, 3)
	srv := newCliRawServer(t, func(c *cliRawConn) {
		if c.N > 0 {
			c.echo()
			return
		}
		if !c.warm() || !c.notifyNext(got, 3) || c.send(cliResp(200, "/1")+cliResp(200, "/1")) != nil {
			return
		}
		io.Copy(io.Discard, c.br)
	})
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)
	results := map[string]<-chan cliResult{}
	for _, p := range []string{"/1", "/2", "/3"} {
		results[p] = cliGo(ctx, c, http.MethodGet, p, nil)
		<-got
	}
	if r := cliWait(t, ctx, results["/1"]); r.err != nil || r.body != "/1" {
		t.Fatalf("Do(/1) = %q, %v, want /1, nil", r.body, r.err)
	}
	r := cliWait(t, ctx, results["/2"])
	if r.err != nil || r.body != "/1" {
		t.Fatalf("Do(/2) = %q, %v, want the misaligned answer /1", r.body, r.err)
	}
	errMisaligned := errors.New("answer for /1 to a request for /2 (test)")
	c.Reset(errMisaligned)
	if r := cliWait(t, ctx, results["/3"]); r.err != nil || r.body != "/3" {
		t.Fatalf("Do(/3) = %q, %v, want /3 sent again and answered", r.body, r.err)
	}
	if got := srv.seenOn(1); !slices.Equal(got, []string{"GET /3"}) {
		t.Errorf("second connection saw %q, want [GET /3]", got)
	}
	cliCheckStats(t, c, Stats{Requests: 4, Dials: 2, ConnErrors: 1, Retries: 1, Resets: 1, Connected: true})
}

// Reset leaves a connection that has answered nothing alone: a late Reset,
// meant for the connection it replaced, does not spoil it. Once it has
// answered, Reset resets it, and a POST in flight fails with the cause.
func TestClientResetLeavesFreshConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := &cliPipeNet{}
		defer pn.closeAll()
		c := newCliPipeClient(t, pn, nil)
		defer c.Close()
		ctx := t.Context()
		errMisaligned := errors.New("misaligned (test)")

		cliWarmPipe(t, ctx, c, pn)
		c.Reset(errMisaligned)
		synctest.Wait()
		a := cliGo(ctx, c, http.MethodGet, "/a", nil)
		synctest.Wait()
		c.Reset(errMisaligned) // the new connection has answered nothing yet
		synctest.Wait()
		pc1 := pn.conn(1)
		if pc1 == nil || !slices.Equal(pc1.paths(), []string{"/a"}) {
			t.Fatalf("second connection %v, want /a on it", pc1)
		}
		pc1.answer(t, 1)
		if r := <-a; r.err != nil || r.body != "/a" {
			t.Fatalf("Do(/a) = %q, %v, want /a, nil", r.body, r.err)
		}
		post := cliGo(ctx, c, http.MethodPost, "/post", nil)
		synctest.Wait()
		c.Reset(errMisaligned)
		r := <-post
		var ce *ConnError
		if !errors.As(r.err, &ce) || !ce.Processed || !errors.Is(r.err, errMisaligned) {
			t.Errorf("Do(POST /post) = %v, want *ConnError{Processed: true} wrapping the Reset's cause", r.err)
		}
		if s := c.Stats(); s.Dials != 2 || s.Resets != 2 {
			t.Errorf("Stats() = %+v, want Dials 2, Resets 2", s)
		}
	})
}

// cliHangNet is an in-memory upstream for synctest bubbles that answers
// pipelined requests in order until it reads GET /hang; from then on it
// answers nothing more on that connection (the answers behind a hung one
// wait for it, as a pipelined server's must), but keeps reading.
type cliHangNet struct {
	mu sync.Mutex
	// Guarded by mu.
	conns []net.Conn
}

func (n *cliHangNet) dial(context.Context, string, string) (net.Conn, error) {
	near, far := net.Pipe()
	n.mu.Lock()
	n.conns = append(n.conns, far)
	n.mu.Unlock()
	out := make(chan string, 1024)
	// Exits when the pipe is closed; closes out.
	go func() {
		defer close(out)
		br := bufio.NewReader(far)
		hung := false
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			hung = hung || req.URL.Path == "/hang"
			if !hung {
				out <- cliResp(http.StatusOK, req.URL.Path)
			}
		}
	}()
	// Exits when out is closed.
	go func() {
		var err error
		for s := range out {
			if err == nil {
				_, err = io.WriteString(far, s)
			}
		}
	}()
	return near, nil
}

func (n *cliHangNet) closeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.conns {
		c.Close()
	}
}

// cliPulses runs the collector's pattern against an upstream where /hang
// never answers: every interval, each of healthy symbols and /hang gets one
// request with a timeout of its own, unless the previous one is still
// running (a collection that is still running is skipped, and counts as
// stale). It returns the fraction of (pulse, healthy symbol) samples with a
// right answer, the healthy requests sent and those that failed, and the
// client's resets.
func cliPulses(t *testing.T, opts Options, pulses, healthy int, interval, timeout time.Duration) (fresh float64, sent, failed int64, resets uint64) {
	hn := &cliHangNet{}
	defer hn.closeAll()
	opts.Dial = hn.dial
	c, err := NewClient("http://quotes.test", &opts)
	if err != nil {
		t.Fatalf("NewClient = %v", err)
	}
	defer c.Close()
	running := make([]atomic.Bool, healthy+1)
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	rng := rand.New(rand.NewPCG(1, 2))
	for range pulses {
		for _, s := range rng.Perm(healthy + 1) {
			if !running[s].CompareAndSwap(false, true) {
				continue
			}
			path := fmt.Sprintf("/s%02d", s)
			if s == healthy {
				path = "/hang"
			}
			wg.Add(1)
			// Exits when its request is done; timeout bounds it.
			go func() {
				defer wg.Done()
				defer running[s].Store(false)
				ctx, cancel := context.WithTimeout(t.Context(), timeout)
				defer cancel()
				got, err := cliGet(ctx, c, path)
				switch {
				case path == "/hang":
				case err == nil && got == path:
					ok.Add(1)
				default:
					bad.Add(1)
				}
			}()
		}
		time.Sleep(interval) // the bubble's clock: the next pulse
	}
	wg.Wait()
	return float64(ok.Load()) / float64(pulses*healthy), ok.Load() + bad.Load(), bad.Load(), c.Stats().Resets
}

// The goal of a hung head of the line costing one request: with /hang never
// answering, pulses every second of 20 healthy requests and /hang, each
// with a 5s timeout (the service's defaults), the healthy symbols stay
// fresh in >= 95% of samples, and healthy requests fail at most once per
// reset, when ResponseTimeout is below the pulse interval. With it at or
// above the interval, healthy requests still succeed (they are sent again
// within their timeout) but are still running, behind /hang, at the next
// pulse, which skips them; past the callers' timeout they fail. Those
// figures, up to the service's 2 x timeout, are logged for comparison
// (go test -v -run HungHeadPulses).
func TestClientHungHeadPulses(t *testing.T) {
	const pulses, healthy = 60, 20
	for _, tc := range []struct {
		rt      time.Duration
		atLeast float64 // 0: measured only
	}{
		{500 * time.Millisecond, 0.95},
		{time.Second, 0},
		{2500 * time.Millisecond, 0},
		{10 * time.Second, 0},
	} {
		t.Run(fmt.Sprint(tc.rt), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fresh, sent, failed, resets := cliPulses(t, Options{ResponseTimeout: tc.rt}, pulses, healthy, time.Second, 5*time.Second)
				t.Logf("ResponseTimeout %v: healthy fresh in %.1f%% of %d samples; %d healthy requests sent, %.1f%% succeeded; %d resets",
					tc.rt, 100*fresh, pulses*healthy, sent, 100*float64(sent-failed)/float64(sent), resets)
				if tc.atLeast == 0 {
					return
				}
				if fresh < tc.atLeast {
					t.Errorf("healthy fresh in %.1f%% of samples, want >= %.0f%%", 100*fresh, 100*tc.atLeast)
				}
				if uint64(failed) > resets {
					t.Errorf("%d healthy requests failed over %d resets, want at most one per reset", failed, resets)
				}
			})
		})
	}
}

// Shutdown while the upstream accepts requests and never answers: when its
// ctx ends it closes everything and returns at once, with an error that
// wraps ctx's (the service logs it and still exits 0); the request in
// flight gets ErrClientClosed.
func TestClientShutdownHungUpstream(t *testing.T) {
	got := make(chan string, 1)
	srv := newCliRawServer(t, func(c *cliRawConn) {
		if c.warm() && c.notifyNext(got, 1) {
			io.Copy(io.Discard, c.br) // never answers
		}
	})
	c := cliNewClient(t, srv.URL, &Options{ResponseTimeout: time.Hour})
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)
	hung := cliGo(ctx, c, http.MethodGet, "/hung", nil)
	<-got
	sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	shut := make(chan error, 1)
	// Exits when Shutdown returns.
	go func() { shut <- c.Shutdown(sctx) }()
	if err := cliWaitErr(t, ctx, shut); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if r := cliWait(t, ctx, hung); !errors.Is(r.err, ErrClientClosed) {
		t.Errorf("Do(/hung) = %v, want ErrClientClosed", r.err)
	}
}
