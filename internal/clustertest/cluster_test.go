//go:build cluster && unix

package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timings of the test clusters.
const (
	leaseTTL = 2 * time.Second
	pulse    = time.Second // the schedule "@every 1s"
	// readyTimeout bounds a tickerd's start until /readyz answers 200.
	readyTimeout = 20 * time.Second
)

// symbols are the configured symbols of every test cluster.
var symbols = []string{"AAPL", "MSFT", "NVDA", "GOOG", "TSLA"}

// natsServer is a nats-server process with JetStream and file storage in
// a directory that outlives restarts.
type natsServer struct {
	t     *testing.T
	dir   string
	port  int
	store string
	p     *proc
}

func newNATSServer(t *testing.T, dir string) *natsServer {
	store := filepath.Join(dir, "jetstream")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	return &natsServer{t: t, dir: dir, port: freePort(t), store: store}
}

func (n *natsServer) url() string { return "nats://" + hostPort(n.port) }

// start runs nats-server on n's port and store and waits until it accepts
// connections.
func (n *natsServer) start() {
	n.t.Helper()
	n.p = startProc(n.t, n.dir, "nats-server", nil, natsBin,
		"-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", n.store, "-n", "clustertest")
	if err := waitTCP(hostPort(n.port), 10*time.Second); err != nil {
		n.t.Fatalf("nats-server: %v", err)
	}
}

// stop sends sig to nats-server and waits for it to exit.
func (n *natsServer) stop(sig syscall.Signal) {
	n.t.Helper()
	if err := n.p.signal(sig); err != nil {
		n.t.Fatal(err)
	}
	if _, err := n.p.wait(stopTimeout); err != nil {
		n.t.Fatal(err)
	}
}

// instance is one tickerd of a cluster: its id, port and config stay the
// same across restarts.
type instance struct {
	id       string
	port     int
	config   string
	proxy    *proxy      // its upstream
	nats     *faultProxy // its way to nats-server, or nil for a direct one
	p        *proc       // the latest process; nil before start
	isolated bool        // SIGSTOPped or cut off: waitLeader does not ask it
}

func (i *instance) base() string { return "http://" + hostPort(i.port) }

func (i *instance) running() bool { return i.p != nil && !i.p.exited() }

// cluster is a shared upstream (tickerd sim behind one proxy per
// instance), a nats-server and tickerd instances.
type cluster struct {
	t       *testing.T
	dir     string
	nats    *natsServer
	sim     *proc
	simAddr string
	log     *requestLog
	insts   []*instance
	n       *notifier
}

// newCluster starts the upstream and prepares (does not start) n
// instances and the nats-server.
func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	return newClusterWith(t, n, false)
}

// newClusterWith is newCluster; with natsProxies each instance reaches
// nats-server through its own faultProxy.
func newClusterWith(t *testing.T, n int, natsProxies bool) *cluster {
	t.Helper()
	dir := t.TempDir()
	if *keep {
		var err error
		if dir, err = os.MkdirTemp("", "clustertest-"+strings.ReplaceAll(t.Name(), "/", "_")+"-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { t.Logf("-keep: logs in %s", dir) })
	}
	c := &cluster{t: t, dir: dir, nats: newNATSServer(t, dir), log: newRequestLog(), n: newNotifier()}
	simAddr := hostPort(freePort(t))
	c.simAddr = simAddr
	c.sim = startProc(t, dir, "sim", nil, tickerdBin, "sim", "-listen", simAddr)
	if err := waitTCP(simAddr, 10*time.Second); err != nil {
		t.Fatalf("tickerd sim: %v", err)
	}
	for k := 1; k <= n; k++ {
		id := "t" + strconv.Itoa(k)
		inst := &instance{id: id, port: freePort(t), proxy: startProxy(t, id, simAddr, c.log)}
		if natsProxies {
			inst.nats = startFaultProxy(t, hostPort(c.nats.port))
		}
		inst.config = filepath.Join(dir, id+".yaml")
		if err := os.WriteFile(inst.config, []byte(c.configYAML(inst, symbols)), 0o644); err != nil {
			t.Fatal(err)
		}
		c.insts = append(c.insts, inst)
	}
	return c
}

// configYAML is inst's config file, collecting symbols. The listen address and instance id
// come from TICKERD_LISTEN and TICKERD_INSTANCE_ID instead (see start).
func (c *cluster) configYAML(inst *instance, symbols []string) string {
	return fmt.Sprintf(`listen: "127.0.0.1:1"
source:
  kind: nasdaq
  url: http://%s
  timeout: 2s
schedule: "@every 1s"
symbols: [%s]
history: 50
log:
  level: %s
cluster:
  nats_url: %s
  bucket: clustertest
  replicas: 1
  instance_id: wrong-%s
  lease_ttl: %v
  resume_wait: 2s
`, inst.proxy.addr(), strings.Join(symbols, ", "), *logLevel, c.natsURL(inst), inst.id, leaseTTL)
}

// natsURL is the NATS URL inst is configured with.
func (c *cluster) natsURL(inst *instance) string {
	if inst.nats != nil {
		return "nats://" + inst.nats.addr()
	}
	return c.nats.url()
}

// start starts inst's tickerd (again) without waiting for it.
func (c *cluster) start(inst *instance) {
	c.t.Helper()
	inst.p = startProc(c.t, c.dir, inst.id, []string{
		"TICKERD_LISTEN=" + hostPort(inst.port),
		"TICKERD_INSTANCE_ID=" + inst.id,
	}, tickerdBin, "-config", inst.config, "-config-poll", "0")
}

// startAll starts the nats-server and every instance and waits for all to
// be ready and to agree on a leader, which it returns.
func (c *cluster) startAll(ctx context.Context) *instance {
	c.t.Helper()
	c.nats.start()
	for _, inst := range c.insts {
		c.start(inst)
	}
	for _, inst := range c.insts {
		c.waitReady(ctx, inst)
	}
	return c.waitLeader(ctx, "")
}

// waitReady waits for inst's /readyz to answer 200.
func (c *cluster) waitReady(ctx context.Context, inst *instance) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last string
	for {
		status, body, err := get(ctx, inst.base()+"/readyz")
		if err == nil && status == http.StatusOK {
			return
		}
		last = fmt.Sprintf("status %d %s (%v)", status, body, err)
		if !inst.running() {
			c.t.Fatalf("%s exited before ready: %v; last /readyz: %s", inst.id, inst.p.err, last)
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			c.t.Fatalf("%s: GET /readyz not 200 within %v; last: %s", inst.id, readyTimeout, last)
		}
	}
}

// clusterInfo is GET /api/cluster.
type clusterInfo struct {
	Instance string `json:"instance"`
	Leader   string `json:"leader"`
	Term     uint64 `json:"term"`
	Epoch    string `json:"epoch"`
	NATS     string `json:"nats"`
}

func (c *cluster) info(ctx context.Context, inst *instance) (clusterInfo, error) {
	var ci clusterInfo
	status, body, err := get(ctx, inst.base()+"/api/cluster")
	if err != nil {
		return ci, err
	}
	if status != http.StatusOK {
		return ci, fmt.Errorf("GET /api/cluster of %s: status %d: %s", inst.id, status, body)
	}
	if err := json.Unmarshal(body, &ci); err != nil {
		return ci, fmt.Errorf("GET /api/cluster of %s: %w: %s", inst.id, err, body)
	}
	return ci, nil
}

// waitLeader waits until every running instance names the same running
// leader, other than not, and returns it.
func (c *cluster) waitLeader(ctx context.Context, not string) *instance {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*leaseTTL+5*time.Second)
	defer cancel()
	var last []string
	for {
		last = last[:0]
		agreed := ""
		ok := true
		for _, inst := range c.insts {
			if !inst.running() || inst.isolated {
				continue
			}
			ci, err := c.info(ctx, inst)
			if err != nil {
				last = append(last, err.Error())
				ok = false
				continue
			}
			if ci.Instance != inst.id {
				c.t.Fatalf("GET /api/cluster of %s: instance %q, want %q (TICKERD_INSTANCE_ID)", inst.id, ci.Instance, inst.id)
			}
			last = append(last, fmt.Sprintf("%s: leader %q term %d nats %q", inst.id, ci.Leader, ci.Term, ci.NATS))
			if agreed == "" {
				agreed = ci.Leader
			}
			if ci.Leader == "" || ci.Leader != agreed || ci.Leader == not {
				ok = false
			}
		}
		if ok && agreed != "" {
			if l := c.byID(agreed); l != nil && l.running() {
				return l
			}
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			c.t.Fatalf("no agreed leader (not %q) in time; last: %s", not, strings.Join(last, "; "))
		}
	}
}

func (c *cluster) byID(id string) *instance {
	for _, inst := range c.insts {
		if inst.id == id {
			return inst
		}
	}
	return nil
}

// others returns the instances other than inst.
func (c *cluster) others(inst *instance) []*instance {
	var out []*instance
	for _, i := range c.insts {
		if i != inst {
			out = append(out, i)
		}
	}
	return out
}

// clients dials n clients to each instance in insts, all subscribed to
// every symbol.
func (c *cluster) clients(ctx context.Context, insts []*instance, n int) []*wsClient {
	c.t.Helper()
	var out []*wsClient
	for _, inst := range insts {
		for range n {
			out = append(out, dialClient(ctx, c.t, inst, symbols, c.n))
		}
	}
	return out
}

// clientsOf returns the clients of inst among cs.
func clientsOf(cs []*wsClient, insts ...*instance) []*wsClient {
	var out []*wsClient
	for _, c := range cs {
		if slices.ContainsFunc(insts, func(i *instance) bool { return i.id == c.inst }) {
			out = append(out, c)
		}
	}
	return out
}

// httpClient opens a connection per request: no idle connection (and
// its goroutines) outlives the processes under test.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// get GETs url and returns the status and body.
func get(ctx context.Context, url string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, body, err
}

// sleepCtx waits d (a poll interval) and reports whether ctx is still
// live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// run is a stretch of upstream requests, in time order, all from one
// instance.
type run struct {
	inst        string
	first, last time.Time
	n           int
}

// runs splits reqs (in time order) into runs of one instance each: with
// one collector at a time, each change of run is one change of leader; two
// instances polling at the same time show as runs that alternate.
func runs(reqs []upstreamRequest) []run {
	var out []run
	for _, r := range reqs {
		if len(out) == 0 || out[len(out)-1].inst != r.inst {
			out = append(out, run{inst: r.inst, first: r.at})
		}
		out[len(out)-1].last = r.at
		out[len(out)-1].n++
	}
	return out
}

func (r run) String() string {
	return fmt.Sprintf("%s: %d requests %s..%s", r.inst, r.n, r.first.Format("15:04:05.000"), r.last.Format("15:04:05.000"))
}
