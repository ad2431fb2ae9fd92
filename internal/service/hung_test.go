package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/sim"
)

// hangOne answers like next, except that requests for sym never get an
// answer until release is closed: on one pipelined connection, every
// request behind them waits too.
type hangOne struct {
	next    http.Handler
	sym     string
	release chan struct{}
}

func (h hangOne) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.URL.Path, "/api/quote/"+h.sym+"/info") {
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		return
	}
	h.next.ServeHTTP(w, r)
}

// TestServiceHungSymbolCostsOnlyItself: a symbol whose answer never comes,
// first in the pipeline, makes only itself stale: the connection is reset
// well before the collections behind it time out, and they are sent again
// in time, pulse after pulse.
func TestServiceHungSymbolCostsOnlyItself(t *testing.T) {
	h := hangOne{next: sim.New(&sim.Options{Seed: 2}), sym: "HUNG", release: make(chan struct{})}
	up := startUpstream(t, h)
	t.Cleanup(func() { close(h.release) }) // before the upstream's shutdown (cleanups run last first)
	syms := append([]string{"HUNG"}, symbols(20)...)
	cfg := testConfig(config.KindNasdaq, up.url, neverInTest, syms)
	cfg.Source.Timeout = time.Second
	r := start(t, cfg, nil)
	c, b := r.svc.Collector(), r.svc.Board()

	waitFirstPulse(t, b, syms)
	for p := 1; p <= 3; p++ {
		if p > 1 {
			pulse(t, c)
		}
		for _, sym := range syms[1:] {
			if s := snapshot(t, b, sym); s.Stale || s.Quote.Seq != uint64(p) {
				t.Errorf("pulse %d: %s stale %v seq %d err %q, want fresh at seq %d (HUNG must not hold it up)", p, sym, s.Stale, s.Quote.Seq, s.Err, p)
			}
		}
		if s := snapshot(t, b, "HUNG"); !s.Stale || s.HasQuote() {
			t.Errorf("pulse %d: HUNG = %+v, want stale with no quote", p, s)
		}
	}
}
