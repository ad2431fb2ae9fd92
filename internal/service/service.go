// Package service assembles tickerd: the quote source (or the embedded
// simulator), the one pipelined httpx connection, the cron-pulsed
// collectors, and the HTTP surface (REST API, metrics, websocket, web
// dashboard) on one chi router.
package service

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/auth"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/cluster"
	"github.com/tickerd/tickerd/internal/collector"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/fanout"
	"github.com/tickerd/tickerd/internal/httpx"
	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/sim"
	"github.com/tickerd/tickerd/internal/vanilla"
	"github.com/tickerd/tickerd/web"
)

// ShutdownTimeout bounds each step of the shutdown: the httpx client's
// drain, the HTTP server's and the embedded simulator's. Collections are
// bounded by the source timeout. So a stop takes at most source.timeout +
// 3 x this, and in practice well under a second.
const ShutdownTimeout = 5 * time.Second

// Options configures a Service. A nil *Options means defaults.
type Options struct {
	Logger  *slog.Logger // nil discards
	Sim     *sim.Options // the embedded simulator's options; nil means defaults
	Version string       // the build's version, for tickerd_build_info; empty means "dev"
	// ReloadInterval is how often the auth key files (JWKS, API keys) and
	// the TLS certificate and key are checked for changes while Run runs;
	// Reload checks them too. Zero means 5s.
	ReloadInterval time.Duration
}

// defaultReloadInterval is Options.ReloadInterval's default.
const defaultReloadInterval = 5 * time.Second

// headOfLineTimeout is how long the answer at the head of the pipelined
// line may take (httpx.Options.ResponseTimeout) for a collection timeout
// of d: a quarter of it, at least 100ms. Every request of a pulse waits
// behind the head, so a hung or trickled answer must be given up on well
// before the requests behind it time out: the connection is reset, they
// are sent again on a new one, and the hung symbol alone misses the
// pulse. (At 2 x d, one hung symbol made every symbol stale.)
func headOfLineTimeout(d time.Duration) time.Duration {
	return max(d/4, 100*time.Millisecond)
}

// MaxHeaderBytes bounds a request's header on the main listener.
const MaxHeaderBytes = 64 << 10

// Service is one tickerd instance. Create it with New and run it with Run;
// it is not reusable after Run returns. New holds a few resources (the
// embedded simulator's listener, the admin listener, the source client):
// Run releases them when it returns, and Close releases them for a Service
// that is never run.
type Service struct {
	cfgMu sync.Mutex
	// Guarded by cfgMu.
	cfg      *config.Config       // replaced by Reload
	schedule cron.Schedule        // cfg's, parsed
	coll     *collector.Collector // collects: for good in single-process mode, the current term's in cluster mode (nil when not leading)

	log         *slog.Logger
	simOpts     *sim.Options
	reg         *prometheus.Registry
	board       *board.Board       // the per-symbol state: written by the collector (or the cluster's watch), read by fanout and the API
	node        *cluster.Node      // nil in single-process mode
	instance    string             // the cluster instance id (the host name in single-process mode)
	collMetrics *collector.Metrics // shared by every term's collector
	client      *httpx.Client
	simLn       net.Listener  // the embedded simulator's, or nil
	simSrv      *httpx.Server // serves simLn
	simOnce     sync.Once     // stops simSrv and closes simLn, once
	fanout      *fanout.Hub
	handler     http.Handler
	auth        *auth.Authenticator // off unless cfg.Auth has a key file
	cert        *certReloader       // the main listener's certificate; nil without TLS
	adminLn     net.Listener        // cfg.AdminListen's, or nil; closed by Run or Close
	admin       http.Handler        // serves adminLn
	adminOnce   sync.Once           // closes adminLn, once
	reloadEvery time.Duration       // Options.ReloadInterval
	source      *trackedSource      // notes the last successful collection
	serving     atomic.Bool         // set while Run's parts run: readiness
}

// New builds the service from cfg. It starts nothing, but opens the
// embedded simulator's listener (so the client has an address to dial)
// and the admin listener (so a bad admin_listen fails at once).
func New(cfg *config.Config, opts *Options) (*Service, error) {
	s := &Service{cfg: cfg, log: slog.New(slog.DiscardHandler), reg: prometheus.NewRegistry(), reloadEvery: defaultReloadInterval}
	// In cluster mode the collector runs only while this instance leads,
	// one per term (see lead); the rest is the same in both modes.
	version := "dev"
	if opts != nil {
		if opts.Logger != nil {
			s.log = opts.Logger
		}
		s.simOpts = opts.Sim
		if opts.Version != "" {
			version = opts.Version
		}
		if opts.ReloadInterval > 0 {
			s.reloadEvery = opts.ReloadInterval
		}
	}
	sched, err := config.ParseSchedule(cfg.Schedule)
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	s.schedule = sched
	if err := s.newAccess(cfg); err != nil {
		return nil, err
	}

	base := cfg.Source.URL
	if cfg.Source.Kind == config.KindSim && base == "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.closeAdmin()
			return nil, fmt.Errorf("listen for embedded simulator: %w", err)
		}
		s.simLn = ln
		s.simSrv = &httpx.Server{Handler: sim.New(s.simOpts), Logger: s.log}
		base = "http://" + ln.Addr().String()
	}
	kind := cfg.Source.QuoteKind() // the simulator speaks the nasdaq shape
	qo := cfg.Source.QuoteOptions()
	qo.BaseURL = base
	src, err := quote.New(kind, qo)
	if err == nil {
		base, err = quote.BaseURL(kind, qo)
	}
	if err != nil {
		s.closeSim()
		s.closeAdmin()
		return nil, fmt.Errorf("quote source: %w", err)
	}
	client, err := httpx.NewClient(base, &httpx.Options{MaxInFlight: cfg.Source.MaxInFlight, ResponseTimeout: headOfLineTimeout(cfg.Source.Timeout)})
	if err != nil {
		s.closeSim()
		s.closeAdmin()
		return nil, fmt.Errorf("quote source: %w", err)
	}
	s.client = client

	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerClientMetrics(s.reg, client)
	s.board = board.New(&board.Options{History: cfg.History})
	s.source = &trackedSource{Source: src, now: time.Now}
	registerHealthMetrics(s.reg, s.board, s.source, version)
	s.collMetrics = collector.NewMetrics(s.reg)
	s.instance = instanceID(cfg.Cluster)
	var demand fanout.Demand
	if cfg.Cluster.Enabled() {
		if s.node, err = s.newNode(cfg); err != nil {
			s.closeSim()
			s.closeAdmin()
			client.Close()
			return nil, err
		}
		demand = s.node.Interest()
	} else {
		s.coll = collector.New(s.source, client, s.board, cfg.Symbols, s.collectorOptions(nil))
		demand = s.coll
	}

	ws := cfg.Websocket
	var authFirstFn func(*http.Request) bool
	if cfg.Auth.WSFirstMessage && s.auth.Enabled() {
		authFirstFn = authFirst // guard lets an upgrade without a token through to the hub
	}
	s.fanout = fanout.New(s.board, demand, &fanout.Options{
		MaxClients:          ws.MaxClients,
		MaxSymbolsPerClient: ws.MaxSymbolsPerClient,
		DynamicSymbols:      ws.DynamicSymbols,
		MaxDynamicSymbols:   ws.MaxDynamicSymbols,
		AllowedOrigins:      ws.AllowedOrigins,
		WriteTimeout:        ws.WriteTimeout,
		PingInterval:        ws.PingInterval,
		BatchDelay:          batchDelay(ws.BatchDelay),
		ResumeWait:          resumeWait(cfg),
		NormalizeSymbol:     cfg.Source.NormalizeSymbol, // clients name symbols as the source spells them
		Grant:               tokenGrant,                 // auth.Middleware put the token's Principal in the request
		Verify:              s.verifyToken,              // {"op":"auth"}: a fresh token on an open connection
		AuthFirst:           authFirstFn,                // auth.ws_first_message
		Logger:              s.log,
		Registerer:          s.reg,
	})

	r := api.Handler(s.board, &api.Options{Ready: s.ready, LastSuccess: s.source.lastSuccess, Logger: s.log, AccessLog: cfg.Log.Access,
		NormalizeSymbol: cfg.Source.NormalizeSymbol})
	// GET only (and HEAD, which the router answers as GET): other methods
	// get 405 with Allow.
	r.Get("/api/cluster", s.serveCluster)
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
	if s.adminLn == nil {
		r.Get("/metrics", metrics.ServeHTTP)
	} else {
		s.admin = adminHandler(r, metrics)
	}
	r.Get("/ws", newPerIPLimit(ws.MaxClientsPerIP, ws.TrustedProxies, s.reg).wrap(s.fanout.ServeHTTP))
	r.Get("/*", web.Handler().ServeHTTP)
	s.handler = guard(r, accessOptions{
		auth:           s.auth,
		adminSplit:     s.adminLn != nil,
		wsFirstMessage: cfg.Auth.WSFirstMessage,
		allowedOrigins: ws.AllowedOrigins,
	})
	return s, nil
}

// Reload applies a new configuration to the running service: symbols added
// are collected from the next pulse, removed ones stop (their websocket
// subscribers get an error saying so), and the schedule changes; clients
// stay connected. Keys that need a restart (listen, source, history,
// websocket, http, cluster, auth, admin_listen, tls) keep their running
// values and are logged; the TLS certificate and the auth key files are
// read again. cfg must come from
// config.Load or config.Parse, which validated it.
func (s *Service) Reload(cfg *config.Config) error {
	sched, err := config.ParseSchedule(cfg.Schedule)
	if err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	old := s.cfg
	next := *old
	next.Symbols, next.Schedule = slices.Clone(cfg.Symbols), cfg.Schedule
	for key, changed := range map[string]bool{
		"listen":       cfg.Listen != old.Listen,
		"source":       !reflect.DeepEqual(cfg.Source, old.Source),
		"history":      cfg.History != old.History,
		"websocket":    !reflect.DeepEqual(cfg.Websocket, old.Websocket),
		"auth":         !reflect.DeepEqual(cfg.Auth, old.Auth),
		"admin_listen": cfg.AdminListen != old.AdminListen,
		"tls":          cfg.TLS != old.TLS,
		"http":         cfg.HTTP != old.HTTP,
		"cluster":      cfg.Cluster != old.Cluster,
	} {
		if changed {
			s.log.Warn("config reload: key needs a restart to take effect", "key", key)
		}
	}
	// In cluster mode only the leader collects and its config decides;
	// a follower keeps the new config for when it leads.
	if s.coll != nil && !slices.Equal(cfg.Symbols, old.Symbols) {
		s.coll.SetSymbols(next.Symbols) // the board's set follows; so does the fan-out
	}
	if s.coll != nil && cfg.Schedule != old.Schedule {
		s.coll.SetSchedule(sched)
	}
	// The key files named by the running config: a SIGHUP after a key
	// rotation or a certificate renewal takes effect now, not at the next
	// poll.
	s.reloadFiles()
	s.cfg, s.schedule = &next, sched
	added, removed := symbolChanges(old.Symbols, next.Symbols)
	attrs := []any{"symbols", len(next.Symbols), "added", added, "removed", removed}
	if next.Schedule != old.Schedule {
		attrs = append(attrs, "schedule", next.Schedule, "old_schedule", old.Schedule)
	}
	if len(added) == 0 && len(removed) == 0 && next.Schedule == old.Schedule && slices.Equal(next.Symbols, old.Symbols) {
		s.log.Info("config reloaded: no change to symbols or schedule")
		return nil
	}
	s.log.Info("config reloaded", attrs...)
	return nil
}

// batchDelay is websocket.batch_delay as fanout.Options.BatchDelay, whose
// zero means its default: the file's 0s is no delay.
func batchDelay(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// symbolChanges returns the symbols in next and not in old, and those in
// old and not in next, each in its list's order.
func symbolChanges(old, next []string) (added, removed []string) {
	in := func(list []string) map[string]bool {
		m := make(map[string]bool, len(list))
		for _, sym := range list {
			m[sym] = true
		}
		return m
	}
	inOld, inNext := in(old), in(next)
	added, removed = []string{}, []string{}
	for _, sym := range next {
		if !inOld[sym] {
			added = append(added, sym)
		}
	}
	for _, sym := range old {
		if !inNext[sym] {
			removed = append(removed, sym)
		}
	}
	return added, removed
}

// Handler returns the service's HTTP handler.
func (s *Service) Handler() http.Handler { return s.handler }

// Board returns the service's per-symbol state.
func (s *Service) Board() *board.Board { return s.board }

// Collector returns the service's collector: in cluster mode the current
// term's, nil while this instance does not lead.
func (s *Service) Collector() *collector.Collector {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return s.coll
}

// collectorOptions returns the options of a collector; seed is the
// cluster term's (nil in single-process mode). s.cfgMu must be held, or s
// not yet shared.
func (s *Service) collectorOptions(seed func(string) (board.Snapshot, bool)) *collector.Options {
	src := s.cfg.Source
	return &collector.Options{
		Timeout:    src.Timeout,
		MaxRPS:     src.MaxRPS,
		StaleAfter: src.StaleAfter,
		Logger:     s.log,
		Metrics:    s.collMetrics,
		Seed:       seed,
	}
}

// ready reports why the service cannot serve: it can while Run's parts
// (HTTP server, websocket hub, collection) run, whatever the upstream
// does; stale quotes are still served, marked stale. In cluster mode it
// also needs NATS connected and the watch's initial values; leadership
// plays no part. Upstream health is in /api/status and the
// tickerd_symbols* metrics.
func (s *Service) ready() error {
	if !s.serving.Load() {
		return errNotServing
	}
	if s.node != nil {
		return s.node.Ready()
	}
	return nil
}

// errNotServing is the readiness reason before Run has started its parts
// and once it has begun to stop.
var errNotServing = errors.New("not serving: starting or stopping")

// Run serves on ln and collects until ctx ends, then stops in order: no
// new pulses, collections in progress finish or time out, the httpx client
// drains the seed's way (no new requests, unwritten ones dropped, answers
// read), the HTTP server shuts down, the embedded simulator stops. It
// returns nil after a clean stop.
func (s *Service) Run(ctx context.Context, ln net.Listener) error {
	s.cfgMu.Lock()
	hc, maxClients := s.cfg.HTTP, s.cfg.Websocket.MaxClients
	s.cfgMu.Unlock()
	srv := newHTTPServer(s.handler, hc, s.log)
	maxConns := hc.MaxConnections
	if maxConns <= 0 {
		maxConns = maxClients + 1024
	}
	ln = newLimitListener(ln, maxConns)
	if s.cert != nil {
		ln = tls.NewListener(ln, s.cert.tlsConfig())
	}
	var hub vanilla.Hub
	if s.simSrv != nil {
		// Exits when the simulator is shut down below.
		hub.Go(context.Background(), func(context.Context) error {
			if err := s.simSrv.Serve(s.simLn); !errors.Is(err, httpx.ErrServerClosed) {
				return fmt.Errorf("embedded simulator: %w", err)
			}
			return nil
		})
	}
	// Exits when srv is shut down below.
	hub.Go(context.Background(), func(context.Context) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	var adminSrv *http.Server
	if s.adminLn != nil {
		adminSrv = newAdminServer(s.admin, s.log)
		// Exits when adminSrv is shut down below.
		hub.Go(context.Background(), func(context.Context) error {
			if err := adminSrv.Serve(s.adminLn); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve admin: %w", err)
			}
			return nil
		})
	}
	// The key files' and the certificate's polls: they stop with the
	// collection, below.
	filesCtx, stopFiles := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFiles()
	hub.Go(filesCtx, s.auth.Run) // returns nil once filesCtx ends
	if s.cert != nil {
		// Returns once filesCtx ends.
		hub.Go(filesCtx, func(ctx context.Context) error {
			s.cert.run(ctx, s.reloadEvery)
			return nil
		})
	}
	// The websocket hub: its own context, so that on shutdown clients get
	// close 1001 before the HTTP server stops (Shutdown does not wait for
	// hijacked connections).
	wsCtx, stopWS := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWS()
	hub.Go(wsCtx, s.fanout.Run)
	s.cfgMu.Lock()
	cfg, sched := s.cfg, s.schedule
	s.cfgMu.Unlock()
	attrs := []any{"listen", ln.Addr().String(), "source", cfg.Source.Kind, "symbols", len(cfg.Symbols), "schedule", cfg.Schedule,
		"auth", s.auth.Enabled(), "tls", s.cert != nil}
	if s.adminLn != nil {
		attrs = append(attrs, "admin_listen", s.adminLn.Addr().String())
	}
	if s.node != nil {
		attrs = append(attrs, "cluster", cfg.Cluster.NATSURL, "instance", s.instance)
	}
	s.log.Info("tickerd running", attrs...)
	if exposed(ln.Addr()) && !s.auth.Enabled() {
		s.log.Warn("listening beyond loopback without auth: anyone who can reach the port may use the API and the websocket (and, with dynamic_symbols, make tickerd collect symbols); configure auth or listen on 127.0.0.1", "listen", ln.Addr().String())
	}
	if s.adminLn != nil && exposed(s.adminLn.Addr()) {
		s.log.Warn("admin listener beyond loopback: /metrics and /debug/pprof (profiles, heap dumps) take no token; keep the port private (a NetworkPolicy, a firewall)", "admin_listen", s.adminLn.Addr().String())
	}
	var errs []error
	s.serving.Store(true)
	if s.node != nil {
		// Returns ctx's cause once ctx ends, this instance has stopped
		// leading and resigned, and its goroutines are gone; any other
		// error is the cluster's options refused.
		if err := s.node.Run(ctx); ctx.Err() == nil {
			errs = append(errs, err)
		}
	} else {
		// Returns ctx's cause once ctx ends and the collections are
		// cancelled and gone: that is the way it stops, not an error.
		_ = s.coll.Run(ctx, sched)
	}

	s.serving.Store(false)
	s.log.Info("stopping")
	stopWS()
	stopFiles()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := s.client.Shutdown(sctx); err != nil {
		// An upstream that does not answer cannot stop us: the connection
		// is closed, and the stop is still clean.
		s.log.Warn("drain quote source connection", "error", err)
		s.client.Close()
	}
	hctx, cancel2 := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel2()
	if err := srv.Shutdown(hctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down http server: %w", err))
		srv.Close()
	}
	if adminSrv != nil {
		if err := adminSrv.Shutdown(hctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down admin http server: %w", err))
			adminSrv.Close()
		}
	}
	s.closeSim()
	s.closeAdmin()
	if err := hub.Wait(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// newHTTPServer returns the main listener's server: bounded header time
// and size, request read time, write time and keep-alive idle time, so
// that neither slow nor idle clients hold connections for long.
// Websocket connections are hijacked, which clears these deadlines.
func newHTTPServer(h http.Handler, hc config.HTTP, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: hc.ReadHeaderTimeout,
		ReadTimeout:       2 * hc.ReadHeaderTimeout, // requests carry no body worth waiting for
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       hc.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Close releases what New took, for a Service whose Run is never called.
// After Run has been called it does nothing that Run does not do itself.
// It is idempotent.
func (s *Service) Close() error {
	s.client.Close()
	s.closeSim()
	s.closeAdmin()
	return nil
}

func (s *Service) closeSim() {
	if s.simSrv == nil {
		return
	}
	s.simOnce.Do(s.stopSim)
}

func (s *Service) stopSim() {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := s.simSrv.Shutdown(ctx); err != nil {
		s.simSrv.Close()
	}
	s.simLn.Close()
}
