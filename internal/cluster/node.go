package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickerd/tickerd/internal/board"
)

// Errors of a Node.
var (
	// ErrNotLeader is returned by a Term's writes once the term is over
	// (its lease deadline has passed, it was deposed, or Run is ending).
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrFenced is returned by a Term's write that the server rejected
	// because another writer changed the key since this instance last saw
	// it. The term's Lead context is cancelled: it starts again from the
	// caught-up board.
	ErrFenced = errors.New("cluster: write fenced")
	// ErrNotReady is wrapped by Ready's errors.
	ErrNotReady = errors.New("cluster: not ready")
)

// Options configures a Node. URL, Instance and Lead are required.
type Options struct {
	URL        string        // NATS server URLs, comma-separated
	Bucket     string        // KV bucket; "" means "tickerd"
	Replicas   int           // bucket replicas when it is created; 0 means 1
	Instance   string        // this instance's id, unique in the cluster
	LeaseTTL   time.Duration // 0 means 3s
	MaxDynamic int           // dynamic symbols the leader collects at most; 0 means none

	// Lead runs while this instance leads: it collects into the Term (a
	// collector.Sink) and must call Term.Follow. ctx ends when the term
	// does; Lead must return soon after, and nothing it wrote after ctx
	// ended lands. Lead runs on Run's goroutines; a new term calls it
	// again.
	Lead func(ctx context.Context, t *Term) error

	NATS       []nats.Option         // extra connection options (credentials, TLS, a dialer)
	Logger     *slog.Logger          // nil discards
	Registerer prometheus.Registerer // nil registers nothing

	// For tests: interest keys' TTL (0 means 3 x LeaseTTL), a hook
	// run before each lease renewal and each campaign: a test freezes an
	// instance (as SIGSTOP would) by blocking in it, and one run before
	// each write of a shard or update key.
	interestTTL time.Duration
	paused      func(ctx context.Context)
	beforeWrite func(key string)
}

// Node is one instance's membership of the cluster: its NATS connection,
// the watch that feeds its Board, its campaign for the lease and its
// terms as leader, and its interest keys.
//
// Create it with New (no I/O) and run it with Run, once. Ready, Status
// and Interest's methods are safe for concurrent use at any time and
// never block on the network.
type Node struct {
	opts    Options
	board   *board.Board
	log     *slog.Logger
	metrics *metrics
	margin  time.Duration // the leader stops this long before its lease can expire

	ncMu sync.Mutex
	nc   *nats.Conn // set by Run; guarded by ncMu

	mu sync.Mutex
	// Guarded by mu; written by the watch (and the Term's own writes).
	kv       jetstream.KeyValue // nil until the bucket is set up
	js       jetstream.JetStream
	initial  bool                      // the current watch has delivered its initial values
	applied  uint64                    // the last revision the current watch applied
	appliedW chan struct{}             // closed and replaced when applied grows, if waited on
	known    map[string]keyRev         // the last revision of each key seen
	latest   [shards]map[string]symRev // by shard: each symbol's latest snapshot, from shard and update keys
	leader   string                    // the lease holder, "" when none
	term     uint64                    // the lease holder's term
	syms     board.Symbols
	symSet   map[string]bool            // syms' symbols
	sent     map[string]sentValue       // by key: the last value this instance sent to a shard or update key, until its watch sees it
	interest map[string]map[string]bool // symbol -> instances wanting it
	leaseW   chan struct{}              // closed and replaced when leader changes or the watch (re)starts
	wantW    chan struct{}              // closed and replaced when interest changes
	natsErr  error                      // the last connection or setup error
	leading  uint64                     // this instance's term while it leads, 0 otherwise

	reconnect chan struct{} // a reconnect happened: the watch starts anew (capacity 1)

	imu sync.Mutex
	// Guarded by imu: this instance's interest (the Demand side).
	wanted  map[string]bool
	iDirty  map[string]bool // symbols whose key must be written (true) or deleted (false)
	iSignal chan struct{}   // capacity 1: the interest loop has work
}

type keyRev struct {
	rev    uint64
	shards uint64 // for update keys: the shards of the round's snapshots
}

// sentValue is a value a leader sent, and the snapshots it encodes.
type sentValue struct {
	data []byte
	sh   shard
}

// symRev is a symbol's latest snapshot and the revision that carried it.
type symRev struct {
	rev  uint64
	snap board.Snapshot
}

// New returns a Node that feeds b from the bucket. It does no I/O.
func New(b *board.Board, opts *Options) (*Node, error) {
	if opts == nil {
		return nil, errors.New("cluster: no options")
	}
	o := *opts
	if o.URL == "" || o.Instance == "" || o.Lead == nil {
		return nil, errors.New("cluster: URL, Instance and Lead are required")
	}
	if o.Bucket == "" {
		o.Bucket = "tickerd"
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 3 * time.Second
	}
	if o.interestTTL <= 0 {
		o.interestTTL = 3 * o.LeaseTTL
	}
	n := &Node{
		opts: o, board: b, log: o.Logger, margin: o.LeaseTTL / 4,
		known: make(map[string]keyRev), sent: make(map[string]sentValue), interest: make(map[string]map[string]bool),
		leaseW: make(chan struct{}), wantW: make(chan struct{}),
		reconnect: make(chan struct{}, 1),
		wanted:    make(map[string]bool), iDirty: make(map[string]bool), iSignal: make(chan struct{}, 1),
		natsErr: errors.New("not connected yet"),
	}
	for i := range n.latest {
		n.latest[i] = make(map[string]symRev)
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	n.metrics = newMetrics(o.Registerer)
	return n, nil
}

// Run connects to NATS and takes part in the cluster until ctx ends: it
// sets up the bucket, watches it into the Board, campaigns for the lease
// and leads when it holds it, and keeps this instance's interest keys. A
// NATS server that is down is waited for (Ready says why). When ctx ends,
// a leader stops its term and resigns (deletes the lease) so that another
// instance takes over at once; Run returns context.Cause(ctx) once every
// goroutine it started is gone and the connection is closed. It returns
// another error only for options NATS rejects.
func (n *Node) Run(ctx context.Context) error {
	nopts := []nats.Option{
		nats.Name("tickerd " + n.opts.Instance),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, 100*time.Millisecond),
		nats.Timeout(2 * time.Second),
		// A black-holed connection is noticed within about 2 pings.
		nats.PingInterval(max(n.opts.LeaseTTL/2, 500*time.Millisecond)),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(*nats.Conn) { n.connected() }),
		nats.ReconnectHandler(func(*nats.Conn) { n.connected() }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				err = errors.New("disconnected")
			}
			n.setNATSErr(err)
		}),
	}
	nopts = append(nopts, n.opts.NATS...)
	nc, err := nats.Connect(n.opts.URL, nopts...)
	if err != nil {
		return fmt.Errorf("cluster: connect to nats: %w", err)
	}
	// A write's ack is waited for until its term's deadline, within the
	// lease TTL; past that an ack never seen drops its pending entry.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(n.opts.LeaseTTL))
	if err != nil {
		nc.Close()
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	n.ncMu.Lock()
	n.nc = nc
	n.ncMu.Unlock()
	n.mu.Lock()
	n.js = js
	n.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(3)
	// Each exits when ctx ends.
	go func() { defer wg.Done(); n.watchLoop(ctx) }()
	go func() { defer wg.Done(); n.campaignLoop(ctx) }()
	go func() { defer wg.Done(); n.interestLoop(ctx) }()
	wg.Wait()
	nc.Close()
	return context.Cause(ctx)
}

func (n *Node) connected() {
	n.setNATSErr(nil)
	select {
	case n.reconnect <- struct{}{}:
	default:
	}
}

func (n *Node) setNATSErr(err error) {
	n.mu.Lock()
	n.natsErr = err
	n.mu.Unlock()
}

// Ready returns nil when the NATS connection is up and the watch has
// delivered the bucket's values, and otherwise an error (wrapping
// ErrNotReady) saying why. Leadership plays no part.
func (n *Node) Ready() error {
	n.ncMu.Lock()
	nc := n.nc
	n.ncMu.Unlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case nc == nil:
		return fmt.Errorf("%w: nats: not started", ErrNotReady)
	case !nc.IsConnected():
		reason := "not connected"
		if n.natsErr != nil {
			reason += ": " + n.natsErr.Error()
		}
		return fmt.Errorf("%w: nats %s: %s", ErrNotReady, n.opts.URL, reason)
	case n.kv == nil:
		reason := "bucket not set up"
		if n.natsErr != nil {
			reason += ": " + n.natsErr.Error()
		}
		return fmt.Errorf("%w: nats: %s", ErrNotReady, reason)
	case !n.initial:
		return fmt.Errorf("%w: the watch has not delivered the bucket yet", ErrNotReady)
	}
	return nil
}

// Status is what GET /api/cluster shows.
type Status struct {
	Instance string `json:"instance"`
	Leader   string `json:"leader"` // "" when no instance holds the lease
	Term     uint64 `json:"term"`   // the bucket revision at which the leader took the lease
	Epoch    string `json:"epoch"`
	NATS     string `json:"nats"` // "connected", "reconnecting", "closed"...
}

// Status returns the instance's view of the cluster.
func (n *Node) Status() Status {
	n.ncMu.Lock()
	nc := n.nc
	n.ncMu.Unlock()
	st := "not started"
	if nc != nil {
		st = strings.ToLower(nc.Status().String())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return Status{Instance: n.opts.Instance, Leader: n.leader, Term: n.term, Epoch: n.board.Epoch(), NATS: st}
}

// Leading returns this instance's term while it leads, else 0.
func (n *Node) Leading() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leading
}

// broadcastLocked closes *ch and replaces it. n.mu must be held.
func broadcastLocked(ch *chan struct{}) {
	close(*ch)
	*ch = make(chan struct{})
}

// waitApplied waits until the watch has applied revision rev, or ctx ends.
func (n *Node) waitApplied(ctx context.Context, rev uint64) error {
	for {
		n.mu.Lock()
		if n.initial && n.applied >= rev {
			n.mu.Unlock()
			return nil
		}
		if n.appliedW == nil {
			n.appliedW = make(chan struct{})
		}
		w := n.appliedW
		n.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// bucket returns the bucket handle, nil until it is set up.
func (n *Node) bucket() jetstream.KeyValue {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.kv
}
