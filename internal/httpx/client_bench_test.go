package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// cliQuoteJSON is the small JSON body of every benchmark response.
const cliQuoteJSON = `{"symbol":"AAPL","price":189.52,"bid":189.51,"ask":189.53,"volume":51234567,"ts":1700000000123}`

const cliBenchCallers = 64

// cliBenchServer starts the common local server: a fasthttp.Server, which
// reads pipelined requests ahead (net/http's server answers one at a time,
// which would hide what a pipelining client gains).
func cliBenchServer(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("Listen = %v", err)
	}
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json")
			ctx.SetBodyString(cliQuoteJSON)
		},
		NoDefaultDate:         true, // its date-refresh goroutine never exits (goleak)
		NoDefaultServerHeader: true,
		MaxIdleWorkerDuration: 100 * time.Millisecond, // how long its cleaner sleeps after Shutdown (goleak)
	}
	done := make(chan error, 1)
	// Exits when Shutdown closes the listener.
	go func() { done <- srv.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.ShutdownWithContext(ctx)
		<-done
	})
	return ln.Addr().String()
}

// cliBenchRun runs b.N requests from cliBenchCallers goroutines, each with
// the do that newDo returns, and reports requests per second.
func cliBenchRun(b *testing.B, newDo func() func() error) {
	dos := make([]func() error, cliBenchCallers)
	for i := range dos {
		dos[i] = newDo()
	}
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for _, do := range dos {
		wg.Add(1)
		// Exits when b.N requests have been taken, or on an error.
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := do(); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := firstErr.Load(); err != nil {
		b.Fatalf("request: %v", *err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

func cliCheckQuote(status int, n int64) error {
	if status != http.StatusOK || n != int64(len(cliQuoteJSON)) {
		return fmt.Errorf("got %d with %d bytes, want 200 with %d", status, n, len(cliQuoteJSON))
	}
	return nil
}

// BenchmarkClient compares, on one connection with 64 concurrent callers,
// httpx's pipelined Client, net/http's Transport (MaxConnsPerHost 1, so no
// pipelining) and fasthttp's PipelineClient, against the same fasthttp
// server: directly over loopback, and through a proxy adding 1ms each way.
func BenchmarkClient(b *testing.B) {
	addr := cliBenchServer(b)
	latency := newCliProxy(b, addr, func(int) cliFault { return cliFault{latency: time.Millisecond} })
	for _, route := range []struct{ name, addr string }{
		{"loopback", addr},
		{"latency_1ms", latency.URL[len("http://"):]},
	} {
		origin := "http://" + route.addr
		// fasthttp runs first: its pipeline goroutines exit only after
		// MaxIdleConnDuration without a new request, with the server still
		// up (the two runs after it take longer). That idle time counts
		// even with requests outstanding, so it must outlast any stall of
		// a loaded machine, or the client drops its own connection.
		b.Run(route.name+"/fasthttp", func(b *testing.B) {
			pc := &fasthttp.PipelineClient{
				Addr:                route.addr,
				MaxConns:            1,
				MaxPendingRequests:  cliBenchCallers,
				MaxIdleConnDuration: 2 * time.Second,
				Dial:                func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) },
			}
			cliBenchRun(b, func() func() error {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				req.SetRequestURI(origin + "/api/quote/AAPL")
				return func() error {
					if err := pc.DoTimeout(req, resp, 10*time.Second); err != nil {
						return err
					}
					return cliCheckQuote(resp.StatusCode(), int64(len(resp.Body())))
				}
			})
		})
		b.Run(route.name+"/nethttp", func(b *testing.B) {
			tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			cliBenchRun(b, func() func() error {
				req, _ := http.NewRequest(http.MethodGet, origin+"/api/quote/AAPL", nil)
				return func() error {
					resp, err := hc.Do(req)
					if err != nil {
						return err
					}
					n, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return errors.Join(err, cliCheckQuote(resp.StatusCode, n))
				}
			})
		})
		b.Run(route.name+"/httpx", func(b *testing.B) {
			c, err := NewClient(origin, &Options{MaxInFlight: cliBenchCallers})
			if err != nil {
				b.Fatalf("NewClient = %v", err)
			}
			defer c.Close()
			ctx := context.Background()
			cliBenchRun(b, func() func() error {
				req, _ := http.NewRequest(http.MethodGet, "/api/quote/AAPL", nil)
				return func() error {
					resp, err := c.Do(ctx, req)
					if err != nil {
						return err
					}
					n, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					return errors.Join(err, cliCheckQuote(resp.StatusCode, n))
				}
			})
			if s := c.Stats(); s.Dials != 1 || s.Retries != 0 {
				b.Errorf("Stats() = %+v, want one connection, no retries", s)
			}
		})
	}
}
