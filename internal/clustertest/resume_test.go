//go:build cluster && unix

package clustertest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// Row "client reconnects to another instance with since": it gets no
// quote it already had, and the newer ones; with another epoch it gets a
// reset and every symbol's snapshot.
func TestResumeOnAnotherInstance(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newCluster(t, 2)
	c.startAll(ctx)
	a := dialClient(ctx, t, c.insts[0], symbols, c.n)
	waitSteady(ctx, t, c, []*wsClient{a}, time.Now())
	a.close()
	had, _, _ := a.snapshot()
	last := map[string]uint64{}
	for _, q := range had {
		last[q.symbol] = max(last[q.symbol], q.seq)
	}
	sleepCtx(ctx, pulse+pulse/2) // newer quotes exist now

	since := func(epoch string) []byte {
		b, _ := json.Marshal(map[string]any{"op": "subscribe", "symbols": symbols,
			"since": map[string]any{"epoch": epoch, "seq": last}})
		return b
	}
	b := dialClientWith(ctx, t, c.insts[1], since(a.epoch()), c.n)
	var reply struct {
		Epoch     string    `json:"epoch"`
		Recovered *[]string `json:"recovered"`
	}
	if err := json.Unmarshal([]byte(b.subRawCopy()), &reply); err != nil {
		t.Fatalf("subscribed reply %s: %v", b.subRawCopy(), err)
	}
	if reply.Recovered == nil {
		t.Skipf("resume is not implemented: subscribed reply %s to a subscribe with since has no recovered", b.subRawCopy())
	}
	if reply.Epoch != a.epoch() {
		t.Errorf("resumed on %s: epoch %q, want %q (one bucket, one epoch)", c.insts[1].id, reply.Epoch, a.epoch())
	}
	if got, want := slices.Sorted(slices.Values(*reply.Recovered)), slices.Sorted(slices.Values(symbols)); !slices.Equal(got, want) {
		t.Errorf("resumed on %s: recovered %v, want %v", c.insts[1].id, got, want)
	}
	waitSteady(ctx, t, c, []*wsClient{b}, time.Now())
	got, resets, _ := b.snapshot()
	if resets != 0 {
		t.Errorf("resumed client: %d reset messages, want 0 (same epoch)", resets)
	}
	firsts := map[string]uint64{}
	for _, q := range got {
		if q.seq <= last[q.symbol] {
			t.Errorf("resumed client got %s seq %d, want > %d (it had that)", q.symbol, q.seq, last[q.symbol])
		}
		if _, ok := firsts[q.symbol]; !ok {
			firsts[q.symbol] = q.seq
		}
	}
	t.Logf("resumed on %s with %v: first seqs %v; subscribed %s", c.insts[1].id, last, firsts, b.subRawCopy())
	checkSeqs(t, []*wsClient{a, b})

	// Another epoch: a reset before any quote, then every symbol's
	// snapshot with the reply, before the next pulse.
	r := dialClientWith(ctx, t, c.insts[1], since("clustertest-other-epoch"), c.n)
	sctx, scancel := context.WithTimeout(ctx, pulse/2)
	defer scancel()
	for _, s := range symbols {
		if _, _, err := waitQuote(sctx, c.n, []*wsClient{r}, func(q recvQuote) bool { return q.symbol == s }); err != nil {
			t.Errorf("since with another epoch: no snapshot of %s within %v: %v", s, pulse/2, err)
		}
	}
	r.mu.Lock()
	resets, first := r.resets, r.resetFirst
	r.mu.Unlock()
	if resets != 1 || !first {
		t.Errorf("since with another epoch: %d reset messages (one before any quote: %v), want 1 before the quotes; subscribed %s", resets, first, r.subRawCopy())
	}
}
