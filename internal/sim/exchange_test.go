package sim_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/sim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixedNow is the clock tests give the Exchange: a Monday, regular session.
var fixedNow = time.Date(2026, 7, 27, 16, 51, 42, 0, time.UTC) // 12:51:42 PM EDT

// start serves ex on a loopback server closed at the end of the test.
func start(t *testing.T, ex *sim.Exchange) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(ex)
	t.Cleanup(srv.Close)
	return srv
}

// fetch asks base for symbol with the real nasdaq source and parses the
// answer. resp is returned with its body read and closed.
func fetch(ctx context.Context, client *http.Client, base, symbol string) (quote.Quote, *http.Response, error) {
	src := quote.NewNasdaq(base, "")
	req, err := src.NewRequest(ctx, symbol)
	if err != nil {
		return quote.Quote{}, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return quote.Quote{}, nil, err
	}
	defer resp.Body.Close()
	q, err := src.Parse(symbol, resp)
	return q, resp, err
}

func TestQuotesParse(t *testing.T) {
	ex := sim.New(&sim.Options{Seed: 7, Now: func() time.Time { return fixedNow }})
	srv := start(t, ex)
	for _, sym := range []string{"AAPL", "msft", "BRK.B", "BF-B", "^SPX", "A", "ABCDEFGHIJ12"} {
		t.Run(sym, func(t *testing.T) {
			q, resp, err := fetch(t.Context(), srv.Client(), srv.URL, sym)
			if err != nil {
				t.Fatalf("fetch(%s) error = %v", sym, err)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" || resp.ContentLength <= 0 || resp.TransferEncoding != nil {
				t.Errorf("fetch(%s) Content-Type %q, Content-Length %d, Transfer-Encoding %v, want application/json with a length",
					sym, ct, resp.ContentLength, resp.TransferEncoding)
			}
			if q.Price <= 0.01 || !q.HasVolume || q.Volume <= 0 {
				t.Errorf("fetch(%s) = %+v, want a price and a volume", sym, q)
			}
			if want := fixedNow.Truncate(time.Minute); !q.Time.Equal(want) {
				t.Errorf("fetch(%s).Time = %v, want %v", sym, q.Time, want)
			}
			// The change is measured from the previous close, Price - Change.
			if prev := q.Price - q.Change; prev < 20 || prev > 500 || math.Abs(q.ChangePct-q.Change/prev*100) > 0.0051 {
				t.Errorf("fetch(%s) = %+v, want previous close %v in 20..500 and ChangePct = Change/close*100", sym, q, prev)
			}
		})
	}
}

func TestPriceWalks(t *testing.T) {
	ex := sim.New(&sim.Options{Seed: 3})
	srv := start(t, ex)
	var prev quote.Quote
	for i := range 200 {
		q, _, err := fetch(t.Context(), srv.Client(), srv.URL, "TSLA")
		if err != nil {
			t.Fatalf("fetch(TSLA) #%d error = %v", i, err)
		}
		if i > 0 {
			if q.Price == prev.Price || q.Volume <= prev.Volume {
				t.Fatalf("fetch(TSLA) #%d = %v vol %d after %v vol %d, want a new price and more volume", i, q.Price, q.Volume, prev.Price, prev.Volume)
			}
			if math.Abs(q.Price-prev.Price) > prev.Price*0.0021+0.01 {
				t.Fatalf("fetch(TSLA) #%d = %v after %v, want a step of at most 0.2%%", i, q.Price, prev.Price)
			}
			if math.Abs((q.Price-q.Change)-(prev.Price-prev.Change)) > 1e-9 {
				t.Fatalf("fetch(TSLA) #%d previous close = %v, want %v as before", i, q.Price-q.Change, prev.Price-prev.Change)
			}
		}
		prev = q
	}
	if got := ex.Requests(); got != 200 {
		t.Errorf("Requests() = %d, want 200", got)
	}
}

// prices fetches each symbol of order from a new Exchange with seed and
// returns each symbol's prices in the order they were served.
func prices(t *testing.T, seed int64, order []string) map[string][]float64 {
	t.Helper()
	srv := start(t, sim.New(&sim.Options{Seed: seed}))
	got := make(map[string][]float64)
	for _, sym := range order {
		q, _, err := fetch(t.Context(), srv.Client(), srv.URL, sym)
		switch {
		case errors.Is(err, quote.ErrUnknownSymbol):
			got[sym] = append(got[sym], 0)
		case err != nil:
			t.Fatalf("fetch(%s) error = %v", sym, err)
		default:
			got[sym] = append(got[sym], q.Price)
		}
	}
	return got
}

func TestSeedDeterminesWalks(t *testing.T) {
	a := prices(t, 42, []string{"AAPL", "AAPL", "AAPL", "AAPL", "MSFT", "MSFT", "MSFT", "MSFT", "ZZZX"})
	b := prices(t, 42, []string{"MSFT", "ZZZX", "AAPL", "MSFT", "AAPL", "MSFT", "AAPL", "MSFT", "AAPL"})
	c := prices(t, 43, []string{"AAPL", "AAPL", "AAPL", "AAPL"})
	for _, sym := range []string{"AAPL", "MSFT"} {
		if fmt.Sprint(a[sym]) != fmt.Sprint(b[sym]) {
			t.Errorf("seed 42 %s prices = %v in one order, %v in another, want the same", sym, a[sym], b[sym])
		}
	}
	if fmt.Sprint(a["AAPL"]) == fmt.Sprint(c["AAPL"]) {
		t.Errorf("AAPL prices = %v with seed 42 and with seed 43, want different walks", a["AAPL"])
	}
	if a["AAPL"][0]-a["AAPL"][0]*0.003 > c["AAPL"][0] || c["AAPL"][0] > a["AAPL"][0]*1.003 {
		t.Errorf("AAPL first price = %v with seed 42, %v with seed 43, want both one step from the symbol's start", a["AAPL"][0], c["AAPL"][0])
	}
}

func TestUnknownSymbol(t *testing.T) {
	ex := sim.New(&sim.Options{Seed: 1, ErrorRate: 1})
	srv := start(t, ex)
	for _, sym := range []string{"ZZZ", "zzzt", "ZZZ.A", "ABCDEFGHIJ123", "A_B", "A B", "AAPL!", "ÅPL"} {
		_, resp, err := fetch(t.Context(), srv.Client(), srv.URL, sym)
		if !errors.Is(err, quote.ErrUnknownSymbol) {
			t.Errorf("fetch(%q) error = %v, want %v", sym, err, quote.ErrUnknownSymbol)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("fetch(%q) status = %d, want 200 as nasdaq sends", sym, resp.StatusCode)
		}
	}
}

func TestErrorRate(t *testing.T) {
	tests := []struct {
		name      string
		rate      float64
		wantErrs  func(n int) bool
		wantShape string
	}{
		{"never", 0, func(n int) bool { return n == 0 }, "0"},
		{"always", 1, func(n int) bool { return n == 100 }, "100"},
		{"half", 0.5, func(n int) bool { return n > 25 && n < 75 }, "between 25 and 75"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t, sim.New(&sim.Options{Seed: 9, ErrorRate: tt.rate}))
			errs := 0
			for range 100 {
				_, _, err := fetch(t.Context(), srv.Client(), srv.URL, "NVDA")
				switch {
				case errors.Is(err, quote.ErrUpstream):
					errs++
				case err != nil:
					t.Fatalf("fetch(NVDA) error = %v, want nil or %v", err, quote.ErrUpstream)
				}
			}
			if !tt.wantErrs(errs) {
				t.Errorf("fetch(NVDA) x100 with ErrorRate %v: %d upstream errors, want %s", tt.rate, errs, tt.wantShape)
			}
		})
	}
}

func TestCloseEvery(t *testing.T) {
	srv := start(t, sim.New(&sim.Options{Seed: 1, CloseEvery: 3}))
	var reused bool
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	})
	for i := 1; i <= 7; i++ {
		sym := "AAPL"
		if i == 5 {
			sym = "ZZZQ" // error answers count too
		}
		_, resp, err := fetch(ctx, srv.Client(), srv.URL, sym)
		if err != nil && !errors.Is(err, quote.ErrUnknownSymbol) {
			t.Fatalf("fetch #%d error = %v", i, err)
		}
		wantClose := i%3 == 0
		if resp.Close != wantClose { // the client sets Close from "Connection: close"
			t.Errorf("response #%d Close = %v, want %v", i, resp.Close, wantClose)
		}
		// A response after "Connection: close" must come on a new connection.
		if wantReused := i%3 != 1; reused != wantReused {
			t.Errorf("request #%d reused a connection: %v, want %v", i, reused, wantReused)
		}
	}
}

func TestConcurrentClients(t *testing.T) {
	ex := sim.New(&sim.Options{Seed: 5})
	srv := start(t, ex)
	var wg sync.WaitGroup
	errs := make(chan error, 8*25)
	for g := range 8 {
		wg.Go(func() {
			for range 25 {
				if _, _, err := fetch(t.Context(), srv.Client(), srv.URL, fmt.Sprintf("S%d", g%3)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("fetch error = %v", err)
	}
	if got := ex.Requests(); got != 200 {
		t.Errorf("Requests() = %d, want 200", got)
	}
}

func TestRoutes(t *testing.T) {
	ex := sim.New(nil)
	srv := start(t, ex)
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"post", http.MethodPost, "/api/quote/AAPL/info", http.StatusMethodNotAllowed},
		{"other_path", http.MethodGet, "/api/quote/AAPL/chart", http.StatusNotFound},
		{"slash_in_symbol", http.MethodGet, "/api/quote/A/B/info", http.StatusNotFound},
		{"head", http.MethodHead, "/api/quote/AAPL/info", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s %s error = %v", tt.method, tt.path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s status = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
		})
	}
	if got := ex.Requests(); got != 1 {
		t.Errorf("Requests() = %d, want 1 (the HEAD)", got)
	}
}

// pipeListener is a net.Listener handing out one in-memory connection, for
// tests inside a synctest bubble, where loopback sockets cannot be used.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener(c net.Conn) *pipeListener {
	l := &pipeListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conns <- c
	return l
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// pipeServer serves h over an in-memory connection and returns a client
// for it; stop shuts both down and waits for the server's goroutine.
func pipeServer(h http.Handler) (client *http.Client, stop func()) {
	srvConn, cliConn := net.Pipe()
	srv := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(newPipeListener(srvConn)) // exits when srv.Close closes the listener
	}()
	tr := &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return cliConn, nil },
	}
	return &http.Client{Transport: tr}, func() {
		srv.Close()
		tr.CloseIdleConnections()
		cliConn.Close()
		<-served
	}
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const latency = 2 * time.Second
		ex := sim.New(&sim.Options{Seed: 1, Latency: latency})
		client, stop := pipeServer(ex)
		defer stop()

		begin := time.Now()
		done := make(chan error, 1)
		go func() { // exits when the response is parsed
			_, _, err := fetch(context.Background(), client, "http://sim.test", "AAPL")
			done <- err
		}()
		time.Sleep(latency - time.Nanosecond)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("fetch returned after %v (err %v), want it to wait %v", time.Since(begin), err, latency)
		default:
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("fetch error = %v", err)
			}
		default:
			t.Fatalf("fetch still waiting after %v, want an answer", latency)
		}
		if got := ex.Requests(); got != 1 {
			t.Errorf("Requests() = %d, want 1", got)
		}
	})
}

func TestLatencyCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ex := sim.New(&sim.Options{Seed: 1, Latency: time.Hour})
		returned := make(chan struct{})
		client, stop := pipeServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(returned)
			ex.ServeHTTP(w, r)
		}))
		defer stop()

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		begin := time.Now()
		_, _, err := fetch(ctx, client, "http://sim.test", "AAPL")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("fetch error = %v, want %v", err, context.DeadlineExceeded)
		}
		synctest.Wait()
		select {
		case <-returned:
		default:
			t.Fatal("handler still waiting after the client gave up, want it to return")
		}
		if elapsed := time.Since(begin); elapsed != time.Second {
			t.Errorf("handler returned after %v, want %v", elapsed, time.Second)
		}
		if got := ex.Requests(); got != 0 {
			t.Errorf("Requests() = %d, want 0 for an abandoned request", got)
		}
	})
}
