package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/robfig/cron/v3"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/collector"
	"github.com/tickerd/tickerd/internal/httpx"
	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/sim"
)

// A Term is the collector's Sink and its Lease: no request past the term.
var (
	_ collector.Sink  = (*Term)(nil)
	_ collector.Lease = (*Term)(nil)
)

// natsServer is an embedded nats-server with JetStream in a temp dir, on
// a loopback port that stays the same across restarts.
type natsServer struct {
	t    testing.TB
	dir  string
	port int
	srv  *server.Server
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	ns := &natsServer{t: t, dir: t.TempDir(), port: -1}
	ns.start()
	t.Cleanup(ns.stop)
	return ns
}

func (ns *natsServer) start() {
	ns.t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: ns.port, JetStream: true, StoreDir: ns.dir, NoLog: true, NoSigs: true})
	if err != nil {
		ns.t.Fatalf("nats server: %v", err)
	}
	go s.Start() // returns at once; Shutdown stops what it started
	if !s.ReadyForConnections(10 * time.Second) {
		ns.t.Fatal("nats server not ready")
	}
	ns.srv = s
	ns.port = s.Addr().(*net.TCPAddr).Port
}

func (ns *natsServer) stop() {
	if ns.srv != nil {
		ns.srv.Shutdown()
		ns.srv.WaitForShutdown()
		ns.srv = nil
	}
}

func (ns *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(ns.port) }

// faultDialer is a nats.CustomDialer that can cut the connections it
// made and refuse new ones (a black hole: the peer is gone).
type faultDialer struct {
	mu    sync.Mutex
	conns []net.Conn
	down  bool
}

func (d *faultDialer) Dial(network, address string) (net.Conn, error) {
	d.mu.Lock()
	down := d.down
	d.mu.Unlock()
	if down {
		return nil, errors.New("fault dialer: black hole")
	}
	c, err := (&net.Dialer{Timeout: time.Second}).Dial(network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.mu.Unlock()
	return c, nil
}

// cut closes every connection and, when down, refuses new ones.
func (d *faultDialer) cut(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
	for _, c := range d.conns {
		c.Close()
	}
	d.conns = nil
}

func (d *faultDialer) heal() {
	d.mu.Lock()
	d.down = false
	d.mu.Unlock()
}

// upstream is the shared quote source: the simulator on an httpx.Server,
// counting requests per instance (by User-Agent), and able to fail every
// request.
type upstream struct {
	url  string
	down atomic.Bool

	mu  sync.Mutex
	log []string // instance of each request, in arrival order
}

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{url: "http://" + ln.Addr().String()}
	ex := sim.New(&sim.Options{Seed: 1})
	srv := &httpx.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.log = append(u.log, r.UserAgent())
		u.mu.Unlock()
		if u.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ex.ServeHTTP(w, r)
	})}
	errc := make(chan error, 1)
	// Exits when srv is shut down by the cleanup.
	go func() { errc <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		<-errc
	})
	return u
}

// requests returns the request log from index from on.
func (u *upstream) requests(from int) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if from > len(u.log) {
		return nil
	}
	return append([]string(nil), u.log[from:]...)
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.log)
}

// every is a cron.Schedule of a fixed sub-second period.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

var _ cron.Schedule = every(0)

// instance is one in-process tickerd instance: a board, a node, and a
// collector per term on its own connection to the shared upstream.
type instance struct {
	t      testing.TB
	id     string
	board  *board.Board
	node   *Node
	client *httpx.Client
	dialer *faultDialer
	cancel context.CancelFunc
	done   chan error

	mu    sync.Mutex
	terms []*Term
}

type clusterOpts struct {
	ttl         time.Duration
	symbols     []string
	paused      func(ctx context.Context)
	maxDynamic  int
	url         string
	period      time.Duration // the pulse; 0 means 100ms
	maxRPS      float64       // the collector's MaxRPS; 0: a pulse is one burst
	beforeWrite func(key string)
}

func startInstance(t testing.TB, ns *natsServer, up *upstream, id string, o clusterOpts) *instance {
	t.Helper()
	if o.ttl == 0 {
		o.ttl = 2 * time.Second
	}
	if o.symbols == nil {
		o.symbols = []string{"AAPL", "MSFT", "NVDA"}
	}
	if o.period == 0 {
		o.period = 100 * time.Millisecond
	}
	url := o.url
	if url == "" {
		url = ns.url()
	}
	client, err := httpx.NewClient(up.url, &httpx.Options{ResponseTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{t: t, id: id, board: board.New(nil), client: client, dialer: &faultDialer{}, done: make(chan error, 1)}
	src := quote.NewNasdaq(up.url, id)
	node, err := New(in.board, &Options{
		URL: url, Instance: id, LeaseTTL: o.ttl, MaxDynamic: o.maxDynamic,
		NATS:   []nats.Option{nats.SetCustomDialer(in.dialer)},
		paused: o.paused, beforeWrite: o.beforeWrite,
		Logger: testLogger(id),
		Lead: func(ctx context.Context, term *Term) error {
			in.mu.Lock()
			in.terms = append(in.terms, term)
			in.mu.Unlock()
			c := collector.New(src, client, term, o.symbols, &collector.Options{Timeout: time.Second, Seed: term.Seed, Logger: testLogger(id), MaxRPS: o.maxRPS})
			var wg sync.WaitGroup
			wg.Add(1)
			// Exits when ctx ends.
			go func() { defer wg.Done(); _ = term.Follow(ctx, c) }()
			err := c.Run(ctx, every(o.period))
			wg.Wait()
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	in.node = node
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- node.Run(ctx) }() // until stop
	t.Cleanup(in.stop)
	return in
}

// stop ends the instance's Run (a leader resigns) and waits for it.
func (in *instance) stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		in.t.Errorf("instance %s: Run did not return", in.id)
	}
	in.cancel = nil
	in.client.Close()
}

// kill stops the instance as a SIGKILL would look from outside: its
// connection is cut first, so it cannot resign.
func (in *instance) kill() {
	in.dialer.cut(true)
	in.stop()
}

func (in *instance) lastTerm() *Term {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.terms) == 0 {
		return nil
	}
	return in.terms[len(in.terms)-1]
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaderOf returns the instance that leads, waiting for one.
func leaderOf(t testing.TB, d time.Duration, ins ...*instance) *instance {
	t.Helper()
	var l *instance
	waitFor(t, d, "no instance leads", func() bool {
		for _, in := range ins {
			if in.cancel != nil && in.node.Leading() != 0 {
				l = in
				return true
			}
		}
		return false
	})
	return l
}

// seqMonitor records every snapshot each board shows and finds seqs that
// go back, or repeat with another quote.
type seqMonitor struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	last map[string]board.Snapshot // inst/sym -> last seen
	errs []string
	seen map[string]int // inst/sym -> snapshots seen
}

func monitor(t testing.TB, syms []string, ins ...*instance) *seqMonitor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &seqMonitor{cancel: cancel, last: make(map[string]board.Snapshot), seen: make(map[string]int)}
	for _, in := range ins {
		for _, sym := range syms {
			waitFor(t, 10*time.Second, in.id+" has no "+sym, func() bool { _, ok := in.board.Value(sym); return ok })
			val, _ := in.board.Value(sym)
			w := val.Watch()
			key := in.id + "/" + sym
			m.wg.Add(1)
			// Exits when the monitor stops or the symbol leaves the board.
			go func() {
				defer m.wg.Done()
				defer w.Close()
				for {
					s, err := w.Recv(ctx)
					if err != nil {
						return
					}
					m.mu.Lock()
					prev, ok := m.last[key]
					if ok && (s.Quote.Seq < prev.Quote.Seq || (s.Quote.Seq == prev.Quote.Seq && !sameQuote(s.Quote, prev.Quote))) {
						m.errs = append(m.errs, fmt.Sprintf("%s: seq %d (%v) after %d (%v)", key, s.Quote.Seq, s.Quote.Price, prev.Quote.Seq, prev.Quote.Price))
					}
					m.last[key] = s
					m.seen[key]++
					m.mu.Unlock()
				}
			}()
		}
	}
	t.Cleanup(m.stop)
	return m
}

func (m *seqMonitor) stop() {
	m.cancel()
	m.wg.Wait()
}

func (m *seqMonitor) check(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.errs {
		t.Error(e)
	}
}

// seqOf returns sym's seq on in's board.
func seqOf(in *instance, sym string) uint64 {
	s, _ := in.board.Snapshot(sym)
	return s.Quote.Seq
}

func natsMsg(subject string, data []byte) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = data
	return m
}

// freePort returns a loopback port nothing listens on (now).
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// testLogger logs to stderr when CLUSTER_DEBUG is set.
func testLogger(id string) *slog.Logger {
	if os.Getenv("CLUSTER_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("inst", id)
}
