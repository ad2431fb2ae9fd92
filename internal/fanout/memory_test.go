package fanout

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// BenchmarkClientMemory measures what an idle subscribed client costs the
// Hub: n websocket clients over loopback (after 500 first ones), each
// subscribed to 20 of 500 symbols in batch mode (the shape of
// bench/fanout.sh) and sent their quotes, then the Go stacks and the heap
// in use after a GC, per client. The clients are raw sockets in this process with no
// goroutine of their own: the stack figure is the server's alone; the
// heap figure includes the clients' own sockets (a net.TCPConn and its
// netFD, about 0.2 KiB), which a real client holds in its own process.
// The goal of issue 12 (server RSS at most 12 KiB per client) is measured
// on real processes by bench/fanout.sh; this is the quick look at where
// the bytes are.
//
//	go test -run '^$' -bench ClientMemory -benchtime 1x ./internal/fanout/
//
// With -heapprofile FILE it writes a heap profile at the measurement
// (with -memprofilerate 2048 or so for a detailed one).
func BenchmarkClientMemory(b *testing.B) {
	for _, n := range []int{2000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			for range b.N {
				stack, heap, gs := clientMemory(b, 500, n)
				b.ReportMetric(gs, "goroutines/client")
				b.ReportMetric(stack, "stack-B/client")
				b.ReportMetric(heap, "heap-B/client")
			}
		})
	}
}

var heapProfile = flag.String("heapprofile", "", "BenchmarkClientMemory writes a heap profile to this file once its clients are connected")

// clientMemory connects warm clients, then n more, and returns the stack
// and heap bytes in use and the goroutines per client of the n, once each
// has the quote of every symbol it asked for.
func clientMemory(b *testing.B, warm, n int) (stack, heap, goroutines float64) {
	const syms, per = 500, 20
	names := make([]string, syms)
	for i := range names {
		names[i] = fmt.Sprintf("S%04d", i)
	}
	src := newFakeSource(names...)
	for _, s := range names {
		src.set(b, s, snapQuote(s, 1))
	}
	hub := New(src, nil, &Options{MaxClients: warm + n, MaxSymbolsPerClient: syms, PingInterval: time.Hour})
	srv := httptest.NewServer(hub)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }() // exits when cancel is called below
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("Run() = %v", err)
		}
		srv.Close()
	}()

	conns := make([]net.Conn, 0, warm+n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	addr := srv.Listener.Addr().String()
	dial := func(i int) {
		var q strings.Builder
		q.WriteString("?batch=1&symbols=")
		for k := range per {
			if k > 0 {
				q.WriteByte(',')
			}
			q.WriteString(names[(i*per+k)%syms])
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatalf("Dial() = %v", err)
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(waitLimit))
		req := "GET /ws" + q.String() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			b.Fatalf("write handshake = %v", err)
		}
		// The handshake's answer, then frames until the last symbol's
		// quote: the subscribe is done and every update delivered.
		last := []byte(`"symbol":"` + names[(i*per+per-1)%syms] + `"`)
		var got []byte
		var buf [4096]byte
		for !bytes.Contains(got, last) {
			m, err := c.Read(buf[:])
			if err != nil {
				b.Fatalf("client %d: Read() = %v after %q", i, err, got)
			}
			got = append(got, buf[:m]...)
		}
		_ = c.SetDeadline(time.Time{})
	}
	// The first clients make the Hub's own goroutines (a watcher per
	// symbol, the writers) grow their stacks and its maps and pools
	// reach their size: what is measured is the cost of one client more.
	for i := range warm {
		dial(i)
	}
	before := memNow()
	g0 := runtime.NumGoroutine()
	for i := range n {
		dial(warm + i)
	}
	after := memNow()
	if *heapProfile != "" {
		w, err := os.Create(*heapProfile)
		if err != nil {
			b.Fatalf("heap profile: %v", err)
		}
		defer w.Close()
		if err := pprof.WriteHeapProfile(w); err != nil {
			b.Fatalf("heap profile: %v", err)
		}
	}
	goroutines = float64(runtime.NumGoroutine()-g0) / float64(n)
	return float64(after.stack-before.stack) / float64(n), float64(after.heap-before.heap) / float64(n), goroutines
}

type memFigures struct{ stack, heap uint64 }

// memNow returns the stacks and the heap in use after two GCs (the first
// shrinks the stacks of parked goroutines, the second frees what was
// garbage then).
func memNow() memFigures {
	for range 4 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memFigures{stack: m.StackInuse, heap: m.HeapAlloc}
}
