// Package config loads tickerd's YAML configuration file.
//
// [Load] reads a file and [Parse] decodes one: keys the file omits take the
// values of [Default], and every problem in the file is reported as an
// [*Error] naming the file, the line and the dotted key:
//
//	cfg, err := config.Load("config.yaml")
//	if err != nil {
//		return err // e.g. config.yaml:9: symbols[2]: invalid symbol "A B"
//	}
//	sched, err := config.ParseSchedule(cfg.Schedule) // cannot fail for a loaded cfg
package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	quotesrc "github.com/tickerd/tickerd/internal/quote"
)

// Source kinds accepted in source.kind.
const (
	KindSim    = "sim"    // simulated quotes; embedded simulator when URL is empty
	KindNasdaq = "nasdaq" // Nasdaq quote API
	KindStooq  = "stooq"  // stooq.com CSV quotes

	KindCoinbase = "coinbase" // Coinbase Exchange product tickers (keyless; BTC-USD)
	KindBinance  = "binance"  // Binance spot 24 h tickers (keyless; BTCUSDT)
	KindFinnhub  = "finnhub"  // Finnhub quotes (api_key)
	KindAlpaca   = "alpaca"   // Alpaca market data snapshots (api_key and api_secret)
	KindJSON     = "json"     // any JSON quote API, described by source.json
)

// Log formats accepted in log.format.
const (
	LogText = "text" // slog's key=value text
	LogJSON = "json" // one JSON object a line
)

// Upper bounds of the numeric keys: values above them would exhaust memory
// or descriptors rather than serve anyone, so Parse rejects them.
const (
	MaxInFlight    = 4096    // source.max_in_flight
	MaxRPS         = 10000   // source.max_rps
	MaxHistory     = 100000  // history
	MaxClients     = 1000000 // websocket.max_clients
	MaxSymbols     = 100000  // websocket.max_symbols_per_client, websocket.max_dynamic_symbols
	MaxConnections = 1000000 // http.max_connections
)

// Config is tickerd's configuration. A Config returned by [Load] or [Parse]
// satisfies every rule listed on [Parse]. It is a plain value: safe to read
// from many goroutines, not to modify while others read it.
type Config struct {
	// Listen is the host:port for the dashboard, REST API, websocket and
	// metrics.
	Listen string
	// Source describes the upstream quote source.
	Source Source
	// Schedule is the collection pulse, a cron spec for [ParseSchedule].
	Schedule string
	// Symbols are the symbols collected from the start: upper-cased,
	// valid per [Source.NormalizeSymbol] (the source kind's syntax),
	// unique, in file order, at least one.
	Symbols []string
	// History is the number of points kept per symbol for sparklines and
	// the history API; 1 to MaxHistory.
	History int
	// Websocket limits and timings for websocket clients.
	Websocket Websocket
	// HTTP limits of the main listener.
	HTTP HTTP
	// Log says how and what the service logs.
	Log Log
	// Cluster makes this instance one of several sharing one collector
	// through NATS JetStream; its zero value (no NATSURL) means one
	// process on its own.
	Cluster Cluster
	// Auth says which tokens the REST API and the websocket require; no
	// key file (the default) means none.
	Auth Auth
	// AdminListen is the host:port serving /metrics, /healthz, /readyz
	// and /debug/pprof instead of the main listener; empty means metrics
	// and health checks on the main listener, and no pprof.
	AdminListen string
	// TLS is the main listener's certificate; empty means plain TCP.
	TLS TLS
}

// Cluster is the cluster section. Like [Config], a plain value.
type Cluster struct {
	// NATSURL lists the NATS servers, comma-separated nats:// or tls://
	// URLs; empty means one process, no NATS. [ApplyEnv] takes
	// TICKERD_NATS_URL over it.
	NATSURL string
	// Bucket is the JetStream key-value bucket, created when missing: a
	// NATS subject token of letters, digits, '-' and '_'.
	Bucket string
	// Replicas is the bucket's replication when tickerd creates it; 1 to 5.
	Replicas int
	// InstanceID names this instance, unique in the cluster; empty means
	// the host name. [ApplyEnv] takes TICKERD_INSTANCE_ID over it.
	InstanceID string
	// LeaseTTL is the leader lease's time to live: a crashed leader is
	// replaced within about this long; 1s to 1m.
	LeaseTTL time.Duration
	// ResumeWait is how long a resuming client waits for this instance's
	// watch to catch up with the seqs it already has; 0 to 30s.
	ResumeWait time.Duration
	// CredsFile is a NATS credentials file, read by nats.go at connect.
	CredsFile string
	// TLS configures TLS to NATS; empty fields mean the system's roots
	// and no client certificate.
	TLS ClusterTLS
}

// ClusterTLS is cluster.tls. Like [Config], a plain value.
type ClusterTLS struct {
	CAFile   string // PEM roots to verify the servers with
	CertFile string // PEM client certificate; with KeyFile
	KeyFile  string
}

// Enabled reports whether c asks for cluster mode.
func (c Cluster) Enabled() bool { return c.NATSURL != "" }

// HTTP is the http section: limits of the main listener. Like [Config], a
// plain value.
type HTTP struct {
	// MaxConnections caps the connections open at once on the listener,
	// websocket clients included; 0 means Websocket.MaxClients + 1024.
	// Connections above it wait in the kernel's accept queue.
	MaxConnections int
	// IdleTimeout is how long a keep-alive connection may sit idle between
	// requests; 1s to 1h.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds the time to read a request's header; 100ms
	// to 5m.
	ReadHeaderTimeout time.Duration
}

// Log is the log section. Like [Config], a plain value.
type Log struct {
	// Format is LogText or LogJSON.
	Format string
	// Level is the least level logged: debug, info, warn or error in the
	// file.
	Level slog.Level
	// Access logs one line per HTTP request (method, path, status, bytes,
	// duration, request id).
	Access bool
}

// Source is the source section: where quotes come from. Like [Config], a
// plain value.
type Source struct {
	// Kind is KindSim, KindNasdaq, KindStooq, KindCoinbase, KindBinance,
	// KindFinnhub, KindAlpaca or KindJSON.
	Kind string
	// URL is the source's base URL, an absolute http or https URL, or
	// empty for the kind's default; with KindSim and no URL an embedded
	// simulator is started on loopback.
	URL string
	// Timeout bounds one collection; 100ms to 5m.
	Timeout time.Duration
	// MaxInFlight is the pipelining depth on the one connection; 1 to
	// MaxInFlight.
	MaxInFlight int
	// UserAgent is sent upstream when not empty.
	UserAgent string
	// APIKey and APISecret are the source's credentials (finnhub: the
	// token; alpaca: key id and secret); never logged. APIKeyFile and
	// APISecretFile, preferred, name files holding them (read at load,
	// surrounding white space dropped) so the config holds no secret.
	APIKey, APISecret         string
	APIKeyFile, APISecretFile string
	// Headers are extra request headers sent upstream; values may use
	// {apikey} and {apisecret}.
	Headers map[string]string
	// MaxRPS caps the requests per second on the one connection; a pulse
	// larger than that is spread, not dropped. 0 means no cap.
	MaxRPS float64
	// StaleAfter is how many consecutive failures mark a symbol stale;
	// 1 to 100.
	StaleAfter int
	// AssetClass maps symbols to the nasdaq assetclass to ask them with
	// ("etf", "index", "mutualfunds"; "stocks" for those not listed), from
	// symbols entries written {symbol: SPY, assetclass: etf}; nil when
	// none is. Only for KindNasdaq and KindSim.
	AssetClass map[string]string
	// JSON describes the API of KindJSON, from source.json (url, price,
	// change, change_pct, ... as the fields of quote.JSONOptions); nil for
	// the other kinds. Every path in it has been checked.
	JSON *quotesrc.JSONOptions
}

// Websocket is the websocket section: limits and timings for clients. Like
// [Config], a plain value.
type Websocket struct {
	// MaxClients is the number of simultaneous clients; 1 to MaxClients.
	MaxClients int
	// MaxSymbolsPerClient is how many symbols one client may subscribe to;
	// 1 to MaxSymbols.
	MaxSymbolsPerClient int
	// DynamicSymbols lets clients subscribe to symbols not in
	// Config.Symbols, which are then collected too.
	DynamicSymbols bool
	// MaxDynamicSymbols caps the symbols added by clients; 0 to MaxSymbols.
	MaxDynamicSymbols int
	// AllowedOrigins are the browser origins accepted besides the same
	// origin; empty means same origin only (plus clients sending no Origin).
	// Entries are non-empty strings; their syntax is the server's to check.
	AllowedOrigins []string
	// WriteTimeout is how long a client may take to accept a frame before
	// it is disconnected; 100ms to 5m.
	WriteTimeout time.Duration
	// PingInterval is the time between pings; 1s to 1h.
	PingInterval time.Duration
	// BatchDelay is how long the server gathers a client's updates, from
	// the first one waiting, before it sends them together (in batch mode,
	// one frame); a client gets them sooner once every symbol it follows
	// has one. 0 to 1s; 0 sends as soon as a writer is free. Longer means
	// fewer frames for clients to read and more latency.
	BatchDelay time.Duration
	// MaxClientsPerIP caps the websocket connections open at once from
	// one client address (IPv6: one /64); 0 means no cap of its own.
	// Upgrades past it get HTTP 429.
	MaxClientsPerIP int
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client for MaxClientsPerIP: the client is the rightmost address of
	// the header that is not a trusted proxy. Nil means none: the peer's
	// address is the client's.
	TrustedProxies []netip.Prefix
}

// Default returns the configuration used for keys a file omits: the values
// of the repository's config.yaml. Each call returns a new Config.
func Default() *Config {
	return &Config{
		Listen: ":8080",
		Source: Source{
			Kind:        KindSim,
			Timeout:     5 * time.Second,
			MaxInFlight: 64,
			StaleAfter:  2,
		},
		Schedule: "@every 1s",
		Symbols:  []string{"AAPL", "AMZN", "OUTR", "MSFT", "NVDA", "GOOG", "META", "TSLA"},
		History:  300,
		Websocket: Websocket{
			MaxClients:          10000,
			MaxSymbolsPerClient: 500,
			DynamicSymbols:      false,
			MaxDynamicSymbols:   200,
			AllowedOrigins:      []string{},
			WriteTimeout:        5 * time.Second,
			PingInterval:        25 * time.Second,
			BatchDelay:          2 * time.Millisecond,
		},
		HTTP: HTTP{
			IdleTimeout:       60 * time.Second,
			ReadHeaderTimeout: 10 * time.Second,
		},
		Log: Log{Format: LogText, Level: slog.LevelInfo},
		Cluster: Cluster{
			Bucket:     "tickerd",
			Replicas:   1,
			LeaseTTL:   3 * time.Second,
			ResumeWait: 2 * time.Second,
		},
		Auth: defaultAuth(),
	}
}

// Load reads the file at path and parses it with [Parse], using path as the
// file name in errors. An error reading the file wraps the [os] error
// (test with errors.Is(err, fs.ErrNotExist)); errors about the content are
// [*Error] values.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a YAML configuration; filename is only used in errors.
// Keys the data omits, or gives with no value (null), take [Default]'s
// values. It returns the first problem found, in document order, as an
// [*Error] naming filename, the line and the key:
//
//   - data that is not UTF-8 text: an invalid byte, a NUL or another control
//     character ([ErrSyntax], at the line of the first bad byte); YAML that
//     does not parse ([ErrSyntax], with yaml's own message, at the line it
//     names, corrected for yaml.v3's parser errors, which name the line
//     before); no document or an empty one ([ErrEmpty], line 1), more than
//     one document ([ErrMultipleDocuments]);
//   - a top level that is not a mapping, or any value of the wrong type
//     ([ErrType]);
//   - unknown keys at any level, including YAML merge keys
//     ([ErrUnknownKey]), and keys given twice ([ErrDuplicateKey]);
//   - listen not a host:port with a numeric port; source.kind not one of
//     the Kind constants; source.url set but not an absolute http or https
//     URL, or one with user info, a query or a fragment; durations that time.ParseDuration rejects or that are outside
//     their range (see each field); integers outside their range (see each
//     field and the Max constants); empty allowed origins; a log format or
//     level not listed on [Log] ([ErrInvalidValue]);
//   - a schedule that [ParseSchedule] rejects ([ErrInvalidSchedule]);
//   - cluster.nats_url not a comma-separated list of nats, tls, ws or wss
//     URLs; a bucket or instance id that is not a NATS subject token; a
//     cluster.tls certificate without its key or a key without its
//     certificate; cluster files that do not exist ([ErrInvalidValue]);
//   - auth: a key file (jwt.hmac_secret_file, jwt.public_key_file,
//     jwt.jwks_file, api_keys_file) that does not exist or that
//     internal/auth does not accept, at its own line; issuer or audience
//     without a JWT key file; ws_first_message without any key file; a
//     public path that is not clean; admin_listen not empty nor a
//     host:port; a tls certificate without its key or a key without its
//     certificate, or a pair that does not load (the key does not match,
//     not PEM); websocket.trusted_proxies entries that are neither an IP
//     address nor a CIDR prefix ([ErrInvalidValue]);
//   - source.json (kind json): a url that quote.CheckJSONURL rejects, a
//     path quote.CheckJSONPath rejects, a condition
//     quote.CheckJSONCondition rejects, each at its own line; no url or
//     price; more than 8 conditions in a list ([ErrInvalidValue]);
//   - symbols: an empty list ([ErrNoSymbols]); an entry that is neither a
//     string nor a mapping {symbol: SPY, assetclass: etf} ([ErrType]); an
//     assetclass nasdaq does not know ([ErrInvalidValue]).
//
// Then, once the whole file is read, since they depend on the source kind
// wherever it is in the file:
//
//   - symbols that [Source.NormalizeSymbol] rejects: for sim the syntax of
//     [NormalizeSymbol], for the other kinds the provider's own, such as
//     binance's BTCUSDT or coinbase's BTC-USD ([ErrInvalidSymbol], at the
//     symbol, saying the provider's syntax); a symbol listed twice after
//     upper-casing, reported at the second one ([ErrDuplicateSymbol]); no
//     symbols list when the default symbols are not in the kind's syntax
//     ([ErrInvalidSymbol], at source.kind); an assetclass with a kind other
//     than nasdaq or sim ([ErrInvalidValue]);
//   - a kind that lacks what it needs: json without source.json, source.json
//     with another kind, finnhub or alpaca without api_key, alpaca without
//     api_secret, a json url using {apikey} without api_key; or any other
//     reason quote.New refuses the source ([ErrInvalidValue], at
//     source.kind or the key concerned). A Config Parse returns always
//     builds its source: quote.New(cfg.Source.QuoteKind(),
//     cfg.Source.QuoteOptions()) succeeds.
//
// Parse never panics, whatever data holds.
func Parse(filename string, data []byte) (*Config, error) {
	d := &decoder{file: filename}
	root, err := d.document(data)
	if err != nil {
		return nil, err
	}
	cfg := Default()
	if err := d.mapping(root, "", configFields(cfg)); err != nil {
		return nil, err
	}
	if err := d.checkSymbols(cfg); err != nil {
		return nil, err
	}
	if err := d.checkSource(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}
