//go:build cluster && unix

package clustertest

import (
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
)

// Reload across instances: the leader's config decides the symbols. A
// SIGHUP on the leader with one symbol removed and one added reaches the
// clients of every instance: the removed one gets unknown_symbol and
// leaves their subscription, the added one is collected and served on a
// follower.
func TestReloadOnLeader(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := newCluster(t, 3)
	leader := c.startAll(ctx)
	cs := c.clients(ctx, c.insts, 1)
	waitSteady(ctx, t, c, cs, time.Now())

	const removed, added = "TSLA", "AMZN"
	next := append(slices.DeleteFunc(slices.Clone(symbols), func(s string) bool { return s == removed }), added)
	if err := os.WriteFile(leader.config, []byte(c.configYAML(leader, next)), 0o644); err != nil {
		t.Fatal(err)
	}
	hup := time.Now()
	if err := leader.p.signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	const within = 5 * time.Second
	wctx, wcancel := context.WithTimeout(ctx, within)
	defer wcancel()
	for _, cl := range cs {
		for {
			ch := c.n.wait()
			subs, unknown := cl.subscription()
			if slices.Contains(unknown, removed) && !slices.Contains(subs, removed) {
				break
			}
			select {
			case <-ch:
			case <-wctx.Done():
				t.Fatalf("client of %s: subscribed %v, unknown_symbol for %v %v after SIGHUP of leader %s; want unknown_symbol for %s and a subscription without it",
					cl.inst, subs, unknown, within, leader.id, removed)
			}
		}
	}
	t.Logf("SIGHUP of leader %s: every client lost %s within %v", leader.id, removed, time.Since(hup).Round(time.Millisecond))
	var follower *instance
	for _, i := range c.insts {
		if i != leader {
			follower = i
			break
		}
	}
	nc := dialClient(ctx, t, follower, []string{added}, c.n)
	if _, _, err := waitQuote(wctx, c.n, []*wsClient{nc}, func(q recvQuote) bool { return q.symbol == added }); err != nil {
		t.Fatalf("client of follower %s: no quote for %s within %v of the leader's reload: %v", follower.id, added, within, err)
	}
	t.Logf("client of follower %s got %s %v after the leader's SIGHUP", follower.id, added, time.Since(hup).Round(time.Millisecond))
	sleepCtx(ctx, pulse)
	for _, r := range c.log.since(time.Now().Add(-pulse)) {
		if r.symbol == removed {
			t.Errorf("upstream asked for %s at %s after it was removed", removed, r.at.Format("15:04:05.000"))
		}
	}
	checkSeqs(t, append(cs, nc))
}
