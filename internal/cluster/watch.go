package cluster

import (
	"bytes"
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

// applySnapshots applies the value at revision rev of shard i's key, or
// with i < 0 of an update key: decoded, recorded, then each snapshot not
// older than the one last seen for its symbol put on the board, the last
// two in the watch's order; a value this instance sent is not decoded
// again. The board is written outside n.mu, so that the leader's writes
// do not wait for the board's watchers; a leader catching up waits for
// applied, which grows only once the board has the snapshots. A malformed
// value changes nothing. stored is when the server stored the value,
// for the store lag metric.
func (n *Node) applySnapshots(key string, i int, rev uint64, data []byte, stored time.Time) {
	n.mu.Lock()
	sent, ok := n.sent[key]
	mine := ok && bytes.Equal(sent.data, data)
	if mine {
		delete(n.sent, key)
	}
	n.mu.Unlock()
	sh, err := sent.sh, error(nil)
	if !mine {
		sh, err = decodeShard(i, data)
	}
	if err != nil {
		n.log.Warn("cluster: snapshots", "key", key, "error", err)
		n.mu.Lock()
		n.appliedLocked(rev)
		n.mu.Unlock()
		return
	}
	put := make([]board.Snapshot, 0, len(sh))
	n.mu.Lock()
	kr := keyRev{rev: rev}
	if i < 0 {
		kr.shards = sh.mask()
	}
	n.setKnownLocked(key, kr)
	for sym, s := range sh {
		// Equal: the leader's own write, recorded when it landed.
		if n.setLatestLocked(sym, rev, s) {
			put = append(put, s)
		}
	}
	if i >= 0 {
		// A compaction leaves out the symbols that left the set.
		for sym, cur := range n.latest[i] {
			if _, ok := sh[sym]; !ok && cur.rev < rev {
				delete(n.latest[i], sym)
			}
		}
	}
	n.mu.Unlock()
	// The board ignores a snapshot equal to the one it has: a compaction's
	// are mostly such.
	for _, snap := range put {
		old, _ := n.board.Snapshot(snap.Symbol)
		if err := n.board.Put(context.Background(), snap); err == nil && snap.Quote.Seq > old.Quote.Seq && !snap.Quote.CollectedAt.IsZero() {
			n.metrics.watchLag.Observe(time.Since(snap.Quote.CollectedAt).Seconds())
			n.metrics.storeLag.Observe(stored.Sub(snap.Quote.CollectedAt).Seconds())
		}
	}
	n.mu.Lock()
	n.appliedLocked(rev)
	n.mu.Unlock()
}

// setLatestLocked records snap as sym's latest, carried at revision rev,
// unless a later revision carried one or it would take sym's seq back; it
// reports whether it did.
func (n *Node) setLatestLocked(sym string, rev uint64, snap board.Snapshot) bool {
	m := n.latest[shardOf(sym)]
	if cur, ok := m[sym]; ok && (cur.rev > rev || cur.snap.Quote.Seq > snap.Quote.Seq) {
		return false
	}
	m[sym] = symRev{rev: rev, snap: snap}
	return true
}

// setKnownLocked records key's revision unless a newer one is known.
func (n *Node) setKnownLocked(key string, kr keyRev) {
	if cur, ok := n.known[key]; ok && cur.rev > kr.rev {
		return
	}
	n.known[key] = kr
}

// knownSnapshotLocked returns the latest snapshot of sym seen.
func (n *Node) knownSnapshotLocked(sym string) (board.Snapshot, bool) {
	s, ok := n.latest[shardOf(sym)][sym]
	return s.snap, ok
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
	if i, ok := parseShardKey(key); ok && !del {
		n.applySnapshots(key, i, rev, e.Value(), e.Created())
		return
	}
	if _, ok := parseRingKey(key); ok && !del {
		n.applySnapshots(key, -1, rev, e.Value(), e.Created())
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
			for i := range n.latest {
				n.latest[i] = make(map[string]symRev)
			}
			n.board.SetEpoch(ep)
			n.log.Info("cluster: epoch", "epoch", ep)
		}
		n.setKnownLocked(key, keyRev{rev: rev})
	case key == leaseKey:
		n.setKnownLocked(key, keyRev{rev: rev})
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
		n.setKnownLocked(key, keyRev{rev: rev})
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
		n.symSet = make(map[string]bool, len(syms.Configured)+len(syms.Dynamic))
		for _, sym := range syms.All() {
			n.symSet[sym] = true
		}
		// Snapshots delivered before the set that lists their symbol.
		for _, sym := range syms.All() {
			if snap, ok := n.knownSnapshotLocked(sym); ok {
				_ = n.board.Put(context.Background(), snap) // equal or older: nothing changes
			}
		}
	default:
		if _, ok := parseShardKey(key); ok { // deleted
			n.setKnownLocked(key, keyRev{rev: rev})
			return
		}
		if _, ok := parseRingKey(key); ok { // deleted
			n.setKnownLocked(key, keyRev{rev: rev})
			return
		}
		if inst, sym, ok := parseInterestKey(key); ok {
			n.setKnownLocked(key, keyRev{rev: rev})
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
