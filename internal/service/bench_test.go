package service_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/collector"
	"github.com/tickerd/tickerd/internal/httpx"
	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/sim"
)

// netHTTPDoer is the collector's Doer over a net/http client.
type netHTTPDoer struct{ c *http.Client }

func (d netHTTPDoer) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	return d.c.Do(req.WithContext(ctx))
}

// fastDoer is the collector's Doer over fasthttp's pipelining client. It
// converts each request and response, and copies the body.
type fastDoer struct{ c *fasthttp.PipelineClient }

func (d fastDoer) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	freq, fresp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(freq)
	defer fasthttp.ReleaseResponse(fresp)
	freq.SetRequestURI(req.URL.String())
	for k, vs := range req.Header {
		for _, v := range vs {
			freq.Header.Add(k, v)
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Minute)
	}
	if err := d.c.DoDeadline(freq, fresp, deadline); err != nil {
		return nil, err
	}
	body := bytes.Clone(fresp.Body())
	return &http.Response{
		StatusCode: fresp.StatusCode(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {string(fresp.Header.ContentType())}},
		Body:   io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}

// BenchmarkPulse500 runs one pulse of 500 symbols per iteration (Collect)
// against the simulator served by httpx.Server on loopback: with the
// service's httpx client (one pipelined connection), and with the obvious
// alternatives over the same server: fasthttp's pipelining client on one
// connection, net/http on one connection (no pipelining) and net/http with
// a pool of 64 connections.
func BenchmarkPulse500(b *testing.B) {
	syms := symbols(500)
	clients := []struct {
		name string
		doer func(b *testing.B, url string) (collector.Doer, func() (conns uint64))
	}{
		{"httpx_pipelined_1conn", func(b *testing.B, url string) (collector.Doer, func() uint64) {
			c, err := httpx.NewClient(url, &httpx.Options{MaxInFlight: 64})
			if err != nil {
				b.Fatalf("NewClient() = %v", err)
			}
			b.Cleanup(func() { c.Close() })
			return c, func() uint64 { return c.Stats().Dials }
		}},
		{"fasthttp_pipelined_1conn", func(b *testing.B, url string) (collector.Doer, func() uint64) {
			c := &fasthttp.PipelineClient{Addr: strings.TrimPrefix(url, "http://"), MaxConns: 1,
				MaxPendingRequests: 1024, MaxIdleConnDuration: 100 * time.Millisecond,
				// Its default dialer starts a goroutine that never exits.
				Dial: func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }}
			return fastDoer{c}, nil
		}},
		{"nethttp_1conn", func(b *testing.B, url string) (collector.Doer, func() uint64) {
			tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
			b.Cleanup(tr.CloseIdleConnections)
			return netHTTPDoer{&http.Client{Transport: tr}}, nil
		}},
		{"nethttp_64conns", func(b *testing.B, url string) (collector.Doer, func() uint64) {
			tr := &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}
			b.Cleanup(tr.CloseIdleConnections)
			return netHTTPDoer{&http.Client{Transport: tr}}, nil
		}},
	}
	for _, cl := range clients {
		b.Run(cl.name, func(b *testing.B) {
			up := startUpstream(b, sim.New(&sim.Options{Seed: 1}))
			doer, dials := cl.doer(b, up.url)
			bd := board.New(nil)
			c := collector.New(quote.NewNasdaq(up.url, ""), doer, bd, syms, &collector.Options{Timeout: 10 * time.Second})
			ctx := context.Background()
			c.Collect(ctx) // connect, and create the simulator's walks
			b.ReportAllocs()
			for b.Loop() {
				c.Collect(ctx)
			}
			b.StopTimer()
			for _, sym := range syms {
				if v, _ := bd.Value(sym); v != nil {
					if s, _, _ := v.Load(); s.Stale || s.Quote.Seq != uint64(b.N+1) {
						b.Fatalf("Value(%s) stale, seq, err = %v, %d, %q after %d pulses, want false, %d, \"\"", sym, s.Stale, s.Quote.Seq, s.Err, b.N+1, b.N+1)
					}
				}
			}
			if dials != nil && dials() != 1 {
				b.Fatalf("client dialed %d connections, want 1", dials())
			}
			b.ReportMetric(float64(up.accepted.Load()), "conns")
		})
	}
}
