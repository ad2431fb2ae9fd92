package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickerd/tickerd/internal/board"
)

// setup returns the bucket, creating it (and its epoch key) when missing.
func (n *Node) setup(ctx context.Context) (jetstream.KeyValue, error) {
	n.mu.Lock()
	js := n.js
	n.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(cctx, n.opts.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(cctx, jetstream.KeyValueConfig{
			Bucket:      n.opts.Bucket,
			Description: "tickerd cluster state",
			History:     1,
			Replicas:    n.opts.Replicas,
			Storage:     jetstream.FileStorage,
			// Expired leases and interest keys leave a marker that
			// watchers see; the marker itself goes after this long.
			LimitMarkerTTL: max(n.opts.interestTTL, time.Second),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(cctx, n.opts.Bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", n.opts.Bucket, err)
	}
	// A new bucket is a new epoch: whoever creates the key first names it.
	if _, err := kv.Create(cctx, epochKey, []byte(board.NewEpoch())); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("bucket %s: epoch: %w", n.opts.Bucket, err)
	}
	return kv, nil
}

// watchLoop watches the bucket into the board until ctx ends, starting a
// new watch on every reconnect and whenever the watch ends.
func (n *Node) watchLoop(ctx context.Context) {
	first := true
	for ctx.Err() == nil {
		select {
		case <-n.reconnect: // this watch starts after it
		default:
		}
		kv, err := n.setup(ctx)
		var w jetstream.KeyWatcher
		if err == nil {
			w, err = kv.WatchAll(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			n.setNATSErr(err)
			n.log.Warn("cluster: watch", "error", err)
			select {
			case <-ctx.Done():
			case <-n.reconnect:
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		if !first {
			n.metrics.watchRestarts.Inc()
		}
		first = false
		n.mu.Lock()
		n.kv, n.initial, n.applied, n.natsErr = kv, false, 0, nil
		n.mu.Unlock()
		n.follow(ctx, w)
		n.stopWatch(w)
	}
}

// follow applies w's entries until w ends, a reconnect happens or ctx
// ends.
func (n *Node) follow(ctx context.Context, w jetstream.KeyWatcher) {
	seen := make(map[string]bool)
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				n.initialDone(seen)
				seen = nil
				continue
			}
			if seen != nil {
				seen[e.Key()] = true
			}
			n.apply(e)
		case <-n.reconnect:
			n.log.Info("cluster: reconnected to nats; watching anew")
			return
		case <-ctx.Done():
			return
		}
	}
}

// stopWatch stops w and drains it: nats.go's callback blocks sending to
// a full Updates channel while holding the lock its close needs.
func (n *Node) stopWatch(w jetstream.KeyWatcher) {
	n.mu.Lock()
	n.initial = false
	n.mu.Unlock()
	_ = w.Stop() // an error means the subscription is gone already
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case _, ok := <-w.Updates():
			if !ok {
				return
			}
		case <-t.C:
			return
		}
	}
}

// initialDone ends the initial delivery: keys the new watch did not
// deliver are gone from the bucket.
func (n *Node) initialDone(seen map[string]bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for key := range n.known {
		if seen[key] {
			continue
		}
		delete(n.known, key)
		if inst, sym, ok := parseInterestKey(key); ok {
			n.dropInterestLocked(inst, sym)
		}
	}
	if !seen[leaseKey] && n.leader != "" {
		n.leader, n.term = "", 0
	}
	n.initial = true
	broadcastLocked(&n.leaseW)
	broadcastLocked(&n.wantW)
	n.wakeAppliedLocked()
}

func (n *Node) wakeAppliedLocked() {
	if n.appliedW != nil {
		close(n.appliedW)
		n.appliedW = nil
	}
}

// appliedLocked notes that the watch has applied revision rev. n.mu must
// be held.
func (n *Node) appliedLocked(rev uint64) {
	if rev > n.applied {
		n.applied = rev
		if n.initial {
			n.wakeAppliedLocked()
		}
	}
}

// applySnapshot applies the value of sym's snapshot key at revision rev:
// decoded, recorded as known, then put on the board, the last two in the
// watch's order. The board is written outside n.mu, so that the leader's
// writes do not wait for the board's watchers; a leader catching up waits
// for applied, which grows only once the board has the snapshot.
func (n *Node) applySnapshot(sym, key string, rev uint64, data []byte) {
	snap, err := decodeSnapshot(sym, data)
	if err != nil {
		n.log.Warn("cluster: snapshot", "error", err)
		n.mu.Lock()
		n.appliedLocked(rev)
		n.mu.Unlock()
		return
	}
	n.mu.Lock()
	n.setKnownLocked(key, rev, snap)
	n.mu.Unlock()
	prev, _ := n.board.Snapshot(sym)
	if err := n.board.Put(context.Background(), snap); err == nil && snap.Quote.Seq > prev.Quote.Seq && !snap.Quote.CollectedAt.IsZero() {
		n.metrics.watchLag.Observe(time.Since(snap.Quote.CollectedAt).Seconds())
	}
	n.mu.Lock()
	n.appliedLocked(rev)
	n.mu.Unlock()
}

// setKnownLocked records key's revision unless a newer one is known.
func (n *Node) setKnownLocked(key string, rev uint64, snap board.Snapshot) {
	if cur, ok := n.known[key]; ok && cur.rev > rev {
		return
	}
	n.known[key] = keyRev{rev: rev, snap: snap}
}

func (n *Node) dropInterestLocked(inst, sym string) {
	insts := n.interest[sym]
	if !insts[inst] {
		return
	}
	delete(insts, inst)
	if len(insts) == 0 {
		delete(n.interest, sym)
	}
	broadcastLocked(&n.wantW)
}

// apply applies one watched entry to the node's state and the board. It
// runs on the watch's one goroutine, so entries reach the board in stream
// order; a snapshot, the common case, is decoded and put on the board
// outside n.mu, which the leader's writes need too.
func (n *Node) apply(e jetstream.KeyValueEntry) {
	key, rev := e.Key(), e.Revision()
	del := e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
	if sym, ok := parseSnapKey(key); ok && !del {
		n.applySnapshot(sym, key, rev, e.Value())
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.appliedLocked(rev)
	switch {
	case key == epochKey:
		if del || len(e.Value()) == 0 {
			return
		}
		if ep := string(e.Value()); ep != n.board.Epoch() {
			// A new bucket: the seqs of the old one mean nothing.
			for k := range n.known {
				delete(n.known, k)
			}
			n.board.SetEpoch(ep)
			n.log.Info("cluster: epoch", "epoch", ep)
		}
		n.setKnownLocked(key, rev, board.Snapshot{})
	case key == leaseKey:
		n.setKnownLocked(key, rev, board.Snapshot{})
		leader, term := "", uint64(0)
		if !del {
			var err error
			if leader, term, err = decodeLease(e.Value(), rev); err != nil {
				n.log.Warn("cluster: lease", "error", err)
				return
			}
		}
		if leader != n.leader || term != n.term {
			n.leader, n.term = leader, term
			broadcastLocked(&n.leaseW)
		}
	case key == symbolsKey:
		n.setKnownLocked(key, rev, board.Snapshot{})
		if del {
			return
		}
		syms, err := decodeSymbols(e.Value())
		if err != nil {
			n.log.Warn("cluster: symbol set", "error", err)
			return
		}
		_ = n.board.PutSymbols(context.Background(), syms) // never fails
		n.syms = syms
		// Snapshots delivered before the set that lists their symbol.
		for _, sym := range syms.All() {
			if k, ok := n.known[snapKey(sym)]; ok && k.snap.Symbol != "" {
				_ = n.board.Put(context.Background(), k.snap) // equal or older: nothing changes
			}
		}
	default:
		if _, ok := parseSnapKey(key); ok { // deleted
			n.setKnownLocked(key, rev, board.Snapshot{})
			return
		}
		if inst, sym, ok := parseInterestKey(key); ok {
			n.setKnownLocked(key, rev, board.Snapshot{})
			if del {
				n.dropInterestLocked(inst, sym)
				return
			}
			if n.interest[sym] == nil {
				n.interest[sym] = make(map[string]bool)
			}
			if !n.interest[sym][inst] {
				n.interest[sym][inst] = true
				broadcastLocked(&n.wantW)
			}
		}
	}
}
