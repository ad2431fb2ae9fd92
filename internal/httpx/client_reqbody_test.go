package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// cliShort is a request body that gives data, then waits for release, then
// ends: shorter than the ContentLength it is sent with.
type cliShort struct {
	data    string
	release <-chan struct{}
}

func (s *cliShort) Read(p []byte) (int, error) {
	if s.data != "" {
		n := copy(p, s.data)
		s.data = s.data[n:]
		return n, nil
	}
	<-s.release
	return 0, io.EOF
}

// A request body that fails after part of the request went out: its caller
// gets its own error (Processed false); nothing more is written on the
// connection; the responses owed for the GETs written before it are read
// (they are not sent again); the GET queued behind it goes, as never
// written, to a new connection. No other caller sees the body's error.
func TestClientRequestBodyFailsMidRequest(t *testing.T) {
	errBody := errors.New("body source broke (test)")
	for _, tc := range []struct {
		name string
		// start returns the PUT's body and length, and fail, which makes
		// the body fail (or its caller give up).
		start func(t *testing.T, cancel context.CancelFunc) (body io.Reader, length int64, fail func())
		want  func(err error) bool
	}{
		{name: "body_error", start: func(_ *testing.T, _ context.CancelFunc) (io.Reader, int64, func()) {
			pr, pw := io.Pipe()
			go io.WriteString(pw, "part of it") // exits when the client reads it, or the pipe closes
			return pr, -1, func() { pw.CloseWithError(errBody) }
		}, want: func(err error) bool {
			var ce *ConnError
			return errors.As(err, &ce) && ce.Op == "write" && !ce.Processed && !ce.Retried &&
				errors.Is(err, ErrRequestBody) && errors.Is(err, errBody)
		}},
		{name: "body_short", start: func(_ *testing.T, _ context.CancelFunc) (io.Reader, int64, func()) {
			release := make(chan struct{})
			return &cliShort{data: "abc", release: release}, 10, func() { close(release) }
		}, want: func(err error) bool {
			var ce *ConnError
			return errors.As(err, &ce) && ce.Op == "write" && !ce.Processed && errors.Is(err, ErrRequestBody)
		}},
		{name: "caller_gone", start: func(t *testing.T, cancel context.CancelFunc) (io.Reader, int64, func()) {
			pr, pw := io.Pipe()
			t.Cleanup(func() { pw.Close() })    // lets the body's reader goroutine go
			go io.WriteString(pw, "part of it") // exits when the client reads it, or the pipe closes
			return pr, -1, cancel
		}, want: func(err error) bool { return errors.Is(err, context.Canceled) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 3)
			failed := make(chan struct{})
			putRest := make(chan string, 1)
			srv := newCliRawServer(t, func(c *cliRawConn) {
				if c.N > 0 {
					c.echo()
					return
				}
				if !c.warm() || !c.notifyNext(got, 2) {
					return
				}
				req, err := http.ReadRequest(c.br) // the PUT's head
				if err != nil || !c.notify(got, req.Method+" "+req.URL.Path) || !c.wait(failed) {
					return
				}
				if c.send(cliResp(200, "/1")+cliResp(200, "/2")) != nil {
					return
				}
				b, err := io.ReadAll(req.Body) // until the client gives up on the connection
				putRest <- fmt.Sprintf("%q, %v", b, err != nil)
			})
			c := cliNewClient(t, srv.URL, nil)
			ctx := cliCtx(t)
			cliWarm(t, ctx, c)

			one := cliGo(ctx, c, http.MethodGet, "/1", nil)
			<-got
			two := cliGo(ctx, c, http.MethodGet, "/2", nil)
			<-got
			putCtx, cancelPut := context.WithCancel(ctx)
			defer cancelPut()
			body, length, fail := tc.start(t, cancelPut)
			req, _ := http.NewRequest(http.MethodPut, "/put", body)
			req.ContentLength = length
			put := make(chan error, 1)
			// Exits when Do returns.
			go func() {
				resp, err := c.Do(putCtx, req)
				if err == nil {
					resp.Body.Close()
				}
				put <- err
			}()
			if h := <-got; h != "PUT /put" {
				t.Fatalf("server got %q, want the PUT's head", h)
			}
			three := cliGo(ctx, c, http.MethodGet, "/3", nil) // behind the PUT
			fail()
			if err := <-put; !tc.want(err) {
				t.Errorf("Do(PUT /put) = %#v", err)
			}
			close(failed) // only now are /1 and /2 answered
			for path, ch := range map[string]<-chan cliResult{"/1": one, "/2": two, "/3": three} {
				if r := cliWait(t, ctx, ch); r.err != nil || r.body != path {
					t.Errorf("Do(%s) = %q, %v, want %q, nil", path, r.body, r.err, path)
				}
			}
			if a, b := srv.seenOn(0), srv.seenOn(1); !slices.Equal(a, []string{"GET /warm", "GET /1", "GET /2"}) || !slices.Equal(b, []string{"GET /3"}) {
				t.Errorf("connections saw %q and %q, want /1 and /2 once on the first, /3 on the second", a, b)
			}
			if rest := <-putRest; !strings.HasSuffix(rest, "true") {
				t.Errorf("server read of the PUT body = %s, want it cut short", rest)
			}
			want := Stats{Requests: 5, Dials: 2, Failures: 1, Connected: true}
			stats := c.Stats()
			if tc.name == "caller_gone" && stats.Resets == 1 && stats.ConnErrors == 1 {
				// The reader loop may see the PUT's caller gone, at the head
				// of the line, before the writer ends the connection: a
				// reset with nothing behind it, same outcome for everyone.
				// The PUT then fails with its caller's own context error,
				// which Failures does not count.
				want.Resets, want.ConnErrors = 1, 1
				if stats.Failures == 0 {
					want.Failures = 0
				}
			}
			if stats != want {
				t.Errorf("Stats() = %+v, want %+v", stats, want)
			}
		})
	}
}

// A request that fails before any of it was written (here its URL holds a
// control character) costs nothing else: the connection carries on.
func TestClientRequestFailsBeforeWriting(t *testing.T) {
	srv := newCliRawServer(t, cliEcho)
	c := cliNewClient(t, srv.URL, nil)
	ctx := cliCtx(t)
	cliWarm(t, ctx, c)
	req, _ := http.NewRequest(http.MethodGet, "/bad", nil)
	req.URL.Opaque = "/bad\x01"
	_, err := c.Do(ctx, req)
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Op != "write" || ce.Processed || errors.Is(err, ErrRequestBody) {
		t.Fatalf("Do(%q) = %#v, want *ConnError{Op: write, Processed: false}, not a body error", req.URL.Opaque, err)
	}
	if got, err := cliGet(ctx, c, "/after"); err != nil || got != "/after" {
		t.Fatalf("Do(/after) = %q, %v, want /after, nil", got, err)
	}
	if got := srv.seenOn(0); !slices.Equal(got, []string{"GET /warm", "GET /after"}) {
		t.Errorf("server saw %q, want /warm and /after", got)
	}
	cliCheckStats(t, c, Stats{Requests: 3, Dials: 1, Failures: 1, Connected: true})
}

// cliStuck is a request body whose Read blocks until release is closed and
// whose Close does nothing: nothing the client does can end the Read.
type cliStuck struct {
	reading  chan<- struct{}
	release  <-chan struct{}
	returned atomic.Bool
	once     bool
}

func (s *cliStuck) Read(p []byte) (int, error) {
	if !s.once {
		s.once = true
		s.reading <- struct{}{}
	}
	<-s.release
	s.returned.Store(true)
	return 0, io.EOF
}

func (s *cliStuck) Close() error { return nil }

// Close and Shutdown are bounded even while a request body's Read ignores
// Close: they return with the Read still blocked, and the goroutine doing
// it exits once the Read returns (goleak checks that at the end).
func TestClientStuckBodyDoesNotHoldClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(ctx context.Context, c *Client) error
		want func(error) bool
	}{
		{"close", func(_ context.Context, c *Client) error { return c.Close() },
			func(err error) bool { return err == nil }},
		{"shutdown", func(ctx context.Context, c *Client) error {
			sctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			return c.Shutdown(sctx)
		}, func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			srv := newCliRawServer(t, func(c *cliRawConn) {
				if !c.warm() {
					return
				}
				req, err := http.ReadRequest(c.br)
				if err != nil || !c.notify(got, req.URL.Path) {
					return
				}
				io.Copy(io.Discard, c.br)
			})
			c := cliNewClient(t, srv.URL, nil)
			ctx := cliCtx(t)
			cliWarm(t, ctx, c)
			reading, release := make(chan struct{}, 1), make(chan struct{})
			defer close(release)
			stuck := &cliStuck{reading: reading, release: release}
			req, _ := http.NewRequest(http.MethodPut, "/stuck", stuck)
			put := make(chan error, 1)
			// Exits when Do returns.
			go func() {
				_, err := c.Do(ctx, req)
				put <- err
			}()
			<-got
			<-reading
			stopped := make(chan error, 1)
			// Exits when stop returns.
			go func() { stopped <- tc.stop(ctx, c) }()
			select {
			case err := <-stopped:
				if !tc.want(err) {
					t.Errorf("%s = %v", tc.name, err)
				}
			case <-ctx.Done():
				t.Fatalf("%s still waiting on the request body", tc.name)
			}
			if stuck.returned.Load() {
				t.Errorf("the body's Read returned before %s did, want it still blocked", tc.name)
			}
			if err := cliWaitErr(t, ctx, put); !errors.Is(err, ErrClientClosed) {
				t.Errorf("Do(PUT /stuck) = %v, want ErrClientClosed", err)
			}
		})
	}
}

func cliWaitErr(t testing.TB, ctx context.Context, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		t.Fatalf("still pending: %v", context.Cause(ctx))
		return nil
	}
}

// With the upstream hung and a request body stuck, Shutdown returns
// exactly when its ctx ends (the bubble's clock), with ctx's error.
func TestClientShutdownBoundedExactly(t *testing.T) {
	for _, stuckBody := range []bool{false, true} {
		t.Run(fmt.Sprintf("stuck_body_%v", stuckBody), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pn := &cliPipeNet{}
				defer pn.closeAll()
				c := newCliPipeClient(t, pn, &Options{ResponseTimeout: time.Hour})
				defer c.Close()
				ctx := t.Context()
				cliWarmPipe(t, ctx, c, pn)
				release := make(chan struct{})
				defer func() { close(release); synctest.Wait() }()
				var inflight <-chan cliResult
				if stuckBody {
					inflight = cliGo(ctx, c, http.MethodPut, "/stuck", &cliStuck{reading: make(chan struct{}, 1), release: release})
				} else {
					inflight = cliGo(ctx, c, http.MethodGet, "/hung", nil)
				}
				synctest.Wait()
				sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				start := time.Now()
				err := c.Shutdown(sctx)
				if d := time.Since(start); d != 3*time.Second {
					t.Errorf("Shutdown returned after %v, want exactly 3s", d)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Shutdown = %v, want an error wrapping context.DeadlineExceeded", err)
				}
				if r := <-inflight; !errors.Is(r.err, ErrClientClosed) {
					t.Errorf("Do in flight = %v, want ErrClientClosed", r.err)
				}
			})
		})
	}
}
