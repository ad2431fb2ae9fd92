package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

// Term is one term of this instance as leader, handed to Options.Lead. It
// is the collector's Sink: every write is a compare-and-set on the key's
// last revision, refused once the term's deadline has passed. Its methods
// are safe for concurrent use; Put and PutSymbols block for at most one
// round trip to NATS, bounded by the term's deadline.
//
//	Lead: func(ctx context.Context, t *cluster.Term) error {
//		c := collector.New(src, client, t, symbols, &collector.Options{Seed: t.Seed})
//		go t.Follow(ctx, c) // dynamic symbols wanted by any instance
//		return c.Run(ctx, schedule)
//	}
type Term struct {
	n      *Node
	kv     jetstream.KeyValue
	number uint64
	ctx    context.Context // the term's; ends with it
	end    context.CancelCauseFunc
	timer  *time.Timer // ends the term at the deadline

	mu sync.Mutex
	// Guarded by mu.
	rev      uint64    // the lease's last revision
	deadline time.Time // monotonic: stop before the server can expire the lease
	fence    context.CancelCauseFunc
	symsHeld bool           // Follow has not synced the dynamic symbols yet
	syms     *board.Symbols // a set to publish (held, or whose publish failed)
	done     bool
}

// Number returns the term: the bucket revision at which the lease was
// taken. Terms only grow within an epoch.
func (t *Term) Number() uint64 { return t.number }

func (t *Term) deadlineRev() (time.Time, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.deadline, t.rev
}

func (t *Term) leaseRev() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rev
}

func (t *Term) renewed(rev uint64, send time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	t.rev = rev
	t.deadline = send.Add(t.n.opts.LeaseTTL - t.n.margin)
	t.timer.Reset(time.Until(t.deadline))
}

func (t *Term) setFence(f context.CancelCauseFunc) {
	t.mu.Lock()
	t.fence = f
	t.mu.Unlock()
}

func (t *Term) over() {
	t.mu.Lock()
	t.done = true
	t.mu.Unlock()
}

func (t *Term) kvSubject(key string) string { return "$KV." + t.n.opts.Bucket + "." + key }

// usable returns the write deadline, or ErrNotLeader.
func (t *Term) usable() (time.Time, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || t.ctx.Err() != nil || !time.Now().Before(t.deadline) {
		return time.Time{}, ErrNotLeader
	}
	return t.deadline, nil
}

// Until returns the term's deadline, or ErrNotLeader once it has passed
// (checked on the monotonic clock, whether or not the timer that ends the
// term has fired): the term is a collector.Lease, so a collector sends no
// request past it.
func (t *Term) Until() (time.Time, error) { return t.usable() }

// fenced records a rejected write and restarts the term's Lead.
func (t *Term) fenced(key string) error {
	t.n.metrics.fenced.Inc()
	t.n.log.Warn("cluster: write fenced: another writer changed the key", "key", key, "term", t.number)
	t.mu.Lock()
	f := t.fence
	t.mu.Unlock()
	if f != nil {
		f(ErrFenced)
	}
	return fmt.Errorf("%w: %s", ErrFenced, key)
}

// write publishes data to key expecting the key's last known revision.
func (t *Term) write(ctx context.Context, key string, data []byte, expect uint64) (uint64, error) {
	deadline, err := t.usable()
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	msg := nats.NewMsg(t.kvSubject(key))
	msg.Data = data
	t.n.mu.Lock()
	js := t.n.js
	t.n.mu.Unlock()
	pa, err := js.PublishMsg(wctx, msg, jetstream.WithExpectLastSequencePerSubject(expect))
	switch {
	case err == nil:
		return pa.Sequence, nil
	case isWrongLastSeq(err):
		return 0, t.fenced(key)
	default:
		return 0, fmt.Errorf("cluster: write %s: %w", key, err)
	}
}

// Put writes snap to its symbol's key, expecting the key's last revision
// this instance has seen. It refuses (ErrFenced, restarting Lead) a
// snapshot whose quote would go back or repeat a seq with another quote:
// that means another writer got there first. After a non-nil error other
// than ErrFenced the write may or may not have landed.
func (t *Term) Put(ctx context.Context, snap board.Snapshot) error {
	key := snapKey(snap.Symbol)
	t.n.mu.Lock()
	k := t.n.known[key]
	t.n.mu.Unlock()
	if cur := k.snap.Quote; cur.Seq > snap.Quote.Seq || (cur.Seq == snap.Quote.Seq && cur.Seq > 0 && !sameQuote(cur, snap.Quote)) {
		return t.fenced(key)
	}
	data, err := encodeSnapshot(snap)
	if err != nil {
		return fmt.Errorf("cluster: encode %s: %w", snap.Symbol, err)
	}
	rev, err := t.write(ctx, key, data, k.rev)
	if err != nil {
		return err
	}
	t.n.mu.Lock()
	t.n.setKnownLocked(key, rev, snap)
	t.n.mu.Unlock()
	return nil
}

// PutSymbols publishes the symbol set, which every instance's board
// follows. Until Follow has added the dynamic symbols that instances
// want, the set is held, so that a new term does not drop them from
// boards for a moment. ctx is unused beyond the term's deadline.
func (t *Term) PutSymbols(_ context.Context, syms board.Symbols) error {
	t.mu.Lock()
	s := board.Symbols{Configured: slices.Clone(syms.Configured), Dynamic: slices.Clone(syms.Dynamic)}
	t.syms = &s
	held := t.symsHeld
	t.mu.Unlock()
	if held {
		return nil
	}
	return t.flushSymbols()
}

// flushSymbols publishes the last set given to PutSymbols, if it has not
// landed yet.
func (t *Term) flushSymbols() error {
	t.mu.Lock()
	s, held := t.syms, t.symsHeld
	t.mu.Unlock()
	if s == nil || held {
		return nil
	}
	t.n.mu.Lock()
	k := t.n.known[symbolsKey]
	same := slices.Equal(t.n.syms.Configured, s.Configured) && slices.Equal(t.n.syms.Dynamic, s.Dynamic) && k.rev > 0
	t.n.mu.Unlock()
	if !same {
		data, err := encodeSymbols(*s)
		if err != nil {
			return fmt.Errorf("cluster: encode symbol set: %w", err)
		}
		rev, err := t.write(t.ctx, symbolsKey, data, k.rev)
		if err != nil {
			return err
		}
		t.n.mu.Lock()
		t.n.setKnownLocked(symbolsKey, rev, board.Snapshot{})
		t.n.mu.Unlock()
	}
	t.mu.Lock()
	if t.syms == s {
		t.syms = nil
	}
	t.mu.Unlock()
	return nil
}

// Seed returns the last snapshot of sym this instance has seen: a
// collector seeded with it continues sym's seqs (collector.Options.Seed).
func (t *Term) Seed(sym string) (board.Snapshot, bool) {
	t.n.mu.Lock()
	defer t.n.mu.Unlock()
	k, ok := t.n.known[snapKey(sym)]
	if !ok || k.snap.Symbol != sym {
		return board.Snapshot{}, false
	}
	return k.snap, true
}

// Demand is what Follow drives: *collector.Collector satisfies it.
type Demand interface {
	Add(sym string) bool
	Remove(sym string)
}

// Follow adds to d the dynamic symbols that some instance's interest key
// asks for, up to Options.MaxDynamic, and removes them when no instance
// wants them any more, until ctx ends. After its first pass it releases
// the symbol set held by PutSymbols. It returns context.Cause(ctx).
func (t *Term) Follow(ctx context.Context, d Demand) error {
	n := t.n
	added := make(map[string]bool)
	first := true
	for {
		n.mu.Lock()
		ready := n.initial
		w := n.wantW
		var wanted []string
		if ready {
			for sym := range n.interest {
				wanted = append(wanted, sym)
			}
		}
		n.mu.Unlock()
		if ready {
			slices.Sort(wanted)
			for sym := range added {
				if !slices.Contains(wanted, sym) {
					d.Remove(sym)
					delete(added, sym)
				}
			}
			for _, sym := range wanted {
				if len(added) >= n.opts.MaxDynamic {
					break
				}
				if !added[sym] && d.Add(sym) {
					added[sym] = true
				}
			}
			if first {
				first = false
				t.mu.Lock()
				t.symsHeld = false
				t.mu.Unlock()
				if err := t.flushSymbols(); err != nil {
					n.log.Warn("cluster: publish symbol set", "error", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-w:
		}
	}
}

// sameQuote reports whether a and b are the same quote, times compared as
// instants.
func sameQuote(a, b quote.Quote) bool {
	if !a.Time.Equal(b.Time) || !a.CollectedAt.Equal(b.CollectedAt) {
		return false
	}
	a.Time, a.CollectedAt, b.Time, b.CollectedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}
