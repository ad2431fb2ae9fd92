package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/board"
)

// sameShard returns n symbols that all hash to one shard.
func sameShard(n int) []string {
	var out []string
	want := shardOf("X0")
	for i := 0; len(out) < n; i++ {
		if s := fmt.Sprintf("X%d", i); shardOf(s) == want {
			out = append(out, s)
		}
	}
	return out
}

// roundRig is one leading instance whose collector does not pulse (the
// test writes through its term), with a hook on its writes.
type roundRig struct {
	in   *instance
	term *Term
	syms []string

	mu      sync.Mutex
	writes  map[string]int // by key prefix
	hold    bool           // block rounds' writes until release is closed
	entered chan struct{}  // a held round's write is blocked
	release chan struct{}
}

func newRoundRig(t *testing.T, ns *natsServer, syms []string) *roundRig {
	r := &roundRig{syms: syms, writes: make(map[string]int), entered: make(chan struct{}), release: make(chan struct{})}
	o := clusterOpts{symbols: syms, period: time.Hour, beforeWrite: func(k string) {
		r.mu.Lock()
		r.writes[k[:2]]++
		h := r.hold && strings.HasPrefix(k, ringPrefix)
		r.mu.Unlock()
		if h {
			r.entered <- struct{}{}
			<-r.release
		}
	}}
	r.in = startInstance(t, ns, startUpstream(t), "a", o)
	leaderOf(t, 10*time.Second, r.in)
	waitFor(t, 10*time.Second, "the first collection", func() bool { return r.allAt(1) })
	r.term = r.in.lastTerm()
	return r
}

// allAt reports whether every symbol's seq on the board is at least seq.
func (r *roundRig) allAt(seq uint64) bool {
	for _, s := range r.syms {
		if seqOf(r.in, s) < seq {
			return false
		}
	}
	return true
}

// next returns sym's next snapshot: a new quote after the board's.
func (r *roundRig) next(sym string) board.Snapshot {
	r.term.n.mu.Lock()
	s, _ := r.term.n.knownSnapshotLocked(sym)
	r.term.n.mu.Unlock()
	s.Quote.Seq++
	s.Quote.Price++
	return s
}

func (r *roundRig) writesOf(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writes[prefix]
}

// TestRoundsCoalesce: with maxInFlight rounds in flight, the snapshots
// that arrive go together in the next round, split in rounds of at most
// maxRound.
func TestRoundsCoalesce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n      int
		rounds int // for the n Puts
	}{
		{"past_in_flight", maxInFlight + 20, maxInFlight + 1},
		{"split_past_max", maxInFlight + maxRound + 44, maxInFlight + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			syms := make([]string, tc.n)
			for i := range syms {
				syms[i] = fmt.Sprintf("%s%d", strings.ToUpper(tc.name[:1]), i)
			}
			r := newRoundRig(t, startNATS(t), syms) // a new ring: no update key to compact before reuse
			r.mu.Lock()
			r.hold = true
			before := r.writes[ringPrefix]
			r.mu.Unlock()

			errs := make(chan error, len(r.syms))
			for _, s := range r.syms[:maxInFlight] {
				go func() { errs <- r.term.Put(context.Background(), r.next(s)) }()
				<-r.entered // one more round in flight
			}
			for _, s := range r.syms[maxInFlight:] {
				go func() { errs <- r.term.Put(context.Background(), r.next(s)) }()
			}
			waitFor(t, 10*time.Second, "the Puts wait for the next round", func() bool {
				r.term.wmu.Lock()
				defer r.term.wmu.Unlock()
				return r.term.next != nil && len(r.term.next.snaps) == len(r.syms)-maxInFlight
			})
			r.mu.Lock()
			r.hold = false
			r.mu.Unlock()
			close(r.release)
			for range r.syms {
				if err := <-errs; err != nil {
					t.Fatalf("Put = %v, want nil", err)
				}
			}
			if got := r.writesOf(ringPrefix) - before; got != tc.rounds {
				t.Errorf("rounds written for %d snapshots = %d, want %d", len(r.syms), got, tc.rounds)
			}
			waitFor(t, 10*time.Second, "the board has every new quote", func() bool { return r.allAt(2) })
			r.in.stop()
		})
	}
}

// TestCompaction: before an update key is reused, the shards of its
// snapshots are compacted, so that the bucket always holds every symbol's
// latest snapshot: an instance that starts after many rounds has every
// symbol at the leader's seq. A symbol that left the set leaves its
// shard at the shard's next compaction.
func TestCompaction(t *testing.T) {
	ns := startNATS(t)
	r := newRoundRig(t, ns, sameShard(5))
	key := shardKey(shardOf(r.syms[0]))
	put := func(sym string) {
		t.Helper()
		if err := r.term.Put(context.Background(), r.next(sym)); err != nil {
			t.Fatalf("Put(%s) = %v, want nil", sym, err)
		}
	}
	// One round per symbol, then the ring round with one symbol: every
	// update key that held another symbol's last quote is reused.
	for _, s := range r.syms {
		put(s)
	}
	for range ringSize {
		put(r.syms[0])
	}
	if got := r.writesOf(shardPrefix); got == 0 {
		t.Fatalf("shard writes after %d rounds = 0, want some", ringSize+len(r.syms))
	}
	sh := valueOfShard(t, r.in, key)
	for _, s := range r.syms[1:] {
		if got, want := sh[s].Quote.Seq, seqOf(r.in, s); got != want || want < 2 {
			t.Errorf("shard %s: %s seq %d, want %d (>= 2)", key, s, got, want)
		}
	}
	waitFor(t, 10*time.Second, "the leader's board has its writes", func() bool { return seqOf(r.in, r.syms[0]) == uint64(ringSize)+2 })
	late := startInstance(t, ns, startUpstream(t), "late", clusterOpts{symbols: r.syms, period: time.Hour})
	waitFor(t, 10*time.Second, "the late instance is ready", func() bool { return late.node.Ready() == nil })
	for _, s := range r.syms {
		if got, want := seqOf(late, s), seqOf(r.in, s); got != want {
			t.Errorf("late instance: %s seq %d, want %d", s, got, want)
		}
	}

	gone := r.syms[len(r.syms)-1]
	if err := r.term.PutSymbols(context.Background(), board.Symbols{Configured: r.syms[:len(r.syms)-1]}); err != nil {
		t.Fatalf("PutSymbols = %v, want nil", err)
	}
	waitFor(t, 10*time.Second, "the set without "+gone, func() bool {
		return !slices.Contains(r.in.board.Symbols().All(), gone)
	})
	for range ringSize {
		put(r.syms[0])
	}
	sh = valueOfShard(t, r.in, key)
	if _, ok := sh[gone]; ok || len(sh) != len(r.syms)-1 {
		t.Errorf("shard %s after %s left: %d snapshots (has it: %v), want %d without it", key, gone, len(sh), ok, len(r.syms)-1)
	}
}

// TestCompactionBetweenPulses: once the writer has been idle for
// idleCompact, it compacts the shards of the update keys it will reuse in
// the next half turn of the ring, before any of them is reused.
func TestCompactionBetweenPulses(t *testing.T) {
	r := newRoundRig(t, startNATS(t), sameShard(3))
	key := shardKey(shardOf(r.syms[0]))
	// Rounds past half the ring: the first of them are among the next
	// half turn's update keys.
	base := r.next(r.syms[0]).Quote.Seq - 1
	for range ringSize/2 + 8 {
		if err := r.term.Put(context.Background(), r.next(r.syms[0])); err != nil {
			t.Fatalf("Put = %v, want nil", err)
		}
	}
	// The shard gets at least what those update keys hold: the first 8
	// rounds' quotes.
	i := shardOf(r.syms[0])
	waitFor(t, 10*time.Second, "no compaction after an idle spell", func() bool {
		e, err := r.in.node.bucket().Get(context.Background(), key)
		if err != nil {
			return false // not written yet
		}
		sh, err := decodeShard(i, e.Value())
		return err == nil && sh[r.syms[0]].Quote.Seq >= base+8
	})
	if got := r.writesOf(ringPrefix); got >= ringSize {
		t.Fatalf("rounds = %d: an update key was reused, want fewer than %d", got, ringSize)
	}
}

// valueOfShard reads key's value from the bucket.
func valueOfShard(t *testing.T, in *instance, key string) shard {
	t.Helper()
	e, err := in.node.bucket().Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s) = %v", key, err)
	}
	i, _ := parseShardKey(key)
	sh, err := decodeShard(i, e.Value())
	if err != nil {
		t.Fatalf("decodeShard(%s) = %v", key, err)
	}
	return sh
}

// TestOwnBatchPastMaxRound: a batch of more than maxRound snapshots taken
// by a Put (sendNow) is sent in full even when a later round's update key
// must be compacted first, which waits for every other round in flight.
// (Keeping the first round back for the Put to write held its place, and
// that wait never ended: the leader's collection hung, and so did its
// shutdown.)
func TestOwnBatchPastMaxRound(t *testing.T) {
	syms := make([]string, maxRound+44)
	for i := range syms {
		syms[i] = fmt.Sprintf("M%d", i)
	}
	r := newRoundRig(t, startNATS(t), syms)
	term, n := r.term, r.term.n
	term.smu.Lock()
	// The first pulse's rounds are on update keys whose shards no shard
	// key has had since: start the batch one key before such a key, so
	// that its second round's key must be compacted first.
	n.mu.Lock()
	owed := -1
	for i := 1; i < ringSize && owed < 0; i++ {
		if n.owedLocked(i) != 0 {
			owed = i
		}
	}
	n.mu.Unlock()
	if owed < 0 {
		term.smu.Unlock()
		t.Fatalf("no update key owes a compaction after the first pulse")
	}
	term.slot = owed - 1
	b := &batch{snaps: make(shard), done: make(chan struct{})}
	for _, s := range r.syms {
		b.snaps[s] = r.next(s)
	}
	term.inflight <- struct{}{} // the caller's place, as sendNow takes it
	term.wwg.Add(1)             // takeBatch's
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		first := term.sendBatchLocked(b, true)
		term.smu.Unlock()
		if first != nil {
			first()
		}
	}()
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("sendBatchLocked(%d snapshots, own) did not finish the batch in 10s", len(b.snaps))
	}
	<-sent
	if b.err != nil {
		t.Fatalf("batch of %d snapshots: err = %v, want nil", len(b.snaps), b.err)
	}
	waitFor(t, 10*time.Second, "the board has every new quote", func() bool { return r.allAt(2) })
	r.in.stop()
}
