package fanout

import (
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// asyncDemand is a Demand like the cluster's Interest: Add only records
// the wish (on added) and returns; the symbol reaches the board when the
// test puts it there (appear), or never.
type asyncDemand struct {
	src     *fakeSource
	added   chan string
	removed chan string
}

func newAsyncDemand(src *fakeSource) *asyncDemand {
	return &asyncDemand{src: src, added: make(chan string, 64), removed: make(chan string, 64)}
}

func (d *asyncDemand) Add(sym string) bool {
	d.added <- sym
	return true
}

func (d *asyncDemand) Remove(sym string) {
	d.src.mu.Lock()
	d.src.dynamic = slices.DeleteFunc(d.src.dynamic, func(s string) bool { return s == sym })
	d.src.putLocked()
	d.src.mu.Unlock()
	d.removed <- sym
}

// appear puts sym on the board, as the cluster's watch does once the
// leader has taken it up.
func (d *asyncDemand) appear(sym string) {
	d.src.mu.Lock()
	defer d.src.mu.Unlock()
	d.src.dynamic = append(d.src.dynamic, sym)
	d.src.putLocked()
}

// next returns the next symbol received on ch, failing t after waitLimit.
func next(t *testing.T, what string, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(waitLimit):
		t.Fatalf("no %s within %v", what, waitLimit)
		return ""
	}
}

// TestAsyncDemandAppears: a subscribe to a dynamic symbol that reaches the
// board after Add returns waits for it, then subscribes; two clients
// waiting for it share one Add, and the last to leave removes it.
func TestAsyncDemandAppears(t *testing.T) {
	src := newFakeSource("AAPL")
	dem := newAsyncDemand(src)
	waiting := make(chan struct{}, 4)
	h := newHarnessDemand(t, src, dem, &Options{DynamicSymbols: true, DemandWait: waitLimit}, func(h *harness) {
		h.hub.onWait = func() { waiting <- struct{}{} }
	})
	a := h.dial(t, "a", "", nil)
	a.send(`{"op":"subscribe","symbols":["zzz","AAPL"]}`)
	if got := next(t, "Add", dem.added); got != "ZZZ" {
		t.Fatalf("Demand.Add(%q), want Add(ZZZ)", got)
	}
	<-waiting
	b := h.dial(t, "b", "?symbols=ZZZ", nil)
	<-waiting               // b waits for the same symbol, without a second Add
	a.send(`{"op":"list"}`) // queued behind a's subscribe

	// Others are served meanwhile.
	other := h.dial(t, "other", "?symbols=AAPL", nil)
	other.expectSubscribed("AAPL")

	dem.appear("ZZZ")
	a.expectSubscribed("AAPL", "ZZZ")
	a.expectSubscribed("AAPL", "ZZZ") // the list
	b.expectSubscribed("ZZZ")
	select {
	case s := <-dem.added:
		t.Fatalf("Demand.Add(%q) again, want one Add", s)
	default:
	}
	src.set(t, "ZZZ", snapQuote("ZZZ", 1))
	a.expectQuote("ZZZ", 1)
	b.expectQuote("ZZZ", 1)

	a.send(`{"op":"unsubscribe","symbols":["ZZZ"]}`)
	a.expectSubscribed("AAPL")
	if err := b.c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := next(t, "Remove", dem.removed); got != "ZZZ" {
		t.Fatalf("Demand.Remove(%q), want Remove(ZZZ)", got)
	}
}

// TestAsyncDemandTimesOut: a dynamic symbol that does not reach the board
// within DemandWait rejects the subscribe, changing nothing, and is given
// up with Remove.
func TestAsyncDemandTimesOut(t *testing.T) {
	src := newFakeSource("AAPL")
	dem := newAsyncDemand(src)
	h := newHarnessDemand(t, src, dem, &Options{DynamicSymbols: true, DemandWait: 20 * time.Millisecond}, nil)
	c := h.dial(t, "client", "", nil)
	c.send(`{"op":"subscribe","symbols":["AAPL","ZZZ"]}`)
	if m := c.expectError(CodeUnknownSymbol); !slices.Equal(m.Symbols, []string{"ZZZ"}) {
		t.Fatalf("Read() = %s, want symbols [ZZZ]", m)
	}
	if got := next(t, "Remove", dem.removed); got != "ZZZ" {
		t.Fatalf("Demand.Remove(%q), want Remove(ZZZ)", got)
	}
	c.send(`{"op":"list"}`) // AAPL was not added either
	c.expectSubscribed()

	// Asked again, it is asked of the Demand again.
	c.send(`{"op":"subscribe","symbols":["ZZZ"]}`)
	c.expectError(CodeUnknownSymbol)
	if got := next(t, "Remove", dem.removed); got != "ZZZ" {
		t.Fatalf("Demand.Remove(%q), want Remove(ZZZ)", got)
	}
	if n := len(dem.added); n != 2 {
		t.Fatalf("Demand.Add called %d times, want 2", n)
	}
}

// TestAsyncDemandClientLeaves: a client that leaves while its subscribe
// waits gives the symbol up.
func TestAsyncDemandClientLeaves(t *testing.T) {
	src := newFakeSource("AAPL")
	dem := newAsyncDemand(src)
	waiting := make(chan struct{}, 1)
	h := newHarnessDemand(t, src, dem, &Options{DynamicSymbols: true, DemandWait: waitLimit}, func(h *harness) {
		h.hub.onWait = func() { waiting <- struct{}{} }
	})
	c := h.dial(t, "client", "?symbols=ZZZ", nil)
	<-waiting
	if err := c.c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if got := next(t, "Remove", dem.removed); got != "ZZZ" {
		t.Fatalf("Demand.Remove(%q), want Remove(ZZZ)", got)
	}
}
