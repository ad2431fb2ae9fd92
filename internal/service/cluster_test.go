package service_test

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/service"
	"github.com/tickerd/tickerd/internal/sim"
)

// startNATS runs an embedded nats-server with JetStream in a temp dir on
// a loopback port until the test's cleanup, and returns its URL.
func startNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go s.Start() // returns at once; Shutdown stops what it started
	if !s.ReadyForConnections(testTimeout) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return "nats://127.0.0.1:" + strconv.Itoa(s.Addr().(*net.TCPAddr).Port)
}

// clusterView is GET /api/cluster.
type clusterView struct {
	Mode     string `json:"mode"`
	Instance string `json:"instance"`
	Leader   string `json:"leader"`
	Term     uint64 `json:"term"`
	Epoch    string `json:"epoch"`
	NATS     string `json:"nats"`
}

// until polls cond every 20ms until it holds or testTimeout passes. For
// conditions only HTTP can see (readiness, /api/cluster); board state is
// waited for by watching its Values.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", testTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitListed waits until sym is in b's symbol set (in cluster mode it
// arrives through the watch), then for a snapshot satisfying cond.
func waitListed(t *testing.T, b *board.Board, sym string, cond func(board.Snapshot) bool) board.Snapshot {
	t.Helper()
	w := b.SymbolsValue().Watch()
	defer w.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	for {
		set, err := w.Recv(ctx)
		if err != nil {
			t.Fatalf("SymbolsValue() watcher Recv() = %v while waiting for %s", err, sym)
		}
		if slices.Contains(set.All(), sym) {
			return waitFor(t, b, sym, cond)
		}
	}
}

func clusterConfig(natsURL, upstream, instance string, syms []string) *config.Config {
	cfg := testConfig(config.KindNasdaq, upstream, "@every 1s", syms)
	cfg.Cluster.NATSURL = natsURL
	cfg.Cluster.InstanceID = instance
	cfg.Cluster.LeaseTTL = time.Second
	return cfg
}

// TestClusterOneCollectorAndFailover: two instances on one NATS share one
// collector (one upstream connection), show the same snapshots under the
// same seqs and epoch, report the same leader, and when the leader stops
// (it resigns) the other takes over and continues the seqs.
func TestClusterOneCollectorAndFailover(t *testing.T) {
	natsURL := startNATS(t)
	up := startUpstream(t, sim.New(&sim.Options{Seed: 3}))
	syms := []string{"AAPL", "MSFT"}
	a := start(t, clusterConfig(natsURL, up.url, "a", syms), nil)
	b := start(t, clusterConfig(natsURL, up.url, "b", syms), nil)
	insts := map[string]*running{"a": a, "b": b}

	for name, r := range insts {
		until(t, name+" /readyz not 200", func() bool { code, _ := r.get(t, "/readyz"); return code == http.StatusOK })
	}
	var views [2]clusterView
	until(t, "no agreed leader", func() bool {
		a.getJSON(t, "/api/cluster", &views[0])
		b.getJSON(t, "/api/cluster", &views[1])
		return views[0].Leader != "" && views[0].Leader == views[1].Leader && views[0].Term == views[1].Term
	})
	for i, v := range views {
		if v.Mode != "cluster" || v.NATS != "connected" || v.Epoch == "" || v.Epoch != views[0].Epoch {
			t.Errorf("GET /api/cluster [%d] = %+v, want mode cluster, nats connected, one epoch", i, v)
		}
	}
	followerName := map[string]string{"a": "b", "b": "a"}[views[0].Leader]
	leader, follower := insts[views[0].Leader], insts[followerName]
	if leader.svc.Collector() == nil || follower.svc.Collector() != nil {
		t.Fatalf("Collector() leader %v follower %v, want only the leader collecting", leader.svc.Collector(), follower.svc.Collector())
	}
	if e := follower.svc.Board().Epoch(); e != views[0].Epoch {
		t.Errorf("follower board Epoch() = %q, want the bucket's %q", e, views[0].Epoch)
	}

	// The follower's board follows the leader's writes: same seq, same quote.
	fs := waitListed(t, follower.svc.Board(), "AAPL", func(s board.Snapshot) bool { return s.Quote.Seq >= 3 })
	waitFor(t, leader.svc.Board(), "AAPL", func(s board.Snapshot) bool { return s.Quote.Seq >= fs.Quote.Seq }) // its own watch
	hist, _ := leader.svc.Board().History("AAPL")
	i := slices.IndexFunc(hist, func(q quote.Quote) bool { return q.Seq == fs.Quote.Seq })
	if i < 0 || hist[i].Price != fs.Quote.Price || !hist[i].CollectedAt.Equal(fs.Quote.CollectedAt) {
		t.Errorf("follower AAPL seq %d = %+v; leader's history has %+v, want the same quote", fs.Quote.Seq, fs.Quote, hist)
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections, want 1 (the leader's)", n)
	}

	// The leader stops and resigns: the follower leads and goes on from
	// the seqs it has watched, never back.
	before := snapshot(t, follower.svc.Board(), "AAPL").Quote.Seq
	if err := leader.stop(t); err != nil {
		t.Fatalf("leader Run() = %v, want nil", err)
	}
	until(t, "follower does not lead after the leader resigned", func() bool { return follower.svc.Collector() != nil })
	got := waitFor(t, follower.svc.Board(), "AAPL", func(s board.Snapshot) bool { return s.Quote.Seq > before })
	if got.Quote.Seq != before+1 && got.Quote.Seq != before+2 {
		t.Errorf("first seq of the new leader = %d after %d, want the next one (a seq may be skipped once)", got.Quote.Seq, before)
	}
	var v clusterView
	follower.getJSON(t, "/api/cluster", &v)
	if v.Leader != followerName {
		t.Errorf("GET /api/cluster leader = %q after the old leader stopped, want the other instance", v.Leader)
	}
	if e := follower.svc.Board().Epoch(); e != views[0].Epoch {
		t.Errorf("epoch after failover = %q, want %q unchanged", e, views[0].Epoch)
	}
}

// TestClusterNotReadyWithoutNATS: an instance whose NATS is unreachable
// starts and serves, but is not ready, and says why.
func TestClusterNotReadyWithoutNATS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "nats://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	up := startUpstream(t, sim.New(nil))
	r := start(t, clusterConfig(dead, up.url, "lonely", []string{"AAPL"}), nil)
	var body map[string]string
	until(t, "healthz not 200", func() bool { code, _ := r.get(t, "/healthz"); return code == http.StatusOK })
	if code := r.getJSON(t, "/readyz", &body); code != http.StatusServiceUnavailable || !strings.Contains(body["reason"], "nats") {
		t.Errorf("GET /readyz = %d %v, want 503 with the reason", code, body)
	}
	if n := up.accepted.Load(); n != 0 {
		t.Errorf("upstream accepted %d connections without a lease, want 0", n)
	}
}

// TestClusterSingleMode: without a cluster section /api/cluster says so.
func TestClusterSingleMode(t *testing.T) {
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
	cfg.Cluster.InstanceID = "solo"
	r := start(t, cfg, &service.Options{Sim: &sim.Options{Seed: 1}})
	var v clusterView
	if code := r.getJSON(t, "/api/cluster", &v); code != http.StatusOK || v != (clusterView{Mode: "single", Instance: "solo", Epoch: r.svc.Board().Epoch()}) {
		t.Errorf("GET /api/cluster = %d %+v, want 200 single solo with the board's epoch", code, v)
	}
}
