package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// orderDoer records the symbols it is asked for, in order, and answers
// each with an error. It is safe for concurrent use and never blocks.
type orderDoer struct {
	mu sync.Mutex
	// Guarded by mu.
	asked []string
}

var errOrderDoer = errors.New("orderDoer: no answer")

func (d *orderDoer) Do(_ context.Context, req *http.Request) (*http.Response, error) {
	sym := strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/api/quote/"), "/info")
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked = append(d.asked, sym)
	return nil, errOrderDoer
}

// TestPulseAsksInOrder checks that a pulse of more symbols than a P's run
// queue holds (256) asks for them about in the order of its symbols on
// one core: none more than two chunks from its place (within a chunk the
// scheduler runs the last one started first, and a collection preempted
// or kept waiting on a lock comes a little later). Started all at once,
// the first of them went to the global run queue and were asked for after
// hundreds of others.
func TestPulseAsksInOrder(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n = 600
	syms := make([]string, n)
	for i := range syms {
		syms[i] = fmt.Sprintf("S%04d", i)
	}
	d := &orderDoer{}
	c := New(quote.NewNasdaq("http://upstream.test", ""), d, board.New(nil), syms, nil)
	if started, _, err := c.pulse(t.Context(), false); started != n || err != nil {
		t.Fatalf("pulse() = %d, _, %v, want %d, _, nil", started, err, n)
	}
	c.wg.Wait()
	place := make(map[string]int, n)
	for i, name := range c.order {
		place[name] = i
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.asked) != n {
		t.Fatalf("pulse() asked for %d symbols, want %d", len(d.asked), n)
	}
	worst, at := 0, ""
	for i, sym := range d.asked {
		if off := max(i-place[sym], place[sym]-i); off > worst {
			worst, at = off, sym
		}
	}
	if worst > 2*pulseChunk {
		t.Errorf("pulse() asked for %s %d places from its own, want at most %d", at, worst, 2*pulseChunk)
	}
}
