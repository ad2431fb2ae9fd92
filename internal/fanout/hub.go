package fanout

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/collector"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// ErrRunning is returned by a second call of Hub.Run.
var ErrRunning = errors.New("fanout: hub already run")

// defaultOpsPerSecond is the default client op rate; the burst is twice it.
const defaultOpsPerSecond = 20

// writersPerProc is the size of the writer pool per GOMAXPROCS. The pool's
// writers never block on a socket, so a couple per processor would keep it
// busy; more give the fan-out its share of the Go scheduler next to the
// collector's goroutines. 16 measured best with 10,000 clients on 2 cores
// (docs/benchmarks.md): 4 gave a p99 latency about 1.5 times as high.
const writersPerProc = 16

// defaultSendBuffer is the default Options.SendBuffer: 64 KiB of kernel
// buffer on Linux, about 3 pulses of a 100-symbol subscription, and enough
// for 640 KB/s to a client 100ms away.
const defaultSendBuffer = 32 << 10

// defaultDemandWait is the default Options.DemandWait: in cluster mode a
// symbol asked for usually reaches the board within milliseconds.
const defaultDemandWait = 5 * time.Second

// defaultBatchDelay is the default Options.BatchDelay. With 10,000 clients
// on 2 cores, 2ms halved the median latency of 10ms for a third more CPU;
// 0 made the collector miss pulses (docs/benchmarks.md).
const defaultBatchDelay = 2 * time.Millisecond

// Options configures a Hub; they come from config.Websocket. A nil *Options
// means all defaults, and so does a zero field: the defaults are those of
// config.Default().Websocket.
type Options struct {
	MaxClients          int  // simultaneous clients; further upgrades get HTTP 503
	MaxSymbolsPerClient int  // symbols one client may subscribe to
	DynamicSymbols      bool // let clients subscribe to symbols that are not configured
	MaxDynamicSymbols   int  // cap on symbols added by clients; 0 means the default (200)

	// AllowedOrigins are browser origins accepted besides the same origin,
	// as coder/websocket's AcceptOptions.OriginPatterns (path.Match
	// patterns of the Origin's host, or of scheme://host when they contain
	// "://"). Requests without an Origin header are accepted; others get
	// HTTP 403.
	AllowedOrigins []string

	// WriteTimeout is how long a client's socket may take no bytes at all
	// while the Hub has frames for it: past it the client is closed with
	// 1008. A client that reads, however slowly, is not cut off; it skips
	// intermediate quotes instead (coalescing).
	WriteTimeout time.Duration

	// SendBuffer is the kernel send buffer (SO_SNDBUF) of each websocket
	// socket, in bytes: it bounds what the kernel holds for a client that
	// does not read, and turns off the kernel's autotuning of that buffer
	// (which would let it grow to megabytes). Linux doubles the value for
	// its bookkeeping. Zero means the default, 32 KiB; a negative value
	// leaves the buffer to the kernel (and the bound with it).
	SendBuffer   int
	PingInterval time.Duration // time between pings; a ping unanswered by the next one disconnects

	// BatchDelay is how long a client waits, from the first message
	// queued for it, before a writer sends what it has: the updates of one
	// pulse then go out in a few socket writes instead of one each. It
	// trades that much latency for far fewer system calls with many
	// clients. Zero means the default, 2ms; a negative value sends as
	// soon as a writer is free.
	BatchDelay time.Duration

	// OpsPerSecond limits a client's messages: a token bucket refilled at
	// OpsPerSecond with a burst of twice that; default 20/s, burst 40. A
	// message past the limit gets a rate_limited error and is ignored.
	OpsPerSecond int

	// ResumeWait is how long a resuming subscribe (one with "since") may
	// wait for a symbol whose seq the client says it has but the board
	// does not yet: in cluster mode an instance whose watch is slightly
	// behind another's, which the client was connected to. Past it the
	// subscribe is answered anyway: the symbol is not "recovered", and the
	// client is sent no quote it has. Zero, the default, does not wait:
	// right for a single process, whose board is where the seqs come from;
	// in cluster mode the service sets it to cluster.resume_wait. A new
	// epoch ends the wait. It holds up only the client's later messages,
	// never its reader or other clients. Negative means zero.
	ResumeWait time.Duration

	// DemandWait is how long a subscribe waits for a dynamic symbol asked
	// of the Demand to reach the board (in cluster mode the leader adds
	// it, and the watch brings it). Past it the subscribe is rejected with
	// unknown_symbol and the Hub calls Demand.Remove. Zero means the
	// default, 5s. Like ResumeWait, the wait holds up only the client's
	// later messages.
	DemandWait time.Duration

	// Grant returns what a connecting client's token allows it (see
	// Grant), from its upgrade request; the service reads it from
	// auth.FromContext. Nil, or a nil Grant, allows everything.
	Grant func(r *http.Request) Grant

	// AuthFirst reports whether a client upgrading with r has no token
	// and must authenticate by its first message (auth.ws_first_message):
	// {"op":"auth","token":"..."}, within AuthWait, checked with Verify.
	// Until then it is sent nothing and subscribes to nothing (the
	// upgrade's ?symbols= and since wait for its token); a first message
	// that is anything else gets an auth_required error, a refused token
	// invalid_token, an expired one token_expired, and no message within
	// AuthWait auth_required: each then a close with 1008. A valid token
	// is answered with "subscribed", as an auth op is, and from then on
	// the client is served as one that came with the token. Nil means
	// every client has its grant from the upgrade (Grant).
	AuthFirst func(r *http.Request) bool

	// Verify checks the token of an auth op, {"op":"auth","token":"..."},
	// with which a client replaces its grant without reconnecting: its
	// error wraps ErrTokenExpired for an expired token. Nil means the op
	// is refused.
	Verify func(token string) (Grant, error)

	// NormalizeSymbol checks and normalises a symbol a client names: it
	// must accept what the source can collect (config.Source's
	// NormalizeSymbol), so that a client cannot make the collector ask for
	// a symbol in another provider's spelling. An error that is a
	// *quote.SymbolError has its Reason shown to the client. Nil means
	// config.NormalizeSymbol.
	NormalizeSymbol func(sym string) (string, error)

	Logger     *slog.Logger          // connections and rejections; nil discards
	Registerer prometheus.Registerer // where the metrics are registered; nil means no metrics
}

// Board is where the Hub reads the per-symbol state; *board.Board
// satisfies it. Its methods must be safe for concurrent use and must not
// call back into the Hub. The Hub follows SymbolsValue: a symbol's Value is
// watched until the symbol leaves the set, when the board closes it. It
// follows EpochValue too: when the epoch changes, its clients get "reset".
// A new epoch must be set only after every Value has been cleared, and
// the new epoch's snapshots put only after it is set (board.SetEpoch
// does so): that is how the Hub tells which epoch a snapshot belongs to.
type Board interface {
	Symbols() board.Symbols
	SymbolsValue() *vanilla.Value[board.Symbols]
	Value(sym string) (*vanilla.Value[board.Snapshot], bool)
	EpochValue() *vanilla.Value[string]
}

// Demand is how the Hub asks for symbols that are not collected, when
// Options.DynamicSymbols is on; *collector.Collector satisfies it, and so
// does the cluster's *cluster.Interest. Add asks for sym to be collected
// and reports whether it was asked for now (false if it was already). The
// symbol may reach the Board's symbol set before Add returns (the
// collector) or later (cluster.Interest: once the leader has taken it up),
// or never (the leader is past its limit): the Hub waits for it up to
// Options.DemandWait, without blocking anyone else, and calls Remove if it
// does not come. Remove withdraws a symbol Add asked for. Both must be
// safe for concurrent use, must return promptly (the Hub calls them with
// its lock held; neither waits for the network), and must not call back
// into the Hub.
type Demand interface {
	Add(sym string) bool
	Remove(sym string)
}

var (
	_ Board  = (*board.Board)(nil)
	_ Demand = (*collector.Collector)(nil)
)

// Hub is the websocket API: it serves clients at its ServeHTTP and fans
// each collected symbol's snapshots out to the clients subscribed to it.
//
// One watcher goroutine per collected symbol watches the symbol's Value and
// offers every new version to the subscribers. Offering never blocks: a
// client holds at most one pending update per symbol, and a newer one
// replaces it (counted as skipped), so a slow client costs memory bounded
// by its subscriptions and never delays anyone else. A client with
// something to send is queued for a pool of writer goroutines, which send
// its frames BatchDelay later in one non-blocking socket write; a client
// whose socket does not take them gets a goroutine of its own, and is
// disconnected with close code 1008 if its socket takes no bytes for
// WriteTimeout. Each client has one goroutine of its own otherwise, which
// reads its messages, and one more while a subscribe of it waits (for a
// dynamic symbol to reach the board, or the board to catch up with a
// resuming client), which then carries out the messages read meanwhile.
// Run also watches the board's epoch: when it changes, each client gets
// "reset" before any quote of the new epoch.
//
// A Hub is safe for concurrent use. Run owns the watchers and the writers
// and waits for every connection: start it once and serve the Hub until
// Run returns. ServeHTTP accepts clients before Run too (they get messages
// once Run runs) and rejects them with 503 once Run's context has ended.
// ServeHTTP returns once the connection is upgraded; the connection's
// goroutines are the Hub's, and Run waits for them.
//
//	hub := fanout.New(b, coll, &fanout.Options{MaxClients: 1000})
//	mux.Handle("GET /ws", hub)
//	go hub.Run(ctx) // until ctx ends: closes every client with 1001; follows b's symbol set
type Hub struct {
	board  Board
	demand Demand  // nil: no dynamic symbols
	opts   Options // with defaults applied; read-only
	log    *slog.Logger
	m      *metrics
	now    func() time.Time                     // the clock of the rate limiter and of the grants' deadlines; tests replace it before serving
	at     func(when time.Time, f func()) timer // runs f at when on now's clock (the grants' deadlines); tests replace it, with now, before serving
	onWait func()                               // when not nil, called as a subscribe starts waiting; tests set it before serving

	watchers vanilla.Hub    // the watcher goroutines, one per started entry; stopped by Run
	writers  vanilla.Hub    // the pool's writer goroutines; stopped by Run once every connection has gone
	pool     *writerPool    // the clients waiting for the writers
	conns    sync.WaitGroup // connections admitted past the capacity check, until their serve returns; waited for by Run

	// spawn asks Run to start watchers for new entries. Sent (never
	// blocking) by whoever adds an entry; received by Run.
	spawnS *vanilla.Sender[struct{}]
	spawnR *vanilla.Recver[struct{}]

	mu sync.Mutex
	// Everything below is guarded by mu. Lock order: Hub.mu, entry.mu,
	// client.mu.
	state      hubState
	syms       map[string]*entry // the symbols watched: every symbol of src
	configured []string          // symbols of src not added by clients, in src order: what "*" means
	dynamic    int               // entries added by clients, and symbols in pending
	// pending are the symbols the Hub has asked the Demand for (Add
	// returned true) that have not reached the board yet: subscribes wait
	// for them. Each becomes a dynamic entry when it comes; it is given up
	// (Demand.Remove) once no subscribe waits for it.
	pending map[string]bool
	// reserved counts, per symbol, the subscribes waiting that need it: a
	// dynamic entry or pending symbol with reservations is kept even
	// without subscribers.
	reserved map[string]int
	clients  map[*client]struct{}
	admitted int // ServeHTTP calls past the capacity check, against MaxClients
	// poll waits for the sockets of idle clients (see poller): made by
	// the first client that can use one, closed by Run once every
	// connection has gone. pollTried is set once making it was tried: a
	// failed poller (or none on this system) is not tried again.
	poll      *poller
	pollTried bool
	noPoll    bool // tests set it before serving: every client has a reader goroutine, as without a poller
}

type hubState uint8

const (
	stateIdle    hubState = iota // Run not called yet
	stateRunning                 // Run is watching
	stateStopped                 // Run's context ended: no new clients
)

// entry is one collected symbol.
type entry struct {
	name    string
	value   *vanilla.Value[board.Snapshot]
	watch   *vanilla.Recver[board.Snapshot] // the watcher's end; closed by whoever drops the entry and by the watcher when it exits
	dynamic bool                            // added by the Hub with demand.Add: removed when its last client leaves
	started bool                            // a watcher goroutine runs for it; guarded by Hub.mu

	mu sync.Mutex
	// Guarded by mu.
	subs    []*sub    // the subscriptions to it, in no order; each knows its place (sub.at)
	removed bool      // dropped from Hub.syms: offer nothing more
	push    []*client // publish's scratch: the clients it schedules
	last    *update   // the newest version rendered, reused for snapshots
}

// New returns a Hub serving the symbols of b; dynamic symbols (with
// Options.DynamicSymbols) are asked of dem, which may be nil when they are
// off. It starts no goroutine; Run does.
func New(b Board, dem Demand, opts *Options) *Hub {
	var o Options
	if opts != nil {
		o = *opts
	}
	d := config.Default().Websocket
	if o.MaxClients <= 0 {
		o.MaxClients = d.MaxClients
	}
	if o.MaxSymbolsPerClient <= 0 {
		o.MaxSymbolsPerClient = d.MaxSymbolsPerClient
	}
	if o.MaxDynamicSymbols <= 0 {
		o.MaxDynamicSymbols = d.MaxDynamicSymbols
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = d.WriteTimeout
	}
	if o.PingInterval <= 0 {
		o.PingInterval = d.PingInterval
	}
	switch {
	case o.SendBuffer == 0:
		o.SendBuffer = defaultSendBuffer
	case o.SendBuffer < 0:
		o.SendBuffer = 0
	}
	switch {
	case o.BatchDelay == 0:
		o.BatchDelay = defaultBatchDelay
	case o.BatchDelay < 0:
		o.BatchDelay = 0
	}
	if o.OpsPerSecond <= 0 {
		o.OpsPerSecond = defaultOpsPerSecond
	}
	if o.ResumeWait < 0 {
		o.ResumeWait = 0
	}
	if o.DemandWait <= 0 {
		o.DemandWait = defaultDemandWait
	}
	if o.NormalizeSymbol == nil {
		o.NormalizeSymbol = config.NormalizeSymbol
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for _, p := range o.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			o.Logger.Warn("websocket: allowed origin pattern matches nothing", "pattern", p, "error", err)
		}
	}
	h := &Hub{
		board:    b,
		demand:   dem,
		opts:     o,
		log:      o.Logger,
		m:        newMetrics(o.Registerer),
		now:      time.Now,
		at:       afterTime,
		syms:     make(map[string]*entry),
		clients:  make(map[*client]struct{}),
		pending:  make(map[string]bool),
		reserved: make(map[string]int),
	}
	h.pool = newWriterPool(o.BatchDelay)
	h.spawnS, h.spawnR = vanilla.NewState[struct{}]()
	h.mu.Lock()
	h.reconcileLocked()
	h.mu.Unlock()
	return h
}

// Run watches the collected symbols and publishes their changes until ctx
// ends. Then it closes every client with 1001 (going away), makes ServeHTTP
// reject new ones, and returns once every goroutine of the Hub has exited,
// client connections included (each bounded by the close grace period).
// It returns the errors of watcher and writer goroutines (panics), or
// ErrRunning when called a second time.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.state != stateIdle {
		h.mu.Unlock()
		return ErrRunning
	}
	h.state = stateRunning
	h.spawnLocked(ctx)
	h.mu.Unlock()
	// Follows the board's symbol set until ctx ends; the set's Value is
	// never closed.
	h.watchers.Go(ctx, func(ctx context.Context) error {
		w := h.board.SymbolsValue().Watch()
		defer w.Close()
		for {
			if _, err := w.Recv(ctx); err != nil {
				return nil
			}
			h.symbolsChanged()
		}
	})
	// Follows the board's epoch until ctx ends; the epoch's Value is never
	// closed.
	h.watchers.Go(ctx, func(ctx context.Context) error {
		w := h.board.EpochValue().Watch()
		defer w.Close()
		for {
			if _, err := w.Recv(ctx); err != nil {
				return nil
			}
			h.epochChanged()
		}
	})
	wctx, stopWriters := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWriters()
	for range writersPerProc * runtime.GOMAXPROCS(0) {
		h.writers.Go(wctx, h.pool.run) // until stopWriters below
	}

	// Runs until ctx ends; the spawn State never closes.
	for {
		if _, err := h.spawnR.Recv(ctx); err != nil {
			break
		}
		h.mu.Lock()
		h.spawnLocked(ctx)
		h.mu.Unlock()
	}

	h.mu.Lock()
	h.state = stateStopped
	for c := range h.clients {
		c.stop(errShutdown)
	}
	h.mu.Unlock()
	err := h.watchers.Stop()
	h.conns.Wait()
	h.mu.Lock()
	p := h.poll
	h.poll = nil
	h.mu.Unlock()
	if p != nil {
		p.close()
	}
	stopWriters()
	return errors.Join(err, h.writers.Stop())
}

// poller returns the Hub's poller, starting it on first use; nil when
// there is none (see poller_other.go), it failed to start, or the Hub has
// stopped.
func (h *Hub) poller() *poller {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pollTried || h.noPoll || h.state == stateStopped {
		return h.poll
	}
	h.pollTried = true
	p, err := newPoller()
	if err != nil {
		if !errors.Is(err, errNoPoller) {
			h.log.Warn("websocket clients get a reader goroutine each", "error", err)
		}
		return nil
	}
	h.poll = p
	return p
}

// symbolsChanged makes the Hub follow the Board's current symbol set; Run
// calls it whenever the Board's SymbolsValue changes, and a watcher when
// its symbol's Value is closed. New symbols are
// watched; subscribers of symbols that are gone get an unknown_symbol error
// naming them, then a "subscribed" message without them. It does not block.
func (h *Hub) symbolsChanged() {
	h.mu.Lock()
	if h.state == stateStopped {
		h.mu.Unlock()
		return
	}
	h.reconcileLocked()
	h.mu.Unlock()
	_ = h.spawnS.TrySend(struct{}{}) // a State: never blocks
}

// reconcileLocked makes syms match the board: an entry whose symbol left it, or
// whose Value was replaced, is dropped; new symbols get an entry.
func (h *Hub) reconcileLocked() {
	set := h.board.Symbols()
	cur := set.All()
	in := make(map[string]bool, len(cur))
	for _, name := range cur {
		in[name] = true
	}
	gone := make(map[*client][]string)
	for name, e := range h.syms {
		if v, ok := h.board.Value(name); in[name] && ok && v == e.value {
			continue
		}
		for _, c := range h.dropLocked(e) {
			gone[c] = append(gone[c], name)
		}
	}
	created := make(map[string]bool)
	for _, name := range cur {
		if h.syms[name] == nil && h.adoptLocked(name) != nil {
			created[name] = true
		}
	}
	was := make(map[string]bool, len(h.configured))
	for _, name := range h.configured {
		was[name] = true
	}
	configured := make([]string, 0, len(cur))
	var added []string // configured now, and not before (or with a new Value)
	for _, name := range set.Configured {
		if h.syms[name] != nil {
			configured = append(configured, name)
			if !was[name] || created[name] {
				added = append(added, name)
			}
		}
	}
	h.configured = configured
	for c, names := range gone {
		h.m.addSubscriptions(-c.unsubscribed(names))
	}
	h.extendStarsLocked(added)
}

// extendStarsLocked subscribes every client that subscribed to "*" (and
// has not unsubscribed from it) to added, the symbols that have just
// joined the configured set, as far as MaxSymbolsPerClient allows: those
// past it are left out, in the configured order, and named in a
// too_many_symbols error. Each such client gets the error, if any, then
// "subscribed" and the snapshots of the symbols added, as a subscribe
// would give it.
func (h *Hub) extendStarsLocked(added []string) {
	if len(added) == 0 {
		return
	}
	for c := range h.clients {
		// c.star and c.subs change only under h.mu, which we hold.
		c.mu.Lock()
		if !c.star {
			c.mu.Unlock()
			continue
		}
		room := c.limit() - len(c.subs)
		var fit, over []string
		for _, n := range added {
			switch ok := c.subs.has(n); {
			case ok, !c.allows(n): // had it, or the token does not allow it
			case room > 0:
				fit = append(fit, n)
				room--
			default:
				over = append(over, n)
			}
		}
		if len(over) > 0 {
			e := &wireError{Type: "error", Code: CodeTooManySymbols, Symbols: over,
				Message: "newly configured symbols left out of \"*\", past the limit of " +
					strconv.Itoa(c.limit()) + " per client: " + strings.Join(over, ", ")}
			c.ctrl = append(c.ctrl, frame{encode(e), kindError})
			c.wakeLocked()
		}
		c.mu.Unlock()
		if len(fit) > 0 {
			h.completeLocked(c, &pendingSub{names: fit})
		}
	}
}

// adoptLocked returns the entry of name, making one if name is on the
// board and has none yet: a dynamic one if the Hub asked for it (pending).
// It returns nil if name is not on the board. The caller asks Run to
// spawn the new entry's watcher.
func (h *Hub) adoptLocked(name string) *entry {
	if e := h.syms[name]; e != nil {
		return e
	}
	v, ok := h.board.Value(name)
	if !ok {
		return nil
	}
	e := newEntry(name, v, h.pending[name])
	delete(h.pending, name) // still counted in dynamic, now as an entry
	h.syms[name] = e
	return e
}

// releaseLocked ends the reservations of a subscribe on names, and gives
// up those of them nobody needs any more: a dynamic entry without
// subscribers is dropped, a pending symbol forgotten, and the Demand told.
func (h *Hub) releaseLocked(names []string) {
	for _, n := range names {
		if h.reserved[n]--; h.reserved[n] <= 0 {
			delete(h.reserved, n)
		}
		h.giveUpLocked(n)
	}
}

// giveUpLocked stops collecting n if the Hub asked for it and nothing
// needs it: no subscriber, no reservation.
func (h *Hub) giveUpLocked(n string) {
	if h.reserved[n] > 0 {
		return
	}
	if h.pending[n] {
		delete(h.pending, n)
		h.dynamic--
		h.demand.Remove(n)
		return
	}
	e := h.syms[n]
	if e == nil || !e.dynamic {
		return
	}
	e.mu.Lock()
	empty := len(e.subs) == 0
	e.mu.Unlock()
	if empty {
		h.dropLocked(e)
		h.demand.Remove(n)
	}
}

func newEntry(name string, v *vanilla.Value[board.Snapshot], dynamic bool) *entry {
	return &entry{name: name, value: v, watch: v.Watch(), dynamic: dynamic}
}

// addLocked adds s to e's subscribers. e.mu must be held.
func (e *entry) addLocked(s *sub) {
	s.at = int32(len(e.subs))
	e.subs = append(e.subs, s)
}

// removeLocked takes s off e's subscribers, if it is one: the last one
// takes its place. e.mu must be held.
func (e *entry) removeLocked(s *sub) {
	i := int(s.at)
	if i >= len(e.subs) || e.subs[i] != s {
		return // e was dropped (subs cleared), or s never added
	}
	last := len(e.subs) - 1
	e.subs[i] = e.subs[last]
	e.subs[i].at = int32(i)
	e.subs[last] = nil
	e.subs = e.subs[:last]
}

// dropLocked removes e from the Hub and stops its watcher; it returns the
// clients that were subscribed to it, whose subscription the caller ends.
func (h *Hub) dropLocked(e *entry) []*client {
	delete(h.syms, e.name)
	if e.dynamic {
		h.dynamic--
	}
	e.mu.Lock()
	e.removed = true
	subs := make([]*client, 0, len(e.subs))
	for _, s := range e.subs {
		subs = append(subs, s.c)
	}
	e.subs = nil
	e.mu.Unlock()
	e.watch.Close() // wakes the watcher, which returns
	return subs
}

// spawnLocked starts a watcher for every entry that has none.
func (h *Hub) spawnLocked(ctx context.Context) {
	for _, e := range h.syms {
		if e.started {
			continue
		}
		e.started = true
		h.watchers.Go(ctx, func(ctx context.Context) error {
			h.watch(ctx, e)
			return nil
		})
	}
}

// watch offers every new version of e's Value to e's subscribers. It
// returns when e is dropped (its watch end is closed), when the source
// closes the Value, or when ctx ends.
func (h *Hub) watch(ctx context.Context, e *entry) {
	defer e.watch.Close()
	for {
		if _, err := e.watch.Recv(ctx); err != nil {
			e.mu.Lock()
			removed := e.removed
			e.mu.Unlock()
			if !removed && ctx.Err() == nil {
				// The source closed the Value without the Hub being told:
				// the symbol is no longer collected.
				h.symbolsChanged()
			}
			return
		}
		// Recv's item has no version; load gives the newest item with its
		// version and epoch, which is what every subscriber should get
		// anyway.
		snap, ver, ep, ok := h.load(e.value)
		if !ok {
			continue
		}
		h.publish(e, snap, ver, ep)
	}
}

// publish offers version ver of e to its subscribers. It never blocks on a
// client: offering replaces the client's pending update of e, if any.
func (h *Hub) publish(e *entry, snap board.Snapshot, ver uint64, ep epochRef) {
	skipped := 0
	e.mu.Lock()
	if !e.removed && len(e.subs) > 0 {
		u := e.updateLocked(snap, ver, ep)
		push := e.push[:0]
		for _, s := range e.subs {
			c := s.c
			skip, p := c.offer(s, u)
			if skip {
				skipped++
			}
			if p {
				push = append(push, c)
			}
		}
		h.pool.push(push...)
		clear(push)
		e.push = push[:0]
	}
	e.mu.Unlock()
	h.m.skip(skipped)
}

// currentLocked returns e's current version as an update, or nil if the
// Value is unset. e.mu must be held.
func (h *Hub) currentLocked(e *entry) *update {
	snap, ver, ep, ok := h.load(e.value)
	if !ok {
		return nil
	}
	return e.updateLocked(snap, ver, ep)
}

// updateLocked returns version ver (of epoch ep) of e rendered, rendering
// it only if it is not the newest one rendered already. e.mu must be held.
func (e *entry) updateLocked(snap board.Snapshot, ver uint64, ep epochRef) *update {
	if e.last != nil && e.last.ver == ver {
		return e.last
	}
	u := newUpdate(e.name, snap, ver, ep)
	if e.last == nil || ver > e.last.ver {
		e.last = u
	}
	return u
}
