package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickerd/tickerd/internal/board"
)

var syms3 = []string{"AAPL", "MSFT", "NVDA"}

// start3 starts three instances on one NATS server and one upstream and
// waits until every board has a quote of every symbol.
func start3(t *testing.T, o clusterOpts) (*natsServer, *upstream, []*instance) {
	t.Helper()
	ns := startNATS(t)
	up := startUpstream(t)
	ins := []*instance{startInstance(t, ns, up, "a", o), startInstance(t, ns, up, "b", o), startInstance(t, ns, up, "c", o)}
	for _, in := range ins {
		waitFor(t, 15*time.Second, in.id+" has no quotes", func() bool {
			for _, s := range syms3 {
				if seqOf(in, s) == 0 {
					return false
				}
			}
			return in.node.Ready() == nil
		})
	}
	return ns, up, ins
}

func others(ins []*instance, not *instance) []*instance {
	return slices.DeleteFunc(slices.Clone(ins), func(in *instance) bool { return in == not })
}

// TestOneCollector: only the leader polls the upstream, and every
// instance shows the same snapshot for the same (symbol, seq).
func TestOneCollector(t *testing.T) {
	_, up, ins := start3(t, clusterOpts{})
	leader := leaderOf(t, 5*time.Second, ins...)
	from := up.count()
	target := seqOf(leader, "AAPL") + 5
	for _, in := range ins {
		waitFor(t, 10*time.Second, in.id+" AAPL does not advance", func() bool { return seqOf(in, "AAPL") >= target })
	}
	for _, ua := range up.requests(from) {
		if ua != leader.id {
			t.Fatalf("upstream request from %q while %q leads", ua, leader.id)
		}
	}
	for _, in := range ins {
		if in != leader && in.client.Stats().Requests != 0 {
			t.Errorf("follower %s: %d upstream requests, want 0", in.id, in.client.Stats().Requests)
		}
	}
	// Same (symbol, seq), same snapshot: compare each follower's history
	// with the leader's where their seqs overlap.
	lh, _ := leader.board.History("AAPL")
	bySeq := make(map[uint64]float64)
	for _, q := range lh {
		bySeq[q.Seq] = q.Price
	}
	for _, in := range others(ins, leader) {
		h, _ := in.board.History("AAPL")
		for _, q := range h {
			if p, ok := bySeq[q.Seq]; ok && p != q.Price {
				t.Errorf("%s: AAPL seq %d price %v, leader has %v", in.id, q.Seq, q.Price, p)
			}
		}
	}
	for _, in := range ins {
		st := in.node.Status()
		if st.Leader != leader.id || st.Term != leader.node.Leading() || st.NATS != "connected" || st.Epoch != ins[0].board.Epoch() {
			t.Errorf("%s: Status() = %+v, want leader %s term %d epoch %s", in.id, st, leader.id, leader.node.Leading(), ins[0].board.Epoch())
		}
	}
}

// TestLeaderKilled: the leader dies without resigning; another instance
// collects after the lease expires, continuing every seq, and the two
// never poll at the same time.
func TestLeaderKilled(t *testing.T) {
	o := clusterOpts{ttl: 2 * time.Second}
	_, up, ins := start3(t, o)
	old := leaderOf(t, 5*time.Second, ins...)
	rest := others(ins, old)
	m := monitor(t, syms3, rest...)
	before := seqOf(rest[0], "AAPL")
	killed := time.Now()
	old.kill()
	next := leaderOf(t, 3*(o.ttl+time.Second), rest...)
	from := up.count()
	waitFor(t, 5*time.Second, "no new quote after failover", func() bool { return seqOf(rest[0], "AAPL") > before+1 })
	t.Logf("kill -> new leader's quote on %s: %v", rest[0].id, time.Since(killed))
	if testing.Verbose() {
		t.Logf("upstream log: %v", up.requests(0))
	}
	for _, ua := range up.requests(from) {
		if ua == old.id {
			t.Errorf("upstream request from the killed leader %s after %s leads", old.id, next.id)
		}
	}
	m.stop()
	m.check(t)
}

// TestResign: a leader that stops resigns; the successor takes over at
// once, not after the lease's TTL.
func TestResign(t *testing.T) {
	o := clusterOpts{ttl: 6 * time.Second} // expiry would take 4.5 s or more
	_, _, ins := start3(t, o)
	old := leaderOf(t, 5*time.Second, ins...)
	rest := others(ins, old)
	m := monitor(t, syms3, rest...)
	start := time.Now()
	old.stop()
	leaderOf(t, 10*time.Second, rest...)
	if d := time.Since(start); d > o.ttl/2 {
		t.Errorf("handover after resign took %v, want well under the lease's %v", d, o.ttl)
	}
	before := seqOf(rest[0], "AAPL")
	waitFor(t, 5*time.Second, "no quote after handover", func() bool { return seqOf(rest[0], "AAPL") > before })
	t.Logf("resign -> successor's quote: %v", time.Since(start))
	m.stop()
	m.check(t)
}

// TestFrozenLeader: a leader whose renewals stall stops collecting at
// its deadline, before its lease can expire; the successor leads; a late
// write from the old term is refused locally, and one forced past the
// local check is rejected by the server; once thawed it writes nothing
// and the successor keeps leading.
func TestFrozenLeader(t *testing.T) {
	// The frozen instance neither renews nor campaigns, as under SIGSTOP:
	// freezing only its renewals would let it win the next election and
	// lead (and collect) a legitimate term of its own.
	freeze := make(chan struct{})
	thaw := make(chan struct{})
	var frozenID string
	o := clusterOpts{ttl: 2 * time.Second}
	ns := startNATS(t)
	up := startUpstream(t)
	var ins []*instance
	for _, id := range []string{"a", "b", "c"} {
		oo := o
		oo.paused = func(ctx context.Context) {
			select {
			case <-freeze:
			default:
				return
			}
			if id != frozenID {
				return
			}
			select { // frozen until thawed
			case <-thaw:
			case <-ctx.Done():
			}
		}
		ins = append(ins, startInstance(t, ns, up, id, oo))
	}
	old := leaderOf(t, 10*time.Second, ins...)
	frozenID = old.id
	rest := others(ins, old)
	waitFor(t, 10*time.Second, "no quotes", func() bool { return seqOf(rest[0], "AAPL") > 0 })
	term := old.lastTerm()
	close(freeze)
	waitFor(t, 2*o.ttl, "frozen leader still leads past its deadline", func() bool { return old.node.Leading() == 0 })
	stopped := old.client.Stats().Requests
	next := leaderOf(t, 3*o.ttl, rest...)
	before := seqOf(next, "AAPL")
	waitFor(t, 5*time.Second, "successor collects nothing", func() bool { return seqOf(next, "AAPL") > before })

	snap, _ := old.board.Snapshot("AAPL")
	snap.Quote.Seq += 1000
	if err := term.Put(context.Background(), snap); !errors.Is(err, ErrNotLeader) {
		t.Errorf("old term's Put after its deadline = %v, want ErrNotLeader", err)
	}
	// Forced past the local check with the revision the old term knew of
	// an update key: once the successor has written that key since, the
	// server rejects it.
	stale := make(map[string]uint64)
	old.node.mu.Lock()
	for i := range ringSize {
		stale[ringKey(i)] = old.node.known[ringKey(i)].rev
	}
	old.node.mu.Unlock()
	var key string
	waitFor(t, 5*time.Second, "successor has written no update key since", func() bool {
		next.node.mu.Lock()
		defer next.node.mu.Unlock()
		for k, r := range stale {
			if next.node.known[k].rev > r {
				key = k
				return true
			}
		}
		return false
	})
	staleRev := stale[key]
	data, _ := encodeShard(shard{"AAPL": snap})
	old.node.mu.Lock()
	js := old.node.js
	old.node.mu.Unlock()
	msg := natsMsg(term.kvSubject(key), data)
	if _, err := js.PublishMsg(context.Background(), msg, jetstream.WithExpectLastSequencePerSubject(staleRev)); !isWrongLastSeq(err) {
		t.Errorf("forced late write = %v, want wrong last sequence", err)
	}
	close(thaw)
	nextTerm := next.node.Leading()
	after := seqOf(next, "AAPL")
	waitFor(t, 5*time.Second, "successor stops collecting after the thaw", func() bool { return seqOf(next, "AAPL") > after+3 })
	if got := next.node.Leading(); got != nextTerm {
		t.Errorf("successor's term = %d after the thaw, want %d", got, nextTerm)
	}
	if got := old.client.Stats().Requests; got != stopped {
		t.Errorf("frozen leader made %d upstream requests after its deadline", got-stopped)
	}
	for _, in := range ins {
		if s, _ := in.board.Snapshot("AAPL"); s.Quote.Seq >= snap.Quote.Seq {
			t.Errorf("%s: AAPL seq %d: the late write landed", in.id, s.Quote.Seq)
		}
	}
}

// TestConnectionCut: the leader's NATS connection is cut and stays down
// with the process alive: it stops collecting before its lease can
// expire, and the old and new leader never poll at the same time.
func TestConnectionCut(t *testing.T) {
	o := clusterOpts{ttl: 2 * time.Second}
	_, up, ins := start3(t, o)
	old := leaderOf(t, 5*time.Second, ins...)
	rest := others(ins, old)
	m := monitor(t, syms3, rest...)
	old.dialer.cut(true)
	waitFor(t, 2*o.ttl, "cut leader still leads", func() bool { return old.node.Leading() == 0 })
	stopped := old.client.Stats().Requests
	next := leaderOf(t, 3*o.ttl, rest...)
	from := up.count()
	before := seqOf(next, "AAPL")
	waitFor(t, 5*time.Second, "successor collects nothing", func() bool { return seqOf(next, "AAPL") > before+2 })
	for _, ua := range up.requests(from) {
		if ua == old.id {
			t.Errorf("upstream request from the cut leader after %s leads", next.id)
		}
	}
	if got := old.client.Stats().Requests; got != stopped {
		t.Errorf("cut leader made %d upstream requests after it stopped", got-stopped)
	}
	if err := old.node.Ready(); err == nil {
		t.Error("cut instance: Ready() = nil, want an error")
	}
	// Healed, it follows again and does not take over.
	old.dialer.heal()
	waitFor(t, 10*time.Second, "healed instance not ready", func() bool { return old.node.Ready() == nil })
	target := seqOf(next, "AAPL") + 2
	waitFor(t, 5*time.Second, "healed instance does not follow", func() bool { return seqOf(old, "AAPL") >= target })
	if l := old.node.Status().Leader; l != next.id {
		t.Errorf("healed instance sees leader %q, want %q", l, next.id)
	}
	m.stop()
	m.check(t)
}

// TestServerRestart: nats-server restarts (file storage): watches and
// writes resume; seqs continue.
func TestServerRestart(t *testing.T) {
	ns, _, ins := start3(t, clusterOpts{ttl: 2 * time.Second})
	m := monitor(t, syms3, ins...)
	before := make([]uint64, len(ins))
	for i, in := range ins {
		before[i] = seqOf(in, "AAPL")
	}
	epoch := ins[0].board.Epoch()
	ns.stop()
	ns.start()
	restarted := time.Now()
	for i, in := range ins {
		waitFor(t, 20*time.Second, in.id+": no new quote after the restart", func() bool { return seqOf(in, "AAPL") > before[i]+2 })
	}
	t.Logf("restart -> new quotes on every instance: %v", time.Since(restarted))
	for _, in := range ins {
		if e := in.board.Epoch(); e != epoch {
			t.Errorf("%s: epoch %s after the restart, want %s (same bucket)", in.id, e, epoch)
		}
	}
	m.stop()
	m.check(t)
}

// TestUpstreamDown: the upstream fails every request: every instance
// shows the same stale status and keeps the last quote.
func TestUpstreamDown(t *testing.T) {
	_, up, ins := start3(t, clusterOpts{})
	up.down.Store(true)
	var want board.Snapshot
	for _, in := range ins {
		waitFor(t, 10*time.Second, in.id+": AAPL not stale", func() bool {
			s, _ := in.board.Snapshot("AAPL")
			return s.Stale && s.Failures >= 2
		})
	}
	// The leader's view settles first; every board converges to it.
	leader := leaderOf(t, 5*time.Second, ins...)
	waitFor(t, 10*time.Second, "boards disagree on the stale snapshot", func() bool {
		want, _ = leader.board.Snapshot("AAPL")
		for _, in := range ins {
			if s, _ := in.board.Snapshot("AAPL"); s.Stale != want.Stale || s.Err != want.Err || s.Quote.Seq != want.Quote.Seq || !want.HasQuote() {
				return false
			}
		}
		return true
	})
	up.down.Store(false)
	waitFor(t, 10*time.Second, "not recovered", func() bool {
		for _, in := range ins {
			if s, _ := in.board.Snapshot("AAPL"); s.Stale {
				return false
			}
		}
		return true
	})
}

// TestUnreachableAtStart: NATS down at start: Run waits, Ready says why,
// and the instance becomes ready once NATS is up.
func TestUnreachableAtStart(t *testing.T) {
	ln := freePort(t)
	up := startUpstream(t)
	ns := &natsServer{t: t, dir: t.TempDir(), port: ln}
	t.Cleanup(ns.stop)
	in := startInstance(t, ns, up, "a", clusterOpts{url: ns.url()})
	waitFor(t, 5*time.Second, "Run not started", func() bool { return in.node.Status().NATS != "not started" })
	err := in.node.Ready()
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("Ready() = %v, want ErrNotReady", err)
	}
	t.Logf("Ready() while NATS is down: %v", err)
	ns.start()
	waitFor(t, 15*time.Second, "not ready once NATS is up", func() bool { return in.node.Ready() == nil })
	waitFor(t, 10*time.Second, "no quote", func() bool { return seqOf(in, "AAPL") > 0 })
}

// TestDynamicInterest: a symbol one instance's client wants is collected
// by the leader and reaches every board; when no instance wants it any
// more it leaves every board. The leader takes at most MaxDynamic.
func TestDynamicInterest(t *testing.T) {
	_, up, ins := start3(t, clusterOpts{maxDynamic: 1})
	leader := leaderOf(t, 5*time.Second, ins...)
	edge := others(ins, leader)[0]
	d := edge.node.Interest()
	if !d.Add("TSLA") {
		t.Fatal("Add(TSLA) = false, want true")
	}
	if d.Add("TSLA") {
		t.Error("second Add(TSLA) = true, want false")
	}
	for _, in := range ins {
		waitFor(t, 10*time.Second, in.id+": no TSLA quote", func() bool { return seqOf(in, "TSLA") > 0 })
	}
	d.Add("AMZN") // past MaxDynamic: never collected
	from := up.count()
	target := seqOf(leader, "TSLA") + 3
	waitFor(t, 10*time.Second, "TSLA does not advance", func() bool { return seqOf(leader, "TSLA") >= target })
	for _, in := range ins {
		if _, ok := in.board.Value("AMZN"); ok {
			t.Errorf("%s: AMZN on the board past MaxDynamic", in.id)
		}
	}
	d.Remove("TSLA")
	d.Remove("AMZN")
	for _, in := range ins {
		waitFor(t, 10*time.Second, in.id+": TSLA still on the board", func() bool { _, ok := in.board.Value("TSLA"); return !ok })
	}
	_ = from
}

// TestReadyIgnoresLeadership: followers are ready as soon as they watch.
func TestReadyIgnoresLeadership(t *testing.T) {
	_, _, ins := start3(t, clusterOpts{})
	for _, in := range ins {
		if err := in.node.Ready(); err != nil {
			t.Errorf("%s (leading %d): Ready() = %v, want nil", in.id, in.node.Leading(), err)
		}
	}
}
