package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
// are safe for concurrent use. PutSymbols blocks for at most one round
// trip to NATS; Put until the round its snapshot goes in is written (see
// Put), which its ctx and the term's deadline bound. Puts of one symbol
// must not overlap (the collector's do not): rounds in flight at once
// may land in any order. The term's writer and its rounds live as long
// as the term (across Lead's calls after a fenced write); the term's end
// waits for them.
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
	symsHeld bool            // Follow has not synced the dynamic symbols yet
	syms     *board.Symbols  // a set to publish (held, or whose publish failed)
	live     map[string]bool // the symbols of the last set given to PutSymbols; nil before the first
	done     bool

	wake     chan struct{}  // capacity 1: a batch waits for the writer
	inflight chan struct{}  // capacity maxInFlight: a token per round in flight
	wwg      sync.WaitGroup // the writer and the rounds in flight

	smu sync.Mutex // held by the sender of a batch (the writer or a Put) before it takes tokens
	// Guarded by smu.
	slot     int       // the next update key; -1 until the term's first round
	lastSend time.Time // when the last batch went

	wmu sync.Mutex
	// Guarded by wmu.
	next    *batch // the round Puts add to; nil when none waits
	wclosed bool   // the term is over: Put refuses
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
	pa, err := publish(wctx, js, msg, expect)
	switch {
	case err == nil:
		return pa.Sequence, nil
	case isWrongLastSeq(err):
		return 0, t.fenced(key)
	default:
		return 0, fmt.Errorf("cluster: write %s: %w", key, err)
	}
}

// publish publishes msg expecting its subject's last sequence, and waits
// for the ack. The message is flushed to the server by the caller (a
// flush with a PING, in place) rather than by nats.go's flusher
// goroutine: during a pulse that goroutine, once woken, can wait
// milliseconds behind the leader's collection goroutines (execution
// trace, docs/benchmarks.md).
func publish(ctx context.Context, js jetstream.JetStream, msg *nats.Msg, expect uint64) (*jetstream.PubAck, error) {
	fut, err := js.PublishMsgAsync(msg, jetstream.WithExpectLastSequencePerSubject(expect))
	if err != nil {
		return nil, err
	}
	if err := js.Conn().FlushWithContext(ctx); err != nil {
		return nil, err
	}
	select {
	case pa := <-fut.Ok():
		return pa, nil
	case err := <-fut.Err():
		return nil, err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// Put writes snap and returns once the write is done: the snapshots that
// arrive within roundGap of the last batch (or while maxInFlight rounds
// are in flight) go together in the next, one message to the next update
// key (see the bucket's keys in codec.go), so a pulse costs NATS a few
// messages rather than one per symbol. A Put may send that batch itself
// (see sendNow), its ctx not bounding the write: the term's deadline
// does. Each
// write expects its key's last revision this instance has seen. Put
// refuses (ErrFenced, restarting Lead) a snapshot whose quote would go
// back or repeat a seq with another quote: that means another writer got
// there first. After a non-nil error other than ErrFenced the write may
// or may not have landed; one that fails fails its whole round.
func (t *Term) Put(ctx context.Context, snap board.Snapshot) error {
	if _, err := t.usable(); err != nil {
		return err
	}
	t.n.mu.Lock()
	cur, _ := t.n.knownSnapshotLocked(snap.Symbol)
	t.n.mu.Unlock()
	if goesBack(cur, snap) {
		return t.fenced(shardKey(shardOf(snap.Symbol)))
	}
	t.wmu.Lock()
	if t.wclosed {
		t.wmu.Unlock()
		return ErrNotLeader
	}
	if t.next == nil {
		t.next = &batch{snaps: make(shard), done: make(chan struct{})}
	}
	b := t.next
	if p, ok := b.snaps[snap.Symbol]; ok && goesBack(p, snap) {
		t.wmu.Unlock()
		return t.fenced(shardKey(shardOf(snap.Symbol)))
	}
	b.snaps[snap.Symbol] = snap
	t.wmu.Unlock()
	if !t.sendNow() {
		select {
		case t.wake <- struct{}{}:
		default: // the writer has been woken already
		}
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// goesBack reports whether next would take a symbol's quote back from
// cur, or give cur's seq to another quote.
func goesBack(cur, next board.Snapshot) bool {
	c, q := cur.Quote, next.Quote
	return c.Seq > q.Seq || (c.Seq == q.Seq && c.Seq > 0 && !sameQuote(c, q))
}

// batch is the snapshots that go in one round (or several, past
// maxRound), and its outcome for the Puts waiting on it.
type batch struct {
	snaps shard
	done  chan struct{} // closed once every round of the batch is done

	mu   sync.Mutex
	left int   // rounds not done yet; guarded by mu
	err  error // the first round's error; read after done
}

// finish records one round's outcome, closing done after the last.
func (b *batch) finish(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil {
		b.err = err
	}
	if b.left--; b.left == 0 {
		close(b.done)
	}
}

// maxRound bounds the snapshots in one round's message, far below NATS's
// default 1 MB payload limit (a snapshot encodes in about 400 bytes).
const maxRound = 256

// maxInFlight bounds the rounds in flight at once (sent, their ack not
// yet seen), well below ringSize: an update key is reused only once its
// last write's outcome is known. Rounds in flight never share a symbol: a
// symbol's next Put waits for its last (the collector puts one symbol's
// snapshots in order), so their order does not matter. Sending a round
// only once the last one's ack is in made every round wait for the acks,
// which the leader reads late during a pulse: its collection goroutines
// keep its CPU busy (acks seen 30 ms after nats-server had delivered the
// round to watchers, on this 2-core machine).
const maxInFlight = 64

// roundGap is the least time between two batches: the snapshots arriving
// meanwhile go in the next. The first batch after a quiet spell goes at
// once.
const roundGap = time.Millisecond

// Who sends a batch. During a pulse the Puts arrive every few tens of
// microseconds, and the Put that finds roundGap passed since the last
// batch (sendNow) sends the waiting batch itself, its own snapshot and
// those that arrived since: it is running already, so the batch goes
// without waiting for another goroutine to be scheduled. On the leader a
// goroutine woken during a pulse waits behind hundreds of collection
// goroutines (milliseconds; see docs/benchmarks.md, "Session 7: cluster
// latency"), which is where the writer and each round's goroutine lost
// their time. The writer sends what no later Put did: the last snapshots
// of a pulse, and every batch while the rounds in flight are at
// maxInFlight.

// startWrites starts the term's writer.
func (t *Term) startWrites() {
	t.wake = make(chan struct{}, 1)
	t.inflight = make(chan struct{}, maxInFlight)
	t.slot = -1
	t.wwg.Add(1)
	// Sends rounds until the term ends.
	go func() { defer t.wwg.Done(); t.writeLoop() }()
}

// closeWrites refuses further Puts and waits for the writer and the
// rounds in flight; the writer fails the batch waiting, if any. The
// term's context must have ended.
func (t *Term) closeWrites() {
	t.wmu.Lock()
	t.wclosed = true
	t.wmu.Unlock()
	t.wwg.Wait()
}

// sendNow sends the waiting batch from the calling Put, if no other
// sender is at it, roundGap has passed since the last batch and a round
// can go (fewer than maxInFlight in flight); it reports whether it did.
// A batch of one round is written by the caller, before sendNow returns;
// a larger one (past maxRound) by goroutines of its own.
func (t *Term) sendNow() bool {
	if !t.smu.TryLock() {
		return false
	}
	if time.Since(t.lastSend) < roundGap {
		t.smu.Unlock()
		return false
	}
	select {
	case t.inflight <- struct{}{}:
	default:
		t.smu.Unlock()
		return false
	}
	b := t.takeBatch()
	if b == nil {
		<-t.inflight
		t.smu.Unlock()
		return false
	}
	first := t.sendBatchLocked(b, true)
	t.smu.Unlock()
	if first != nil {
		first()
	}
	return true
}

// takeBatch takes the waiting batch, nil when none waits or Puts are
// refused; a batch taken counts once in t.wwg until its rounds have
// started (sendBatchLocked), so that closeWrites waits for them.
func (t *Term) takeBatch() *batch {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	b := t.next
	if b == nil || t.wclosed {
		return nil
	}
	t.next = nil
	t.wwg.Add(1)
	return b
}

// writeLoop sends the batch that no Put sent itself until the term's
// context ends. It takes the batch only once a round can be sent
// (roundGap after the last batch, with fewer than maxInFlight in flight),
// so that the snapshots arriving meanwhile go together.
func (t *Term) writeLoop() {
	idle := time.NewTimer(idleCompact)
	defer idle.Stop()
	gap := time.NewTimer(0)
	defer gap.Stop()
	for {
		select {
		case <-t.wake:
		case <-idle.C:
			// Idle since the last batch, whoever sent it: the Puts
			// send most of a pulse's batches themselves.
			t.smu.Lock()
			wait := idleCompact - time.Since(t.lastSend)
			t.smu.Unlock()
			if wait > 0 {
				idle.Reset(wait)
				continue
			}
			t.compactIdle()
			continue
		case <-t.ctx.Done():
			t.failWaiting()
			return
		}
		for {
			t.smu.Lock()
			wait := roundGap - time.Since(t.lastSend)
			if wait <= 0 {
				break // holding smu
			}
			t.smu.Unlock()
			gap.Reset(wait)
			select {
			case <-gap.C:
			case <-t.ctx.Done():
				t.failWaiting()
				return
			}
		}
		select {
		case t.inflight <- struct{}{}:
		case <-t.ctx.Done():
			t.smu.Unlock()
			t.failWaiting()
			return
		}
		b := t.takeBatch()
		if b == nil {
			<-t.inflight
			t.smu.Unlock()
			continue
		}
		t.sendBatchLocked(b, false)
		t.smu.Unlock()
		idle.Reset(idleCompact)
	}
}

// idleCompact is how long the writer waits after a batch before it
// compacts the shards that rounds have touched since their last
// compaction. Pulses are bursts: compacting between them keeps it off
// the rounds' way, where it would wait for every round in flight.
const idleCompact = 100 * time.Millisecond

// compactIdle compacts, once the rounds in flight are done, every shard
// that the update keys to be reused in the next ringSize/2 rounds hold
// snapshots of and no shard key has had since (all the ring's, before
// the term's first round): so a shard is rewritten about once per half
// turn of the ring rather than after every pulse, and seldom when an
// update key is reused. A failure is left to prepareSlotLocked, which
// compacts what is still owed before an update key is reused.
func (t *Term) compactIdle() {
	t.smu.Lock()
	defer t.smu.Unlock()
	for range maxInFlight {
		select {
		case t.inflight <- struct{}{}:
		case <-t.ctx.Done():
			return // the rounds in flight end by the deadline; closeWrites waits for them
		}
	}
	defer func() {
		for range maxInFlight {
			<-t.inflight
		}
	}()
	n := t.n
	var dirty uint64
	n.mu.Lock()
	if t.slot < 0 {
		for i := range ringSize {
			dirty |= n.owedLocked(i)
		}
	} else {
		for i := range ringSize / 2 {
			dirty |= n.owedLocked((t.slot + i) % ringSize)
		}
	}
	n.mu.Unlock()
	if err := t.compact(dirty); err != nil {
		n.log.Debug("cluster: compact", "error", err)
	}
}

// failWaiting fails the batch waiting, if any: the term is over.
func (t *Term) failWaiting() {
	t.wmu.Lock()
	b := t.next
	t.next = nil
	t.wmu.Unlock()
	if b != nil {
		b.left = 1
		b.finish(ErrNotLeader)
	}
}

// sendBatchLocked sends b, taken by takeBatch, in rounds of at most
// maxRound snapshots, each holding one of maxInFlight places; the caller
// holds smu and one place, for the first. Each round is written by a
// goroutine of its own, except, when own is set and b is one round, that
// round: then it is returned for the caller to run once it has released
// smu (nil when it failed before its write). A batch of several rounds
// starts all of them at once: a round kept back for the caller would
// hold its place while a later round's prepareSlotLocked waits for every
// place but one, which would never come.
func (t *Term) sendBatchLocked(b *batch, own bool) (first func()) {
	defer t.wwg.Done() // takeBatch's: every round started is counted
	t.lastSend = time.Now()
	parts := []shard{b.snaps}
	if len(b.snaps) > maxRound {
		parts = parts[:0]
		syms := slices.Sorted(maps.Keys(b.snaps))
		for c := range slices.Chunk(syms, maxRound) {
			part := make(shard, len(c))
			for _, sym := range c {
				part[sym] = b.snaps[sym]
			}
			parts = append(parts, part)
		}
	}
	b.left = len(parts)
	for i, part := range parts {
		if i > 0 {
			select {
			case t.inflight <- struct{}{}:
			case <-t.ctx.Done():
				b.finish(ErrNotLeader)
				continue
			}
		}
		slot, err := t.prepareSlotLocked()
		if err != nil {
			<-t.inflight
			b.finish(err)
			continue
		}
		t.wwg.Add(1)
		round := func() {
			defer t.wwg.Done()
			err := t.writeRound(slot, part)
			<-t.inflight
			b.finish(err)
		}
		if own && len(parts) == 1 {
			first = round
			continue
		}
		// Ends with the write, by the term's deadline.
		go round()
	}
	return first
}

// prepareSlotLocked returns the update key the next round goes to, the
// one after the last, having compacted first the shards whose snapshots
// that key holds and no shard key has since. The caller holds smu and one
// of the in-flight places; compacting waits for the other rounds in
// flight, so that a shard's compaction holds every snapshot sent before
// it.
func (t *Term) prepareSlotLocked() (int, error) {
	n := t.n
	n.mu.Lock()
	if t.slot < 0 {
		t.slot, _ = n.nextSlotLocked()
	}
	slot := t.slot
	owed := n.owedLocked(slot)
	n.mu.Unlock()
	if owed != 0 {
		for range maxInFlight - 1 {
			t.inflight <- struct{}{} // the rounds in flight end by the deadline
		}
		err := t.compact(owed)
		for range maxInFlight - 1 {
			<-t.inflight
		}
		if err != nil {
			return 0, err
		}
	}
	t.slot = (slot + 1) % ringSize
	return slot, nil
}

// writeRound writes one round to update key slot.
func (t *Term) writeRound(slot int, snaps shard) error {
	n := t.n
	key := ringKey(slot)
	fresh := make([]time.Time, 0, len(snaps)) // the new quotes' collected_at, for the lag metrics
	n.mu.Lock()
	for sym, s := range snaps {
		cur, ok := n.knownSnapshotLocked(sym)
		if ok && goesBack(cur, s) {
			n.mu.Unlock()
			return t.fenced(shardKey(shardOf(sym)))
		}
		if s.Quote.Seq > cur.Quote.Seq && !s.Quote.CollectedAt.IsZero() {
			fresh = append(fresh, s.Quote.CollectedAt)
		}
	}
	expect := n.known[key].rev
	n.mu.Unlock()
	data, err := encodeShard(snaps)
	if err != nil {
		return fmt.Errorf("cluster: encode round: %w", err)
	}
	if h := n.opts.beforeWrite; h != nil {
		h(key)
	}
	n.mu.Lock()
	n.sent[key] = sentValue{data, snaps} // its watch need not decode it
	n.mu.Unlock()
	observeLag(n.metrics.sendLag, fresh)
	rev, err := t.write(t.ctx, key, data, expect)
	if err != nil {
		return err
	}
	observeLag(n.metrics.ackLag, fresh)
	n.metrics.rounds.Inc()
	n.metrics.roundSnaps.Add(float64(len(snaps)))
	n.mu.Lock()
	n.setKnownLocked(key, keyRev{rev: rev, shards: snaps.mask()})
	for sym, s := range snaps {
		n.setLatestLocked(sym, rev, s)
	}
	n.mu.Unlock()
	return nil
}

// nextSlotLocked returns the update key after the last one written (the
// highest revision), and the shards to compact before it is overwritten.
func (n *Node) nextSlotLocked() (slot int, owed uint64) {
	var last uint64
	for i := range ringSize {
		if r := n.known[ringKey(i)].rev; r > last {
			last, slot = r, (i+1)%ringSize
		}
	}
	return slot, n.owedLocked(slot)
}

// owedLocked returns the shards of update key slot's snapshots that no
// shard key has had since: they must be compacted before it is reused.
func (n *Node) owedLocked(slot int) (owed uint64) {
	k := n.known[ringKey(slot)]
	for i := range shards {
		if k.shards&(1<<i) != 0 && n.known[shardKey(i)].rev < k.rev {
			owed |= 1 << i
		}
	}
	return owed
}

// compact writes the shard keys of the shards in mask, at once: each gets
// the latest snapshot of every symbol of the shard, less the symbols that
// have left the symbol set (in neither the bucket's set nor the last one
// given to PutSymbols), so that the bucket holds no more than the set's
// symbols. A symbol that comes back starts its seqs again, as in one
// process.
func (t *Term) compact(mask uint64) error {
	if mask == 0 {
		return nil
	}
	n := t.n
	t.mu.Lock()
	live := t.live
	t.mu.Unlock()
	var (
		wg   sync.WaitGroup
		emu  sync.Mutex
		errs []error
	)
	for i := range shards {
		if mask&(1<<i) == 0 {
			continue
		}
		key := shardKey(i)
		n.mu.Lock()
		sh := make(shard, len(n.latest[i]))
		for sym, s := range n.latest[i] {
			if live == nil || live[sym] || n.symSet[sym] {
				sh[sym] = s.snap
			}
		}
		expect := n.known[key].rev
		n.mu.Unlock()
		data, err := encodeShard(sh)
		if err != nil {
			return fmt.Errorf("cluster: encode shard %d: %w", i, err)
		}
		wg.Add(1)
		// Ends with the write, by the term's deadline.
		go func() {
			defer wg.Done()
			if h := n.opts.beforeWrite; h != nil {
				h(key)
			}
			n.mu.Lock()
			n.sent[key] = sentValue{data, sh}
			n.mu.Unlock()
			rev, err := t.write(t.ctx, key, data, expect)
			if err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
				return
			}
			n.metrics.compactions.Inc()
			n.mu.Lock()
			n.setKnownLocked(key, keyRev{rev: rev})
			n.mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// PutSymbols publishes the symbol set, which every instance's board
// follows. Until Follow has added the dynamic symbols that instances
// want, the set is held, so that a new term does not drop them from
// boards for a moment. ctx is unused beyond the term's deadline.
func (t *Term) PutSymbols(_ context.Context, syms board.Symbols) error {
	t.mu.Lock()
	s := board.Symbols{Configured: slices.Clone(syms.Configured), Dynamic: slices.Clone(syms.Dynamic)}
	t.syms = &s
	t.live = make(map[string]bool, len(s.Configured)+len(s.Dynamic))
	for _, sym := range s.All() {
		t.live[sym] = true
	}
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
		t.n.setKnownLocked(symbolsKey, keyRev{rev: rev})
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
	return t.n.knownSnapshotLocked(sym)
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
