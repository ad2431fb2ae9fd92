//go:build cluster && unix

package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testTimeout bounds each test; the suite's total stays well under the
// three minutes CI gives it.
const testTimeout = 90 * time.Second

// burstGap separates two pulses' requests: a pulse's requests are
// pipelined within milliseconds, pulses are a second apart.
const burstGap = 300 * time.Millisecond

// waitSteady waits until every client has a quote collected after t.
func waitSteady(ctx context.Context, t *testing.T, c *cluster, cs []*wsClient, after time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*pulse+leaseTTL)
	defer cancel()
	for _, cl := range cs {
		if _, _, err := waitQuote(ctx, c.n, []*wsClient{cl}, func(q recvQuote) bool { return q.collected().After(after) }); err != nil {
			t.Fatalf("client of %s: no quote collected after %s: %v", cl.inst, after.Format("15:04:05.000"), err)
		}
	}
}

// Row "one collector": with three instances up, only the leader's proxy
// sees upstream connections, on one connection, and each pulse asks for
// each configured symbol exactly once.
func TestOneCollector(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newCluster(t, 3)
	leader := c.startAll(ctx)
	cs := c.clients(ctx, c.insts, 1)
	from := time.Now()
	waitSteady(ctx, t, c, cs, from)
	sleepCtx(ctx, 4*pulse+pulse/2) // the observation window

	// Every instance: the same leader, term and epoch, NATS connected; its
	// clients were told that epoch.
	lci, err := c.info(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	if lci.Epoch == "" || lci.Term == 0 {
		t.Errorf("GET /api/cluster of the leader = %+v, want an epoch and a term", lci)
	}
	for _, inst := range c.insts {
		ci, err := c.info(ctx, inst)
		if err != nil {
			t.Fatal(err)
		}
		if want := (clusterInfo{Instance: inst.id, Leader: leader.id, Term: lci.Term, Epoch: lci.Epoch, NATS: "connected"}); ci != want {
			t.Errorf("GET /api/cluster of %s = %+v, want %+v", inst.id, ci, want)
		}
		for _, cl := range clientsOf(cs, inst) {
			if cl.epoch() != lci.Epoch {
				t.Errorf("client of %s: subscribed epoch %q, want %q", inst.id, cl.epoch(), lci.Epoch)
			}
		}
	}

	reqs := c.log.since(from)
	conns := map[int]bool{}
	for _, r := range reqs {
		if r.inst != leader.id {
			t.Errorf("upstream request for %s from %s at %s, want only from the leader %s", r.symbol, r.inst, r.at.Format("15:04:05.000"), leader.id)
		}
		conns[r.conn] = true
	}
	if len(conns) != 1 {
		t.Errorf("upstream connections with requests = %d, want 1", len(conns))
	}
	for _, f := range c.others(leader) {
		if n := c.log.connsAccepted(f.id); n != 0 {
			t.Errorf("follower %s opened %d upstream connections, want 0", f.id, n)
		}
	}
	bursts := splitBursts(reqs)
	if len(bursts) < 4 {
		t.Fatalf("pulses seen in %v = %d, want at least 4 (schedule @every 1s)", 4*pulse+pulse/2, len(bursts))
	}
	// The first and last may be cut by the window.
	for _, b := range bursts[1 : len(bursts)-1] {
		got := make([]string, 0, len(b))
		for _, r := range b {
			got = append(got, r.symbol)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(symbols))
		if !slices.Equal(got, want) {
			t.Errorf("pulse at %s asked for %v, want each of %v once", b[0].at.Format("15:04:05.000"), got, want)
		}
	}
	t.Logf("leader %s: %d pulses, %d requests, 1 connection; followers opened none", leader.id, len(bursts), len(reqs))
	checkSeqs(t, cs)
	for _, cl := range cs {
		qs, _, _ := cl.snapshot()
		have := map[string]int{}
		for _, q := range qs {
			have[q.symbol]++
		}
		for _, s := range symbols {
			if have[s] < 3 {
				t.Errorf("client of %s: %d quotes for %s in about 5 pulses, want at least 3", cl.inst, have[s], s)
			}
		}
	}
}

// splitBursts groups requests (in time order) into pulses.
func splitBursts(reqs []upstreamRequest) [][]upstreamRequest {
	var out [][]upstreamRequest
	for i, r := range reqs {
		if i == 0 || r.at.Sub(reqs[i-1].at) > burstGap {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], r)
	}
	return out
}

// killLeader SIGKILLs leader and returns how long it took from the signal
// until a client of another instance received a quote collected after the
// leader was gone, and the new leader.
func killLeader(ctx context.Context, t *testing.T, c *cluster, leader *instance, cs []*wsClient) (time.Duration, *instance) {
	t.Helper()
	sent, gone := leader.p.kill(t)
	survivors := clientsOf(cs, c.others(leader)...)
	wctx, cancel := context.WithTimeout(ctx, leaseTTL+pulse+5*time.Second)
	defer cancel()
	q, qc, err := waitQuote(wctx, c.n, survivors, func(q recvQuote) bool { return q.collected().After(gone) })
	if err != nil {
		t.Fatalf("after SIGKILL of leader %s: no quote collected after it was gone on any other instance: %v", leader.id, err)
	}
	d := q.received.Sub(sent)
	next := c.waitLeader(ctx, leader.id)
	t.Logf("SIGKILL leader %s: %s seq %d on %s after %v; new leader %s", leader.id, q.symbol, q.seq, qc.inst, d.Round(time.Millisecond), next.id)
	return d, next
}

// Rows "leader process killed (SIGKILL)" and "leader SIGTERM": the leader
// is killed, then the next one is terminated.
func TestLeaderKilledThenTerminated(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newCluster(t, 3)
	first := c.startAll(ctx)
	cs := c.clients(ctx, c.insts, 2)
	waitSteady(ctx, t, c, cs, time.Now())

	// SIGKILL.
	d, second := killLeader(ctx, t, c, first, cs)
	if max := leaseTTL + time.Second; d > max {
		t.Errorf("SIGKILL of the leader: first new quote after %v, want <= lease_ttl + 1s = %v", d, max)
	}
	after := time.Now()
	waitSteady(ctx, t, c, clientsOf(cs, c.others(first)...), after)

	// SIGTERM.
	sent := time.Now()
	if err := second.p.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var gone time.Time
	exitCh := make(chan error, 1)
	// Exits when second has exited or after stopTimeout.
	go func() {
		code, err := second.p.wait(stopTimeout)
		gone = time.Now()
		if err == nil && code != 0 {
			err = fmt.Errorf("exit status %d, want 0", code)
		}
		exitCh <- err
	}()
	var third *instance
	for _, i := range c.insts {
		if i != first && i != second {
			third = i
		}
	}
	// The successor's first upstream request, then the first quote it
	// collected (a quote of the old leader's last moments does not count).
	wctx, wcancel := context.WithTimeout(ctx, leaseTTL+pulse+5*time.Second)
	defer wcancel()
	firstReq, rerr := c.log.wait(wctx, sent, third.id)
	var q recvQuote
	qerr := rerr
	if rerr == nil {
		q, _, qerr = waitQuote(wctx, c.n, clientsOf(cs, third), func(q recvQuote) bool { return !q.collected().Before(firstReq) })
	}
	if err := <-exitCh; err != nil {
		t.Errorf("SIGTERM of leader %s: %v", second.id, err)
	} else {
		t.Logf("SIGTERM leader %s: exited 0 after %v", second.id, gone.Sub(sent).Round(time.Millisecond))
	}
	if qerr != nil {
		t.Fatalf("after SIGTERM of leader %s: no upstream request or no new quote from %s: %v", second.id, third.id, qerr)
	}
	handover := firstReq.Sub(sent)
	quoteAfter := q.received.Sub(sent)
	t.Logf("SIGTERM leader %s: %s collects %v later (first upstream request), first quote it collected on its client %v later",
		second.id, third.id, handover.Round(time.Millisecond), quoteAfter.Round(time.Millisecond))
	if handover > time.Second {
		t.Errorf("SIGTERM of the leader: successor's first upstream request %v after, want within 1s", handover)
	}
	if quoteAfter > time.Second {
		t.Errorf("SIGTERM of the leader: successor's first quote on its client %v after, want within 1s", quoteAfter)
	}
	if got := c.waitLeader(ctx, second.id); got != third {
		t.Errorf("leader after SIGTERM = %s, want %s", got.id, third.id)
	}
	waitSteady(ctx, t, c, clientsOf(cs, third), time.Now())

	checkSeqs(t, cs)
	for _, cl := range clientsOf(cs, third) {
		if !cl.connected() {
			t.Errorf("client of %s disconnected: %v", cl.inst, cl.err())
		}
	}
	// One collector at a time: first, then second, then third.
	rs := runs(c.log.since(time.Time{}))
	want := []string{first.id, second.id, third.id}
	var got []string
	for _, r := range rs {
		got = append(got, r.inst)
	}
	if !slices.Equal(got, want) {
		t.Errorf("upstream requests by instance in time order = %v, want %v (two collectors at once show as alternating runs)\n%s", got, want, joinRuns(rs))
	}
}

func joinRuns(rs []run) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("  " + r.String() + "\n")
	}
	return b.String()
}

// Row "nats-server restarted": clients stay connected and are not reset;
// quotes resume within a few seconds. nats-server is stopped with SIGTERM
// and back at once, and with SIGKILL and back only after lease_ttl + 1s:
// meanwhile the leader cannot renew, so it must stop polling before its
// lease could have expired. It comes back on the same port and store.
func TestNATSRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		down time.Duration
	}{
		{"SIGTERM", syscall.SIGTERM, 0},
		{"SIGKILL_down_past_lease", syscall.SIGKILL, leaseTTL + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) { testNATSRestart(t, tc.sig, tc.down) })
	}
}

func testNATSRestart(t *testing.T, sig syscall.Signal, down time.Duration) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newCluster(t, 3)
	c.startAll(ctx)
	cs := c.clients(ctx, c.insts, 1)
	waitSteady(ctx, t, c, cs, time.Now())
	epochs := map[*wsClient]string{}
	for _, cl := range cs {
		epochs[cl] = cl.epoch()
	}

	c.nats.stop(sig)
	stopped := time.Now()
	sleepCtx(ctx, down)
	c.nats.start()
	up := time.Now()
	if down > leaseTTL {
		// The leader's last renewal was before stopped: past stopped +
		// lease_ttl its lease may have expired, so no one may poll.
		for _, r := range c.log.since(stopped.Add(leaseTTL)) {
			if r.at.Before(up) {
				t.Errorf("%s asked the upstream for %s at %s, with nats-server down since %s: a leader that cannot renew must stop within lease_ttl (%v)",
					r.inst, r.symbol, r.at.Format("15:04:05.000"), stopped.Format("15:04:05.000"), leaseTTL)
			}
		}
	}
	const resumeMax = 10 * time.Second
	wctx, wcancel := context.WithTimeout(ctx, resumeMax)
	defer wcancel()
	var worst time.Duration
	for _, cl := range cs {
		q, _, err := waitQuote(wctx, c.n, []*wsClient{cl}, func(q recvQuote) bool { return q.collected().After(up) })
		if err != nil {
			t.Fatalf("client of %s: no quote collected after nats-server (%v) restarted within %v: %v", cl.inst, sig, resumeMax, err)
		}
		worst = max(worst, q.received.Sub(up))
	}
	t.Logf("nats-server %v, down %v: every client had a new quote %v after it was up again", sig, up.Sub(stopped).Round(time.Millisecond), worst.Round(time.Millisecond))
	sleepCtx(ctx, 2*pulse) // more quotes to check
	for _, inst := range c.insts {
		c.waitReady(ctx, inst)
	}
	checkSeqs(t, cs)
	for _, cl := range cs {
		if !cl.connected() {
			t.Errorf("client of %s disconnected by the nats-server restart: %v", cl.inst, cl.err())
		}
		if cl.epoch() != epochs[cl] {
			t.Errorf("client of %s: epoch %q, want %q", cl.inst, cl.epoch(), epochs[cl])
		}
	}
	rs := runs(c.log.since(time.Time{}))
	if len(rs) > 2 {
		t.Errorf("upstream requests: %d runs by instance, want at most 2 (one change of leader)\n%s", len(rs), joinRuns(rs))
	}
	t.Logf("collectors in order:\n%s", joinRuns(rs))
}

// Row "leader frozen past its lease (SIGSTOP, then SIGCONT)": a successor
// takes over; on resume the old leader neither polls nor writes, and the
// successor keeps leading.
func TestFrozenLeader(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newCluster(t, 3)
	old := c.startAll(ctx)
	cs := c.clients(ctx, c.insts, 1)
	waitSteady(ctx, t, c, cs, time.Now())

	old.isolated = true
	stopped := old.p.stop(t)
	t.Cleanup(func() { _ = old.p.signal(syscall.SIGCONT) }) // not left stopped should the test end early
	next := c.waitLeader(ctx, old.id)
	wctx, wcancel := context.WithTimeout(ctx, leaseTTL+pulse+5*time.Second)
	q, _, err := waitQuote(wctx, c.n, clientsOf(cs, c.others(old)...), func(q recvQuote) bool { return q.collected().After(stopped) })
	wcancel()
	if err != nil {
		t.Fatalf("leader %s frozen: no new quote on another instance: %v", old.id, err)
	}
	t.Logf("leader %s frozen: %s leads, first new quote %v after SIGSTOP", old.id, next.id, q.received.Sub(stopped).Round(time.Millisecond))
	sleepCtx(ctx, time.Until(stopped.Add(leaseTTL+pulse))) // frozen well past its lease

	resumed := time.Now()
	if err := old.p.signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	old.isolated = false
	t.Logf("SIGCONT %s after %v frozen", old.id, resumed.Sub(stopped).Round(time.Millisecond))
	// Its clients get the successor's quotes through its watch.
	waitSteady(ctx, t, c, clientsOf(cs, old), resumed)
	sleepCtx(ctx, 2*pulse)
	if got := c.waitLeader(ctx, ""); got != next {
		t.Errorf("leader after SIGCONT of %s = %s, want %s (the successor keeps leading)", old.id, got.id, next.id)
	}
	for _, r := range c.log.since(stopped) {
		if r.inst == old.id {
			t.Errorf("frozen leader %s asked the upstream for %s at %s, after SIGSTOP at %s (SIGCONT at %s)", old.id, r.symbol,
				r.at.Format("15:04:05.000"), stopped.Format("15:04:05.000"), resumed.Format("15:04:05.000"))
		}
	}
	checkSeqs(t, cs)
	for _, cl := range cs {
		if !cl.connected() {
			t.Errorf("client of %s disconnected: %v", cl.inst, cl.err())
		}
	}
	rs := runs(c.log.since(time.Time{}))
	if len(rs) != 2 || rs[0].inst != old.id || rs[1].inst != next.id {
		t.Errorf("upstream requests by instance in time order, want %s then %s:\n%s", old.id, next.id, joinRuns(rs))
	}
}

// Row "upstream down": every instance's clients see every symbol stale,
// then fresh again when the upstream is back.
func TestUpstreamDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newCluster(t, 3)
	c.startAll(ctx)
	cs := c.clients(ctx, c.insts, 1)
	waitSteady(ctx, t, c, cs, time.Now())

	down := time.Now()
	if err := c.sim.signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sim.wait(stopTimeout); err != nil {
		t.Fatal(err)
	}
	// stale_after 2: two failed pulses, plus one for the timing.
	waitStatus(ctx, t, c, cs, true, 4*pulse+2*time.Second)
	t.Logf("upstream down: every client saw every symbol stale %v later", time.Since(down).Round(time.Millisecond))

	back := time.Now()
	c.sim = startProc(t, c.dir, "sim", nil, tickerdBin, "sim", "-listen", c.simAddr)
	if err := waitTCP(c.simAddr, 10*time.Second); err != nil {
		t.Fatalf("tickerd sim: %v", err)
	}
	waitStatus(ctx, t, c, cs, false, 3*pulse+2*time.Second)
	waitSteady(ctx, t, c, cs, back)
	t.Logf("upstream back: every client saw every symbol fresh with a new quote %v later", time.Since(back).Round(time.Millisecond))
	checkSeqs(t, cs)
}

// waitStatus waits up to d until every client's latest status message for
// every symbol says stale is want.
func waitStatus(ctx context.Context, t *testing.T, c *cluster, cs []*wsClient, want bool, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		ch := c.n.wait()
		var missing []string
		for _, cl := range cs {
			st := cl.stale()
			for _, s := range symbols {
				if got, ok := st[s]; !ok || got.stale != want {
					missing = append(missing, cl.inst+":"+s)
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("status stale=%v not seen within %v by %v", want, d, missing)
		}
	}
}

// Row "NATS unreachable at start": /readyz 503 with a reason, ready once
// NATS is up.
func TestNATSUnreachableAtStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newCluster(t, 1)
	inst := c.insts[0]
	c.start(inst)
	// Wait for the HTTP side to answer at all.
	deadline, dcancel := context.WithTimeout(ctx, readyTimeout)
	defer dcancel()
	for {
		status, body, err := get(deadline, inst.base()+"/readyz")
		if err == nil {
			if status != http.StatusServiceUnavailable {
				t.Fatalf("GET /readyz with no nats-server = %d %s, want 503", status, body)
			}
			var r struct{ Status, Reason string }
			if err := json.Unmarshal(body, &r); err != nil || r.Reason == "" {
				t.Errorf("GET /readyz with no nats-server = %s, want a JSON reason", body)
			}
			t.Logf("no nats-server: /readyz 503 %s", body)
			break
		}
		if !inst.running() {
			t.Fatalf("tickerd exited with no nats-server: %v", inst.p.err)
		}
		if !sleepCtx(deadline, 50*time.Millisecond) {
			t.Fatalf("GET /readyz: no answer within %v: %v", readyTimeout, err)
		}
	}
	// Still not ready a lease later, and still running.
	sleepCtx(ctx, leaseTTL)
	if status, body, err := get(ctx, inst.base()+"/readyz"); err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz %v later with no nats-server = %d %s (%v), want 503", leaseTTL, status, body, err)
	}
	c.nats.start()
	up := time.Now()
	c.waitReady(ctx, inst)
	t.Logf("ready %v after nats-server was up", time.Since(up).Round(time.Millisecond))
	c.waitLeader(ctx, "")
	cs := c.clients(ctx, c.insts, 1)
	waitSteady(ctx, t, c, cs, up)
	checkSeqs(t, cs)
}

// TestFailoverTime kills the leader -failover-runs times, each at a random
// phase of the pulse, restarting it each time, and logs kill -> first new
// quote on a surviving instance: p50, p99 and max. Each must be within
// lease_ttl + 1s.
func TestFailoverTime(t *testing.T) {
	n := *failoverRuns
	if n <= 0 {
		t.Skip("-failover-runs 0")
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout+time.Duration(n)*10*time.Second)
	defer cancel()
	c := newCluster(t, 3)
	leader := c.startAll(ctx)
	cs := c.clients(ctx, c.insts, 1)
	var ds []time.Duration
	for range n {
		live := []*wsClient{}
		for _, cl := range cs {
			if cl.connected() {
				live = append(live, cl)
			}
		}
		waitSteady(ctx, t, c, live, time.Now())
		// A random phase against the pulses and the lease renewals, which
		// a kill right after a quote would be locked to.
		sleepCtx(ctx, rand.N(pulse))
		d, next := killLeader(ctx, t, c, leader, cs)
		ds = append(ds, d)
		c.start(leader)
		c.waitReady(ctx, leader)
		cs = append(cs, dialClient(ctx, t, leader, symbols, c.n))
		leader = next
	}
	slices.Sort(ds)
	t.Logf("failover (SIGKILL of the leader -> first new quote on another instance) over %d runs, lease_ttl %v, schedule @every %v: p50 %v p99 %v max %v; all: %v",
		n, leaseTTL, pulse, pct(ds, 50).Round(time.Millisecond), pct(ds, 99).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), roundAll(ds))
	for _, d := range ds {
		if d > leaseTTL+time.Second {
			t.Errorf("failover %v, want <= lease_ttl + 1s = %v", d, leaseTTL+time.Second)
		}
	}
	checkSeqs(t, cs)
	rs := runs(c.log.since(time.Time{}))
	if len(rs) != n+1 {
		t.Errorf("upstream requests: %d runs by instance after %d kills, want %d (one collector at a time)\n%s", len(rs), n, n+1, joinRuns(rs))
	}
}

// pct returns the p-th percentile (nearest rank) of sorted ds.
func pct(ds []time.Duration, p int) time.Duration {
	i := (p*len(ds)+99)/100 - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// Row "leader's NATS connection cut, process alive": the leader's way to
// nats-server is cut (connections closed, new ones too) or black-holed
// (bytes held, connections open); it must stop polling before its lease
// can have expired, a successor collects, and no write of the old leader
// lands. Healed, it follows the successor and its clients get the
// successor's quotes.
func TestLeaderNATSCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode faultMode
	}{
		{"cut", faultCut},
		{"blackhole", faultHole},
	} {
		t.Run(tc.name, func(t *testing.T) { testLeaderNATSCut(t, tc.mode) })
	}
}

func testLeaderNATSCut(t *testing.T, mode faultMode) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newClusterWith(t, 3, true)
	old := c.startAll(ctx)
	cs := c.clients(ctx, c.insts, 1)
	waitSteady(ctx, t, c, cs, time.Now())

	cut := time.Now()
	old.nats.set(mode)
	old.isolated = true
	next := c.waitLeader(ctx, old.id)
	wctx, wcancel := context.WithTimeout(ctx, leaseTTL+pulse+5*time.Second)
	q, _, err := waitQuote(wctx, c.n, clientsOf(cs, c.others(old)...), func(q recvQuote) bool { return q.collected().After(cut) && q.collectedAt != "" })
	wcancel()
	if err != nil {
		t.Fatalf("leader %s cut off from NATS: no new quote on another instance: %v", old.id, err)
	}
	t.Logf("leader %s cut off from NATS (%s): %s leads, first new quote %v later", old.id, t.Name(), next.id, q.received.Sub(cut).Round(time.Millisecond))
	if mode == faultCut {
		if status, body, err := get(ctx, old.base()+"/readyz"); err != nil || status != http.StatusServiceUnavailable {
			t.Errorf("GET /readyz of %s cut off from NATS = %d %s (%v), want 503", old.id, status, body, err)
		}
	}
	sleepCtx(ctx, time.Until(cut.Add(leaseTTL+pulse)))

	healed := time.Now()
	old.nats.set(faultNone)
	old.isolated = false
	c.waitReady(ctx, old)
	// Its clients get the successor's quotes through its watch again.
	wctx, wcancel = context.WithTimeout(ctx, 10*time.Second)
	for _, cl := range clientsOf(cs, old) {
		q, _, err := waitQuote(wctx, c.n, []*wsClient{cl}, func(q recvQuote) bool { return q.collected().After(healed) })
		if err != nil {
			t.Errorf("client of %s: no new quote within 10s after its NATS connection healed: %v", old.id, err)
			continue
		}
		t.Logf("healed %s: its client had a new quote %v later", old.id, q.received.Sub(healed).Round(time.Millisecond))
	}
	wcancel()
	if got := c.waitLeader(ctx, ""); got != next {
		t.Errorf("leader after healing %s = %s, want %s", old.id, got.id, next.id)
	}
	sleepCtx(ctx, pulse)

	// The last renewal was before cut: from cut + lease_ttl the lease may
	// have expired on the server, so the old leader must not poll.
	for _, r := range c.log.since(cut.Add(leaseTTL)) {
		if r.inst == old.id {
			t.Errorf("%s asked the upstream for %s at %s, cut off from NATS since %s (lease_ttl %v)", old.id, r.symbol,
				r.at.Format("15:04:05.000"), cut.Format("15:04:05.000"), leaseTTL)
		}
	}
	checkSeqs(t, cs)
	for _, cl := range cs {
		if !cl.connected() {
			t.Errorf("client of %s disconnected: %v", cl.inst, cl.err())
		}
	}
	rs := runs(c.log.since(time.Time{}))
	if len(rs) != 2 || rs[0].inst != old.id || rs[1].inst != next.id {
		t.Errorf("upstream requests by instance in time order, want %s then %s:\n%s", old.id, next.id, joinRuns(rs))
	}
}
